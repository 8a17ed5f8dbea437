"""Storage layer: round-trips, atomicity, resume, export, shards, errors, documented queries."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pytest

from egcfg_core.records import (
    AgentConfig,
    AttemptRecord,
    CandidateRecord,
    EvaluationRecord,
    ExecutionRecord,
    LineRecord,
    Problem,
    SkippedRow,
    SolveRecord,
    TestCase as Case,
    TestOutcome as Outcome,
    TokenDecision,
)
from storage import (
    TABLES,
    RecordError,
    RunConfigMismatch,
    Store,
    StoreError,
    StoreLockedError,
    StoreReadOnlyError,
    config_hash,
    open_for_query,
    open_parquet,
    open_shards,
    rows,
)
from storage.store import sql_to_arrow

ROOT = Path(__file__).resolve().parents[1]
CONFIG = {"benchmark": "mbpp", "agents": [{"t": 0.7, "gamma": 1.0, "s": 2, "d": 2}], "seed": 0}
GAMMAS = (0.0, 0.5, 1.0)
N_LINES, N_CANDS, N_TESTS, TOKENS_PER_LINE = 3, 2, 2, 3


# ----------------------------------------------------------------------------- synthetic records
def make_problem(task_id: str) -> Problem:
    return Problem(
        task_id=task_id,
        benchmark="mbpp",
        description=f"Write a function for {task_id}.",
        function_name="f",
        visible_tests=tuple(Case(source=f"assert f({i}) == {i}", call=f"f({i})")
                            for i in range(N_TESTS)),
        hidden_tests=(Case(source="assert f(9) == 9", call="f(9)"),
                      Case(source="assert f(8) == 8", call="f(8)")),
        setup_code="import math",
    )


def make_solve(task_id: str, *, winner: int | None = 2, n_agents: int = 3) -> SolveRecord:
    """Agents with gamma 0, 0.5, 1.  Line 0 of every attempt has only failing candidates;
    later lines have one passing candidate.  Guided agents flip the argmax on token 1."""
    attempts = []
    for a in range(n_agents):
        gamma = GAMMAS[a % len(GAMMAS)]
        lines, position = [], 0
        for li in range(N_LINES):
            cands = []
            for ci in range(N_CANDS):
                if li == 1 and ci == 1:  # nothing runnable
                    cands.append(CandidateRecord(ci, "  retur", None))
                    continue
                execs = []
                for ti in range(N_TESTS):
                    if li == 0:
                        status, err = ("error", "NameError: name 'y' is not defined") if ci == 0 \
                            else ("failed", "AssertionError: ")
                    else:
                        status, err = ("passed", "") if ci == 0 else ("timeout", "")
                    execs.append(ExecutionRecord(
                        ci, ti, status, err, f"line {li}: x = {ti}\n",
                        {"lines": [li, li + 1], "vars": {"x": ti}, "error": err or None}, 0.01 * (ti + 1)))
                cands.append(CandidateRecord(ci, f"    x = {ci}\n    y = x\n", f"def f(x):\n    x = {ci}\n",
                                             duplicate_of=0 if (li == 2 and ci == 1) else None,
                                             executions=execs))
            toks = []
            for k in range(TOKENS_PER_LINE):
                flipped = gamma > 0 and k == 1
                toks.append(TokenDecision(
                    position=position, token_id=100 + k, token_text=f"tok{k}", gamma=gamma,
                    logp_uncond=-1.5 if flipped else -0.1, logp_guided=-0.05, logp_combined=-0.2,
                    topk_uncond=[(7, -0.1), (100 + k, -1.5)] if flipped else [(100 + k, -0.1), (7, -2.0)],
                    topk_guided=[(100 + k, -0.05)], topk_combined=[(100 + k, -0.2), (7, float("-inf"))],
                    argmax_changed=flipped))
                position += 1
            lines.append(LineRecord(
                line_index=li, prefix="def f(x):\n" + "    pass\n" * li,
                signal_text="" if li == 0 else f"# Candidate A ran: x = {li}",
                candidates=cands, chosen_text=f"    x = {li}\n", tokens=toks,
                timings={"sample_s": 0.5, "execute_s": 0.1, "prefill_s": 0.2, "decode_s": 0.3 + li},
                skip_rule="header" if li == 0 else ""))
        passed = winner is not None and a == winner
        attempts.append(AttemptRecord(
            agent_index=a, agent=AgentConfig(t=0.7 if gamma else 0.0, gamma=gamma, s=N_CANDS, d=2),
            code="def f(x):\n    return x\n", stop_reason="eos" if passed else "cancelled",
            lines=lines,
            visible=[Outcome(i, "passed" if passed else "failed", "", 0.01) for i in range(N_TESTS)],
            passed_visible=passed, timings={"total_s": 1.0 + a}))
    final = winner if winner is not None else 0
    return SolveRecord(make_problem(task_id), attempts, winner, final,
                       attempts[final].code, wall_s=3.0)


def make_eval(task_id: str, passed: bool = True) -> EvaluationRecord:
    return EvaluationRecord(task_id, "mbpp", passed,
                            [Outcome(0, "passed", "", 0.02),
                             Outcome(1, "passed" if passed else "failed",
                                         "" if passed else "AssertionError: ", 0.03)])


def expected_counts(solve: SolveRecord, evaluation: EvaluationRecord | None) -> dict[str, int]:
    lines = [ln for a in solve.attempts for ln in a.lines]
    cands = [c for ln in lines for c in ln.candidates]
    return {
        "problems": 1, "attempts": len(solve.attempts), "lines": len(lines),
        "candidates": len(cands), "executions": sum(len(c.executions) for c in cands),
        "token_decisions": sum(len(ln.tokens) for ln in lines), "solutions": 1,
        "evaluations": len(evaluation.tests) if evaluation else 0,
    }


def counts(store: Store, run_id: str, task_id: str) -> dict[str, int]:
    return {t: store.query(f"SELECT count(*) AS n FROM {t} WHERE run_id = ? AND task_id = ?",
                           [run_id, task_id]).column("n")[0].as_py()
            for t in ("problems", "attempts", "lines", "candidates", "executions",
                      "token_decisions", "solutions", "evaluations")}


def all_rows(con_query, table: str, order: str) -> list[dict]:
    return con_query(f"SELECT * FROM {table} ORDER BY {order}")


KEY_ORDER = {
    "runs": "run_id", "problems": "run_id, task_id", "attempts": "run_id, task_id, agent_index",
    "lines": "run_id, task_id, agent_index, line_index",
    "candidates": "run_id, task_id, agent_index, line_index, candidate_index",
    "executions": "run_id, task_id, agent_index, line_index, candidate_index, test_index",
    "token_decisions": "run_id, task_id, agent_index, position",
    "solutions": "run_id, task_id", "evaluations": "run_id, task_id, test_index",
    "skipped_rows": "run_id, benchmark, row_id",
}


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "runs" / "egcfg.duckdb") as s:
        yield s


@pytest.fixture
def run_id(store):
    return store.ensure_run(config_hash(CONFIG), CONFIG, "qwen-0.5b", "abc123")


def fill(store: Store, run_id: str) -> None:
    """Two done problems (one evaluated passing, one unevaluated), a failure, skipped rows."""
    store.write_problem(run_id, make_solve("Mbpp/1"), make_eval("Mbpp/1"), wall_s=3.5)
    store.write_problem(run_id, make_solve("Mbpp/2", winner=None), make_eval("Mbpp/2", False),
                        wall_s=4.0)
    store.record_failure(run_id, "Mbpp/3", "mbpp", "RuntimeError: model crashed")
    store.record_skipped(run_id, [SkippedRow("mbpp", "17", "no visible tests")])


# ----------------------------------------------------------------------------- round trip
def test_every_table_round_trips(store, run_id):
    fill(store, run_id)
    for tid, solve, ev in (("Mbpp/1", make_solve("Mbpp/1"), make_eval("Mbpp/1")),
                           ("Mbpp/2", make_solve("Mbpp/2", winner=None), make_eval("Mbpp/2", False))):
        assert counts(store, run_id, tid) == expected_counts(solve, ev)

    (run,) = store.query("SELECT * FROM runs").to_pylist()
    assert json.loads(run["config"]) == CONFIG and run["model"] == "qwen-0.5b"
    assert run["code_version"] == "abc123" and run["updated_at"] >= run["created_at"]

    p1 = store.query("SELECT * FROM problems WHERE task_id = 'Mbpp/1'").to_pylist()[0]
    assert Problem.from_dict(json.loads(p1["problem"])) == make_problem("Mbpp/1")
    assert (p1["status"], p1["wall_s"], p1["error"], p1["n_attempts"]) == ("done", 3.5, "", 3)
    assert p1["done_at"] is not None
    p3 = store.query("SELECT * FROM problems WHERE task_id = 'Mbpp/3'").to_pylist()[0]
    assert (p3["status"], p3["done_at"], p3["error"], p3["failures"]) == \
        ("failed", None, "RuntimeError: model crashed", 1)

    att = store.query("SELECT * FROM attempts WHERE task_id = 'Mbpp/1' ORDER BY agent_index").to_pylist()
    assert [a["gamma"] for a in att] == list(GAMMAS)
    assert [a["agent_name"] for a in att] == ["greedy", "t0.7_g0.5_s2_d2", "t0.7_g1_s2_d2"]
    assert [a["outcome"] for a in att] == ["cancelled", "cancelled", "passed"]
    assert [a["is_winner"] for a in att] == [False, False, True]
    assert [a["is_final"] for a in att] == [False, False, True]
    assert att[2]["visible"][1] == {"test_index": 1, "status": "passed", "error": "", "duration_s": 0.01}
    assert dict(att[1]["timings"]) == {"total_s": 2.0}
    assert att[0]["n_tokens"] == N_LINES * TOKENS_PER_LINE

    ln = store.query("SELECT * FROM lines WHERE task_id = 'Mbpp/1' AND agent_index = 1 "
                     "AND line_index = 2").to_pylist()[0]
    assert ln["signal_text"] == "# Candidate A ran: x = 2" and ln["chosen_text"] == "    x = 2\n"
    assert ln["prefix"] == "def f(x):\n    pass\n    pass\n"
    assert dict(ln["timings"])["decode_s"] == 2.3
    assert ln["skip_rule"] == ""
    assert store.query("SELECT DISTINCT skip_rule FROM lines WHERE line_index = 0").to_pylist() == [{"skip_rule": "header"}]

    cand = store.query("SELECT line_index, candidate_index, executable, duplicate_of, raw_text "
                       "FROM candidates WHERE task_id = 'Mbpp/1' AND agent_index = 0 "
                       "ORDER BY ALL").to_pylist()
    assert cand[3] == {"line_index": 1, "candidate_index": 1, "executable": None,
                       "duplicate_of": None, "raw_text": "  retur"}
    assert cand[5]["duplicate_of"] == 0 and cand[0]["executable"] == "def f(x):\n    x = 0\n"

    ex = store.query("SELECT * FROM executions WHERE task_id = 'Mbpp/1' AND agent_index = 0 AND "
                     "line_index = 0 AND candidate_index = 0 AND test_index = 1").to_pylist()[0]
    assert ex["status"] == "error" and ex["error"] == "NameError: name 'y' is not defined"
    assert json.loads(ex["trace"]) == {"lines": [0, 1], "vars": {"x": 1},
                                       "error": "NameError: name 'y' is not defined"}
    assert ex["trace_text"] == "line 0: x = 1\n" and ex["duration_s"] == 0.02

    tok = store.query("SELECT * FROM token_decisions WHERE task_id = 'Mbpp/1' AND agent_index = 2 "
                      "AND position = 4").to_pylist()[0]
    assert tok["line_index"] == 1 and tok["token_id"] == 101 and tok["token_text"] == "tok1"
    assert tok["argmax_changed"] is True and tok["gamma"] == 1.0
    assert (tok["logp_uncond"], tok["logp_guided"], tok["logp_combined"]) == (-1.5, -0.05, -0.2)
    assert tok["topk_uncond"] == [{"id": 7, "logp": pytest.approx(-0.1)},
                                  {"id": 101, "logp": -1.5}]
    assert tok["topk_combined"][1] == {"id": 7, "logp": float("-inf")}
    positions = store.query("SELECT list(position ORDER BY position) AS p FROM token_decisions "
                            "WHERE task_id = 'Mbpp/1' AND agent_index = 0").column("p")[0].as_py()
    assert positions == list(range(N_LINES * TOKENS_PER_LINE))

    sol = store.query("SELECT * FROM solutions ORDER BY task_id").to_pylist()
    assert [(s["task_id"], s["agent_index"], s["is_winner"], s["winner_agent_index"],
             s["any_passed_visible"], s["passed_hidden"]) for s in sol] == \
        [("Mbpp/1", 2, True, 2, True, True), ("Mbpp/2", 0, False, None, False, False)]
    ev = store.query("SELECT * FROM evaluations WHERE task_id = 'Mbpp/2' ORDER BY test_index").to_pylist()
    assert [(e["status"], e["error"], e["passed"]) for e in ev] == \
        [("passed", "", False), ("failed", "AssertionError: ", False)]
    assert store.query("SELECT * FROM skipped_rows").to_pylist() == [
        {"run_id": run_id, "benchmark": "mbpp", "row_id": "17", "reason": "no visible tests"}]


def test_resume_helpers(store, run_id):
    fill(store, run_id)
    assert store.done_task_ids(run_id) == {"Mbpp/1", "Mbpp/2"}
    assert store.failed_task_ids(run_id) == {"Mbpp/3"}
    assert store.done_task_ids("other") == set()
    st = store.run_status(run_id)
    assert (st.total, st.done, st.failed, st.evaluated, st.passed, st.pass_rate) == (3, 2, 1, 2, 1, 0.5)
    (info,) = store.list_runs()
    assert (info.run_id, info.config, info.done, info.failed) == (run_id, CONFIG, 2, 1)
    with pytest.raises(StoreError, match="unknown run_id 'nope'"):
        store.run_status("nope")


def test_failed_problem_is_retried_then_done(store, run_id):
    store.record_failure(run_id, "Mbpp/3", "mbpp", "boom 1")
    store.record_failure(run_id, "Mbpp/3", "mbpp", "boom 2")
    row = store.query("SELECT status, error, failures FROM problems").to_pylist()
    assert row == [{"status": "failed", "error": "boom 2", "failures": 2}]
    store.write_problem(run_id, make_solve("Mbpp/3"), None, wall_s=1.0)
    assert store.done_task_ids(run_id) == {"Mbpp/3"} and store.failed_task_ids(run_id) == set()
    assert store.query("SELECT count(*) AS n FROM problems").column("n")[0].as_py() == 1
    assert store.run_status(run_id).pass_rate is None  # not evaluated yet
    with pytest.raises(StoreError, match="already done"):
        store.record_failure(run_id, "Mbpp/3", "mbpp", "late")
    assert store.done_task_ids(run_id) == {"Mbpp/3"}


def test_write_evaluation_later(store, run_id):
    store.write_problem(run_id, make_solve("Mbpp/1"), None, wall_s=1.0)
    store.write_evaluation(run_id, make_eval("Mbpp/1", passed=False))
    store.write_evaluation(run_id, make_eval("Mbpp/1", passed=True))  # re-score replaces
    assert counts(store, run_id, "Mbpp/1")["evaluations"] == 2
    assert store.run_status(run_id).pass_rate == 1.0
    with pytest.raises(StoreError, match="no stored solution"):
        store.write_evaluation(run_id, make_eval("Mbpp/404"))


def test_write_requires_known_run(store):
    with pytest.raises(StoreError, match="call ensure_run first"):
        store.write_problem("norun", make_solve("Mbpp/1"), None, wall_s=1.0)


# ----------------------------------------------------------------------------- atomicity
def test_failure_midway_stores_nothing_of_that_problem(store, run_id, monkeypatch):
    fill(store, run_id)
    before = {t: counts(store, run_id, t) for t in ("Mbpp/1", "Mbpp/2")}

    def boom(*a, **k):
        raise RuntimeError("simulated crash while building candidates")

    # problems, attempts and lines are already inserted when candidates fail.
    monkeypatch.setattr(rows, "candidates_table", boom)
    with pytest.raises(StoreError, match="rolled back.*simulated crash"):
        store.write_problem(run_id, make_solve("Mbpp/4"), make_eval("Mbpp/4"), wall_s=1.0)
    assert set(counts(store, run_id, "Mbpp/4").values()) == {0}
    assert {t: counts(store, run_id, t) for t in before} == before
    assert "Mbpp/4" not in store.done_task_ids(run_id)

    # A redo of a done problem that fails midway keeps the old complete rows.
    with pytest.raises(StoreError, match="rolled back"):
        store.write_problem(run_id, make_solve("Mbpp/1", n_agents=1, winner=0), None, wall_s=1.0)
    assert counts(store, run_id, "Mbpp/1") == before["Mbpp/1"]

    monkeypatch.undo()
    store.write_problem(run_id, make_solve("Mbpp/4"), make_eval("Mbpp/4"), wall_s=1.0)
    assert counts(store, run_id, "Mbpp/4") == expected_counts(make_solve("Mbpp/4"), make_eval("Mbpp/4"))


def test_duplicate_key_in_one_record_is_rejected_atomically(store, run_id):
    solve = make_solve("Mbpp/5")
    solve.attempts[1].lines[2].tokens[0].position = 0  # collides with line 0's first token
    with pytest.raises(StoreError, match="duplicate or invalid key"):
        store.write_problem(run_id, solve, None, wall_s=1.0)
    assert set(counts(store, run_id, "Mbpp/5").values()) == {0}


def test_bad_records_raise_clear_errors(store, run_id):
    solve = make_solve("Mbpp/6")
    solve.final_index = 9
    with pytest.raises(RecordError, match="final_index 9 is not an attempt"):
        store.write_problem(run_id, solve, None, wall_s=1.0)
    with pytest.raises(RecordError, match="evaluation is for task 'Mbpp/7'"):
        store.write_problem(run_id, make_solve("Mbpp/6"), make_eval("Mbpp/7"), wall_s=1.0)
    solve = make_solve("Mbpp/6")
    solve.attempts[0].lines[0].candidates[0].executions[0].trace = {"s": {1, 2}}
    with pytest.raises(StoreError, match="trace of Mbpp/6 agent 0 line 0 candidate 0 test 0 is "
                                         "not JSON-serialisable"):
        store.write_problem(run_id, solve, None, wall_s=1.0)
    assert set(counts(store, run_id, "Mbpp/6").values()) == {0}


def test_write_problems_batch_is_all_or_nothing(store, run_id, monkeypatch):
    store.write_problem(run_id, make_solve("Mbpp/1"), None, wall_s=1.0)
    batch = [(make_solve("Mbpp/1", winner=0, n_agents=1), make_eval("Mbpp/1"), 1.0),
             (make_solve("Mbpp/2"), None, 2.0), (make_solve("Mbpp/3", winner=None), None, 3.0)]
    real = rows.token_decisions_table
    calls = []

    def fail_on_third(run, solve):
        calls.append(solve.problem.task_id)
        if len(calls) == 3:
            raise RuntimeError("third problem is broken")
        return real(run, solve)

    monkeypatch.setattr(rows, "token_decisions_table", fail_on_third)
    with pytest.raises(StoreError, match="3 problems .*rolled back.*third problem is broken"):
        store.write_problems(run_id, batch)
    assert store.done_task_ids(run_id) == {"Mbpp/1"}
    assert counts(store, run_id, "Mbpp/1") == expected_counts(make_solve("Mbpp/1"), None)
    monkeypatch.undo()
    store.write_problems(run_id, batch)
    assert store.done_task_ids(run_id) == {"Mbpp/1", "Mbpp/2", "Mbpp/3"}
    for solve, ev, wall in batch:
        assert counts(store, run_id, solve.problem.task_id) == expected_counts(solve, ev)
    assert store.query("SELECT wall_s FROM problems ORDER BY task_id").column("wall_s").to_pylist() == \
        [1.0, 2.0, 3.0]
    with pytest.raises(RecordError, match="the same task_id twice"):
        store.write_problems(run_id, [batch[1], batch[1]])
    with pytest.raises(RecordError, match="wall_s must be a number"):
        store.write_problem(run_id, make_solve("Mbpp/4"), None, wall_s=float("nan"))


def test_rewrite_leaves_no_duplicates(store, run_id):
    store.write_problem(run_id, make_solve("Mbpp/1"), make_eval("Mbpp/1"), wall_s=1.0)
    smaller = make_solve("Mbpp/1", winner=0, n_agents=1)
    store.write_problem(run_id, smaller, None, wall_s=2.0)
    assert counts(store, run_id, "Mbpp/1") == expected_counts(smaller, None)
    for table, key in KEY_ORDER.items():
        (dups,) = store.query(f"SELECT count(*) - count(DISTINCT ({key})) AS d FROM {table}").to_pylist()
        assert dups["d"] == 0, table


def test_concurrent_writers_in_threads(store, run_id):
    errors = []

    def work(k):
        try:
            for i in range(5):
                store.write_problem(run_id, make_solve(f"T{k}/{i}", n_agents=1, winner=0),
                                    make_eval(f"T{k}/{i}"), wall_s=0.1)
                store.done_task_ids(run_id)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.done_task_ids(run_id)) == 20
    assert store.query("SELECT count(*) AS n FROM token_decisions").column("n")[0].as_py() == \
        20 * N_LINES * TOKENS_PER_LINE


# ----------------------------------------------------------------------------- crash safety
_CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
    from storage import Store, rows
    from test_storage import make_solve, make_eval, CONFIG
    store = Store({db!r})
    run = store.ensure_run("r1", CONFIG, "m", "v")
    store.write_problem(run, make_solve("Mbpp/1"), make_eval("Mbpp/1"), wall_s=1.0)
    mode = {mode!r}
    if mode == "hang_midway":
        real = rows.token_decisions_table
        def slow(*a, **k):
            open({ready!r}, "w").close()
            time.sleep(60)
        rows.token_decisions_table = slow
        store.write_problem(run, make_solve("Mbpp/2"), None, wall_s=1.0)
    elif mode == "raw_hold":  # another tool holding the file: it never yields to readers
        store.close()
        import duckdb
        con = duckdb.connect({db!r})
        open({ready!r}, "w").close()
        time.sleep(60)
    else:  # a writer between problems: it yields to readers, then writes Mbpp/2 on "go"
        import os
        open({ready!r}, "w").close()
        while not os.path.exists({ready!r} + ".go"):
            time.sleep(0.05)
        store.write_problem(run, make_solve("Mbpp/2"), make_eval("Mbpp/2"), wall_s=1.0)
        open({ready!r} + ".wrote", "w").close()
        print("yields", store.yields, flush=True)
        time.sleep(60)
""")


