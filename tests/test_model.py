"""Model loading (egcfg_core.model) and the tiny test model (tests.tiny)."""
from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path

import pytest
import torch
from transformers import DynamicCache

from egcfg_core import model as M
from egcfg_core.model import (
    INSTALL_COMMAND,
    BundleIntegrityError,
    LoadedModel,
    ModelUnavailableError,
    default_model_available,
    load_model,
    model_fingerprint,
)
from tests.tiny import ALPHABET, tiny_model, tiny_tokenizer

CODE_SAMPLES = [
    "def add(a, b):\n    return a + b\n",
    "  leading and trailing spaces  ",
    "\tif x:\n\t\ty  =  [1,  2]\n\n\n# comment with   gaps\n",
    "s = 'quotes' + \"double\" + `tick` ~!@#$%^&*()_+{}|:<>?",
    " ",
    "\n",
    "",
]


@pytest.fixture
def no_default_sources(monkeypatch, tmp_path):
    """No EGCFG_MODEL, no bundle, hub offline, an empty cache dir."""
    monkeypatch.delenv("EGCFG_MODEL", raising=False)
    monkeypatch.delenv("EGCFG_CACHE_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(M, "bundle_part_paths", lambda bundle=M.DEFAULT_MODEL: None)
    # never touch a developer's real HF cache in this unit test
    monkeypatch.setattr(M, "_load_from_hub", _hub_unavailable)
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    return cache


def _hub_unavailable(hub_id, **kwargs):
    raise ModelUnavailableError(f"could not load hub model {hub_id!r}: HF_HUB_OFFLINE is set")


# ------------------------------------------------------------------------------------- tiny


def test_tiny_tokenizer_round_trips_code_exactly():
    tok = tiny_tokenizer()
    for s in CODE_SAMPLES + ["".join(ALPHABET)]:
        ids = tok.encode(s)
        assert len(ids) == len(s), s  # one token per character, nothing merged or dropped
        assert tok.decode(ids) == s
    assert 100 <= len(tok) <= 130


def test_tiny_tokenizer_specials_and_chat_template():
    tok = tiny_tokenizer()
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert tok.eos_token_id != tok.pad_token_id
    ids = tok.encode("<|im_start|>x<|im_end|>")
    assert ids == [tok.convert_tokens_to_ids("<|im_start|>"), tok.convert_tokens_to_ids("x"),
                   tok.eos_token_id]
    msgs = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "def f():\n  pass"}]
    text = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    assert text == ("<|im_start|>system\nbe brief<|im_end|>\n"
                    "<|im_start|>user\ndef f():\n  pass<|im_end|>\n<|im_start|>assistant\n")
    no_gen = tok.apply_chat_template(msgs, add_generation_prompt=False, tokenize=False)
    assert no_gen == text[: -len("<|im_start|>assistant\n")]
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode(tok.encode(text), skip_special_tokens=True) == (
        "system\nbe brief\nuser\ndef f():\n  pass\nassistant\n")


def test_tiny_model_is_deterministic_per_seed_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    m1, tok = tiny_model(0)
    after = torch.rand(3)
    assert torch.equal(before, after)  # tiny_model did not consume the global RNG
    m2, _ = tiny_model(0)
    m3, _ = tiny_model(1)
    x = torch.tensor([tok.encode("def f(x):\n    return")])
    with torch.no_grad():
        l1, l2, l3 = (m(x).logits for m in (m1, m2, m3))
    assert torch.equal(l1, l2)
    assert not torch.allclose(l1, l3)
    assert l1.shape == (1, x.shape[1], len(tok))
    assert l1.dtype == torch.float32 and not m1.training
    # logits are not degenerate near-ties: the greedy choice is clear at the last position
    top2 = l1[0, -1].topk(2).values
    assert (top2[0] - top2[1]).item() > 1e-4


def test_tiny_model_builds_fast_and_respects_size_arguments():
    t0 = time.perf_counter()
    model, tok = tiny_model(3, n_layer=3, hidden=32)
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.0  # typically ~0.05 s; loose bound for a busy 2-core machine
    assert model.config.num_hidden_layers == 3 and model.config.hidden_size == 32
    with pytest.raises(ValueError, match="hidden"):
        tiny_model(0, hidden=30)


