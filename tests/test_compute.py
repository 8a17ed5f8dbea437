"""What an attempt costs (egcfg_core/compute.py): the meters, and the counts of a real attempt on
the tiny model steered to write a known function (tests.tiny.steer), its candidates run in the
real sandbox; the counts agree with the attempt's own record, line by line, and the store keeps
them."""
from __future__ import annotations

import threading
import pytest

from egcfg_core import compute
from egcfg_core.decoding import Attempt, DecodeSettings, Head
from egcfg_core.engines.transformers import TransformersEngine
from egcfg_core.prompts import build_prompt
from egcfg_core.records import AgentConfig, SolveRecord
from egcfg_core.sandbox import SandboxPool
from tests.test_verified import ADD
from tests.tiny import steer, tiny_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CODE = "def add(a, b):\n    c = a - b\n    return c\n```\n"  # fails the visible tests: every line runs
GREEDY = AgentConfig(t=0.0, gamma=0.0, s=0, d=0)
GUIDED = AgentConfig(t=0.7, gamma=1.0, s=2, d=1)
COUNTS = [k for k in compute.FIELDS if not k.endswith("_s")]


def test_meters_nest_and_follow_work_into_threads():
    compute.add(prefill_tokens=5)  # no meter open: counted nowhere
    outer, inner = compute.Meter(), compute.Meter()
    with compute.metered(outer):
        compute.add(prefill_tokens=2)
        stop = compute.start(inner)
        compute.add(sandbox_runs=1, sandbox_cpu_s=0.5)
        seen = []
        worker = threading.Thread(target=lambda: seen.append(compute._open.get()))  # a new thread: none
        carried = threading.Thread(target=compute.carry(lambda: compute.add(forward_passes=3)))
        for t in (worker, carried):
            t.start()
            t.join()
        counts = stop()
        compute.add(decoded_tokens_sol=1)  # the inner meter is closed
    assert seen == [()]
    assert (counts["sandbox_runs"], counts["forward_passes"], counts["prefill_tokens"], counts["decoded_tokens_sol"]) == \
        (1, 3, 0, 0)
    assert (outer.counts["prefill_tokens"], outer.counts["forward_passes"], outer.counts["decoded_tokens_sol"]) == (2, 3, 1)
    assert outer.counts["wall_s"] >= inner.counts["wall_s"] > 0 and outer.counts["sandbox_cpu_s"] == 0.5


@pytest.fixture(scope="module")
def steered():
    """(engine, head, pool): the tiny model writing CODE after ADD's prompt."""
    model, tok = tiny_model(seed=3)
    lm = TransformersEngine(model, tok)
    parts = build_prompt(ADD, tok)
    handle = steer(model, len(lm.encode(parts.head)) + len(lm.encode(parts.tail)), lm.encode(CODE))
    with SandboxPool(1) as pool:
        yield lm, parts, pool
    handle.remove()


def run(steered, agent, **settings):
    lm, parts, pool = steered
    head = Head.build(lm, parts)
    st = DecodeSettings(max_new_tokens=80, max_lines=6, exec_workers=1, **{"skip_certain": "header", **settings})
    return head, Attempt(lm, ADD, head, agent, 0, st, pool=pool).run()


def ends_attempt(rec, line) -> int:
    """1 when the line's last token ended the attempt without a step after it."""
    return int(line is rec.lines[-1] and rec.stop_reason in ("eos", "fence", "dedent", "token_cap"))


def test_a_greedy_attempt_counts_its_steps_and_its_visible_tests(steered):
    lm, parts, _ = steered
    head, rec = run(steered, GREEDY)
    c = rec.compute
    assert rec.code == CODE.split("```")[0] and rec.stop_reason == "fence"
    tokens = sum(len(ln.tokens) for ln in rec.lines)
    assert c["decoded_tokens_sol"] == tokens - 1 and c["decoded_tokens_dyn"] == 0
    assert c["prefill_tokens"] == len(head.tail_ids) and c["head_prefill_tokens"] == len(head.head_ids)
    assert c["forward_passes"] == 1 + c["decoded_tokens_sol"]  # the tail's extend, then one per token
    assert c["sampled_tokens"] == 0 and c["sandbox_runs"] == len(rec.visible) == 2 and c["sandbox_cpu_s"] > 0
    assert c["server_requests"] == 0 and c["process_cpu_s"] > 0 and rec.timings["wall_s"] == c["wall_s"] > 0
    # the head's prefill is charged once: the next attempt from the same head gets 0
    again = Attempt(lm, ADD, head, GREEDY, 1, DecodeSettings(max_new_tokens=80), pool=steered[2]).run()
    assert again.compute["head_prefill_tokens"] == 0