def _spawn(tmp_path, mode):
    db, ready = tmp_path / "crash.duckdb", tmp_path / "ready"
    code = _CHILD.format(root=str(ROOT), tests=str(ROOT / "tests"), db=str(db),
                         ready=str(ready), mode=mode)
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not ready.exists():
        if proc.poll() is not None:
            raise AssertionError(f"child exited: {proc.stderr.read().decode()}")
        assert time.time() < deadline, "child never got ready"
        time.sleep(0.05)
    return proc, db


def test_sigkill_midway_leaves_complete_problems_only(tmp_path):
    proc, db = _spawn(tmp_path, "hang_midway")
    proc.kill()
    proc.wait()
    with Store(db) as s:  # reopen read-write: the WAL replays committed work only
        assert s.done_task_ids("r1") == {"Mbpp/1"}
        assert counts(s, "r1", "Mbpp/1") == expected_counts(make_solve("Mbpp/1"), make_eval("Mbpp/1"))
        assert set(counts(s, "r1", "Mbpp/2").values()) == {0}
        s.write_problem("r1", make_solve("Mbpp/2"), None, wall_s=1.0)  # the rerun
        assert s.done_task_ids("r1") == {"Mbpp/1", "Mbpp/2"}


def test_readers_take_turns_with_a_writing_process(tmp_path):
    proc, db = _spawn(tmp_path, "hold")  # a writer that has stored Mbpp/1 and holds the file
    try:
        with pytest.raises(StoreLockedError, match=rf"being written by another process \(pid {proc.pid}\)"):
            Store(db)  # a second writer is refused, even while the first lets readers in
        t0 = time.monotonic()
        con = open_for_query(db)  # the writer yields the file between problems
        assert time.monotonic() - t0 < 10
        assert con.sql("SELECT task_id FROM problems").fetchall() == [("Mbpp/1",)]
        con.close()
        with Store(db, read_only=True) as ro:
            assert ro.done_task_ids("r1") == {"Mbpp/1"}
        (tmp_path / "ready.go").touch()  # the writer reopens the file and stores Mbpp/2
        deadline = time.monotonic() + 60
        while not (tmp_path / "ready.wrote").exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the writer never wrote after yielding"
            time.sleep(0.05)
        with Store(db, read_only=True) as ro:
            assert ro.done_task_ids("r1") == {"Mbpp/1", "Mbpp/2"}
            assert counts(ro, "r1", "Mbpp/2") == expected_counts(make_solve("Mbpp/2"), make_eval("Mbpp/2"))
        assert not list((tmp_path / "crash.duckdb.readers").iterdir())  # no request left behind
    finally:
        proc.kill()
        proc.wait()
    with Store(db) as s:  # the killed writer's marker does not block a new writer
        assert s.done_task_ids("r1") == {"Mbpp/1", "Mbpp/2"}