def test_tiny_model_generate_and_dynamic_cache_agree_with_full_forward():
    model, tok = tiny_model(0)
    prompt = tok.apply_chat_template([{"role": "user", "content": "add two numbers"}],
                                     add_generation_prompt=True, tokenize=False)
    x = torch.tensor([tok.encode(prompt)])
    out1 = model.generate(x, max_new_tokens=12, do_sample=False)
    out2 = model.generate(x, max_new_tokens=12, do_sample=False)
    assert torch.equal(out1, out2)
    assert out1.shape[1] > x.shape[1]
    assert torch.equal(out1[0, : x.shape[1]], x[0])

    # manual KV-cached greedy steps reproduce generate() and the uncached forward
    n_new = out1.shape[1] - x.shape[1]
    cache = DynamicCache()
    seq = x
    with torch.no_grad():
        logits = model(x, cache=cache, use_cache=True).logits[:, -1]
        for step in range(n_new):
            nxt = logits.argmax(-1, keepdim=True)
            seq = torch.cat([seq, nxt], dim=1)
            if step < n_new - 1:
                logits = model(nxt, cache=cache, use_cache=True).logits[:, -1]
        full = model(seq[:, :-1]).logits[:, -1]
    assert torch.equal(seq, out1)
    assert cache.get_seq_length() == seq.shape[1] - 1
    assert torch.allclose(full, logits, atol=1e-5)
    # cropping the cache back to the prompt and re-feeding reproduces the first step
    # (transformers 5.24: crop takes a negative count of tokens to remove; forward takes cache=)
    cache.crop(-(cache.get_seq_length() - (x.shape[1] - 1)))
    assert cache.get_seq_length() == x.shape[1] - 1
    with torch.no_grad():
        again = model(x[:, -1:], cache=cache, use_cache=True).logits[:, -1]
        first = model(x).logits[:, -1]
    assert torch.allclose(again, first, atol=1e-5)


# ------------------------------------------------------------------------------- load_model


def test_default_unavailable_raises_with_install_command(no_default_sources):
    assert default_model_available(no_default_sources) is False
    with pytest.raises(ModelUnavailableError) as exc:
        load_model("default", cache_dir=no_default_sources)
    msg = str(exc.value)
    assert INSTALL_COMMAND in msg
    assert "pip install 'egcfg[offline-model]'" in msg
    assert "--model PATH" in msg
    assert str(no_default_sources) in msg
    # the alias behaves the same, and nothing was written into the cache
    with pytest.raises(ModelUnavailableError, match="offline-model"):
        load_model("qwen2.5-coder-0.5b", cache_dir=no_default_sources)
    assert list(no_default_sources.iterdir()) == []


def test_cache_dir_comes_from_env(no_default_sources, monkeypatch):
    monkeypatch.setenv("EGCFG_CACHE_DIR", str(no_default_sources))
    assert M.resolve_cache_dir() == no_default_sources
    with pytest.raises(ModelUnavailableError, match=str(no_default_sources)):
        load_model()


def test_missing_local_path_is_a_clear_error(tmp_path):
    missing = tmp_path / "no" / "such-model"
    with pytest.raises(ModelUnavailableError, match="does not exist") as exc:
        load_model(str(missing))
    assert str(missing) in str(exc.value)
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        load_model("./relative/missing-model")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelUnavailableError, match="no config.json"):
        load_model(str(empty))
    a_file = tmp_path / "weights.gguf"
    a_file.write_bytes(b"GGUF")
    with pytest.raises(ModelUnavailableError, match="not a folder"):
        load_model(str(a_file))


def test_bad_dtype_and_threads_are_rejected(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="unsupported dtype 'int8'"):
        load_model(str(tmp_path), dtype="int8")
    monkeypatch.setenv("EGCFG_THREADS", "two")
    with pytest.raises(ValueError, match="EGCFG_THREADS"):
        load_model(str(tmp_path))


