"""The committed results data (issue 13): `egcfg results export` writes done problems only, adds
up across sessions and machines, replaces a redone problem's rows and never drops another's; a
sweep on a fresh store resumes from it (`--resume-from`) without solving its problems again; and
`egcfg evaluate --all-attempts` scores every attempt for the paper-protocol figure."""
from __future__ import annotations

from dataclasses import replace

import duckdb
import pytest
from typer.testing import CliRunner

from egcfg_core.records import EvaluationRecord, TestOutcome as Outcome
from storage import Store, StoreError
from storage.export import RESULT_TABLES, export_results, open_parquet
from storage.store import RunConfigMismatch
from tests.test_report import CONFIG, RUN_A, ev, solve_p1, solve_p2, solve_p3


def export(db, out, run=None):
    with Store(db, read_only=True) as s, s._use() as con:
        return export_results(con, out, run_id=run)


def rows(out, sql):
    con = open_parquet(out)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_export_adds_up_across_machines_and_replaces_redone_problems(tmp_path):
    out = tmp_path / "results" / "toy"
    one, two = tmp_path / "one.duckdb", tmp_path / "two.duckdb"
    with Store(one) as s:  # machine 1: Mbpp/1 done, Mbpp/3 failed
        s.ensure_run(RUN_A, CONFIG, "toy-model", "v1")
        s.write_problem(RUN_A, solve_p1(), ev("Mbpp/1", True), wall_s=1.0)
        s.record_failure(RUN_A, "Mbpp/3", "mbpp", "boom")
    assert export(one, out)[RUN_A]["problems"] == 1  # done problems only
    assert sorted(p.name for p in out.iterdir()) == sorted(t for t in RESULT_TABLES if t not in (
        "suite_evaluations", "attempt_evaluations", "skipped_rows"))  # no per-line tables, nothing empty
    first = (out / "attempts" / f"run_id={RUN_A}" / "data_0.parquet").read_bytes()
    export(one, out)  # idempotent
    assert (out / "attempts" / f"run_id={RUN_A}" / "data_0.parquet").read_bytes() == first

    with Store(two) as s:  # machine 2, a later session: Mbpp/2 and Mbpp/3, not Mbpp/1
        s.ensure_run(RUN_A, CONFIG, "toy-model", "v2")
        s.write_problem(RUN_A, solve_p2(), ev("Mbpp/2", True), wall_s=1.0)
        s.write_problem(RUN_A, solve_p3(), ev("Mbpp/3", False), wall_s=1.0)
    export(two, out)
    assert rows(out, "SELECT task_id, status FROM problems ORDER BY 1") == [
        ("Mbpp/1", "done"), ("Mbpp/2", "done"), ("Mbpp/3", "done")]
    assert rows(out, "SELECT count(*) FROM attempts") == [(sum(len(f().attempts) for f in (solve_p1, solve_p2, solve_p3)),)]
    assert rows(out, "SELECT count(*) FROM lines") == [(0,)]  # per-line detail stays in the stores
    assert rows(out, "SELECT code_version FROM runs") == [("v1",)]  # the run as it was first made

    with Store(two) as s:  # Mbpp/2 redone on machine 2 with another final solution
        redo = solve_p2()
        redo = replace(redo, solution="def f(x):\n    return x  # redone\n")
        s.write_problem(RUN_A, redo, ev("Mbpp/2", False), wall_s=1.0)
    export(two, out)
    assert rows(out, "SELECT task_id, passed_hidden, code LIKE '%redone%' FROM solutions ORDER BY 1") == [
        ("Mbpp/1", True, False), ("Mbpp/2", False, True), ("Mbpp/3", False, False)]
    assert rows(out, "SELECT count(*) FROM (SELECT task_id, agent_index FROM attempts GROUP BY ALL "
                     "HAVING count(*) > 1)") == [(0,)]

    # the CLI: the same export, an error for a bad name or an empty store
    from egcfg_cli.main import app

    runner = CliRunner()
    res = runner.invoke(app, ["results", "export", "toy", "--db", str(two), "--root", str(tmp_path / "results")])
    assert res.exit_code == 0, res.output
    assert rows(out, "SELECT count(*) FROM problems") == [(3,)]
    res = runner.invoke(app, ["results", "export", "Bad/Name", "--db", str(two)])
    assert res.exit_code == 2 and "experiment" in res.output
    res = runner.invoke(app, ["results", "export", "toy", "--db", str(two), "--run", "nope", "--root", str(tmp_path)])
    assert res.exit_code == 2 and "nothing to export" in res.output
    # `egcfg report` reads the folder like a store
    res = runner.invoke(app, ["report", RUN_A, "--db", str(out), "--out", str(tmp_path / "r.md")])
    assert res.exit_code == 0, res.output
    assert "3 problem(s) done" in (tmp_path / "r.md").read_text()