def test_a_holder_that_never_yields_gives_clear_error_and_parquet_fallback(tmp_path, monkeypatch):
    import storage.connection

    monkeypatch.setattr(storage.connection, "READ_WAIT_S", 1.0)
    proc, db = _spawn(tmp_path, "raw_hold")
    try:
        with pytest.raises(StoreLockedError, match="open in another process"):
            Store(db)
        with pytest.raises(StoreLockedError, match="did not yield it for reading within 1 s.*Parquet export"):
            open_for_query(db)
    finally:
        proc.kill()
        proc.wait()
    with Store(db) as s:
        s.export_parquet(tmp_path / "export")
    proc, db = _spawn(tmp_path, "raw_hold")  # writes Mbpp/1 again, then holds the lock
    try:
        con = open_for_query(db, parquet_dir=tmp_path / "export")
        assert con.sql("SELECT task_id FROM problems").fetchall() == [("Mbpp/1",)]
    finally:
        proc.kill()
        proc.wait()


# ----------------------------------------------------------------------------- errors
def test_read_only_store_refuses_writes_and_keeps_data(tmp_path):
    path = tmp_path / "ro.duckdb"
    with Store(path) as s:
        rid = s.ensure_run("r1", CONFIG, "m", "v")
        s.write_problem(rid, make_solve("Mbpp/1"), None, wall_s=1.0)
    with Store(path, read_only=True) as ro:
        with pytest.raises(StoreReadOnlyError, match="opened read-only"):
            ro.write_problem(rid, make_solve("Mbpp/2"), None, wall_s=1.0)
        with pytest.raises(StoreReadOnlyError):
            ro.record_failure(rid, "Mbpp/2", "mbpp", "x")
        with pytest.raises(StoreReadOnlyError):
            ro.query("DELETE FROM problems")
        assert ro.done_task_ids(rid) == {"Mbpp/1"}
        assert ro.ensure_run(rid, CONFIG, "m", "v") == rid  # an existing run is fine
        assert ro.run_status(rid).done == 1
        assert ro.export_parquet(tmp_path / "export")["token_decisions"] == 3 * N_LINES * TOKENS_PER_LINE
    with Store(path) as s:
        assert counts(s, rid, "Mbpp/1") == expected_counts(make_solve("Mbpp/1"), None)
    with pytest.raises(StoreError, match="no store at"):
        Store(tmp_path / "missing.duckdb", read_only=True)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_file_gives_clear_error(tmp_path):
    path = tmp_path / "ro.duckdb"
    Store(path).close()
    path.chmod(0o444)
    try:
        with pytest.raises(StoreReadOnlyError, match="read_only=True"):
            Store(path)
    finally:
        path.chmod(0o644)


