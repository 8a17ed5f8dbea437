"""SIGKILL a running `egcfg sweep` at several points, rerun it to completion, and compare the
store with an uninterrupted run of the same config: same rows (ignoring timings), no duplicate
keys, no orphan rows.  The sweeps are subprocesses using the session's Prefect test server."""
from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb
import pytest

from egcfg_core.config import load_config
from storage import Store
from tests.faults_helpers import SweepProc, sweep_args

TINY = "factory:tests.tiny:tiny_model"
pytestmark = pytest.mark.usefixtures("one_torch_thread")  # the subprocesses too, below
TASKS = "11-13"
GRID = dict(t="0.7", gamma="1", s="2", d="1", max_new_tokens=20)
DONE_LINE = re.compile(r"(Mbpp/\d+): hidden")

# Columns that must be identical between a resumed and an uninterrupted run (no timings,
# durations or timestamps).
COMPARE = {
    "problems": "task_id, benchmark, problem::VARCHAR, status, error, failures, n_attempts",
    "attempts": "task_id, agent_index, agent_name, t, gamma, s, d, outcome, stop_reason, passed_visible, "
                "is_winner, is_final, code, error, n_lines, n_tokens, [(v.test_index, v.status) FOR v IN visible]",
    "lines": "task_id, agent_index, line_index, prefix, signal_text, chosen_text, n_candidates, n_tokens",
    "candidates": "task_id, agent_index, line_index, candidate_index, raw_text, executable, duplicate_of",
    "executions": "task_id, agent_index, line_index, candidate_index, test_index, status, error, trace_text",
    "token_decisions": "task_id, agent_index, position, line_index, token_id, token_text, gamma, "
                       "round(logp_combined, 4), argmax_changed",
    "solutions": "task_id, code, agent_index, is_winner, winner_agent_index, any_passed_visible, passed_hidden",
    "evaluations": "task_id, test_index, status, passed",
}
KEYS = {
    "problems": "task_id", "attempts": "task_id, agent_index", "lines": "task_id, agent_index, line_index",
    "candidates": "task_id, agent_index, line_index, candidate_index",
    "executions": "task_id, agent_index, line_index, candidate_index, test_index",
    "token_decisions": "task_id, agent_index, position", "solutions": "task_id", "evaluations": "task_id, test_index",
}
ORPHANS = {
    "attempts": "SELECT count(*) FROM attempts a ANTI JOIN problems p ON a.run_id = p.run_id "
                "AND a.task_id = p.task_id AND p.status = 'done'",
    "lines": "SELECT count(*) FROM lines ANTI JOIN attempts USING (run_id, task_id, agent_index)",
    "candidates": "SELECT count(*) FROM candidates ANTI JOIN lines USING (run_id, task_id, agent_index, line_index)",
    "executions": "SELECT count(*) FROM executions ANTI JOIN candidates "
                  "USING (run_id, task_id, agent_index, line_index, candidate_index)",
    "token_decisions": "SELECT count(*) FROM token_decisions ANTI JOIN lines "
                       "USING (run_id, task_id, agent_index, line_index)",
    "solutions": "SELECT count(*) FROM solutions s ANTI JOIN problems p ON s.run_id = p.run_id "
                 "AND s.task_id = p.task_id AND p.status = 'done'",
    "evaluations": "SELECT count(*) FROM evaluations ANTI JOIN solutions USING (run_id, task_id)",
    # a done problem with no solution / attempts is as bad as an orphan
    "problems": "SELECT count(*) FROM problems p WHERE status = 'done' AND (NOT EXISTS (SELECT 1 FROM solutions s "
                "WHERE s.run_id = p.run_id AND s.task_id = p.task_id) OR n_attempts <> (SELECT count(*) FROM "
                "attempts a WHERE a.run_id = p.run_id AND a.task_id = p.task_id))",
}


