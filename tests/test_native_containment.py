"""Issue 26: a native crash costs one clear error, never the run.

The llama.cpp build takes its CPU features from the kernel's flags and never AMX; engines probe
their native code in a child process first, so a SIGILL there is an EngineError naming the signal
and the fix, the parent lives on, and nothing is stored."""
import importlib.util
import signal

import pytest

from egcfg_core.engines import EngineError
from egcfg_core.engines import llama_build, probe
from egcfg_core.engines.probe import NativeCrash, run_probe

SIGILL_CHILD = "import os, signal; os.kill(os.getpid(), signal.SIGILL)"
OK_CHILD = f"print({probe._RESULT!r} + '{{\"answer\": 42}}')"

# /proc/cpuinfo flags of three machines: the Xeon of issue 26 (advertises AMX, faults on it), a
# Haswell-class CPU (AVX2, no AVX-512) and bare x86-64 (SSE2 only)
XEON_AMX = ("fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma bmi2 avx2 avx512f avx512dq avx512cd avx512bw avx512vl "
            "avx512vbmi avx512_vnni avx512_bf16 avx512_fp16 avx_vnni amx_bf16 amx_tile amx_int8")
HASWELL = "fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma bmi2 avx2"
BARE = "fpu sse sse2"


def flags(line: str) -> frozenset[str]:
    return llama_build.cpu_flags(f"processor\t: 0\nflags\t\t: {line}\nbugs\t\t: none\n")


def options(args: list[str]) -> dict[str, str]:
    return dict(a[2:].split("=", 1) for a in args)


@pytest.fixture(autouse=True)
def probe_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EGCFG_PROBE_CACHE", str(tmp_path / "probes"))
    monkeypatch.delenv("EGCFG_PROBE", raising=False)
    return tmp_path / "probes"


# ---- the build ----------------------------------------------------------------------------------

def test_the_build_never_compiles_amx_even_where_the_cpu_advertises_it():
    o = options(llama_build.cmake_args(flags(XEON_AMX)))
    assert o["GGML_NATIVE"] == "OFF"  # -march=native would compile AMX in on that Xeon
    assert all(o[k] == "OFF" for k in ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16"))
    assert all(o[k] == "ON" for k in ("GGML_AVX2", "GGML_AVX512", "GGML_AVX512_VNNI", "GGML_AVX512_BF16", "GGML_AVX_VNNI"))


def test_the_build_enables_only_what_the_cpu_reports():
    haswell = options(llama_build.cmake_args(flags(HASWELL)))
    assert haswell["GGML_AVX2"] == haswell["GGML_FMA"] == haswell["GGML_F16C"] == "ON"
    assert haswell["GGML_AVX512"] == haswell["GGML_AVX512_VNNI"] == haswell["GGML_AVX_VNNI"] == "OFF"
    bare = options(llama_build.cmake_args(flags(BARE)))
    assert all(v == "OFF" for k, v in bare.items() if k.startswith("GGML_"))
    # AVX-512 needs all five subsets ggml compiles with: avx512f alone is not enough
    partial = options(llama_build.cmake_args(flags(HASWELL + " avx512f")))
    assert partial["GGML_AVX512"] == "OFF"


def test_the_wheel_cache_is_keyed_by_version_and_cpu_features():
    xeon, haswell = (llama_build.cmake_args(flags(f)) for f in (XEON_AMX, HASWELL))
    assert llama_build.build_key("0.3.36", xeon) == llama_build.build_key("0.3.36", list(xeon))
    assert llama_build.build_key("0.3.36", xeon) != llama_build.build_key("0.3.36", haswell)
    assert llama_build.build_key("0.3.36", xeon) != llama_build.build_key("0.3.37", xeon)
    # flags that do not change the build do not change the key
    assert llama_build.build_key("0.3.36", llama_build.cmake_args(flags(HASWELL + " rdrand"))) == \
        llama_build.build_key("0.3.36", haswell)


def test_cpu_flags_reads_the_first_flags_line():
    assert flags(HASWELL) == frozenset(HASWELL.split())
    assert llama_build.cpu_flags("no flags here") == frozenset()


# ---- the probe ----------------------------------------------------------------------------------

def test_a_child_killed_by_sigill_is_an_engine_error_naming_the_signal_and_the_fix(probe_cache, tmp_path):
    lib = tmp_path / "libfake.so"
    lib.write_bytes(b"x")
    with pytest.raises(NativeCrash) as e:
        run_probe("llama.cpp", SIGILL_CHILD, [], files=[lib], fix=probe.LLAMA_FIX, what="decoding one prompt")
    msg = str(e.value)
    assert e.value.signum == signal.SIGILL and isinstance(e.value, EngineError)
    assert "SIGILL (Illegal instruction)" in msg and "decoding one prompt" in msg
    assert "nothing was stored" in msg and "python -m egcfg_core.engines.llama_build" in msg
    assert not probe_cache.exists() or not list(probe_cache.iterdir())  # a crash is never remembered


def test_a_passing_probe_is_remembered_until_its_files_change(probe_cache, tmp_path):
    lib = tmp_path / "libfake.so"
    lib.write_bytes(b"x")
    first = run_probe("fake", OK_CHILD, [], files=[lib], fix="", what="")
    assert first["answer"] == 42 and "cached" not in first
    assert run_probe("fake", OK_CHILD, [], files=[lib], fix="", what="").get("cached") is True
    lib.write_bytes(b"a rebuilt library")  # another size: the key changes, the probe runs again
    with pytest.raises(NativeCrash):
        run_probe("fake", SIGILL_CHILD, [], files=[lib], fix="", what="")


def test_a_probe_that_fails_without_a_signal_is_an_engine_error_with_its_output():
    with pytest.raises(EngineError) as e:
        run_probe("fake", "import sys; print('no such model'); sys.exit(3)", [], fix="", what="loading")
    assert not isinstance(e.value, NativeCrash)
    assert "exit code 3" in str(e.value) and "no such model" in str(e.value)


def test_the_torch_probe_passes_on_this_machine():
    r = probe.probe_torch()
    assert r.get("torch") and r.get("cpu_capability")


needs_llama = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                 reason="llama-cpp-python is not installed: python -m egcfg_core.engines.llama_build")