def _can_mount_tmpfs(where: Path) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    where.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)],
                        capture_output=True).returncode == 0
    return ok


@pytest.mark.slow
def test_full_disk_gives_clear_error_and_keeps_committed_problems(tmp_path):
    mnt = tmp_path / "small"
    if not _can_mount_tmpfs(mnt):
        pytest.skip("needs root and a mountable tmpfs to simulate a full disk")
    try:
        path, done = mnt / "full.duckdb", []
        big = "x" * 20_000
        with pytest.raises(StoreError, match="disk full"):
            with Store(path) as s:
                rid = s.ensure_run("r1", CONFIG, "m", "v")
                for i in range(2000):
                    solve = make_solve(f"P/{i}")
                    solve.attempts[0].code = big + str(i)
                    s.write_problem(rid, solve, None, wall_s=1.0)
                    done.append(f"P/{i}")
        assert done, "the disk filled before a single problem"
        copy = tmp_path / "copy.duckdb"
        for f in mnt.iterdir():
            shutil.copy(f, tmp_path / f.name.replace("full", "copy"))
        with Store(copy) as s:
            stored = s.done_task_ids("r1")
            assert stored == set(done)  # every problem that returned, and not the failed one
            for tid in stored:
                assert counts(s, "r1", tid) == expected_counts(make_solve(tid), None)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


