"""The report's figures for one run, read from the store by SQL (``collect``), the honest-evaluation
rules they follow (reports/report.py), and the paper's reference figures."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import duckdb

from egcfg_core.records import baseline_sql
from reports import budget
from storage.readers import UnknownRunError, dict_rows, list_run_ids, one_row, runs_listing
from storage.store import StoreError

from reports.document import fmt_num


# The paper's reference figures (pass@1, %), printed beside ours when the benchmark matches.
PAPER_LABEL = "paper (DeepSeek-Coder-1.3B, full benchmark)"
PAPERS: dict[str, dict[str, float]] = {
    "mbpp": {"baseline": 49.4, "egcfg": 83.2},
    "mbpp-et": {"baseline": 42.6, "egcfg": 59.8},
}
# Line-level stages (lines.timings) in display order; test_s comes from attempts.timings.
LINE_STAGES = ("sample_s", "execute_s", "prefill_s", "decode_s")
STAGE_LABELS = {"sample_s": "sample", "execute_s": "execute", "prefill_s": "prefill",
                "decode_s": "decode", "test_s": "test (visible)", "other_s": "other"}
MAX_FIX_ROWS = 40
SIGNAL_EXCERPT = 300
FORMATS = ("md", "html")


class ReportError(StoreError):
    """The report cannot be made as asked (bad store, run, format); the message says why."""


# ============================================================================= data
@dataclass
class RunData:
    """Everything the report shows about one run, pulled from the store by SQL."""

    run_id: str
    model: str
    code_version: str
    config: dict[str, Any]
    created_at: Any
    updated_at: Any
    run_timings: dict[str, float]
    benchmark: str
    recorded: int  # problems rows (done + failed)
    done: int
    failed: int
    skipped_rows: int
    # final solutions
    solutions: int
    evaluated: int  # final solutions scored on hidden tests
    passed_hidden: int
    final_passed_visible: int
    any_passed_visible: int  # oracle
    # baseline (gamma = 0 greedy, agent_index 0)
    has_baseline: bool
    baseline_problems: int  # done problems with a baseline attempt
    baseline_passed_visible: int
    baseline_eval_problems: int  # evaluated problems with a baseline attempt
    baseline_scored: int  # ... whose baseline code was the final solution (scored)
    baseline_implied: int  # ... whose baseline failure on hidden tests is implied
    baseline_unknown: int  # ... neither
    baseline_passed_hidden: int  # scored and passed
    by_agent: list[dict[str, Any]] = field(default_factory=list)
    by_gamma_t: list[dict[str, Any]] = field(default_factory=list)
    flips: list[dict[str, Any]] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)  # seconds, summed over the run
    wall_s_total: float = 0.0  # sum of problems.wall_s of done problems
    fixes: list[dict[str, Any]] = field(default_factory=list)
    fixes_total: int = 0  # lines matching, before the MAX_FIX_ROWS cap
    # other suites the final solutions were scored on after the run (`egcfg evaluate`):
    # suite -> (done problems scored on it, of those passed every test of the suite)
    suites: dict[str, tuple[int, int]] = field(default_factory=dict)
    # where the final solutions' code came from (attempts.code_source, docs/QUERIES.md 16): per
    # source, finals, visible wins, hidden passes (and per suite), the lines drafts were accepted at
    sources: list[dict[str, Any]] = field(default_factory=list)
    # every attempt (up to each problem's winner) by source: attempts, passed the visible tests
    attempt_sources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def baseline_hidden_available(self) -> bool:
        return (self.has_baseline and self.baseline_eval_problems > 0
                and self.baseline_unknown == 0)

    @property
    def pass_at_1(self) -> float | None:
        return self.passed_hidden / self.evaluated if self.evaluated else None

    @property
    def baseline_hidden(self) -> float | None:
        if not self.baseline_hidden_available:
            return None
        return self.baseline_passed_hidden / self.baseline_eval_problems

    @property
    def baseline_visible(self) -> float | None:
        return (self.baseline_passed_visible / self.baseline_problems
                if self.baseline_problems else None)


def pct(k: int, n: int) -> str:
    """'2/3 = 66.7%' (or 'n/a (0 problems)')."""
    if not n:
        return "n/a (0 problems)"
    return f"{k}/{n} = {100.0 * k / n:.1f}%"


def _test_key(t: dict[str, Any]) -> tuple:
    return (" ".join(str(t.get("source", "")).split()), str(t.get("stdin", "")),
            " ".join(str(t.get("expected_stdout", "")).split()))


def _baseline_implied_fail(problem_json: str | None, code: str, visible: list[dict] | None) -> bool:
    """True when the baseline's failure on hidden tests follows from what was recorded: it
    produced no code (scored as a failure) or it failed/raised on a visible test that is also a
    hidden test of the problem.  Timeouts and resource kills are not taken as implied."""
    if not code.strip():
        return True
    if not problem_json:
        return False
    problem = json.loads(problem_json)
    vis = problem.get("visible_tests") or []
    hidden = {_test_key(t) for t in problem.get("hidden_tests") or []}
    for o in visible or []:
        if o["status"] in ("failed", "error"):
            i = o["test_index"]
            if 0 <= i < len(vis) and _test_key(vis[i]) in hidden:
                return True
    return False


def collect(con: duckdb.DuckDBPyConnection, run_id: str) -> RunData:
    """Pull every figure of the report for one run."""
    run = one_row(con, "SELECT run_id, model, code_version, config::VARCHAR AS config, created_at, "
                    "updated_at, timings FROM runs WHERE run_id = ?", [run_id])
    if not run:
        raise UnknownRunError(f"no run {run_id!r} in the store; {runs_listing(list_run_ids(con))}")
    config = json.loads(run["config"])
    probs = one_row(con, """
        SELECT count(*) AS recorded, count(*) FILTER (status = 'done') AS done,
               count(*) FILTER (status = 'failed') AS failed,
               coalesce(sum(wall_s) FILTER (status = 'done'), 0) AS wall_s,
               string_agg(DISTINCT benchmark, ',') AS benchmarks
        FROM problems WHERE run_id = ?""", [run_id])
    skipped = one_row(con, "SELECT count(*) AS n FROM skipped_rows WHERE run_id = ?", [run_id])
    sol = one_row(con, """
        SELECT count(*) AS solutions, count(s.passed_hidden) AS evaluated,
               count(*) FILTER (s.passed_hidden) AS passed_hidden,
               count(*) FILTER (a.passed_visible) AS final_passed_visible,
               count(*) FILTER (s.any_passed_visible) AS any_passed_visible
        FROM solutions s
        JOIN problems p ON p.run_id = s.run_id AND p.task_id = s.task_id AND p.status = 'done'
        LEFT JOIN attempts a ON a.run_id = s.run_id AND a.task_id = s.task_id
                            AND a.agent_index = s.agent_index
        WHERE s.run_id = ?""", [run_id])

    # ---- baseline: the gamma = 0 greedy attempt at agent_index 0 (config baseline = true)
    has_baseline = bool(config.get("baseline", True))
    base_rows: list[dict] = []
    if has_baseline:
        base_rows = dict_rows(con, """
            SELECT s.task_id, b.passed_visible, b.is_final, b.code, b.visible,
                   s.passed_hidden, p.problem::VARCHAR AS problem
            FROM solutions s
            JOIN problems p ON p.run_id = s.run_id AND p.task_id = s.task_id AND p.status = 'done'
            JOIN attempts b ON b.run_id = s.run_id AND b.task_id = s.task_id
                           AND b.agent_index = 0 AND """ + baseline_sql("b") + """
            WHERE s.run_id = ?""", [run_id])
        has_baseline = bool(base_rows) or sol["solutions"] == 0
    scored = implied = unknown = b_pass_hidden = b_eval = 0
    for r in base_rows:
        if r["passed_hidden"] is None:
            continue  # the problem was not evaluated: not in the hidden-test denominators
        b_eval += 1
        if r["is_final"]:
            scored += 1
            b_pass_hidden += bool(r["passed_hidden"])
        elif not r["passed_visible"] and _baseline_implied_fail(r["problem"], r["code"], r["visible"]):
            implied += 1
        else:
            unknown += 1

    by_agent = dict_rows(con, """
        SELECT a.agent_name, a.gamma, a.t, a.d, a.s,
               count(*) AS attempts,
               count(*) FILTER (a.outcome = 'cancelled') AS cancelled,
               count(*) FILTER (a.passed_visible) AS passed_visible,
               count(*) FILTER (a.is_winner) AS wins,
               count(*) FILTER (a.is_final) AS finals,
               count(*) FILTER (a.is_final AND s.passed_hidden) AS final_passed_hidden
        FROM attempts a
        LEFT JOIN solutions s ON s.run_id = a.run_id AND s.task_id = a.task_id
        WHERE a.run_id = ?
        GROUP BY ALL ORDER BY a.gamma, a.t, a.d, a.s, min(a.agent_index), a.agent_name""", [run_id])
    by_gamma_t = dict_rows(con, """
        SELECT gamma, t, count(*) AS attempts,
               count(*) FILTER (passed_visible) AS passed_visible,
               count(*) FILTER (is_winner) AS wins
        FROM attempts WHERE run_id = ?
        GROUP BY ALL ORDER BY gamma, t""", [run_id])
    # Guided lines only: a line with a signal, decoded with gamma > 0.
    flips = dict_rows(con, """
        SELECT td.gamma, count(*) AS tokens,
               count(*) FILTER (td.argmax_changed) AS flips,
               count(DISTINCT concat_ws('|', td.task_id, td.agent_index, td.line_index)) AS lines,
               count(DISTINCT concat_ws('|', td.task_id, td.agent_index, td.line_index))
                   FILTER (td.argmax_changed) AS lines_flipped
        FROM token_decisions td
        JOIN lines l ON l.run_id = td.run_id AND l.task_id = td.task_id
                    AND l.agent_index = td.agent_index AND l.line_index = td.line_index
        WHERE td.run_id = ? AND l.signal_text <> '' AND td.gamma > 0
        GROUP BY td.gamma ORDER BY td.gamma""", [run_id])

    stages: dict[str, float] = {}
    for r in dict_rows(con, """
        SELECT stage, sum(seconds) AS seconds FROM (
            SELECT unnest(map_keys(l.timings)) AS stage, unnest(map_values(l.timings)) AS seconds
            FROM lines l JOIN problems p ON p.run_id = l.run_id AND p.task_id = l.task_id
            WHERE l.run_id = ? AND p.status = 'done')
        GROUP BY stage""", [run_id]):
        stages[r["stage"]] = float(r["seconds"] or 0.0)
    test = one_row(con, """
        SELECT sum(a.timings['test_s']) AS test_s FROM attempts a
        JOIN problems p ON p.run_id = a.run_id AND p.task_id = a.task_id
        WHERE a.run_id = ? AND p.status = 'done'""", [run_id])
    if test.get("test_s") is not None:
        stages["test_s"] = float(test["test_s"])
    ordered = {k: stages[k] for k in LINE_STAGES if k in stages}
    ordered.update({k: v for k, v in sorted(stages.items()) if k not in ordered and k != "test_s"})
    if "test_s" in stages:
        ordered["test_s"] = stages["test_s"]

    fix_sql = """
        WITH base_failed AS (
            SELECT task_id FROM attempts
            WHERE run_id = $run AND agent_index = 0 AND """ + baseline_sql() + """ AND NOT passed_visible),
        winners AS (
            SELECT a.task_id, a.agent_index, a.agent_name FROM attempts a
            JOIN base_failed USING (task_id)
            WHERE a.run_id = $run AND a.is_winner AND a.gamma > 0)
        SELECT w.task_id, w.agent_name, l.line_index, l.chosen_text,
               list(td.token_text ORDER BY td.position) AS flipped_tokens,
               -- from the first draft on: the block's fixed introduction says nothing
               left(substr(l.signal_text, greatest(1, strpos(l.signal_text, 'Draft '))), $excerpt) AS signal_excerpt,
               length(substr(l.signal_text, greatest(1, strpos(l.signal_text, 'Draft ')))) AS signal_chars,
               s.passed_hidden
        FROM winners w
        JOIN lines l ON l.run_id = $run AND l.task_id = w.task_id AND l.agent_index = w.agent_index
                    AND l.signal_text <> ''
        JOIN token_decisions td ON td.run_id = l.run_id AND td.task_id = l.task_id
                               AND td.agent_index = l.agent_index AND td.line_index = l.line_index
                               AND td.argmax_changed
        LEFT JOIN solutions s ON s.run_id = $run AND s.task_id = w.task_id
        GROUP BY ALL ORDER BY w.task_id, l.line_index"""
    cur = con.execute(fix_sql, {"run": run_id, "excerpt": SIGNAL_EXCERPT})
    names = [d[0] for d in cur.description]
    all_fixes = [dict(zip(names, r)) for r in cur.fetchall()]

    benchmarks = probs.get("benchmarks") or ""
    sources, attempt_sources = _sources(con, run_id)
    return RunData(
        suites=_suite_scores(con, run_id), sources=sources, attempt_sources=attempt_sources,
        run_id=run_id, model=run["model"], code_version=run["code_version"], config=config,
        created_at=run["created_at"], updated_at=run["updated_at"],
        run_timings=dict(run["timings"] or {}),
        benchmark=str(config.get("benchmark") or benchmarks or "?"),
        recorded=probs["recorded"], done=probs["done"], failed=probs["failed"],
        skipped_rows=skipped["n"],
        solutions=sol["solutions"], evaluated=sol["evaluated"], passed_hidden=sol["passed_hidden"],
        final_passed_visible=sol["final_passed_visible"],
        any_passed_visible=sol["any_passed_visible"],
        has_baseline=has_baseline, baseline_problems=len(base_rows),
        baseline_passed_visible=sum(bool(r["passed_visible"]) for r in base_rows),
        baseline_eval_problems=b_eval, baseline_scored=scored, baseline_implied=implied,
        baseline_unknown=unknown, baseline_passed_hidden=b_pass_hidden,
        by_agent=by_agent, by_gamma_t=by_gamma_t, flips=flips, stages=ordered,
        wall_s_total=float(probs["wall_s"] or 0.0),
        fixes=all_fixes[:MAX_FIX_ROWS], fixes_total=len(all_fixes),
    )


def _suite_scores(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, tuple[int, int]]:
    """suite -> (problems scored, problems passed) from suite_evaluations (done problems only).
    A store written before that table existed has none: {}."""
    try:
        rows = dict_rows(con, """
            SELECT suite, count(*) AS evaluated, count(*) FILTER (passed) AS passed FROM (
                SELECT se.suite, se.task_id, bool_and(se.passed_problem) AS passed
                FROM suite_evaluations se
                JOIN problems p ON p.run_id = se.run_id AND p.task_id = se.task_id
                               AND p.status = 'done'
                WHERE se.run_id = ? GROUP BY se.suite, se.task_id)
            GROUP BY suite ORDER BY suite""", [run_id])
    except duckdb.CatalogException:
        return {}
    return {r["suite"]: (int(r["evaluated"]), int(r["passed"])) for r in rows}


# the attempts.code_source values (docs/QUERIES.md 16) in display order, with what each means
SOURCES = {
    "greedy": "the greedy attempt (γ = 0)",
    "sampler": "a sampler (γ = 0, t > 0: no signal)",
    "draft": "an accepted draft (an unguided candidate of the exploration step that passed the visible tests)",
    "guided": "guided code (the line loop ran to its end, at least one token chosen under a signal)",
    "unguided": "an EG-CFG agent's line loop, no token chosen under a signal",
    "loop": "an EG-CFG agent's line loop, guided or not unknown (back-filled from an export without lines)",
    "none": "no code",
    "": "not recorded (written before attempts.code_source)",
}


def _sources(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[list[dict], list[dict]]:
    """(final solutions by code source: finals, visible wins, hidden passes on the run's benchmark
    and on each suite scored after the run, the lines drafts were accepted at; every attempt by
    code source: attempts, visible passes), done problems only, in ``SOURCES`` order."""
    done = ("JOIN problems p ON p.run_id = s.run_id AND p.task_id = s.task_id AND p.status = 'done' "
            "JOIN attempts a ON a.run_id = s.run_id AND a.task_id = s.task_id AND a.agent_index = s.agent_index")
    try:
        finals = dict_rows(con, f"""
            SELECT coalesce(a.code_source, '') AS source, count(*) AS finals,
                   count(*) FILTER (s.is_winner) AS wins, count(s.passed_hidden) AS scored,
                   count(*) FILTER (s.passed_hidden) AS passed_hidden,
                   list(a.verified_line ORDER BY a.verified_line)
                       FILTER (a.code_source = 'draft' AND a.verified_line IS NOT NULL) AS draft_lines
            FROM solutions s {done} WHERE s.run_id = ? GROUP BY 1""", [run_id])
        try:
            per_suite = dict_rows(con, f"""
                SELECT coalesce(a.code_source, '') AS source, se.suite, count(*) AS scored,
                       count(*) FILTER (se.passed) AS passed
                FROM solutions s {done}
                JOIN (SELECT task_id, suite, bool_and(passed_problem) AS passed FROM suite_evaluations
                      WHERE run_id = ? GROUP BY ALL) se ON se.task_id = s.task_id
                WHERE s.run_id = ? GROUP BY ALL""", [run_id, run_id])
        except duckdb.CatalogException:  # a store from before suite_evaluations: no suite scores
            per_suite = []
        attempts = dict_rows(con, """
            SELECT coalesce(a.code_source, '') AS source, count(*) AS attempts,
                   count(*) FILTER (a.passed_visible) AS passed_visible
            FROM attempts a JOIN problems p ON p.run_id = a.run_id AND p.task_id = a.task_id AND p.status = 'done'
            WHERE a.run_id = ? GROUP BY 1""", [run_id])
    except duckdb.BinderException:  # a store from before attempts.code_source
        return [], []
    order = {k: i for i, k in enumerate(SOURCES)}
    for row in finals:
        row["suites"] = {r["suite"]: (r["passed"], r["scored"]) for r in per_suite if r["source"] == row["source"]}
    key = lambda r: (order.get(r["source"], len(order)), r["source"])  # noqa: E731
    return sorted(finals, key=key), sorted(attempts, key=key)


@dataclass
class Budget:
    """The equal-compute figures of a report's runs (reports/budget.py): per suite (the runs'
    benchmark, then each suite every run was scored on) the problems every run finished and was
    scored on, each run's attempts there, and the units every attempt measured."""

    suites: list[str]
    tasks: dict[str, list[str]]
    data: dict[str, dict[str, dict[str, list[budget.Try]]]]  # suite -> run -> task -> attempts
    units: list[str]

    def curve(self, suite: str, unit: str, run_id: str) -> list[budget.Point] | None:
        return budget.curve(self.data[suite][run_id], self.tasks[suite], unit)


