"""Faults and bad input: what the pipeline does when it is killed or fed something broken.

The matrix (case -> where it is tested):

1. SIGKILL during a sandboxed execution -> ``test_sigkill_during_an_execution_leaves_no_sandbox_and_resumes``
   (here): no sandbox process outlives the sweep, the rerun completes, no duplicate keys or orphan
   rows, and the tables equal an uninterrupted run's.
2. SIGKILL during model loading -> ``test_sigkill_during_model_load_leaves_the_store_intact`` (here):
   the store opens, its finished run is unchanged, the killed run has no problem rows, and the
   rerun (same model spec, loading fast) completes that run.
3. SIGKILL during a database write -> tests/test_storage.py
   ``test_sigkill_midway_leaves_complete_problems_only`` (a process killed inside
   ``write_problem``: committed problems complete, the killed one absent, the rerun writes it).
4. Malformed dataset rows -> ``test_malformed_rows_are_skipped_with_reasons_in_the_store`` (here).
5. Bad config values refused naming the field -> tests/test_config.py
   ``test_invalid_values_are_refused_naming_the_field``, ``test_invalid_overrides_are_refused_naming_the_field``,
   ``test_sweep_cli_bad_config_exits_2_naming_the_field``, ``test_sweep_console_script_bad_config``.
6. Missing model -> ``test_missing_model_is_a_clear_error_and_leaves_the_store_unchanged`` (here).
7. Read-only store / full disk -> tests/test_storage.py (``test_read_only_store_refuses_writes_and_keeps_data``,
   ``test_read_only_file_gives_clear_error``, ``test_full_disk_gives_clear_error_and_keeps_committed_problems``)
   at the Store level; at the CLI level ``test_sweep_with_an_unwritable_db_path_exits_2_without_traceback`` (here).
8. Ctrl-C, and SIGKILL, of a sweep that runs its own Prefect server ->
   ``test_ctrl_c_stops_a_sweep_at_once_and_its_private_server_goes_with_it`` (here): exit 130
   within seconds with a resume hint, committed problems intact, no server process left behind.
9. Hostile programs (endless loops, memory/fork bombs, killing the parent, forged verdicts, ...) ->
   tests/test_hostile.py, against the sandbox the sweep uses.

The sweeps here use ``factory:tests.faults_helpers:ones_model``: the tiny test model biased so
that every token is "1", so every candidate is a program that runs cleanly and the (sleeping)
visible test after it always runs.  Subprocess sweeps use the session's Prefect test server.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import time

import duckdb
import pytest

from egcfg_cli.prefect_server import SERVER_LOG, wait_healthy
from egcfg_core.config import load_config
from tests.faults_helpers import (
    LOADING_MARK, ONES, SLOW_LOAD_ENV, SweepProc, descendants, is_sandbox, mbpp_row, sandbox_jobs,
    slow_test, sweep_args, table_counts, wait_gone, write_mbpp_dir,
)
from tests.test_resume import integrity, snapshot

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# one guided agent (plus the γ = 0 baseline), short attempts
GRID = dict(t="0.7", gamma="1", s="2", d="1", max_new_tokens=6)
SLEEP_S = 0.5  # each sandboxed run of a slow test sleeps this long
DECODE = {"skip_certain": ""}  # every guided line explores (the faults land in its executions)


def config_of(data_dir, grid=GRID, tasks="all", model=ONES):
    g = {k: v for k, v in grid.items() if k != "max_new_tokens"}
    return load_config(None, dict(
        model=model, benchmark="mbpp", tasks=tasks, data_dir=str(data_dir),
        t=[float(x) for x in g["t"].split(",")], gamma=[float(x) for x in g["gamma"].split(",") if x],
        s=[int(x) for x in g["s"].split(",")], d=[int(x) for x in g["d"].split(",")],
        max_new_tokens=int(grid["max_new_tokens"]), **DECODE))


def rows_of_run(db, run_id) -> dict[str, int]:
    from storage.store import PROBLEM_TABLES

    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t} WHERE run_id = ?", [run_id]).fetchone()[0]
                for t in PROBLEM_TABLES + ("skipped_rows",)}
    finally:
        con.close()


@pytest.fixture
def no_stray_sweeps():
    yield
    while SweepProc.started:  # a failed assertion must not leave a sweep running
        SweepProc.started.pop().kill()


@pytest.fixture(scope="module")
def finished_store(prefect_harness, tmp_path_factory, one_torch_thread):
    """A store holding one finished run (1 fast problem, baseline agent only), its data folder
    and run id.  Tests copy the file before they touch it."""
    from flows.sweep import sweep_flow

    root = tmp_path_factory.mktemp("finished")
    data = write_mbpp_dir(root / "data", [mbpp_row(1, ["assert f(1) == 1"])])
    cfg = config_of(data, grid=dict(t="0.7", gamma="", s="1", d="1", max_new_tokens=4))
    db = root / "finished.duckdb"
    status = sweep_flow(config=cfg, db=str(db))
    assert (status["done"], status["failed"]) == (1, 0), status
    return db, data, cfg.run_id()


def copy_store(src, dst):
    shutil.copy(src, dst)
    wal = src.with_name(src.name + ".wal")
    if wal.exists():
        shutil.copy(wal, dst.with_name(dst.name + ".wal"))
    return dst


# ----------------------------------------------------------------------------- 1
@pytest.mark.slow
@pytest.mark.usefixtures("no_stray_sweeps")
def test_sigkill_during_an_execution_leaves_no_sandbox_and_resumes(prefect_harness, tmp_path):
    from flows.sweep import sweep_flow

    data = write_mbpp_dir(tmp_path / "data", [mbpp_row(1, [slow_test(SLEEP_S, 1)]),
                                              mbpp_row(2, [slow_test(SLEEP_S, 2)])])
    cfg = config_of(data)
    ref_db = tmp_path / "ref.duckdb"
    status = sweep_flow(config=cfg, db=str(ref_db))  # the uninterrupted reference, in this process
    assert (status["done"], status["failed"]) == (2, 0), status
    reference = snapshot(ref_db)
    assert integrity(ref_db) == 2
    con = duckdb.connect(str(ref_db), read_only=True)
    try:  # the candidates ran cleanly and the (sleeping) test after them ran into the missing f
        assert ("error", "NameError: name 'f' is not defined") in con.execute(
            "SELECT status, error FROM executions").fetchall(), "the slow test never ran"
    finally:
        con.close()

    db = tmp_path / "killed.duckdb"
    args = sweep_args(db, data, grid=GRID, decode=DECODE)
    p = SweepProc(args, prefect_harness)
    run_id = p.wait_for_line(r"run (\w+): 2 problems, 0 already done").group(1)
    assert run_id == cfg.run_id(), "CLI and in-process configs differ"
    p.wait_for_line(r"Mbpp/1: hidden")  # printed after Mbpp/1 was committed
    seen = set()

    def busy():  # the sweep's process tree while the 2nd sandboxed execution of Mbpp/2 runs
        tree = descendants(p.pid)
        jobs = sandbox_jobs(tree)
        seen.update((j.pid, j.start) for j in jobs)
        return tree if jobs and len(seen) >= 2 else None

    # the 1st execution of Mbpp/2 is the baseline's visible test, the 2nd the guided agent's
    # candidate: kill the sweep while that candidate runs
    tree = p.wait_until(busy, "a 2nd sandboxed execution of Mbpp/2")
    sandbox = [q for q in tree if is_sandbox(q)]
    # the sandboxes live in their own sessions: killing the sweep's group does not reach them;
    # only their own parent-death handling can (bwrap --die-with-parent, PR_SET_PDEATHSIG, the
    # pid namespace, the fork server seeing its control socket close)
    assert all(q.pgid != p.pid for q in sandbox), [(q.pid, q.pgid, q.text) for q in sandbox]
    p.kill()
    assert p.proc.returncode == -signal.SIGKILL
    left = wait_gone(sandbox, timeout=10)
    assert not left, f"sandbox processes outlived the SIGKILLed sweep: {[q.text for q in left]}"
    assert integrity(db) == 1  # Mbpp/1 complete, nothing of Mbpp/2

    rc, out = SweepProc(args, prefect_harness).finish()
    assert rc == 0, out
    assert f"run {run_id}: 2 problems, 1 already done" in out
    assert re.findall(r"(Mbpp/\d+): hidden", out) == ["Mbpp/2"]
    assert integrity(db) == 2  # zero duplicate keys, zero orphans (integrity asserts both)
    resumed = snapshot(db)
    for table, rows in reference.items():
        assert resumed[table] == rows, f"{table} differs from the uninterrupted run"


# ----------------------------------------------------------------------------- 2
@pytest.mark.usefixtures("no_stray_sweeps")
def test_sigkill_during_model_load_leaves_the_store_intact(prefect_harness, finished_store, tmp_path):
    src, data, old_run = finished_store
    db = copy_store(src, tmp_path / "store.duckdb")
    before, old_rows = snapshot(db), rows_of_run(db, old_run)
    grid = dict(t="0.7", gamma="1", s="1", d="1", max_new_tokens=4)  # another run than the stored one
    new_run = config_of(data, grid=grid).run_id()
    assert new_run != old_run
    args = sweep_args(db, data, grid=grid, decode=DECODE)

    p = SweepProc(args, prefect_harness, env={SLOW_LOAD_ENV: "60"})
    p.wait_for_line(re.escape(LOADING_MARK))
    p.kill()
    assert p.proc.returncode == -signal.SIGKILL  # killed while loading, not ended by itself

    from storage.store import Store

    with Store(db) as store:  # opens read-write: schema and WAL fine
        assert store.done_task_ids(old_run) == {"Mbpp/1"}
        assert {r.run_id for r in store.list_runs()} <= {old_run, new_run}
    assert set(rows_of_run(db, new_run).values()) == {0}, "the killed run left problem rows"
    assert snapshot(db) == before, "the finished run changed"

    rc, out = SweepProc(args, prefect_harness).finish()  # the same spec, loading fast this time
    assert rc == 0, out
    assert f"run {new_run}: 1 problems, 0 already done" in out and "1 done, 0 failed" in out
    assert integrity(db) == 2
    assert rows_of_run(db, new_run)["problems"] == 1
    assert rows_of_run(db, old_run) == old_rows  # the finished run is untouched
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert sorted(r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()) == sorted([old_run, new_run])
    finally:
        con.close()


# ----------------------------------------------------------------------------- 4
def test_malformed_rows_are_skipped_with_reasons_in_the_store(prefect_harness, tmp_path):
    from flows.sweep import sweep_flow

    data = write_mbpp_dir(tmp_path / "data", [
        '{"task_id": 5, "text": "broken JSON", "code": "def f(x): return x", ',  # line 1
        {k: v for k, v in mbpp_row(6, ["assert f(1) == 1"]).items() if k != "test_list"},  # line 2
        mbpp_row(7, ["assert f(1) == 1"]),
        "[1, 2, 3]",  # line 4: JSON, but not an object
        mbpp_row(8, ["assert f(2) == 2"]),
        mbpp_row(9, ["assert f(1) =="]),  # a visible test that does not parse
    ])
    cfg = config_of(data, grid=dict(t="0.7", gamma="", s="1", d="1", max_new_tokens=4))
    db = tmp_path / "s.duckdb"
    status = sweep_flow(config=cfg, db=str(db))
    assert (status["done"], status["failed"]) == (2, 0), status
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT task_id FROM problems ORDER BY ALL").fetchall() == [("Mbpp/7",), ("Mbpp/8",)]
        skipped = con.execute("SELECT run_id, benchmark, row_id, reason FROM skipped_rows "
                              "ORDER BY row_id").fetchall()
    finally:
        con.close()
    assert {r[:3] for r in skipped} == {(cfg.run_id(), "mbpp", rid) for rid in ("line 1", "line 4", "Mbpp/6", "Mbpp/9")}
    reasons = {r[2]: r[3] for r in skipped}
    assert reasons["line 1"].startswith("invalid JSON")
    assert "JSON object" in reasons["line 4"]
    assert reasons["Mbpp/6"] == "missing field 'test_list'"
    assert "does not parse" in reasons["Mbpp/9"]
    # resuming records the same skipped rows once, and solves nothing again
    status = sweep_flow(config=cfg, db=str(db))
    assert (status["done"], status["failed"]) == (2, 0)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT run_id, benchmark, row_id, reason FROM skipped_rows "
                           "ORDER BY row_id").fetchall() == skipped
        assert con.execute("SELECT count(*) FROM attempts").fetchone()[0] == 2  # baseline x 2 problems
    finally:
        con.close()


# ----------------------------------------------------------------------------- 6
def test_missing_model_is_a_clear_error_and_leaves_the_store_unchanged(prefect_harness, finished_store, tmp_path):
    src, data, _ = finished_store
    db = copy_store(src, tmp_path / "store.duckdb")
    counts, before = table_counts(db), snapshot(db)
    missing = "/nonexistent/egcfg-model-dir"
    rc, out = SweepProc(sweep_args(db, data, model=missing, grid=dict(max_new_tokens=4), decode=DECODE),
                        prefect_harness).finish()
    assert rc == 2, out
    assert missing in out and ("pip install" in out or "--model" in out), out
    assert "Traceback" not in out, out
    assert table_counts(db) == counts and snapshot(db) == before


# ----------------------------------------------------------------------------- 7
def test_sweep_with_an_unwritable_db_path_exits_2_without_traceback(prefect_harness, finished_store, tmp_path):
    _, data, _ = finished_store
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder\n")
    db = blocker / "egcfg.duckdb"  # its parent is a regular file: cannot be created, even by root
    rc, out = SweepProc(sweep_args(db, data, grid=dict(max_new_tokens=4), decode=DECODE), prefect_harness).finish()
    assert rc == 2, out
    assert "Traceback" not in out, out
    assert str(db) in out or str(blocker) in out, out
    assert blocker.read_text() == "not a folder\n"


# ----------------------------------------------------------------------------- Ctrl-C
def _servers_of(pid: int) -> list:
    return [q for q in descendants(pid) if "uvicorn" in q.argv]


def test_a_private_server_that_fails_to_start_is_reported_with_its_log(tmp_path):
    """The private server writes to a log file, not the terminal; so when it dies while starting
    the error carries the end of what it wrote there, which says why (and not what an earlier
    command's server wrote to the same file)."""
    import subprocess
    import sys

    log = tmp_path / SERVER_LOG
    log.write_text("an earlier server's last words\n")
    with log.open("ab") as out:
        start = out.tell()
        proc = subprocess.Popen([sys.executable, "-c", "import sys; print('address already in use'); sys.exit(3)"],
                                stdout=out, stderr=subprocess.STDOUT)
    with pytest.raises(RuntimeError) as e:
        wait_healthy(proc, "http://127.0.0.1:9/api", timeout=30, log=log, log_from=start)
    msg = str(e.value)
    assert "exited with code 3" in msg and "address already in use" in msg and str(log) in msg, msg
    assert "earlier" not in msg, msg


def test_a_private_server_too_slow_to_start_is_a_clear_cli_error_and_is_stopped(tmp_path, monkeypatch, capsys):
    """The CLI's private server that does not answer in time: exit 2 with a one-line error that
    says which setting waits longer (no traceback), and the half-started server is not left."""
    import typer
    from prefect.settings import (
        PREFECT_API_URL, PREFECT_HOME, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings,
    )

    from egcfg_cli import prefect_server

    monkeypatch.setattr(prefect_server, "STARTUP_FLOOR_S", 0)
    before = {q.pid for q in descendants(os.getpid())}
    with temporary_settings(updates={PREFECT_HOME: str(tmp_path), PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 0},
                            restore_defaults={PREFECT_API_URL}):
        with pytest.raises(typer.Exit) as e:
            with prefect_server.api_server():
                pytest.fail("no server is healthy the moment it starts")
    assert e.value.exit_code == 2
    err = capsys.readouterr().err
    assert "did not start within 0 s" in err and "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" in err, err
    assert "Traceback" not in err
    assert not [q for q in descendants(os.getpid()) if q.pid not in before and "uvicorn" in q.argv]
    assert " -> port " in (tmp_path / SERVER_LOG).read_text()


@pytest.mark.slow
@pytest.mark.usefixtures("no_stray_sweeps")
@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_stops_a_sweep_at_once_and_its_private_server_goes_with_it(tmp_path, workers):
    """Without PREFECT_API_URL the CLI starts its own Prefect server, outside the terminal's
    process group: Ctrl-C (SIGINT to the group) stops the sweep in seconds with exit 130 instead
    of a minute of retries against a server the same Ctrl-C had shut down, and the server ends
    with the sweep, also when the sweep is SIGKILLed.  With problems solved in worker threads
    (``--problem-workers 2``) the workers' attempts are stopped too, and nothing solved after
    the Ctrl-C is committed (before, the thread pool went on through the whole selection).
    What the server prints goes to its log under PREFECT_HOME, not into the sweep's output: its
    services log a CancelledError traceback for the events they could not flush when it is
    stopped, which made this test fail about one run in five."""
    n_problems, sleep_s = 8, 4.0  # problems long enough that finishing them would show
    data = write_mbpp_dir(tmp_path / "data", [mbpp_row(n, [slow_test(sleep_s, n)])
                                              for n in range(1, n_problems + 1)])
    db = tmp_path / "c.duckdb"
    args = sweep_args(db, data, grid=GRID, decode=DECODE) + ["--problem-workers", str(workers)]
    home = {"PREFECT_HOME": str(tmp_path / "prefect-home")}  # its own: the parametrizations run at once
    p = SweepProc(args, api_url="", env=home)
    p.wait_for_line(r"Mbpp/\d+: hidden")  # one problem committed, others being solved now
    servers = _servers_of(p.pid)
    assert len(servers) == 1 and servers[0].pgid != p.pid, servers  # outside the sweep's group
    t0 = time.monotonic()
    os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    rc, out = p.finish(timeout=60)
    took = time.monotonic() - t0
    assert rc == 130, out
    print(f"stopped {took:.1f} s after Ctrl-C")
    assert took < 4 * sleep_s, f"took {took:.1f} s to stop"
    assert "interrupted" in out and "run the same command again to resume" in out
    assert "ConnectError" not in out and "Traceback" not in out, out
    assert not wait_gone(servers, timeout=15), "the private Prefect server outlived the sweep"
    log = (tmp_path / "prefect-home" / SERVER_LOG).read_text()
    assert re.search(r"^== \S+ pid \d+: \S+ sweep -> port \d+$", log, re.M), log
    # distinct ids: a Ctrl-C that lands while rich flushes a line can make it write that line twice
    # (rich writes its buffer, then clears it), which is cosmetic and must not count twice
    committed = len(set(re.findall(r"(Mbpp/\d+): hidden", out)))
    assert integrity(db) == committed, out  # complete problems only, each one announced
    assert committed <= 1 + 2 * workers < n_problems, out  # at most those already in flight
    if workers > 1:
        return

    p = SweepProc(args, api_url="", env=home)  # resumes; then SIGKILL: the server must still go
    p.wait_for_line(r"already done")
    servers = _servers_of(p.pid)
    assert len(servers) == 1, servers
    p.kill()
    assert not wait_gone(servers, timeout=15), "the private Prefect server outlived a SIGKILLed sweep"