# ----------------------------------------------------------------------------- runs, config
def test_config_hash_is_stable():
    a = {"b": [1, 2], "a": {"y": 0.5, "x": "z"}}
    b = {"a": {"x": "z", "y": 0.5}, "b": [1, 2]}
    assert config_hash(a) == config_hash(b) == "53558bc858e0"  # pinned: must never change
    assert re.fullmatch(r"[0-9a-f]{12}", config_hash(CONFIG))
    assert config_hash({"gamma": 1.0}) != config_hash({"gamma": 3.0})
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        config_hash({"x": object()})
    with pytest.raises(ValueError, match="must be a dict"):
        config_hash([1])


def test_ensure_run_is_idempotent_and_refuses_other_config(store):
    rid = config_hash(CONFIG)
    assert store.ensure_run(rid, CONFIG, "m", "v1") == rid
    assert store.ensure_run(rid, json.loads(json.dumps(CONFIG)), "m", "v2") == rid
    assert len(store.list_runs()) == 1 and store.list_runs()[0].code_version == "v1"
    with pytest.raises(RunConfigMismatch, match=f"run '{rid}' already exists .* different config"):
        store.ensure_run(rid, {**CONFIG, "seed": 1}, "m", "v1")
    with pytest.raises(ValueError, match="run_id"):
        store.ensure_run("../evil", CONFIG, "m", "v")
    store.set_run_timings(rid, {"model_load_s": 1.5})
    store.set_run_timings(rid, {"total_s": 9.0})
    assert dict(store.query("SELECT timings FROM runs").column("timings")[0].as_py()) == \
        {"model_load_s": 1.5, "total_s": 9.0}