def collect_budget(con: duckdb.DuckDBPyConnection, runs: list[RunData]) -> Budget | None:
    """The runs' equal-compute data; None when they are of different benchmarks."""
    bench = runs[0].benchmark
    if any(r.benchmark != bench for r in runs):
        return None
    suites = [bench, *[s for s in runs[0].suites if s != bench and all(s in r.suites for r in runs)]]
    try:
        data = {suite: {r.run_id: budget.load(con, r.run_id, suite) for r in runs} for suite in suites}
    except duckdb.BinderException:  # a store from before the compute columns, opened read-only
        return None
    tasks = {suite: sorted(set.intersection(*(set(d) for d in data[suite].values()))) for suite in suites}
    units = budget.units_measured(data[bench].values(), tasks[bench])
    return Budget(suites, tasks, data, units)


def baseline_hidden_cell(r: RunData) -> str:
    if not r.has_baseline:
        return "no baseline agent in this run"
    if r.baseline_eval_problems == 0:
        return "n/a (no problem evaluated yet)"
    if r.baseline_hidden_available:
        return pct(r.baseline_passed_hidden, r.baseline_eval_problems)
    return (f"not available: the baseline's code was not scored on hidden tests for "
            f"{r.baseline_unknown} of {r.baseline_eval_problems} problems")