@pytest.mark.parametrize("batch_streams", [True, False])
def test_a_guided_attempt_counts_match_its_record_line_by_line(steered, batch_streams):
    lm, parts, _ = steered
    head, rec = run(steered, GUIDED, batch_streams=batch_streams)
    assert rec.code == CODE.split("```")[0] and len(rec.lines) == 4
    assert rec.lines[0].skip_rule == "header" and all(ln.signal_text for ln in rec.lines[1:])
    for ln in rec.lines:
        c, n = ln.compute, len(ln.tokens)
        steps = n - ends_attempt(rec, ln)
        assert c["decoded_tokens_sol"] == steps, ln.line_index
        runs = sum(len(cand.executions) for cand in ln.candidates)
        assert c["sandbox_runs"] == runs and (c["sandbox_cpu_s"] > 0) == (runs > 0)
        if not ln.signal_text:  # the header: written unguided, nothing explored
            assert (c["prefill_tokens"], c["decoded_tokens_dyn"], c["sampled_tokens"]) == (0, 0, 0)
            assert c["forward_passes"] == steps
            continue
        # p_dyn = the signal + the prompt tail + the code so far, prefilled once for the line
        assert c["prefill_tokens"] == len(lm.encode(ln.signal_text)) + len(head.tail_ids) + len(lm.encode(ln.prefix))
        assert c["decoded_tokens_dyn"] == steps
        rows = [lm.encode(cand.raw_text) for cand in ln.candidates]  # steered: each row is the next line
        assert c["sampled_tokens"] == sum(map(len, rows)) > 0
        # the p_dyn prefill, one forward per generate step, and per token one (batched) or two
        assert c["forward_passes"] == 1 + max(map(len, rows)) + steps * (1 if batch_streams else 2)
        assert c["wall_s"] > 0 and c["process_cpu_s"] > 0
    a = rec.compute
    for key in ("decoded_tokens_sol", "decoded_tokens_dyn", "sampled_tokens"):
        assert a[key] == sum(ln.compute[key] for ln in rec.lines), key
    assert a["prefill_tokens"] == len(head.tail_ids) + sum(ln.compute["prefill_tokens"] for ln in rec.lines)
    assert a["forward_passes"] == 1 + sum(ln.compute["forward_passes"] for ln in rec.lines)
    assert a["sandbox_runs"] == sum(ln.compute["sandbox_runs"] for ln in rec.lines) + len(rec.visible)
    assert a["wall_s"] >= sum(ln.compute["wall_s"] for ln in rec.lines)


def test_the_store_and_its_export_keep_the_counts(steered, tmp_path):
    """A stored attempt's and line's compute columns are the record's; the executions rows number
    the sandbox runs of the lines; the Parquet export carries the columns; a store from before the
    columns opens (read-only: status says 'not measured'; writable: they are added, NULL)."""
    import json

    import duckdb
    from typer.testing import CliRunner

    from egcfg_cli.main import app
    from storage import Store, open_parquet
    from storage.export import export_results

    _, greedy = run(steered, GREEDY)
    _, guided = run(steered, GUIDED)
    guided.agent_index = 1
    solve = SolveRecord(ADD, [greedy, guided], None, 0, greedy.code, wall_s=1.0)
    path = tmp_path / "c.duckdb"
    with Store(path) as store:
        rid = store.ensure_run("r1", {"x": 1}, "tiny", "v")
        store.write_problem(rid, solve, None, wall_s=1.0)
        cols = ", ".join(compute.ATTEMPT_FIELDS)
        rows = store.query(f"SELECT agent_index, {cols} FROM attempts ORDER BY agent_index").to_pylist()
        for row, rec in zip(rows, solve.attempts):
            assert {k: row[k] for k in compute.ATTEMPT_FIELDS} == pytest.approx(rec.compute)
        lines = store.query(f"SELECT line_index, {', '.join(compute.FIELDS)} FROM lines WHERE agent_index = 1 "
                            "ORDER BY line_index").to_pylist()
        assert [{k: r[k] for k in compute.FIELDS} for r in lines] == [pytest.approx(ln.compute) for ln in guided.lines]
        (execs,) = store.query("SELECT count(*) AS n FROM executions WHERE agent_index = 1").column("n").to_pylist()
        assert execs == guided.compute["sandbox_runs"] - len(guided.visible) > 0
        totals = store.compute_totals(rid)
        assert (totals["attempts"], totals["measured"], totals["copied"]) == (2, 2, 0)
        assert totals["sandbox_runs"] == greedy.compute["sandbox_runs"] + guided.compute["sandbox_runs"]
        store.export_parquet(tmp_path / "export")
        with store.connection() as con:
            export_results(con, tmp_path / "results")
    for folder in ("export", "results"):
        got = open_parquet(tmp_path / folder).execute(
            "SELECT sum(sampled_tokens), sum(head_prefill_tokens) FROM attempts").fetchall()
        assert got == [(guided.compute["sampled_tokens"], 2 * len(steered[0].encode(steered[1].head)))]  # two heads
    status = CliRunner().invoke(app, ["status", "--db", str(path)])
    assert status.exit_code == 0, status.output
    flat = "".join(status.stdout.splitlines())  # folded at 80 columns
    assert f"r1: compute 2 of 2 attempts: prefill {totals['prefill_tokens']:,} + head" in flat
    assert f"{totals['sandbox_runs']} sandbox runs" in flat
    doc = json.loads(CliRunner().invoke(app, ["status", "--db", str(path), "--json"]).stdout)
    assert doc["runs"][0]["compute"] == pytest.approx(totals)
    con = duckdb.connect(str(path))  # as a store written before the columns
    for name in compute.ATTEMPT_FIELDS:
        con.execute(f"ALTER TABLE attempts DROP COLUMN {name}")
    con.close()
    with Store(path, read_only=True) as store:
        assert store.compute_totals(rid) == {"attempts": 2, "measured": 0}
    status = CliRunner().invoke(app, ["status", "--db", str(path)])
    assert "r1: compute not measured (2 attempts" in status.stdout, status.output
    with Store(path) as store:
        assert store.query("SELECT count(*) AS n FROM attempts WHERE forward_passes IS NULL").column("n").to_pylist() == [2]
        assert store.compute_totals(rid)["measured"] == 0