def default_gguf_or_skip():
    from egcfg_core.model import ModelUnavailableError, ensure_gguf

    try:
        return ensure_gguf()
    except ModelUnavailableError as e:
        pytest.skip(f"the default GGUF is not available: {e}")


@needs_llama
@pytest.mark.real_model
def test_solve_with_a_crashing_llama_cpp_exits_2_naming_the_signal(monkeypatch, data_dir):
    """`egcfg solve --engine llama.cpp` on a build that dies with SIGILL (a child raising it
    stands in for the AMX kernels): exit 2, one clear error, this process alive."""
    from typer.testing import CliRunner

    from egcfg_cli.main import app

    default_gguf_or_skip()
    monkeypatch.setattr(probe, "_LLAMA_CPP", SIGILL_CHILD)
    r = CliRunner().invoke(app, ["solve", "mbpp", "11", "--engine", "llama.cpp", "--data-dir", str(data_dir)])
    assert r.exit_code == 2, r.output
    out = " ".join(r.output.split())
    assert "killed by SIGILL (Illegal instruction)" in out and "llama_build" in out


@needs_llama
@pytest.mark.real_model
def test_a_sweep_on_a_crashing_llama_cpp_stores_nothing(monkeypatch, data_dir, tmp_path, prefect_harness):
    from egcfg_core.config import load_config
    from flows.sweep import sweep_flow

    default_gguf_or_skip()
    monkeypatch.setattr(probe, "_LLAMA_CPP", SIGILL_CHILD)
    cfg = load_config(None, dict(model="default", engine="llama.cpp", benchmark="mbpp", tasks="11",
                                 data_dir=str(data_dir), gamma=[], baseline=True, max_new_tokens=8))
    db = tmp_path / "crash.duckdb"
    with pytest.raises(NativeCrash, match="SIGILL"):
        sweep_flow(config=cfg, db=str(db))
    assert not db.exists()  # the engine is probed before the store is opened


@needs_llama
@pytest.mark.real_model
def test_the_real_llama_cpp_probe_reports_its_build():
    r = probe.probe_llama_cpp(default_gguf_or_skip())
    assert r["version"] == llama_build.PINNED
    assert "AMX_INT8 = 1" not in r["system_info"]  # the build compiled no AMX kernels