def grid_text(cfg: dict[str, Any], key: str) -> str:
    v = cfg.get(key)
    if v is None:
        return "?"
    if isinstance(v, (list, tuple)):
        return ", ".join(fmt_num(x) for x in v)
    return fmt_num(v)


def _guided_gammas(cfg: dict[str, Any]) -> list[float]:
    """The γ > 0 values of a run's grid (agent_grid skips γ = 0 there: that is the baseline)."""
    return [g for g in cfg.get("gamma") or [] if g]


def describe_agents(cfg: dict[str, Any]) -> str:
    """What a run's agents are, from its config: e.g. "greedy + 12 EG-CFG agents", or "greedy + 3
    samplers (γ = 0, t = 0.7; no signal)" for the sampling ablation."""
    def n(key: str) -> int:
        v = cfg.get(key) or []
        return len(v) if isinstance(v, (list, tuple)) else 1
    guided = len(_guided_gammas(cfg)) * n("t") * n("s") * n("d")
    samplers = int(cfg.get("sample_n") or 0) * n("sample_t")
    parts = ["greedy"] if cfg.get("baseline", True) else []
    if guided:
        parts.append(f"{guided} EG-CFG agent{'s' * (guided != 1)}")
    if samplers:
        parts.append(f"{samplers} sampler{'s' * (samplers != 1)} (γ = 0, t = "
                     f"{grid_text(cfg, 'sample_t')}; no signal)")
    return " + ".join(parts) + (" only" if len(parts) == 1 else "") if parts else "no agents"


def is_guided(r: RunData) -> bool:
    """Whether the run has EG-CFG agents (γ > 0) at all."""
    return bool(_guided_gammas(r.config))


def per_problem_stages(r: RunData) -> dict[str, float]:
    """Mean seconds per done problem by stage, with 'other' = wall - stages (>= 0)."""
    if not r.done:
        return {}
    out = {k: v / r.done for k, v in r.stages.items()}
    other = r.wall_s_total / r.done - sum(out.values())
    if r.wall_s_total and other > 0:
        out["other_s"] = other
    return out


def short_id(run_id: str) -> str:
    return run_id[:8]


def run_label(r: RunData) -> str:
    """'run 3fd7a0a1: EG-CFG, greedy + 2 agents' (sampling: '... samplers'; greedy: 'greedy only')."""
    kind = "EG-CFG" if is_guided(r) else "sampling" if r.config.get("sample_n") else "greedy"
    agents = describe_agents(r.config).split(" (")[0]
    return f"run {short_id(r.run_id)}: {kind}" + ("" if kind == "greedy" else f", {agents}")


def paper_for(benchmark: str, papers: dict[str, dict[str, float]] | None) -> dict[str, float] | None:
    return (papers or {}).get(benchmark.lower()) if benchmark else None