def test_seeding_a_store_from_an_export(tmp_path):
    src, out, fresh = tmp_path / "src.duckdb", tmp_path / "res", tmp_path / "fresh.duckdb"
    with Store(src) as s:
        s.ensure_run(RUN_A, CONFIG, "toy-model", "v1")
        for rec, ok in ((solve_p1(), True), (solve_p2(), True)):
            s.write_problem(RUN_A, rec, ev(rec.problem.task_id, ok), wall_s=1.0)
        s.write_suite_evaluation(RUN_A, "mbpp-et", EvaluationRecord("Mbpp/1", "mbpp-et", True,
                                                                     [Outcome(0, "passed", "", 0.01)]))
    export(src, out)
    with Store(fresh) as s:
        assert s.seed_from_export(tmp_path / "not-yet", RUN_A) == 0  # a run's first session
        with pytest.raises(StoreError, match="not an egcfg Parquet export"):
            s.seed_from_export(tmp_path, RUN_A)
        s.ensure_run("other000run", {**CONFIG, "tasks": "9"}, "toy-model", "v2")
        assert s.seed_from_export(out, "other000run") == 0  # not in the export
        s.ensure_run(RUN_A, CONFIG, "toy-model", "v2")
        s.write_problem(RUN_A, solve_p2(), ev("Mbpp/2", False), wall_s=1.0)  # done here already: kept
        assert s.seed_from_export(out, RUN_A) == 1
        assert s.seed_from_export(out, RUN_A) == 0
        assert s.done_task_ids(RUN_A) == {"Mbpp/1", "Mbpp/2"}
        got = s.query("SELECT task_id, passed_hidden FROM solutions ORDER BY 1").to_pylist()
        assert got == [{"task_id": "Mbpp/1", "passed_hidden": True}, {"task_id": "Mbpp/2", "passed_hidden": False}]
        assert s.suite_status(RUN_A) == {"mbpp-et": (1, 1)}
    with Store(tmp_path / "mismatch.duckdb") as s:
        s.ensure_run(RUN_A, {**CONFIG, "tasks": "1-9"}, "toy-model", "v2")
        with pytest.raises(RunConfigMismatch):
            s.seed_from_export(out, RUN_A)


def test_resume_note_says_why_an_export_gave_nothing(tmp_path):
    """`--resume-from` an export that lacks this run (e.g. one made before the problem parser's
    version entered the run id) copies nothing, and the note says so and what differs."""
    from storage.export import resume_note

    src, out = tmp_path / "src.duckdb", tmp_path / "res"
    with Store(src) as s:
        s.ensure_run(RUN_A, CONFIG, "toy-model", "v1")
        s.write_problem(RUN_A, solve_p1(), ev("Mbpp/1", True), wall_s=1.0)
    export(src, out)
    assert "does not exist yet" in resume_note(tmp_path / "nothing-here", RUN_A, CONFIG)
    assert resume_note(out, RUN_A, CONFIG) == ""  # the run is there: nothing to explain
    newer = {**CONFIG, "problems_parser": 2}
    note = resume_note(out, "newer000run", newer)
    assert f"holds no run newer000run (it has: {RUN_A} (differs in problems_parser))" in note
    assert "nothing is skipped" in note
    other = resume_note(out, "other000run", {**CONFIG, "benchmark": "humaneval"})
    assert "none of benchmark 'humaneval'" in other
    with Store(tmp_path / "fresh.duckdb") as s:  # and the store copies nothing for it
        s.ensure_run("newer000run", newer, "toy-model", "v2")
        assert s.seed_from_export(out, "newer000run") == 0 and s.done_task_ids("newer000run") == set()


TINY = "factory:tests.tiny:tiny_model"


@pytest.mark.usefixtures("one_torch_thread")
def test_sweep_resumes_from_the_committed_export_on_a_new_machine(prefect_harness, data_dir, tmp_path,
                                                                   monkeypatch):
    import flows.solve
    from tests.test_pipeline import sweep_recording, tiny_config

    cfg = tiny_config(data_dir, gamma=[0.0], max_new_tokens=5)  # greedy only: cheap
    first, fresh, out = tmp_path / "first.duckdb", tmp_path / "new.duckdb", tmp_path / "results" / "exp"
    real = flows.solve.build_prompt_task

    def broken(problem, lm, fewshot, variant="default", style="describe"):  # the first machine's session ends before Mbpp/12
        if problem.task_id == "Mbpp/12":
            raise RuntimeError("session over")
        return real(problem, lm, fewshot, variant, style)

    monkeypatch.setattr(flows.solve, "build_prompt_task", broken)
    st, _ = sweep_recording(config=cfg, db=str(first))
    assert (st["done"], st["failed"]) == (1, 1)
    export(first, out)
    monkeypatch.setattr(flows.solve, "build_prompt_task", real)

    solved = []
    monkeypatch.setattr(flows.solve, "build_prompt_task",
                        lambda problem, lm, fewshot, variant="default", style="describe":
                        solved.append(problem.task_id) or real(problem, lm, fewshot, variant, style))
    st, events = sweep_recording(config=cfg, db=str(fresh), resume_from=str(out))
    assert solved == ["Mbpp/12"]  # Mbpp/11 came from the export, not from the model
    start = next(i for e, i in events if e == "start")
    assert (start["done"], start["todo"], start["seeded"], start["resume_note"]) == (1, 1, 1, "")
    assert (st["done"], st["failed"]) == (2, 0)
    con = duckdb.connect(str(first), read_only=True)
    want = con.execute("SELECT code, passed_hidden FROM solutions WHERE task_id = 'Mbpp/11'").fetchall()
    con.close()
    con = duckdb.connect(str(fresh), read_only=True)
    assert con.execute("SELECT code, passed_hidden FROM solutions WHERE task_id = 'Mbpp/11'").fetchall() == want
    con.close()
    export(fresh, out)  # the export now holds the whole run
    assert rows(out, "SELECT task_id FROM problems ORDER BY 1") == [("Mbpp/11",), ("Mbpp/12",)]


