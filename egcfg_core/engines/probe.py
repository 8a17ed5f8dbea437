"""Containment: an engine's native code runs once in a child process before this one loads it.

A native library built for the wrong CPU (issue 26: ggml's AMX kernels on a Xeon that advertises
AMX and faults on it) does not raise, it kills the interpreter with SIGILL, and with it a sweep or
the whole test session.  So before an engine loads such a library in-process it runs a *probe*:
a child Python that loads the same library (and, for llama.cpp, the same model file) and computes
one step.  A child that dies by a signal becomes a :class:`NativeCrash` naming the signal and the
fix; nothing has been loaded or stored yet.

A probe that passed is remembered in ``~/.cache/egcfg/probes/`` under a key of the library files
(path, size, mtime), the model file and the CPU's flags, so later starts cost nothing; a crash is
never remembered.  ``EGCFG_PROBE=0`` skips probing (at your own risk).
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

from .base import EngineError

# the child's last words: a JSON line with what it found
_RESULT = "EGCFG_PROBE_RESULT "


class NativeCrash(EngineError):
    """A native engine killed its probe child with a signal (the parent would have died too)."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


def signal_name(signum: int) -> str:
    """``SIGILL (Illegal instruction)`` for 4."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    desc = signal.strsignal(signum) or ""
    return f"{name} ({desc})" if desc and desc != name else name


def cache_dir() -> Path:
    env = os.environ.get("EGCFG_PROBE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "egcfg" / "probes"


def _file_id(path: Path) -> list:
    try:
        st = path.stat()
        return [str(path.resolve()), st.st_size, st.st_mtime_ns]
    except OSError:
        return [str(path), None, None]


def probe_key(kind: str, files: Sequence[Path]) -> str:
    """A probe's cache key: its kind, the identity of each file it depends on, the CPU's flags."""
    from .llama_build import cpu_flags

    payload = [kind, sys.version, [_file_id(Path(f)) for f in files], sorted(cpu_flags())]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:20]


def run_probe(kind: str, code: str, args: Sequence[str], *, files: Sequence[Path] = (), fix: str,
              what: str, timeout_s: float = 300.0) -> dict:
    """Run ``python -c code *args`` and return the dict it printed after ``_RESULT``.

    A child killed by a signal raises :class:`NativeCrash` (``what`` says what it was doing, ``fix``
    what to do); any other failure an :class:`EngineError` with the child's last lines."""
    if os.environ.get("EGCFG_PROBE", "1") == "0":
        return {"skipped": True}
    key = probe_key(kind, files) if files else None
    cached = cache_dir() / f"{kind}-{key}.json" if key else None
    if cached is not None and cached.is_file():
        try:
            return {**json.loads(cached.read_text()), "cached": True}
        except ValueError:
            pass
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                              timeout=timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise EngineError(f"the {kind} probe ({what}) did not finish within {timeout_s:.0f} s") from None
    out = (proc.stdout or "") + (proc.stderr or "")
    tail = "\n".join("  | " + line for line in out.strip().splitlines()[-8:])
    if proc.returncode < 0:
        signum = -proc.returncode
        raise NativeCrash(
            f"the {kind} engine crashed in a probe child process, killed by {signal_name(signum)}, while "
            f"{what}; this process did not load it and nothing was stored. {fix}"
            + (f"\nthe child's last output:\n{tail}" if tail else ""), signum)
    result = None
    for line in (proc.stdout or "").splitlines():
        if line.startswith(_RESULT):
            result = json.loads(line[len(_RESULT):])
    if proc.returncode != 0 or result is None:
        raise EngineError(f"the {kind} probe ({what}) failed with exit code {proc.returncode}:\n{tail}")
    result["probe_s"] = round(time.perf_counter() - t0, 2)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(result))
    return result


# ---- the probes ---------------------------------------------------------------------------------

_LLAMA_CPP = f"""
import json, sys
import llama_cpp
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=256, n_batch=64, n_threads=int(sys.argv[2]), verbose=False)
llm.eval(llm.tokenize(b"def add(a, b):\\n    return"))
info = llama_cpp.llama_print_system_info().decode(errors="replace")
print({_RESULT!r} + json.dumps({{"version": llama_cpp.__version__, "system_info": info.strip()}}), flush=True)
"""

LLAMA_FIX = ("Its llama-cpp-python build uses an instruction this CPU refuses (a -march=native wheel built on "
             "another CPU, or ggml's AMX kernels on a CPU that advertises AMX and faults on it). Rebuild it for "
             "this CPU: `python -m egcfg_core.engines.llama_build` (each feature the kernel reports, never AMX; "
             "`make test` does the same), or use --engine transformers.")


def llama_library_files() -> list[Path]:
    """The shared libraries of the installed llama-cpp-python (without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return []
    lib = Path(list(spec.submodule_search_locations)[0]) / "lib"
    return sorted(lib.glob("*.so*")) if lib.is_dir() else []


def probe_llama_cpp(gguf: Path, n_threads: int = 1) -> dict:
    """Load ``gguf`` with llama-cpp-python and decode one prompt, in a child process."""
    return run_probe("llama.cpp", _LLAMA_CPP, [str(gguf), str(n_threads)],
                     files=[*llama_library_files(), Path(gguf)], fix=LLAMA_FIX,
                     what=f"loading {Path(gguf).name} and decoding one prompt")


_TORCH = f"""
import json, torch
x = torch.randn(8, 256)
w = torch.randn(512, 256)
for dtype in (torch.float32, torch.bfloat16):
    torch.nn.functional.linear(x.to(dtype), w.to(dtype)).sum().item()
print({_RESULT!r} + json.dumps({{"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}}), flush=True)
"""

TORCH_FIX = ("Its torch build uses an instruction this CPU refuses; install the CPU build this project pins "
             "(`pip install torch==2.13.0`) or another torch build for this CPU.")


def probe_torch() -> dict:
    """A float32 and a bfloat16 matmul in a child process (the transformers engine's kernels)."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    files = sorted((Path(spec.origin).parent / "lib").glob("libtorch_cpu.so*")) if spec and spec.origin else []
    return run_probe("torch", _TORCH, [], files=files, fix=TORCH_FIX, what="running a float32 and a bfloat16 matmul")