def test_the_openai_engine_counts_requests_and_tokens_sent_and_returned():
    from egcfg_core.engines import load_engine
    from tests.fake_openai import FakeServer

    with FakeServer() as srv:
        lm, _ = load_engine("openai", "factory:tests.tiny:tiny_model", {"base_url": srv.url, "retries": 0})
        sol, dyn = lm.start(lm.encode("def add(a, b):\n")), lm.start(lm.encode("# add\ndef add(a, b):\n"))
        meter, before = compute.Meter(), len(srv.bodies)
        with compute.metered(meter):
            lm.pair_step(lm.pair(sol, dyn), lm.encode(" ")[0])  # two prompts in one request
            rows = lm.sample(sol, n=2, temperature=1.0, top_p=1.0, lines=2, max_new_tokens=12, seed=3)
        sent = srv.bodies[before:]
    c = meter.counts
    assert c["server_requests"] == len(sent) >= 2 and c["forward_passes"] == 0
    prompts = [p for b in sent for p in (b["prompt"] if isinstance(b["prompt"][0], list) else [b["prompt"]])]
    assert c["server_prompt_tokens"] == sum(map(len, prompts))
    assert c["server_completion_tokens"] >= sum(map(len, rows)) - 2 * len(rows) > 0  # the "\n" stops are not returned


# ------------------------------------------------------------------------------ through the flows
CONSISTENT = {
    # every token appended after a decision, but the one that ended the attempt
    "decoded": """SELECT task_id, agent_index FROM attempts
                  WHERE decoded_tokens_sol <> n_tokens - (stop_reason IN ('eos', 'fence', 'dedent', 'token_cap'))::INT""",
    # the lines' sandbox runs are the stored executions; the attempt adds its visible-test run
    "runs": """SELECT a.task_id, a.agent_index FROM attempts a
               LEFT JOIN (SELECT task_id, agent_index, count(*) AS n FROM executions GROUP BY ALL) e
                      USING (task_id, agent_index)
               LEFT JOIN (SELECT task_id, agent_index, sum(sandbox_runs) AS n FROM lines GROUP BY ALL) l
                      USING (task_id, agent_index)
               WHERE a.sandbox_runs <> coalesce(e.n, 0) + len(a.visible) OR coalesce(l.n, 0) <> coalesce(e.n, 0)""",
    "sampled": "SELECT task_id, agent_index, line_index FROM lines WHERE (n_candidates > 0) <> (sampled_tokens > 0)",
    "unmeasured": "SELECT task_id, agent_index FROM attempts WHERE wall_s IS NULL OR forward_passes = 0",
}


@pytest.mark.parametrize("workers", [{"line_tasks": True, "agent_workers": 2}, {"problem_workers": 2}])
def test_a_sweep_measures_every_attempt_whatever_runs_it(prefect_harness, data_dir, tmp_path, workers):
    """Through the flows, with each line's exploration and execution as Prefect tasks and agents in
    a thread task runner, or problems in one: every attempt is measured and its counts agree with
    its stored lines, executions and tokens."""
    import duckdb

    from flows.sweep import sweep_flow
    from tests.test_pipeline import tiny_config

    db = tmp_path / "w.duckdb"
    sweep_flow(config=tiny_config(data_dir, skip_certain="", **workers), db=str(db))  # every line explored
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM attempts").fetchone()[0] >= 2
        assert con.execute("SELECT count(*) FROM lines WHERE n_candidates > 0").fetchone()[0] > 0
        for name, sql in CONSISTENT.items():
            assert con.execute(sql).fetchall() == [], name
    finally:
        con.close()