def test_hub_id_offline_fails_fast(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(ModelUnavailableError, match="egcfg-test/definitely-not-a-model"):
        load_model("egcfg-test/definitely-not-a-model")
    assert time.perf_counter() - t0 < 15


def test_local_folder_round_trip_and_fingerprint(tmp_path):
    model, tok = tiny_model(0)
    folder = tmp_path / "tiny-saved"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    loaded = load_model(str(folder), dtype="float32")
    assert isinstance(loaded, LoadedModel)
    assert loaded.source == "local-path" and loaded.name == "tiny-saved"
    assert loaded.path == str(folder) and not loaded.model.training
    x = torch.tensor([tok.encode("def f():\n")])
    with torch.no_grad():
        assert torch.allclose(loaded.model(x).logits, model(x).logits, atol=1e-6)
    s = CODE_SAMPLES[2]
    assert loaded.tokenizer.decode(loaded.tokenizer.encode(s)) == s
    assert loaded.tokenizer.chat_template

    fp = model_fingerprint(loaded)
    assert fp.startswith("tiny-saved:") and fp.endswith(":float32")
    assert model_fingerprint(load_model(str(folder), dtype="float32")) == fp
    bf = load_model(str(folder))  # bfloat16 by default
    assert bf.model.dtype == torch.bfloat16
    assert model_fingerprint(bf) != fp
    other, _ = tiny_model(0, n_layer=3)
    folder2 = tmp_path / "tiny-saved-2"
    other.save_pretrained(folder2)
    tok.save_pretrained(folder2)
    fp2 = model_fingerprint(load_model(str(folder2), dtype="float32"))
    assert fp2.split(":")[1] != fp.split(":")[1]


def test_egcfg_model_env_stands_for_default(no_default_sources, monkeypatch, tmp_path):
    model, tok = tiny_model(2)
    folder = tmp_path / "env-model"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    monkeypatch.setenv("EGCFG_MODEL", str(folder))
    assert default_model_available(no_default_sources)
    loaded = load_model(cache_dir=no_default_sources, dtype="float32")
    assert loaded.source == "local-path" and loaded.path == str(folder)
    # an explicit alias still means the built-in default, which is unavailable here
    with pytest.raises(ModelUnavailableError, match="offline-model"):
        load_model("qwen2.5-coder-0.5b", cache_dir=no_default_sources)
    monkeypatch.setenv("EGCFG_MODEL", str(tmp_path / "gone"))
    assert not default_model_available(no_default_sources)
    with pytest.raises(ModelUnavailableError, match="gone"):
        load_model(cache_dir=no_default_sources)


def test_bf16_cache_is_used_for_default(no_default_sources):
    """save_plain_model writes the cache layout that load_model("default") picks up first."""
    model, tok = tiny_model(5)
    dest = M.bf16_cache_path(no_default_sources)
    M.save_plain_model(model, tok, dest, meta={"source": "test"})
    assert not [p for p in no_default_sources.iterdir() if p.name.endswith(".tmp")]
    assert default_model_available(no_default_sources)
    loaded = load_model("default", cache_dir=no_default_sources)
    assert loaded.source == "bf16-cache" and loaded.name == M.DEFAULT_MODEL.name
    assert loaded.model.dtype == torch.bfloat16
    assert any(dest.glob("*.safetensors"))
    assert loaded.tokenizer.chat_template == tok.chat_template
    ref_state = model.state_dict()
    for k, v in loaded.model.state_dict().items():
        assert torch.equal(v, ref_state[k].to(torch.bfloat16)), k
    x = torch.tensor([tok.encode("return x")])
    with torch.no_grad():
        got = loaded.model(x).logits.float()
        ref = model(x).logits
    assert torch.allclose(got, ref, atol=0.1, rtol=0.05)
    assert torch.equal(got.argmax(-1), ref.argmax(-1))
    s = CODE_SAMPLES[2]
    assert loaded.tokenizer.decode(loaded.tokenizer.encode(s)) == s


def test_incomplete_cache_folder_is_not_trusted(no_default_sources):
    dest = M.bf16_cache_path(no_default_sources)
    dest.mkdir()
    (dest / "config.json").write_text("{}")
    assert not default_model_available(no_default_sources)
    with pytest.raises(ModelUnavailableError, match="offline-model"):
        load_model("default", cache_dir=no_default_sources)


# -------------------------------------------------------------------------- bundle assembly


def _fake_parts(tmp_path: Path, sizes=(1000, 2500, 7)) -> tuple[list[Path], bytes]:
    parts, blob = [], b""
    for i, n in enumerate(sizes, 1):
        data = hashlib.sha256(str(i).encode()).digest() * (n // 32 + 1)
        data = data[:n]
        p = tmp_path / f"part{i:02d}.bin"
        p.write_bytes(data)
        parts.append(p)
        blob += data
    return parts, blob


def test_assemble_gguf_joins_parts_in_order(tmp_path):
    parts, blob = _fake_parts(tmp_path)
    dest = tmp_path / "cache" / "joined.gguf"
    out = M.assemble_gguf(parts, dest, expected_size=len(blob),
                          expected_sha256=hashlib.sha256(blob).hexdigest())
    assert out == dest and dest.read_bytes() == blob
    assert [p.name for p in dest.parent.iterdir()] == ["joined.gguf"]  # no temp file left
    # reused when valid; reassembled when the existing file is corrupt
    M.assemble_gguf(parts, dest, expected_size=len(blob),
                    expected_sha256=hashlib.sha256(blob).hexdigest())
    dest.write_bytes(b"x" * len(blob))
    M.assemble_gguf(parts, dest, expected_size=len(blob),
                    expected_sha256=hashlib.sha256(blob).hexdigest())
    assert dest.read_bytes() == blob


def test_assemble_gguf_detects_sha256_mismatch(tmp_path):
    parts, blob = _fake_parts(tmp_path)
    wrong = hashlib.sha256(b"something else").hexdigest()
    dest = tmp_path / "cache" / "joined.gguf"
    with pytest.raises(BundleIntegrityError) as exc:
        M.assemble_gguf(parts, dest, expected_size=len(blob), expected_sha256=wrong)
    msg = str(exc.value)
    assert wrong in msg and hashlib.sha256(blob).hexdigest() in msg
    assert INSTALL_COMMAND in msg
    assert not dest.exists() and list(dest.parent.iterdir()) == []
    with pytest.raises(BundleIntegrityError, match="expected 9,999 bytes"):
        M.assemble_gguf(parts, dest, expected_size=9999, expected_sha256=wrong)
    # parts in the wrong order are caught too
    right = hashlib.sha256(blob).hexdigest()
    with pytest.raises(BundleIntegrityError, match=right):
        M.assemble_gguf(parts[::-1], dest, expected_size=len(blob), expected_sha256=right)


def test_load_default_with_corrupt_bundle_names_expected_hash(no_default_sources, monkeypatch,
                                                              tmp_path):
    parts, blob = _fake_parts(tmp_path)
    monkeypatch.setattr(M, "bundle_part_paths", lambda bundle=M.DEFAULT_MODEL: parts)
    # the same registry entry with the fake parts' size: the real hash stays expected
    fake = dataclasses.replace(M.DEFAULT_MODEL, gguf_size=len(blob))
    monkeypatch.setitem(M.OFFLINE_MODELS, fake.name, fake)
    assert default_model_available(no_default_sources)
    with pytest.raises(BundleIntegrityError, match=M.DEFAULT_MODEL.gguf_sha256):
        load_model("default", cache_dir=no_default_sources)
    assert not M.bf16_cache_path(no_default_sources).exists()
    assert not (no_default_sources / M.DEFAULT_MODEL.gguf_filename).exists()


def test_real_bundle_lookup_returns_six_ordered_parts_or_none():
    parts = M.bundle_part_paths()
    if parts is None:
        pytest.skip("offline bundle not installed (pip install 'egcfg[offline-model]')")
    assert len(parts) == 6
    assert [p.name for p in parts] == [f"part0{i}.bin" for i in range(1, 7)]
    assert sum(p.stat().st_size for p in parts) == M.DEFAULT_MODEL.gguf_size


# ------------------------------------------------------------------------- the model registry


def test_registry_names_resolve_to_one_model_each():
    small, large = M.offline_model("default"), M.offline_model("qwen2.5-coder-1.5b")
    assert small is M.DEFAULT_MODEL and M.offline_model("qwen2.5-coder-0.5b") is small
    assert M.offline_model("qwen2.5-coder-0.5b-instruct") is small
    assert large.name == "qwen2.5-coder-1.5b-instruct" and large is not small
    assert M.offline_model(" qwen2.5-coder-1.5b-instruct ") is large
    assert M.offline_model("Qwen/Qwen2.5-Coder-1.5B-Instruct") is None  # a hub id stays a hub id
    specs = M.known_model_specs()
    assert len(specs) == len(set(specs))  # no alias names two models
    for b in M.OFFLINE_MODELS.values():
        assert len(b.modules) == len(b.distributions) and b.bf16_dirname.endswith("-bf16")
        assert len({b.gguf_filename for b in M.OFFLINE_MODELS.values()}) == len(M.OFFLINE_MODELS)
    # the extras the install commands name exist in pyproject.toml, with every wheel pinned
    import tomllib

    extras = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())[
        "project"]["optional-dependencies"]
    for b in M.OFFLINE_MODELS.values():
        assert extras[b.extra] == [f"{d}=={b.version}" for d in b.distributions]


def test_second_model_missing_names_its_own_extra(no_default_sources, monkeypatch):
    with pytest.raises(ModelUnavailableError, match=r"offline-model-1-5b") as exc:
        load_model("qwen2.5-coder-1.5b", cache_dir=no_default_sources)
    assert "qwen2.5-coder-1.5b-instruct" in str(exc.value)
    # EGCFG_MODEL may name a registered model too
    monkeypatch.setenv("EGCFG_MODEL", "qwen2.5-coder-1.5b")
    assert not default_model_available(no_default_sources)
    with pytest.raises(ModelUnavailableError, match=r"offline-model-1-5b"):
        load_model(cache_dir=no_default_sources)
    with pytest.raises(ModelUnavailableError, match="qwen2.5-coder-1.5b"):
        load_model("qwen2.5-coder-3b", cache_dir=no_default_sources)  # lists the known names


def test_second_model_loads_from_its_own_cache_folder(no_default_sources, monkeypatch):
    large = M.offline_model("qwen2.5-coder-1.5b")
    model, tok = tiny_model(7)
    M.save_plain_model(model, tok, M.bf16_cache_path(no_default_sources, large))
    assert M.offline_model_available(large, no_default_sources)
    assert not default_model_available(no_default_sources)  # the 0.5B's cache is still empty
    loaded = load_model("qwen2.5-coder-1.5b", cache_dir=no_default_sources, dtype="float32")
    assert loaded.source == "bf16-cache" and loaded.name == large.name
    monkeypatch.setenv("EGCFG_MODEL", "qwen2.5-coder-1.5b")
    assert default_model_available(no_default_sources)
    assert load_model(cache_dir=no_default_sources, dtype="float32").name == large.name
    fp_large = model_fingerprint(loaded)
    M.save_plain_model(*tiny_model(7), M.bf16_cache_path(no_default_sources))
    monkeypatch.delenv("EGCFG_MODEL")
    fp_small = model_fingerprint(load_model("default", cache_dir=no_default_sources,
                                            dtype="float32"))
    assert fp_small.split(":")[0] != fp_large.split(":")[0]  # the name is in the run's config


def test_real_second_bundle_parts_or_skip():
    large = M.offline_model("qwen2.5-coder-1.5b")
    parts = M.bundle_part_paths(large)
    if parts is None:
        pytest.skip(f"1.5B bundle not installed ({large.install_command})")
    assert [p.name for p in parts] == [f"part{i:02d}.bin" for i in range(1, 23)]
    assert sum(p.stat().st_size for p in parts) == large.gguf_size


# ------------------------------------------------------------------------------- real model


@pytest.mark.real_model
@pytest.mark.slow
def test_real_default_model_writes_a_function():
    if not default_model_available():
        pytest.skip("default model unavailable: no bf16 cache in ~/.cache/egcfg (or "
                    "$EGCFG_CACHE_DIR) and no offline bundle; pip install 'egcfg[offline-model]'")
    loaded = load_model("default")
    assert loaded.source in ("bf16-cache", "offline-bundle", "local-path")
    tok = loaded.tokenizer
    assert tok.chat_template
    messages = [{"role": "user", "content": "Write a Python function add(a, b) that returns "
                                            "the sum of a and b. Only code."}]
    enc = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                  return_dict=True)
    with torch.no_grad():
        out = loaded.model.generate(**enc, max_new_tokens=40, do_sample=False)
    text = tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "def " in text, text
    assert "add" in text, text
    fp = model_fingerprint(loaded)
    assert fp.startswith(loaded.name + ":")


def test_models_command_lists_the_registry_and_refuses_unknown_names(no_default_sources, monkeypatch):
    from typer.testing import CliRunner

    from egcfg_cli.main import app

    monkeypatch.setenv("EGCFG_CACHE_DIR", str(no_default_sources))
    res = CliRunner().invoke(app, ["models"])
    assert res.exit_code == 0, res.output
    for b in M.OFFLINE_MODELS.values():
        assert b.name in res.output and b.gguf_sha256 in res.output
        assert f"not installed: {b.install_command}" in res.output  # the fixture hides every bundle
    res = CliRunner().invoke(app, ["models", "--prepare", "qwen2.5-coder-7b"])
    assert res.exit_code == 2 and "qwen2.5-coder-1.5b" in res.output
    res = CliRunner().invoke(app, ["models", "--prepare", "qwen2.5-coder-1.5b"])
    assert res.exit_code == 2 and "offline-model-1-5b" in res.output
