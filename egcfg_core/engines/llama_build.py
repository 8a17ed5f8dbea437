"""Build and install llama-cpp-python (the llama.cpp engine) so that it runs on *this* CPU.

llama-cpp-python is an sdist only.  Its default build compiles ggml with ``-march=native``, and on
a Xeon whose CPUID advertises AMX but faults on it, ggml's AMX kernels kill the process with
SIGILL (issue 26).  ggml's own run-time dispatch (``GGML_BACKEND_DL`` + ``GGML_CPU_ALL_VARIANTS``)
does not help: its x86 scorer reads CPUID only (``ggml-cpu/arch/x86/cpu-feats.cpp``), so that
machine would still load the ``sapphirerapids`` (AMX) variant; it compiles the CPU backend 13
times (~13x the longest part of a 4-8 min build on 2 cores); and it looks for the variants beside
the *Python executable* unless a path is baked in at compile time.

So the build is ``GGML_NATIVE=OFF`` with each x86 feature switched on only when the kernel
reports it in ``/proc/cpuinfo`` (the kernel clears flags it has not enabled in XCR0), and AMX
always off (no probe can prove it safe on every machine sharing a cache; ggml's AVX-512/AVX2 paths
are what the portable build uses).  A crash that still happens is caught by ``engines.probe``,
which loads the engine in a child first.

The wheel is cached under ``~/.cache/egcfg/wheels/<key>/``: ``key`` hashes the version and every
CMake argument, so a wheel built for one CPU's features is never installed on a CPU with others.

    python -m egcfg_core.engines.llama_build            # build if needed, install, print the choice
    python -m egcfg_core.engines.llama_build --show     # what would be built here, nothing else
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

PINNED = "0.3.36"  # the pyproject extra `llama-cpp` pins the same

# ggml's x86 switches, each with the /proc/cpuinfo flags it needs (ggml-cpu/CMakeLists.txt: AVX512
# compiles with -mavx512f -mavx512cd -mavx512vl -mavx512dq -mavx512bw)
FEATURES: dict[str, tuple[str, ...]] = {
    "GGML_SSE42": ("sse4_2",),
    "GGML_AVX": ("avx",),
    "GGML_F16C": ("f16c",),
    "GGML_FMA": ("fma",),
    "GGML_BMI2": ("bmi2",),
    "GGML_AVX2": ("avx2",),
    "GGML_AVX_VNNI": ("avx_vnni",),
    "GGML_AVX512": ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"),
    "GGML_AVX512_VBMI": ("avx512vbmi", "avx512f"),
    "GGML_AVX512_VNNI": ("avx512_vnni", "avx512f"),
    "GGML_AVX512_BF16": ("avx512_bf16", "avx512f"),
}
NEVER = ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")  # see the module docstring
# the Python package needs only libllama/libggml: no multimodal library (mtmd), no tools
FIXED = ("-DGGML_NATIVE=OFF", "-DLLAVA_BUILD=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF")


class BuildError(RuntimeError):
    """llama-cpp-python could not be built or installed."""


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU feature flags the kernel reports (the first processor's ``flags`` line)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cmake_args(flags: frozenset[str]) -> list[str]:
    """The CMake arguments for a CPU with these flags: each ggml feature on iff the CPU has all it
    needs, AMX always off."""
    args = list(FIXED)
    for option, needs in FEATURES.items():
        args.append(f"-D{option}={'ON' if all(f in flags for f in needs) else 'OFF'}")
    args += [f"-D{option}=OFF" for option in NEVER]
    return args


def build_key(version: str, args: list[str]) -> str:
    """The cache key of a wheel: its version and a hash of every argument it was built with."""
    digest = hashlib.sha256(json.dumps([version, args, sys.implementation.cache_tag]).encode()).hexdigest()
    return f"{version}-{digest[:12]}"


def cache_root() -> Path:
    env = os.environ.get("EGCFG_WHEEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "egcfg" / "wheels"


def plan(version: str = PINNED, flags: frozenset[str] | None = None) -> dict:
    """What would be built here: version, CMake arguments, enabled features, cache folder."""
    args = cmake_args(cpu_flags() if flags is None else flags)
    key = build_key(version, args)
    return {"version": version, "key": key, "cmake_args": args, "folder": str(cache_root() / key),
            "enabled": [a[2:-3] for a in args if a.endswith("=ON")]}


def cached_wheel(p: dict) -> Path | None:
    folder = Path(p["folder"])
    wheels = sorted(folder.glob(f"llama_cpp_python-{p['version']}-*.whl")) if folder.is_dir() else []
    return wheels[0] if wheels else None


def build_wheel(p: dict, say: Callable[[str], None] = print) -> Path:
    """The wheel for plan ``p``, built once into its cache folder (4-8 min on 2 cores)."""
    wheel = cached_wheel(p)
    if wheel is not None:
        return wheel
    folder = Path(p["folder"])
    folder.mkdir(parents=True, exist_ok=True)
    say(f"building llama-cpp-python {p['version']} for this CPU ({', '.join(p['enabled']) or 'baseline x86-64'}; "
        f"no AMX) into {folder}: 4-8 min on 2 cores, once per CPU feature set")
    env = {**os.environ, "CMAKE_ARGS": " ".join(p["cmake_args"]), "FORCE_CMAKE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-cache-dir",
                           f"llama-cpp-python=={p['version']}", "-w", str(folder)],
                          env=env, capture_output=True, text=True)
    wheel = cached_wheel(p)
    if proc.returncode != 0 or wheel is None:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise BuildError(f"building llama-cpp-python {p['version']} failed (exit {proc.returncode}); "
                         f"CMAKE_ARGS={env['CMAKE_ARGS']}\n{tail}")
    (folder / "build.json").write_text(json.dumps({**p, "build_s": round(time.perf_counter() - t0, 1),
                                                   "python": sys.version.split()[0]}, indent=1))
    say(f"built {wheel.name} in {time.perf_counter() - t0:.0f} s")
    return wheel


def _marker() -> Path:
    """Which build this environment has installed (a file in the environment, not the package)."""
    return Path(sys.prefix) / "egcfg-llama-cpp-build.json"


def installed_key() -> str | None:
    try:
        return json.loads(_marker().read_text()).get("key")
    except (OSError, ValueError):
        return None


def ensure_installed(version: str = PINNED, say: Callable[[str], None] = print) -> dict:
    """llama-cpp-python ``version``, built for this CPU, installed in this environment.  A wheel
    installed by other means (an old ``-march=native`` build) is replaced by this CPU's build."""
    p = plan(version)
    if installed_key() == p["key"] and importlib.util.find_spec("llama_cpp") is not None:
        return p
    Path(p["folder"]).mkdir(parents=True, exist_ok=True)
    with open(Path(p["folder"]) / ".lock", "w") as lock:  # one build at a time (processes started together)
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install(p, say)


def _install(p: dict, say: Callable[[str], None]) -> dict:
    if installed_key() == p["key"] and importlib.util.find_spec("llama_cpp") is not None:
        return p  # another process did it while this one waited
    wheel = build_wheel(p, say)
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"installing {wheel} failed: {(proc.stderr or proc.stdout).strip()[-800:]}")
    # llama-cpp-python's own dependencies (numpy, jinja2, diskcache, typing-extensions)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True)
    _marker().write_text(json.dumps(p, indent=1))
    importlib.invalidate_caches()
    return p


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m egcfg_core.engines.llama_build", description=__doc__.split("\n\n")[0])
    ap.add_argument("--show", action="store_true", help="print what would be built here and exit")
    ap.add_argument("--version", default=PINNED)
    args = ap.parse_args(argv)
    p = plan(args.version)
    if not args.show:
        try:
            p = ensure_installed(args.version)
        except BuildError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    print(json.dumps({"key": p["key"], "enabled": p["enabled"], "folder": p["folder"],
                      "installed": installed_key() == p["key"]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
