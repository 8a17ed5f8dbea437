"""The llama.cpp engine: EG-CFG on a GGUF model in-process (llama-cpp-python, pinned 0.3.36).

One llama context holds many *sequences* (llama.cpp's seq ids): the problem's prompt head, each
agent's p_sol and p_dyn, and the s candidate rows.  A stream is ``(ids, seq)`` with the seq id
taken from a pool and the logits after its last token.

    fork         a KV copy of the sequence (``llama_memory_seq_cp``), never a re-prefill
    pair_step    the token appended to both sequences (one ``llama_decode`` of two rows with
                 ``batch_pair``, else two: on this CPU two are faster, bench/engines.py)
    sample       the p_sol sequence forked into n rows, advanced one token per row per batch;
                 tokens drawn by our own seeded sampler (stock transformers temperature/top-p
                 warpers + ``torch.multinomial`` with a seeded generator), never llama.cpp's, so
                 a resumed run draws exactly the tokens of an uninterrupted one
    release      ``llama_memory_seq_rm`` and the id back to the pool (a ``weakref.finalize``
                 does the same for streams the decoder drops without releasing)

Logits are the full vocabulary, so the CFG is exact.  The text side (encode/decode/the chat
template) is the HF tokenizer of the same model; ``load`` checks that its ids equal llama.cpp's.
One lock serialises every call into the context (agents and problems may run in threads).

Numerics: llama.cpp's quantised CPU kernels are deterministic for the same sequence of batches,
but a sequence's logits can differ in the last bits when other sequences share its KV buffer
(``kv_unified``: one buffer, forks share the prompt head's cells, attention spans all of them)
— and quantised activations can turn last-bit differences into visible ones.  The default gives
every sequence its own buffer (``kv_unified = false``): a fork copies the buffer, and a stream's
logits depend only on its own history, so concurrent agents and resumed runs reproduce.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .. import compute
from .base import FENCE, EngineBase, EngineError
from .llama_build import PINNED  # llama-cpp-python 0.3.36; the pyproject extra `llama-cpp` pins the same

logger = logging.getLogger(__name__)

NEEDS = ("the llama.cpp engine needs llama-cpp-python: `python -m egcfg_core.engines.llama_build` builds it "
         "for this CPU (4-8 min, once) and installs it")


def default_threads() -> int:
    """EGCFG_THREADS, else the CPUs this process may use."""
    from ..model import env_threads

    try:
        n = env_threads()
    except ValueError as e:
        raise EngineError(str(e)) from e
    if n is not None:
        return n
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(eq=False)
class Stream:
    """One llama.cpp sequence: its token ids, its seq id, the logits after its last token."""

    ids: list[int]
    seq: int
    logits: torch.Tensor | None = None
    _finalizer: Any = field(default=None, repr=False)


@dataclass(eq=False)
class Pair:
    """p_sol and p_dyn for one line (``batched``: both advanced by one decode per token)."""

    sol: Stream
    dyn: Stream
    batched: bool = True


class LlamaCppEngine(EngineBase):
    """A GGUF model in one llama.cpp context (see the module docstring and ``base.Engine``)."""

    OPTIONS = {
        "n_ctx": 4096,  # positions one sequence may hold (the context has n_ctx x n_seq_max KV cells)
        "n_threads": 0,  # 0 = EGCFG_THREADS, else the usable CPUs
        "n_batch": 512,  # tokens per llama_decode call (longer prefills are split)
        "n_seq_max": 16,  # sequences in flight: problems x (1 + agents x (2 + s))
        "kv_unified": False,  # one KV buffer for all sequences (forks share cells; see docstring)
        "flash_attn": True,
        # p_sol and p_dyn in one llama_decode of 2 rows: bit-equal logits to two decodes, but on this
        # CPU build it costs 3.3x a plain step against 2.1x for two decodes (llama.cpp's small-batch
        # kernels do not reuse the quantised weights across rows); true where they do (a GPU)
        "batch_pair": False,
    }
    # Those that change the arithmetic (how prefills are split into batches, which attention
    # kernel, whether neighbours share the KV buffer) enter the run id: llama.cpp's quantised
    # kernels turn last-bit differences into occasional different tokens.  Threads do not (each
    # dot product is one thread's), nor the sizes (too small fails with a clear error).
    SEMANTIC = ("n_batch", "kv_unified", "flash_attn")

    def __init__(self, gguf: str | Path, tokenizer, *, name: str = "model", n_ctx: int = 4096,
                 n_threads: int = 0, n_batch: int = 512, n_seq_max: int = 16, kv_unified: bool = False,
                 flash_attn: bool = True, batch_pair: bool = False, check_tokenizer: bool = True):
        try:
            import llama_cpp
            from llama_cpp._internals import LlamaBatch, LlamaContext, LlamaModel
        except ImportError as e:
            raise EngineError(NEEDS) from e
        version = getattr(llama_cpp, "__version__", "?")
        if version != PINNED:
            logger.warning("llama-cpp-python %s is installed; this engine is tested with %s", version, PINNED)
        for key, value, low in (("n_ctx", n_ctx, 256), ("n_batch", n_batch, 1), ("n_seq_max", n_seq_max, 1),
                                ("n_threads", n_threads, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise EngineError(f"llama.cpp engine: {key} must be an integer >= {low}, got {value!r}")
        if n_seq_max > 256:
            raise EngineError(f"llama.cpp engine: n_seq_max is at most 256 (llama.cpp's limit), got {n_seq_max}")
        gguf = Path(gguf)
        if not gguf.is_file():
            raise EngineError(f"GGUF file not found: {gguf}")
        self._ll = llama_cpp
        logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)  # llama.cpp's load chatter
        threads = n_threads or default_threads()
        llama_cpp.llama_backend_init()
        try:
            self._model = LlamaModel(path_model=str(gguf), params=llama_cpp.llama_model_default_params(),
                                     verbose=False)
            cp = llama_cpp.llama_context_default_params()
            cp.n_ctx, cp.n_batch, cp.n_ubatch, cp.n_seq_max = n_ctx * n_seq_max, n_batch, n_batch, n_seq_max
            cp.n_threads = cp.n_threads_batch = threads
            cp.kv_unified = bool(kv_unified)
            cp.flash_attn_type = (llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash_attn
                                  else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED)
            self._ctx = LlamaContext(model=self._model, params=cp, verbose=False)
        except ValueError as e:  # llama-cpp-python's "Failed to load model" / "Failed to create context"
            raise EngineError(f"llama.cpp cannot load {gguf}: {e}") from e
        self._batch = LlamaBatch(n_tokens=n_batch, embd=0, n_seq_max=1, verbose=False)
        self.n_vocab = self._model.n_vocab()
        self.n_ctx, self.n_batch, self.n_seq_max, self.threads = n_ctx, n_batch, n_seq_max, threads
        self.kv_unified, self.batch_pair = bool(kv_unified), bool(batch_pair)
        self.gguf = gguf
        self.name = name
        self.tokenizer = tokenizer
        self.eos_ids = self.tokenizer_eos_ids(tokenizer) | {self._model.token_eos()}
        self._lock = threading.RLock()
        self._free = list(range(n_seq_max - 1, -1, -1))  # pop() hands out 0 first
        self._dropped: list[int] = []  # seq ids of streams garbage-collected unreleased
        if check_tokenizer:
            self.check_tokenizer()

    # ---- text ---------------------------------------------------------------------------------
    def llama_tokenize(self, text: str) -> list[int]:
        """llama.cpp's own tokenization (special tokens parsed, no BOS): the tokenizer check."""
        return list(self._model.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def check_tokenizer(self) -> None:
        """The HF tokenizer must give llama.cpp's ids, or the prompts the model sees differ."""
        chat = self.tokenizer.apply_chat_template(
            [{"role": "system", "content": "You are a coder."},
             {"role": "user", "content": "def f(x):\n    return x ** 2  # ü 你好\t\ttabs\n\n```python\n"}],
            tokenize=False, add_generation_prompt=True)
        for text in (chat, "    for i in range(10):\n        if i % 3 == 0:\n            print(i)\n"):
            if self.encode(text) != self.llama_tokenize(text):
                raise EngineError(f"the tokenizer of {self.name} does not match the GGUF's own tokenizer "
                                  f"({self.gguf}); give the GGUF of the same model")
        if self.tokenizer_vocab_size() > self.n_vocab:
            raise EngineError(f"tokenizer has {self.tokenizer_vocab_size()} ids, the GGUF {self.n_vocab}")

    def tokenizer_vocab_size(self) -> int:
        return len(self.tokenizer)

    # ---- sequences ----------------------------------------------------------------------------
    def _reap(self) -> None:
        """Free the sequences of streams that were garbage-collected (called under the lock)."""
        while self._dropped:
            self._free_seq(self._dropped.pop())

    def _free_seq(self, seq: int) -> None:
        self._ll.llama_memory_seq_rm(self._ctx.memory, seq, -1, -1)
        self._free.append(seq)

    def _new_stream(self, ids: list[int], logits: torch.Tensor | None) -> Stream:
        """A stream on a free seq id (under the lock); a clear error when none is left."""
        self._reap()
        if not self._free:
            raise EngineError(f"all {self.n_seq_max} llama.cpp sequences are in use: raise [engine] "
                              "n_seq_max (problems in flight x (1 + agents in flight x (s + 2)))")
        stream = Stream(ids, self._free.pop(), logits)
        # a dropped stream's id comes back at the next call (never freed from the GC's thread)
        stream._finalizer = weakref.finalize(stream, self._dropped.append, stream.seq)
        return stream

    def start(self, ids: Sequence[int]) -> Stream:
        with self._lock:
            stream = self._new_stream([], None)
        try:
            self.extend(stream, ids)
        except BaseException:
            self.release(stream)
            raise
        return stream

    def fork(self, stream: Stream) -> Stream:
        """A copy of the stream on a new sequence: the KV cells are copied, not recomputed."""
        with self._lock:
            new = self._new_stream(list(stream.ids), stream.logits)
            self._ll.llama_memory_seq_cp(self._ctx.memory, stream.seq, new.seq, -1, -1)
        return new

    def release(self, stream: Stream) -> None:
        with self._lock:
            if stream._finalizer is not None and stream._finalizer.detach() is not None:
                self._free_seq(stream.seq)

    def sequences_in_use(self) -> int:
        """Sequences held by live streams (for tests and leak checks)."""
        with self._lock:
            self._reap()
            return self.n_seq_max - len(self._free)

    # ---- decoding -----------------------------------------------------------------------------
    def _decode(self, jobs: Sequence[tuple[Stream, Sequence[int]]]) -> list[torch.Tensor]:
        """Append each job's ids to its stream in as few ``llama_decode`` calls as n_batch allows;
        returns (and stores in each stream) the logits after each job's last token."""
        ll, batch = self._ll, self._batch.batch
        flat = []
        for k, (stream, ids) in enumerate(jobs):
            if not ids:
                raise ValueError("extend needs at least one token")
            if len(stream.ids) + len(ids) > self.n_ctx:
                raise EngineError(f"a sequence of {len(stream.ids) + len(ids)} tokens does not fit the llama.cpp "
                                  f"engine's n_ctx = {self.n_ctx}: raise [engine] n_ctx")
            base = len(stream.ids)
            flat.extend((stream.seq, tok, base + i, k if i == len(ids) - 1 else -1) for i, tok in enumerate(ids))
        out: list[torch.Tensor | None] = [None] * len(jobs)
        with self._lock:
            self._reap()
            try:
                for start in range(0, len(flat), self.n_batch):
                    chunk = flat[start:start + self.n_batch]
                    batch.n_tokens = len(chunk)
                    rows = []
                    for j, (seq, tok, pos, k) in enumerate(chunk):
                        batch.token[j], batch.pos[j], batch.n_seq_id[j] = tok, pos, 1
                        batch.seq_id[j][0] = seq
                        batch.logits[j] = k >= 0
                        if k >= 0:
                            rows.append((j, k))
                    rc = ll.llama_decode(self._ctx.ctx, batch)
                    compute.add(forward_passes=1)
                    if rc != 0:
                        raise EngineError(f"llama_decode failed ({rc}"
                                          + (": no KV cells left, raise [engine] n_ctx)" if rc == 1 else ")"))
                    for j, k in rows:
                        ptr = ll.llama_get_logits_ith(self._ctx.ctx, j)
                        out[k] = torch.from_numpy(np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy())
            except BaseException:  # drop what a failed call left behind: the streams stay as they were
                for stream, _ in jobs:
                    ll.llama_memory_seq_rm(self._ctx.memory, stream.seq, len(stream.ids), -1)
                raise
        for (stream, ids), logits in zip(jobs, out):
            stream.ids.extend(ids)
            stream.logits = logits
        return out  # type: ignore[return-value]

    def extend(self, stream: Stream, ids: Sequence[int]) -> torch.Tensor:
        return self._decode([(stream, list(ids))])[0]

    def step(self, stream: Stream, token_id: int) -> torch.Tensor:
        return self._decode([(stream, [token_id])])[0]

    # ---- p_sol and p_dyn together -------------------------------------------------------------
    def pair(self, sol: Stream, dyn: Stream, *, batched: bool = True) -> Pair:
        return Pair(sol, dyn, batched and self.batch_pair)

    def pair_step(self, pair: Pair, token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The token appended to both sequences; (p_sol logits, p_dyn logits)."""
        if pair.batched:
            u, c = self._decode([(pair.sol, [token_id]), (pair.dyn, [token_id])])
            return u, c
        return self.step(pair.sol, token_id), self.step(pair.dyn, token_id)

    def unpair(self, pair: Pair) -> Stream:
        """p_sol (the same stream object) goes on alone; p_dyn's sequence is freed."""
        self.release(pair.dyn)
        return pair.sol

    # ---- candidate exploration ----------------------------------------------------------------
    def sample(self, stream: Stream, *, n: int, temperature: float, top_p: float, lines: int,
               max_new_tokens: int, seed: int) -> list[list[int]]:
        """``n`` continuations of the stream, each ending at its own ``lines``-th newline, a fence,
        EOS (not included) or ``max_new_tokens``.  The stream is forked into n sequences that
        advance one token each per ``llama_decode``; tokens are drawn by ``draw`` from one
        generator seeded with ``seed``, row by row, so the same call gives the same rows."""
        if stream.logits is None:
            raise ValueError("sample needs a stream that has been extended")
        from transformers import TemperatureLogitsWarper, TopPLogitsWarper

        warpers = (TemperatureLogitsWarper(max(float(temperature), 1e-5)), TopPLogitsWarper(top_p))
        gen = torch.Generator().manual_seed(int(seed))
        rows: list[list[int]] = [[] for _ in range(n)]
        forks = [self.fork(stream) for _ in range(n)]
        try:
            logits = [stream.logits] * n
            active = list(range(n))
            while active:
                scores = torch.stack([logits[i] for i in active])
                for warp in warpers:
                    scores = warp(None, scores)
                drawn = torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=gen)[:, 0].tolist()
                still = []
                for i, tok in zip(active, drawn):
                    if tok in self.eos_ids:
                        continue
                    rows[i].append(tok)
                    text = self.decode(rows[i])
                    if text.count("\n") >= lines or FENCE in text or len(rows[i]) >= max_new_tokens:
                        continue
                    still.append(i)
                active = still
                if active:
                    for i, lg in zip(active, self._decode([(forks[i], [rows[i][-1]]) for i in active])):
                        logits[i] = lg
        finally:
            for f in forks:
                self.release(f)
        return rows

    # ---- loading ------------------------------------------------------------------------------
    @classmethod
    def load(cls, spec: str, **options) -> tuple["LlamaCppEngine", str]:
        """(engine, fingerprint) for ``default`` or another registered offline model (its bundle's
        GGUF, assembled on first use; no bf16 conversion) or a path to a ``.gguf`` file (its HF tokenizer is read from the
        GGUF itself, or from a tokenizer folder beside it)."""
        from ..model import ModelUnavailableError, bf16_cache_path, ensure_gguf, known_model_specs, offline_model
        from .probe import probe_llama_cpp

        ensure_llama_cpp()
        bundle = offline_model(spec)
        if bundle is not None:
            try:
                gguf = ensure_gguf(bundle=bundle)
            except ModelUnavailableError as e:
                raise EngineError(str(e)) from e
            name, fingerprint = bundle.name, f"{bundle.name}:{bundle.gguf_sha256[:12]}:gguf"
            folder = bf16_cache_path(bundle=bundle)
            tokenizer = load_tokenizer(gguf, folder if (folder / "tokenizer.json").is_file() else None)
        else:
            gguf = Path(spec).expanduser()
            if gguf.suffix != ".gguf" or not gguf.is_file():
                raise EngineError(f"llama.cpp engine: model spec {spec!r} is neither a registered offline model "
                                  f"({', '.join(known_model_specs())}) nor a .gguf file")
            digest = hashlib.sha256(f"{gguf.name}:{gguf.stat().st_size}".encode()).hexdigest()
            name, fingerprint = gguf.stem, f"{gguf.stem}:{digest[:12]}:gguf"
            tokenizer = load_tokenizer(gguf, gguf.parent if (gguf.parent / "tokenizer.json").is_file() else None)
        # llama.cpp's kernels run once in a child first: a native crash (SIGILL) is an EngineError
        # here, before this process loads the library and before anything is stored
        probe_llama_cpp(gguf, n_threads=1)
        return cls(gguf, tokenizer, name=name, **options), fingerprint


def ensure_llama_cpp() -> None:
    """llama-cpp-python importable, else built for this CPU and installed now (first use of the
    engine; 4-8 min once per CPU feature set, with a message), unless ``EGCFG_AUTO_BUILD=0``."""
    import importlib.util
    import sys
    import time

    if importlib.util.find_spec("llama_cpp") is not None:
        return
    if os.environ.get("EGCFG_AUTO_BUILD", "1") == "0":
        raise EngineError(f"{NEEDS} (EGCFG_AUTO_BUILD=0 is set)")
    from .llama_build import BuildError, ensure_installed

    def say(msg: str) -> None:
        print(f"llama.cpp engine: {msg}", file=sys.stderr, flush=True)

    say("llama-cpp-python is not installed; building it now, on first use of --engine llama.cpp")
    t0 = time.perf_counter()
    try:
        ensure_installed(say=say)
    except BuildError as e:
        raise EngineError(str(e)) from e
    say(f"llama-cpp-python installed ({time.perf_counter() - t0:.0f} s)")


def load_tokenizer(gguf: Path, folder: Path | None):
    """The model's HF tokenizer (with its chat template): from a saved folder when there is one
    (1 s), else converted from the GGUF by transformers (~12 s on 2 cores)."""
    if folder is not None:
        from ..model import load_tokenizer_folder

        return load_tokenizer_folder(folder)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if not getattr(tok, "chat_template", None):
        raise EngineError(f"the tokenizer read from {gguf} has no chat template")
    return tok