def test_schema_is_idempotent_and_versioned(tmp_path):
    path = tmp_path / "v.duckdb"
    Store(path).close()
    with Store(path) as s:
        assert s.query("SELECT version FROM schema_version").to_pylist() == [{"version": 1}]
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version (version) VALUES (99)")
    con.close()
    with pytest.raises(StoreError, match="schema version 99"):
        Store(path)


# ----------------------------------------------------------------------------- export, shards
def _table_rows(query, table):
    return query(f"SELECT * FROM {table} ORDER BY {KEY_ORDER[table]}")


def test_parquet_export_round_trip(tmp_path, store, run_id):
    fill(store, run_id)
    other = store.ensure_run("run-b", {"other": True}, "m", "v")
    store.write_problem(other, make_solve("Mbpp/9"), None, wall_s=1.0)
    out = tmp_path / "export"
    n = store.export_parquet(out)
    assert n["token_decisions"] == 3 * 3 * N_LINES * TOKENS_PER_LINE  # 3 problems x 3 agents
    store.export_parquet(out, run_id=run_id)  # re-export one run: replaces, never duplicates
    assert (out / "token_decisions" / f"run_id={run_id}").is_dir()
    assert not list(out.glob(".tmp-*"))
    con = open_parquet(out)
    for table in TABLES:
        want = store.query(f"SELECT * FROM {table} ORDER BY {KEY_ORDER[table]}")
        got = sql_to_arrow(con, f"SELECT * FROM {table} ORDER BY {KEY_ORDER[table]}")
        assert got.column_names == want.column_names, table
        assert got.to_pylist() == want.to_pylist(), table
    raw = duckdb.sql(f"SELECT count(*) FROM read_parquet('{out}/token_decisions/**/*.parquet', "
                     f"hive_partitioning = true) WHERE run_id = '{run_id}'").fetchall()[0][0]
    assert raw == 2 * 3 * N_LINES * TOKENS_PER_LINE
    with pytest.raises(StoreError, match="not an egcfg Parquet export"):
        open_parquet(tmp_path)  # holds runs/ (the store) but is no export
    empty = tmp_path / "empty-export"
    with Store(tmp_path / "empty.duckdb") as s:
        assert set(s.export_parquet(empty).values()) == {0}
    assert open_parquet(empty).sql("SELECT count(*) FROM token_decisions").fetchall() == [(0,)]
    # several exports read together (two committed results/ folders), as shards are
    split = tmp_path / "only-b"
    store.export_parquet(split, run_id=other)
    store.export_parquet(tmp_path / "only-a", run_id=run_id)
    both = open_parquet([tmp_path / "only-a", split, empty])
    for table in TABLES:
        want = store.query(f"SELECT * FROM {table} ORDER BY {KEY_ORDER[table]}")
        assert sql_to_arrow(both, f"SELECT * FROM {table} ORDER BY {KEY_ORDER[table]}").to_pylist() == \
            want.to_pylist(), table
    with pytest.raises(StoreError, match="not an egcfg Parquet export"):
        open_parquet([split, tmp_path])