def test_every_attempt_scored_for_the_paper_protocol(prefect_harness, data_dir, tmp_path):
    from egcfg_cli.main import app
    from storage.rows import RecordError

    db = tmp_path / "a.duckdb"
    with Store(db) as s:
        s.ensure_run(RUN_A, CONFIG, "toy-model", "v1")
        s.write_problem(RUN_A, solve_p2(), ev("Mbpp/2", True), wall_s=1.0)
    # the toy problems are not in the MBPP data: score through the store API, then the CLI on real tasks
    with Store(db) as s:
        good = EvaluationRecord("Mbpp/2", "mbpp", True, [Outcome(0, "passed", "", 0.1)])
        bad = EvaluationRecord("Mbpp/2", "mbpp", False, [Outcome(0, "failed", "AssertionError", 0.1)])
        s.write_attempt_evaluations(RUN_A, "mbpp", "Mbpp/2", [(0, bad), (1, bad), (2, good)])
        s.write_attempt_evaluations(RUN_A, "mbpp", "Mbpp/2", [(1, good)])  # rescored: replaced
        assert s.attempt_suite_done(RUN_A, "mbpp") == {("Mbpp/2", 0), ("Mbpp/2", 1), ("Mbpp/2", 2)}
        assert s.query("SELECT agent_index, passed, error FROM attempt_evaluations ORDER BY 1").to_pylist() == [
            {"agent_index": 0, "passed": False, "error": "failed: AssertionError"},
            {"agent_index": 1, "passed": True, "error": ""}, {"agent_index": 2, "passed": True, "error": ""}]
        with pytest.raises(StoreError, match="no stored attempt"):
            s.write_attempt_evaluations(RUN_A, "mbpp", "Mbpp/2", [(7, good)])
        with pytest.raises(RecordError, match="passed=True"):
            s.write_attempt_evaluations(RUN_A, "mbpp", "Mbpp/2", [(0, replace(bad, passed=True))])

    # real MBPP tasks through `egcfg evaluate --all-attempts` (sandboxed), resumable
    from egcfg_core.problems import load_problems
    from tests.test_report import GREEDY, attempt, greedy_lines

    (p11,) = load_problems("mbpp", data_dir=data_dir, task_ids=["Mbpp/11"]).problems
    wrong = attempt(0, GREEDY, greedy_lines(), ["failed"], code=f"def {p11.function_name}(*a):\n    return None\n")
    right = attempt(1, replace(GREEDY, t=0.7), greedy_lines(), ["failed"],
                    code=f"def {p11.function_name}(s, ch):\n    i = s.find(ch)\n    s = s[:i] + s[i + 1:] if i >= 0 else s\n"
                         f"    j = s.rfind(ch)\n    return s[:j] + s[j + 1:] if j >= 0 else s\n")
    from egcfg_core.records import SolveRecord

    db2 = tmp_path / "b.duckdb"
    with Store(db2) as s:
        s.ensure_run(RUN_A, {**CONFIG, "tasks": "11"}, "toy-model", "v1")
        s.write_problem(RUN_A, SolveRecord(p11, [wrong, right], None, 0, wrong.code, 1.0),
                        EvaluationRecord("Mbpp/11", "mbpp", False, [Outcome(0, "failed", "", 0.1)]), wall_s=1.0)
    runner = CliRunner()
    args = ["evaluate", RUN_A, "mbpp", "--all-attempts", "--db", str(db2), "--data-dir", str(data_dir)]
    res = runner.invoke(app, args, env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output
    assert "2 attempts scored now" in res.output and "paper protocol" in res.output and "1/1 = 100.0%" in res.output
    res = runner.invoke(app, args, env={"COLUMNS": "300"})
    assert res.exit_code == 0 and "0 attempts scored now" in res.output
    con = duckdb.connect(str(db2), read_only=True)
    assert con.execute("SELECT agent_index, passed, n_tests = n_passed FROM attempt_evaluations "
                       "ORDER BY 1").fetchall() == [(0, False, False), (1, True, True)]
    con.close()