def snapshot(db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT {cols} FROM {t} ORDER BY ALL").fetchall() for t, cols in COMPARE.items()}
    finally:
        con.close()


def integrity(db: Path) -> dict[str, int]:
    """Problems done, and zero for every duplicate-key / orphan check (else the offending count)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        bad = {}
        for t, key in KEYS.items():
            (dups,) = con.execute(f"SELECT count(*) FROM (SELECT run_id, {key} FROM {t} GROUP BY ALL "
                                  f"HAVING count(*) > 1)").fetchone()
            if dups:
                bad[f"duplicate {t}"] = dups
        for t, sql in ORPHANS.items():
            (n,) = con.execute(sql).fetchone()
            if n:
                bad[f"orphan {t}"] = n
        assert not bad, bad
        (done,) = con.execute("SELECT count(*) FROM problems WHERE status = 'done'").fetchone()
        return done
    finally:
        con.close()


def sweep_proc(db: Path, data_dir: Path, api_url: str) -> SweepProc:
    """`python -m egcfg_cli.main sweep ...` of this test's config, in its own process group."""
    return SweepProc(sweep_args(db, data_dir, model=TINY, tasks=TASKS, grid=GRID), api_url)


def finished(p: SweepProc, timeout: float = 240) -> str:
    rc, out = p.finish(timeout)
    assert rc == 0, out
    return out


@pytest.fixture
def no_stray_sweeps():
    yield
    while SweepProc.started:  # a failed assertion must not leave a sweep running
        SweepProc.started.pop().kill()


@pytest.mark.slow
@pytest.mark.usefixtures("no_stray_sweeps")
def test_sigkilled_sweep_resumes_to_the_uninterrupted_result(prefect_harness, data_dir, tmp_path):
    from flows.sweep import sweep_flow

    # The uninterrupted reference, in this process (so resumed == reference also checks that
    # a fresh process reproduces the same decisions: deterministic mode is the default).
    cfg = load_config(None, dict(model=TINY, benchmark="mbpp", tasks=TASKS, data_dir=str(data_dir), t=[0.7],
                                 gamma=[1.0], s=[2], d=[1], max_new_tokens=20))
    ref_db = tmp_path / "ref.duckdb"
    ref_status = sweep_flow(config=cfg, db=str(ref_db))
    assert (ref_status["done"], ref_status["failed"]) == (3, 0)
    reference = snapshot(ref_db)
    assert integrity(ref_db) == 3

    db = tmp_path / "resumed.duckdb"
    # 1) killed just after the first problem was committed (its line is printed after the commit)
    p = sweep_proc(db, data_dir, prefect_harness)
    run_id = p.wait_for_line(r"run (\w+): 3 problems, 0 already done").group(1)
    assert run_id == cfg.run_id(), "CLI and in-process configs differ"
    first = p.wait_for_line(DONE_LINE.pattern).group(1)
    p.kill()
    done1 = integrity(db)
    assert done1 in (1, 2)  # the next commit may have landed between the print and the kill
    # 2) killed in the middle of the next problem (0.2 s after the sweep announced its work)
    p = sweep_proc(db, data_dir, prefect_harness)
    p.wait_for_line(rf"run {run_id}: 3 problems, {done1} already done")
    # a reader while the sweep holds the store: its writer lets the reader in between problems
    t0 = time.monotonic()
    with Store(db, read_only=True) as ro:
        assert len(ro.done_task_ids(run_id)) >= done1
    assert p.proc.poll() is None, "the sweep ended before the read: nothing was shared"
    print(f"read the store during the sweep in {time.monotonic() - t0:.2f} s")
    time.sleep(0.2)
    p.kill()
    done2 = integrity(db)
    assert done1 <= done2 <= 3
    # 3) rerun to completion: only what was missing is solved
    out = finished(sweep_proc(db, data_dir, prefect_harness))
    assert f"{done2} already done" in out
    redone = DONE_LINE.findall(out)
    assert len(redone) == 3 - done2 and first not in redone
    assert "3 done, 0 failed" in out
    assert integrity(db) == 3
    print(f"killed after {done1} and {done2} committed problems; the last run solved {redone}")

    resumed = snapshot(db)
    for table in COMPARE:
        assert resumed[table] == reference[table], f"{table} differs from the uninterrupted run"
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT run_id FROM runs").fetchall() == [(run_id,)]
    finally:
        con.close()