def test_shards_union(tmp_path):
    shard_dir = tmp_path / "runs"
    for name, tids in (("a", ["Mbpp/1", "Mbpp/2"]), ("b", ["Mbpp/3"])):
        with Store(shard_dir / f"shard-{name}.duckdb") as s:
            rid = s.ensure_run("r1", CONFIG, "m", "v")
            for t in tids:
                s.write_problem(rid, make_solve(t), make_eval(t), wall_s=1.0)
    con = open_shards(str(shard_dir / "shard-*.duckdb"))
    assert con.sql("SELECT list(task_id ORDER BY task_id) FROM problems").fetchall()[0][0] == \
        ["Mbpp/1", "Mbpp/2", "Mbpp/3"]
    assert con.sql("SELECT count(*) FROM token_decisions").fetchall()[0][0] == 3 * 3 * N_LINES * TOKENS_PER_LINE
    assert con.sql("SELECT count(*) FROM runs").fetchall()[0][0] == 2  # one row per shard
    assert open_shards([shard_dir / "shard-b.duckdb"]).sql("SELECT count(*) FROM solutions").fetchall()[0][0] == 1
    with pytest.raises(StoreError, match="no shard files match"):
        open_shards(str(tmp_path / "nothing-*.duckdb"))
    with pytest.raises(StoreError, match="not found"):
        open_shards([tmp_path / "missing.duckdb"])


# ----------------------------------------------------------------------------- documented queries
def _doc_queries() -> list[str]:
    text = (ROOT / "docs" / "QUERIES.md").read_text(encoding="utf-8")
    return re.findall(r"```sql\n(.*?)```", text, flags=re.S)


def test_documented_queries_run_and_return_rows(tmp_path, store, run_id, monkeypatch):
    fill(store, run_id)
    store.export_parquet(tmp_path / "export")
    monkeypatch.chdir(tmp_path)  # the Parquet example reads ./export
    queries = _doc_queries()
    assert 6 <= len(queries) <= 25
    for sql in queries:
        if "follows_best" in sql:  # its fixture has no ranked line: test_follow_the_best_draft_query
            continue
        result = store.query(sql)
        assert result.num_rows > 0, sql
    flips = store.query(queries[0]).to_pylist()
    assert [(r["gamma"], r["flip_rate"]) for r in flips] == \
        [(0.0, 0.0), (0.5, pytest.approx(1 / 3)), (1.0, pytest.approx(1 / 3))]


def test_follow_the_best_draft_query(store, run_id):
    """QUERIES.md 14 and scripts/signal_follow.py: on a guided line whose drafts start differently
    and pass different numbers of tests, writing the best draft's first line counts as following
    it, writing a worse one's as following that."""
    import importlib.util

    solve = make_solve("Mbpp/1")
    for agent, written in ((1, "    x = 0\n"), (2, "    x = 1\n")):  # best draft 0 / worse draft 1
        line = solve.attempts[agent].lines[2]
        line.candidates[1].duplicate_of = None  # draft 0 passes both tests, draft 1 times out
        solve.attempts[agent].lines[2] = dataclasses.replace(line, chosen_text=written)
    store.write_problem(run_id, solve, make_eval("Mbpp/1"), wall_s=1.0)
    doc = next(q for q in _doc_queries() if "follows_best" in q)
    assert [(r["ranked_lines"], r["follows_best"]) for r in store.query(doc).to_pylist()] == [(2, 0.5)]
    spec = importlib.util.spec_from_file_location("signal_follow", ROOT / "scripts" / "signal_follow.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    row = store.query(mod.FOLLOW_SQL).to_pylist()[0]
    assert (row["ranked_lines"], row["follows_best"], row["follows_worse"]) == (2, 1, 1)
    assert (row["mixed_lines"], row["follows_passing"], row["follows_failing"]) == (2, 1, 1)


@pytest.mark.parametrize("error", [
    duckdb.InterruptException("INTERRUPT Error: Interrupted!"),
    RuntimeError("Query interrupted"),
    duckdb.InvalidInputException("counting the rows of the object registered as '_egcfg_in_x' "
                                 "failed: KeyboardInterrupt: "),
])
def test_ctrl_c_inside_a_write_is_a_keyboard_interrupt_and_rolls_back(tmp_path, monkeypatch, error):
    """DuckDB reports a Ctrl-C that lands inside a query as an error; the store rolls the problem
    back and raises KeyboardInterrupt, so the CLI says "interrupted", not "write failed"."""
    with Store(tmp_path / "i.duckdb") as s:
        rid = s.ensure_run("r1", CONFIG, "m", "v")
        s.write_problem(rid, make_solve("Mbpp/1"), None, wall_s=1.0)
        real = s._insert

        def interrupted(con, table, data):
            if table == "token_decisions":
                raise error
            return real(con, table, data)
        monkeypatch.setattr(s, "_insert", interrupted)
        with pytest.raises(KeyboardInterrupt, match="interrupted"):
            s.write_problem(rid, make_solve("Mbpp/2"), None, wall_s=1.0)
        monkeypatch.setattr(s, "_insert", real)
        assert s.done_task_ids(rid) == {"Mbpp/1"}
        assert set(counts(s, rid, "Mbpp/2").values()) == {0}
        s.write_problem(rid, make_solve("Mbpp/2"), None, wall_s=1.0)  # and the store goes on
        assert s.done_task_ids(rid) == {"Mbpp/1", "Mbpp/2"}


def test_run_isolation_is_recorded_outside_the_config_and_old_stores_open(tmp_path):
    """runs.isolation (added after schema version 1): which sandbox isolation ran a run, each kind
    once; not in the config (the run id does not change); a store and an export of before the
    column still open, and a results export over such an export is merged, not refused."""
    from storage.export import export_results

    path, out = tmp_path / "old.duckdb", tmp_path / "results"
    with Store(path) as s:
        rid = s.ensure_run(config_hash(CONFIG), CONFIG, "m", "v")
        s.write_problem(rid, make_solve("Mbpp/1"), make_eval("Mbpp/1"), wall_s=1.0)
    con = duckdb.connect(str(path))  # as older code left it
    con.execute("ALTER TABLE runs DROP COLUMN isolation")
    con.close()
    with Store(path, read_only=True) as s, s.connection() as con:
        assert [r.isolation for r in s.list_runs()] == [()]
        export_results(con, out)  # an export without the column
    with Store(path) as s:  # a writable open adds the column; older runs read NULL
        assert s.query("SELECT isolation FROM runs").to_pylist() == [{"isolation": None}]
        for kind in ("bwrap (system: /usr/bin/bwrap)", "bwrap (system: /usr/bin/bwrap)", "none: resource limits only (x)"):
            s.note_isolation(rid, kind)
        assert [r.isolation for r in s.list_runs()] == [("bwrap (system: /usr/bin/bwrap)", "none: resource limits only (x)")]
        assert s.ensure_run(config_hash(CONFIG), CONFIG, "m", "v") == rid  # the config is unchanged
        assert "isolation" not in json.loads(s.query("SELECT config::VARCHAR AS c FROM runs").column("c")[0].as_py())
        with s.connection() as con:
            export_results(con, out)
    assert open_parquet(out).execute("SELECT count(*) FROM runs WHERE isolation IS NULL OR len(isolation) >= 0"
                                     ).fetchall() == [(1,)]
