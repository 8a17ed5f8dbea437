"""`egcfg report`: a Markdown or HTML report of one run (optionally against a second), with PNG
plots, computed from the DuckDB store by SQL -- never typed by hand.

    from reports.report import write_report
    write_report(["runs/egcfg.duckdb"], "85b00e5e", vs="a1b2c3", out=Path("docs/RESULTS.md"))

Honest evaluation (docs: /work/shared/DESIGN.md):
- pass@1 is the FINAL solution of each problem scored on its hidden tests.
- The baseline (the gamma = 0 greedy attempt, agent_index 0 when the config has baseline=true)
  is only scored on hidden tests when it was the final solution.  Its hidden pass@1 is reported
  only when it is known for EVERY evaluated problem: either scored (it was the final solution) or
  implied (its code failed a visible test that is also one of the problem's hidden tests, or it
  produced no code, which the evaluator scores as a failure).  Otherwise the baseline's pass@1
  on VISIBLE tests is reported, labelled as such.
- "Any attempt passed the visible tests" is an oracle figure and labelled as one.

The report is a list of blocks (headings, paragraphs, tables, images, code) rendered to Markdown
or HTML by the same code, so both formats hold the same figures.
"""
from __future__ import annotations

import html
import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import duckdb

from egcfg_core.records import baseline_sql
from reports import budget
from storage.readers import (  # noqa: F401  (read from here too)
    UnknownRunError, dict_rows, list_run_ids, one_row, open_stores, resolve_run, runs_listing)
from storage.store import StoreError

__all__ = [
    "PAPERS", "PAPER_LABEL", "ReportError", "UnknownRunError", "RunData", "open_stores",
    "resolve_run", "list_run_ids", "collect", "build_report", "render_markdown", "render_html",
    "write_report", "regenerate_command", "pct",
]

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
        GROUP BY ALL ORDER BY a.gamma, a.t, a.d, a.s""", [run_id])
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


# ============================================================================= document model
class Code(str):
    """A table cell or text shown as code."""


@dataclass
class Block:
    kind: str  # h1 h2 h3 p table img code
    text: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    path: str = ""  # img: link relative to the report


def _h(level: int, text: str) -> Block:
    return Block(f"h{level}", text)


def _p(text: str) -> Block:
    return Block("p", text)


def _fmt_num(x: Any, digits: int = 3) -> str:
    if isinstance(x, float):
        return f"{x:.{digits}g}" if abs(x) < 1000 else f"{x:.0f}"
    return str(x)


def _plain(v: Any) -> str:
    return "" if v is None else str(v)


def _ic(text: Any) -> str:
    """Inline code for paragraphs (backticks removed from the value)."""
    return "`" + str(text).replace("`", "'") + "`"


def _paper_for(benchmark: str, papers: dict[str, dict[str, float]] | None) -> dict[str, float] | None:
    return (papers or {}).get(benchmark.lower()) if benchmark else None


# ============================================================================= figures
def _new_figure(width: float, height: float, ncols: int = 1):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def _short(run_id: str) -> str:
    return run_id[:8]


def _label_bars(ax, bars, texts: list[str]) -> None:
    for bar, text in zip(bars, texts):
        ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    xytext=(0, 2), textcoords="offset points", ha="center", va="bottom", fontsize=8)


def plot_pass_at_1(runs: list[RunData], papers: dict | None, path: Path) -> Path | None:
    groups: list[tuple[str, float | None, str, float | None]] = []  # label, base, base kind, eg
    for r in runs:
        if r.evaluated == 0 and r.baseline_visible is None:
            continue
        if r.baseline_hidden is not None:
            base, kind = 100 * r.baseline_hidden, "hidden"
        elif r.baseline_visible is not None:
            base, kind = 100 * r.baseline_visible, "VISIBLE"
        else:
            base, kind = None, ""
        eg = 100 * r.pass_at_1 if r.pass_at_1 is not None else None
        groups.append((f"run {_short(r.run_id)}\n{r.benchmark}", base, kind, eg))
    if not groups:
        return None
    seen = set()
    for r in runs:
        paper = _paper_for(r.benchmark, papers)
        if paper and r.benchmark not in seen:
            seen.add(r.benchmark)
            groups.append((f"paper, {r.benchmark}\nDeepSeek-Coder-1.3B\n(full benchmark)",
                           paper["baseline"], "hidden", paper["egcfg"]))
    fig, (ax,) = _new_figure(1.9 * len(groups) + 2.5, 4.2)
    x = list(range(len(groups)))
    w = 0.38
    for i, (label, base, kind, eg) in enumerate(groups):
        if base is not None:
            hatch = "//" if kind == "VISIBLE" else None
            b = ax.bar(i - w / 2, base, w, color="#9e9e9e", hatch=hatch, edgecolor="black",
                       linewidth=0.5)
            _label_bars(ax, b, [f"{base:.1f}%" + ("\n(visible)" if kind == "VISIBLE" else "")])
        if eg is not None:
            b = ax.bar(i + w / 2, eg, w, color="#1f77b4", edgecolor="black", linewidth=0.5)
            _label_bars(ax, b, [f"{eg:.1f}%"])
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(facecolor="#9e9e9e", edgecolor="black", label="baseline γ=0 (hidden tests)"),
                       Patch(facecolor="#9e9e9e", edgecolor="black", hatch="//",
                             label="baseline γ=0 (VISIBLE tests: hidden n/a)"),
                       Patch(facecolor="#1f77b4", edgecolor="black", label="final solution (hidden tests)")],
              fontsize=8, loc="upper left")
    ax.set_xticks(x, [g[0] for g in groups], fontsize=8)
    ax.set_ylim(0, 118)
    ax.set_ylabel("pass@1 (%)")
    ax.set_title("pass@1: γ=0 greedy baseline vs final solution")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    return path


def _agent_group_label(gamma: float, t: float) -> str:
    if gamma == 0:
        return "γ=0\n(greedy)" if t == 0 else f"sampler\nt={t:g}"
    return f"γ={gamma:g}\nt={t:g}"


def plot_by_gamma_t(runs: list[RunData], path: Path) -> Path | None:
    keys = sorted({(row["gamma"], row["t"]) for r in runs for row in r.by_gamma_t})
    if not keys:
        return None
    data = [r for r in runs if r.by_gamma_t]
    fig, (ax1, ax2) = _new_figure(max(9.0, 2 * (0.6 * len(keys) * len(data) + 1.5)), 4.0, 2)
    w = 0.8 / len(data)
    top_wins = 1
    for k, r in enumerate(data):
        rows = {(row["gamma"], row["t"]): row for row in r.by_gamma_t}
        xs = [keys.index(key) - 0.4 + w * (k + 0.5) for key in rows]
        rate = [100 * v["passed_visible"] / v["attempts"] if v["attempts"] else 0 for v in rows.values()]
        wins = [v["wins"] for v in rows.values()]
        top_wins = max(top_wins, *wins)
        b1 = ax1.bar(xs, rate, w, label=f"run {_short(r.run_id)}", edgecolor="black", linewidth=0.4)
        _label_bars(ax1, b1, [f"{v['passed_visible']}/{v['attempts']}" for v in rows.values()])
        b2 = ax2.bar(xs, wins, w, label=f"run {_short(r.run_id)}", edgecolor="black", linewidth=0.4)
        _label_bars(ax2, b2, [str(x) for x in wins])
    for ax in (ax1, ax2):
        ax.set_xticks(range(len(keys)), [_agent_group_label(g, t) for g, t in keys], fontsize=8)
        ax.set_xlim(-0.6, len(keys) - 0.4)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    ax1.set_ylim(0, 115)
    ax1.set_ylabel("attempts passing visible tests (%)")
    ax1.set_title("visible-test pass rate by γ and t\n(labels: passed/attempts)", fontsize=10)
    ax2.set_ylabel("wins (problems)")
    ax2.set_title("wins (first agent to pass every visible test)", fontsize=10)
    ax2.set_ylim(0, top_wins * 1.25)
    from matplotlib.ticker import MaxNLocator

    ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path)
    return path


def _per_problem_stages(r: RunData) -> dict[str, float]:
    """Mean seconds per done problem by stage, with 'other' = wall - stages (>= 0)."""
    if not r.done:
        return {}
    out = {k: v / r.done for k, v in r.stages.items()}
    other = r.wall_s_total / r.done - sum(out.values())
    if r.wall_s_total and other > 0:
        out["other_s"] = other
    return out


def plot_stages(runs: list[RunData], path: Path) -> Path | None:
    data = [(r, _per_problem_stages(r)) for r in runs]
    data = [(r, d) for r, d in data if d]
    if not data:
        return None
    stages: list[str] = []
    for _, d in data:
        stages += [k for k in d if k not in stages]
    fig, (ax,) = _new_figure(2.2 * len(data) + 4, 4.2)
    bottoms = [0.0] * len(data)
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]
    for j, st in enumerate(stages):
        vals = [d.get(st, 0.0) for _, d in data]
        ax.bar(range(len(data)), vals, 0.55, bottom=bottoms, label=STAGE_LABELS.get(st, st),
               color="#bbbbbb" if st == "other_s" else colors[j % len(colors)], edgecolor="black",
               linewidth=0.4)
        bottoms = [b + v for b, v in zip(bottoms, vals)]
    for i, total in enumerate(bottoms):
        ax.annotate(f"{total:.1f} s", (i, total), xytext=(0, 2), textcoords="offset points",
                    ha="center", fontsize=8)
    ax.set_xticks(range(len(data)), [f"run {_short(r.run_id)}" for r, _ in data])
    ax.set_ylabel("seconds per problem (mean)")
    ax.set_title("wall time per problem by stage")
    ax.set_ylim(0, max(bottoms) * 1.15 or 1)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_flips(runs: list[RunData], path: Path) -> Path | None:
    data = [r for r in runs if r.flips]
    if not data:
        return None
    gammas = sorted({f["gamma"] for r in data for f in r.flips})
    fig, (ax,) = _new_figure(max(6.0, 1.1 * len(gammas) * len(data) + 3), 4.0)
    w = 0.8 / len(data)
    top = 0.0
    for k, r in enumerate(data):
        rows = {f["gamma"]: f for f in r.flips}
        xs = [gammas.index(g) - 0.4 + w * (k + 0.5) for g in rows]
        vals = [100 * f["flips"] / f["tokens"] if f["tokens"] else 0 for f in rows.values()]
        top = max(top, *vals)
        b = ax.bar(xs, vals, w, label=f"run {_short(r.run_id)}")
        _label_bars(ax, b, [f"{v:.1f}%\n{f['flips']}/{f['tokens']}" for v, f in zip(vals, rows.values())])
    ax.set_xticks(range(len(gammas)), [f"γ={g:g}" for g in gammas])
    ax.set_xlim(-0.6, len(gammas) - 0.4)
    ax.set_ylabel("tokens whose argmax guidance changed (%)")
    ax.set_title("argmax-flip rate by γ (guided lines only)")
    ax.set_ylim(0, max(top * 1.3, 1.0))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path


def run_label(r: RunData) -> str:
    """'run 3fd7a0a1: EG-CFG, greedy + 2 agents' (sampling: '... samplers'; greedy: 'greedy only')."""
    kind = "EG-CFG" if is_guided(r) else "sampling" if r.config.get("sample_n") else "greedy"
    agents = describe_agents(r.config).split(" (")[0]
    return f"run {_short(r.run_id)}: {kind}" + ("" if kind == "greedy" else f", {agents}")


def plot_budget(runs: list[RunData], b: Budget | None, path: Path) -> Path | None:
    """Problems solved against mean compute per problem, one step curve per run (a point per
    number of agents, ending at the whole run), a panel per suite and unit."""
    if b is None or not b.units or not b.tasks[b.suites[0]]:
        return None
    panels = [(suite, unit) for suite in b.suites for unit in b.units if b.tasks[suite]
              and all(b.curve(suite, unit, r.run_id) for r in runs)]
    if not panels:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = len(b.units) if len(b.units) > 1 else min(len(panels), 3)
    rows = -(-len(panels) // cols)
    fig = Figure(figsize=(5.0 * cols + 0.4, 3.9 * rows + 0.3), dpi=110)
    FigureCanvasAgg(fig)
    for i, (suite, unit) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        n, top = len(b.tasks[suite]), 1
        for j, r in enumerate(runs):
            pts = b.curve(suite, unit, r.run_id)
            xs, ys = [0.0] + [p.cost for p in pts], [0] + [p.solved for p in pts]
            top = max(top, *ys)
            ax.step(xs, ys, where="post", color=f"C{j}", marker="o", markersize=3.5, linewidth=1.3,
                    label=run_label(r))
            ax.annotate(f"{pts[-1].solved} ({len(pts)} agent{'s' * (len(pts) != 1)}): ends", (xs[-1], ys[-1]),
                        xytext=(4, -3), textcoords="offset points", fontsize=7, color=f"C{j}", va="top")
        ax.set_xlim(0, max(p.cost for r in runs for p in b.curve(suite, unit, r.run_id)) * 1.25)
        ax.set_ylim(0, top * 1.2)
        ax.set_xlabel(f"mean {budget.UNITS[unit].label}")
        ax.set_ylabel(f"problems solved on {suite} (of {n})")
        ax.set_title(f"{suite}: problems solved against {budget.UNITS[unit].label.replace(' per problem', '')}",
                     fontsize=9)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    return path


# ============================================================================= report blocks
def _grid_text(cfg: dict[str, Any], key: str) -> str:
    v = cfg.get(key)
    if v is None:
        return "?"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt_num(x) for x in v)
    return _fmt_num(v)


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
                     f"{_grid_text(cfg, 'sample_t')}; no signal)")
    return " + ".join(parts) + (" only" if len(parts) == 1 else "") if parts else "no agents"


def is_guided(r: RunData) -> bool:
    """Whether the run has EG-CFG agents (γ > 0) at all."""
    return bool(_guided_gammas(r.config))


def _summary(runs: list[RunData]) -> list[Block]:
    blocks = [_h(2, "Run summary")]
    heads = ["", *[f"run {r.run_id}" for r in runs]]
    def row(label, f):
        return [label, *[f(r) for r in runs]]
    decode = lambda r: Code(json.dumps(r.config.get("decode", {}), sort_keys=True))  # noqa: E731
    rows = [
        row("model", lambda r: Code(r.model)),
        row("benchmark", lambda r: r.benchmark),
        row("agents", lambda r: describe_agents(r.config)),
        row("tasks selected", lambda r: Code(str(r.config.get("tasks", "?")))),
        row("problems done / failed / recorded", lambda r: f"{r.done} / {r.failed} / {r.recorded}"),
        row("final solutions scored on hidden tests", lambda r: str(r.evaluated)),
        row("dataset rows skipped", lambda r: str(r.skipped_rows)),
        row("grid γ", lambda r: _grid_text(r.config, "gamma")),
        row("grid t", lambda r: _grid_text(r.config, "t") if is_guided(r) else "-"),
        row("grid s (candidates)", lambda r: _grid_text(r.config, "s") if is_guided(r) else "-"),
        row("grid d (lines per candidate)", lambda r: _grid_text(r.config, "d") if is_guided(r) else "-"),
        row("γ=0 greedy baseline agent", lambda r: str(r.config.get("baseline", "?"))),
        row("few-shot prompt", lambda r: str(r.config.get("fewshot", "?")) + (  # the style, where not "describe"
            f" (prompt style {r.config['prompt_style']})" if "prompt_style" in r.config else "")),
        row("hidden-test timeout (s)", lambda r: _grid_text(r.config, "eval_timeout_s")),
        row("decode settings", decode),
        row("code version", lambda r: Code(r.code_version)),
        row("created / updated (UTC)", lambda r: f"{_ts(r.created_at)} / {_ts(r.updated_at)}"),
        row("run timings", lambda r: ", ".join(f"{k} {v:.1f}s" for k, v in r.run_timings.items()) or "-"),
    ]
    blocks.append(Block("table", headers=heads, rows=rows))
    return blocks


def _ts(x: Any) -> str:
    return x.strftime("%Y-%m-%d %H:%M") if hasattr(x, "strftime") else _plain(x)


def baseline_hidden_cell(r: RunData) -> str:
    if not r.has_baseline:
        return "no baseline agent in this run"
    if r.baseline_eval_problems == 0:
        return "n/a (no problem evaluated yet)"
    if r.baseline_hidden_available:
        return pct(r.baseline_passed_hidden, r.baseline_eval_problems)
    return (f"not available: the baseline's code was not scored on hidden tests for "
            f"{r.baseline_unknown} of {r.baseline_eval_problems} problems")


def _pass_section(runs: list[RunData], papers: dict | None, fig: str | None) -> list[Block]:
    blocks = [_h(2, "pass@1")]
    paper_benches = []
    for r in runs:
        if _paper_for(r.benchmark, papers) and r.benchmark not in paper_benches:
            paper_benches.append(r.benchmark)
    run_benches = list(paper_benches)
    suites: list[str] = []
    for r in runs:
        suites += [s for s in r.suites if s not in suites]
    for s in suites:
        if _paper_for(s, papers) and s not in paper_benches:
            paper_benches.append(s)
    heads = ["metric", *[f"run {_short(r.run_id)} ({r.benchmark})" for r in runs],
             *[f"{PAPER_LABEL}, {b}" for b in paper_benches]]

    def paper_cells(key: str | None) -> list[str]:
        # the run-level rows are about the runs' own benchmarks: a column added for a suite
        # only is filled in that suite's row
        return [f"{_paper_for(b, papers)[key]:.1f}%" if key and b in run_benches else ""
                for b in paper_benches]

    def suite_paper_cells(suite: str) -> list[str]:
        out = []
        for b in paper_benches:
            fig = _paper_for(b, papers) if b == suite else None
            out.append(f"{fig['egcfg']:.1f}% (baseline {fig['baseline']:.1f}%)"
                       if fig and b not in run_benches else
                       (f"{fig['egcfg']:.1f}%" if fig else ""))
        return out

    def suite_cell(r: RunData, suite: str) -> str:
        if suite not in r.suites:
            return f"not scored on {suite}"
        n, k = r.suites[suite]
        return pct(k, n)

    rows = [
        ["**final solution, pass@1 on hidden tests**",
         *[pct(r.passed_hidden, r.evaluated) for r in runs], *paper_cells("egcfg")],
        ["final solution, pass@1 on visible tests",
         *[pct(r.final_passed_visible, r.solutions) for r in runs], *paper_cells(None)],
        ["baseline (γ=0 greedy) pass@1 (hidden)",
         *[baseline_hidden_cell(r) for r in runs], *paper_cells("baseline")],
        ["baseline (γ=0 greedy) pass@1 on VISIBLE tests (not hidden)",
         *[pct(r.baseline_passed_visible, r.baseline_problems) if r.has_baseline else "no baseline agent"
           for r in runs], *paper_cells(None)],
        ["ORACLE (not pass@1): any attempt passed the visible tests",
         *[pct(r.any_passed_visible, r.solutions) for r in runs], *paper_cells(None)],
    ]
    for suite in suites:
        rows.append([f"**hidden pass@1 on {suite}** (same final solutions, scored after the run)",
                     *[suite_cell(r, suite) for r in runs], *suite_paper_cells(suite)])
    blocks.append(Block("table", headers=heads, rows=rows))
    notes = []
    for suite in suites:
        parts = []
        for r in runs:
            if suite in r.suites:
                n, _ = r.suites[suite]
                rest = r.solutions - n
                parts.append(f"run {_ic(r.run_id)}: {n} of its {r.solutions} final solutions"
                             + (f" ({rest} not scored: the suite lacks the task or it was not "
                                f"evaluated yet)" if rest > 0 else ""))
        have = [r for r in runs if suite in r.suites and r.suites[suite][0]]
        diff = ""
        if len(have) >= 2:
            rate = {r.run_id: r.suites[suite][1] / r.suites[suite][0] for r in have}
            first = have[0].run_id
            diff = "".join(f" Run {_ic(first)} minus run {_ic(o.run_id)} on {suite}: "
                           f"**{100 * (rate[first] - rate[o.run_id]):+.1f} points**."
                           for o in have[1:])
        notes.append(f"Hidden pass@1 on {suite}: problems whose stored final solution passed "
                     f"every {suite} test, over the problems scored on {suite} "
                     f"({'; '.join(parts)}). Scored by `egcfg evaluate` after the run without "
                     f"re-generating; these tests chose nothing.{diff}")
    for r in runs:
        if r.solutions == 0:
            notes.append(f"Run {_ic(r.run_id)}: no problem is done yet, so there is no pass@1.")
            continue
        if r.evaluated < r.solutions:
            notes.append(f"Run {_ic(r.run_id)}: {r.solutions - r.evaluated} of {r.solutions} final "
                         f"solutions are not scored on hidden tests yet (left out of hidden pass@1).")
        if r.failed:
            notes.append(f"Run {_ic(r.run_id)}: {r.failed} problem(s) failed (no solution) and are "
                         f"not in any denominator.")
        if r.has_baseline and r.baseline_eval_problems:
            if r.baseline_hidden_available:
                notes.append(
                    f"Run {_ic(r.run_id)}, baseline on hidden tests: {r.baseline_scored} problem(s) "
                    f"scored directly (the baseline was the final solution); {r.baseline_implied} "
                    f"implied failures (the baseline failed or raised on a visible test that is also "
                    f"a hidden test, or produced no code).")
            else:
                notes.append(
                    f"Run {_ic(r.run_id)}: the baseline's hidden pass@1 is not reported because its "
                    f"code was scored on hidden tests only where it was the final solution "
                    f"({r.baseline_scored} of {r.baseline_eval_problems}); its pass@1 on VISIBLE "
                    f"tests is given instead.")
        extra_agents = is_guided(r) or r.config.get("sample_n")
        if r.baseline_hidden is not None and r.pass_at_1 is not None and extra_agents:
            gain = 100 * (r.pass_at_1 - r.baseline_hidden)
            notes.append(f"Run {_ic(r.run_id)} ({describe_agents(r.config)}): final solution minus "
                         f"its own greedy baseline on hidden tests: **{gain:+.1f} points**.")
    if paper_benches:
        notes.append(f"The {PAPER_LABEL} column is the published figure on the full benchmark, "
                     f"not a result of this pipeline; our runs may cover a subset of the tasks "
                     f"with another model.")
    blocks += [_p(n) for n in notes]
    if fig:
        blocks.append(Block("img", text="pass@1: γ=0 greedy baseline vs final solution", path=fig))
    return blocks


def _agents_section(runs: list[RunData], fig: str | None) -> list[Block]:
    blocks = [_h(2, "Agents: runs, visible-test passes and wins")]
    multi = len(runs) > 1
    rows = []
    for r in runs:
        for a in r.by_agent:
            rows.append([*([_short(r.run_id)] if multi else []), Code(a["agent_name"]),
                         _fmt_num(a["gamma"]), _fmt_num(a["t"]), str(a["d"]), str(a["s"]),
                         f"{a['attempts']} of {r.done}", str(a["cancelled"]),
                         pct(a["passed_visible"], a["attempts"]), str(a["wins"]), str(a["finals"]),
                         f"{a['final_passed_hidden']}"])
    if not rows:
        blocks.append(_p("No attempts are stored yet."))
        return blocks
    blocks.append(_p("An agent runs on a problem only when every agent before it in the grid failed "
                     "the visible tests; *run* counts the problems where it ran (including "
                     "cancelled attempts), *wins* those where it was the first to pass every visible "
                     "test, *final* those whose solution is its code, *final & hidden pass* those "
                     "of its final solutions that passed the hidden tests."))
    blocks.append(Block("table", headers=[*(["run"] if multi else []), "agent", "γ", "t", "d", "s",
                                          "run on (problems)", "cancelled", "passed visible", "wins",
                                          "final", "final & hidden pass"], rows=rows))
    if fig:
        blocks.append(Block("img", text="visible pass rate and wins by γ and t", path=fig))
    return blocks


def _draft_lines(lines: list[int] | None) -> str:
    """[1, 1, 2] -> 'line 1 x2, 2'."""
    if not lines:
        return "-"
    counts: dict[int, int] = {}
    for ln in lines:
        counts[ln] = counts.get(ln, 0) + 1
    return "line " + ", ".join(f"{ln} ×{k}" if k > 1 else str(ln) for ln, k in sorted(counts.items()))


def _sources_section(runs: list[RunData]) -> list[Block]:
    blocks = [_h(2, "Where the final solutions came from")]
    if not any(r.sources for r in runs):
        blocks.append(_p("No attempt records where its code came from (`attempts.code_source`): "
                         "the store predates it."))
        return blocks
    blocks.append(_p(
        "Each problem's final solution by where its code came from (`attempts.code_source` of the "
        "attempt it is; docs/QUERIES.md 16): " + "; ".join(f"*{k}*: {v}" for k, v in SOURCES.items() if k)
        + ". *Won* counts the final solutions that passed every visible test (the others are the "
        "run's best attempt on a problem no agent solved); *hidden pass*, those that passed the "
        "hidden tests. A draft's line is the line of the function at which the agent accepted it "
        "(line 0 is the `def` line)."))
    suites: list[str] = []
    for r in runs:
        for row in r.sources:
            suites += [x for x in row["suites"] if x not in suites and x != r.benchmark]
    rows = []
    for r in runs:
        for row in r.sources:
            hidden = (str(row["passed_hidden"]) if row["scored"] == row["finals"]
                      else f"{row['passed_hidden']} of {row['scored']} scored")
            rows.append([_short(r.run_id), Code(row["source"]) if row["source"] else "not recorded",
                         str(row["finals"]), str(row["wins"]), hidden,
                         *[f"{row['suites'][x][0]} of {row['suites'][x][1]}" if x in row["suites"] else "-"
                           for x in suites],
                         _draft_lines(row["draft_lines"])])
    blocks.append(Block("table", headers=["run", "code source", "final solutions", "won (passed the visible tests)",
                                          f"hidden pass ({runs[0].benchmark})",
                                          *[f"hidden pass on {x}" for x in suites], "drafts accepted at"],
                        rows=rows))
    rows = [[_short(r.run_id), Code(row["source"]) if row["source"] else "not recorded", str(row["attempts"]),
             pct(row["passed_visible"], row["attempts"])] for r in runs for row in r.attempt_sources]
    blocks.append(_p("Every attempt by where its code came from (each problem's attempts up to its "
                     "first visible pass): how often each path passed the visible tests."))
    blocks.append(Block("table", headers=["run", "code source", "attempts", "passed the visible tests"],
                        rows=rows))
    return blocks


def _budget_section(runs: list[RunData], b: Budget | None, fig: str | None) -> list[Block]:
    blocks = [_h(2, "Equal compute: problems solved against compute spent")]
    if b is None:
        blocks.append(_p("The runs are of different benchmarks: no equal-compute comparison."))
        return blocks
    bench = b.suites[0]
    if not b.tasks[bench]:
        blocks.append(_p("No problem that every run finished and was scored on yet."))
        return blocks
    missing = [budget.UNITS[u].label.replace(" per problem", "") for u in budget.UNITS if u not in b.units]
    blocks.append(_p(budget.DEFINITION + " Units: " + "; ".join(
        budget.UNITS[u].label.replace(" per problem", "") for u in b.units) + "." + (
        f" Not measured by every attempt of these runs, so not shown: {', '.join(missing)} (rows "
        f"written before the compute meter, e.g. the committed exports, and attempts copied from "
        f"them, have wall seconds only)." if missing else "")
        + (f" Wall seconds compare runs on one machine only; these runs' models are recorded as "
           f"{' and '.join(sorted({_ic(r.model) for r in runs}))}." if len({r.model for r in runs}) > 1 else "")))
    heads = ["run", "agents", *[f"mean {budget.UNITS[u].short} per problem" for u in b.units],
             *[f"solved on {x} (of {len(b.tasks[x])})" for x in b.suites]]
    rows = []
    for r in runs:
        per = {(x, u): b.curve(x, u, r.run_id) for x in b.suites for u in b.units}
        first = per[(bench, b.units[0])] if b.units else None
        for i, pt in enumerate(first or []):
            rows.append([run_label(r), str(pt.k),
                         *[budget.fmt_cost(per[(bench, u)][i].cost, u) for u in b.units],
                         *[pct(per[(x, b.units[0])][i].solved, per[(x, b.units[0])][i].n)
                           if per[(x, b.units[0])] and i < len(per[(x, b.units[0])]) else "not scored"
                           for x in b.suites]])
    if not rows:
        blocks.append(_p("Not every attempt these points need is scored on the hidden tests yet "
                         "(`egcfg evaluate RUN SUITE --all-attempts`)."))
        return blocks
    blocks.append(_p(f"On the {len(b.tasks[bench])} problems every run finished (on each suite, those "
                     f"it scored); the last row of a run is the whole run, where its curve ends."))
    blocks.append(Block("table", headers=heads, rows=rows))
    several = [r for r in runs if len(b.curve(bench, b.units[0], r.run_id) or []) > 1]
    notes = []
    for unit in b.units:
        for r in several:
            for other in several:
                if other is r:
                    continue
                mine, theirs = b.curve(bench, unit, r.run_id), b.curve(bench, unit, other.run_id)
                at = theirs[-1].cost
                got = budget.read_at(mine, at)
                what = (f"not read: its curve ends at {budget.fmt_cost(mine[-1].cost, unit)}, "
                        f"{mine[-1].cost / at:.0%} of that budget" if got is None else
                        f"{pct(got.solved, got.n)} with its first {got.k} agent{'s' * (got.k != 1)} "
                        f"({budget.fmt_cost(got.cost, unit)})")
                notes.append(f"{run_label(r)}, read at the budget of {run_label(other)} (its whole run, "
                             f"{budget.fmt_cost(at, unit)} per problem, {pct(theirs[-1].solved, theirs[-1].n)}): "
                             f"{what}.")
    if len(several) > 1:
        main, others = several[0], several[1:]
        notes.append(budget.PAIRED_DEFINITION + f" On {bench}:")
        for unit in b.units:
            for other in others:
                data = b.data[bench]
                for whole, cut in ((main, other), (other, main)):
                    pr = budget.paired(data[whole.run_id], data[cut.run_id], b.tasks[bench], unit)
                    if pr is None:
                        continue
                    notes.append(f"At the {budget.UNITS[unit].label.replace(' per problem', '')} that "
                                 f"{run_label(whole)} spent on each problem: "
                                 + budget.paired_text(pr, f"run {_short(whole.run_id)}", f"run {_short(cut.run_id)}",
                                                      f"run {_short(main.run_id)}") + ".")
    blocks += [_p(n) for n in notes]
    if fig:
        blocks.append(Block("img", text="problems solved against compute spent", path=fig))
    return blocks


def _flips_section(runs: list[RunData], fig: str | None) -> list[Block]:
    blocks = [_h(2, "How often guidance changed the argmax, by γ")]
    multi = len(runs) > 1
    rows = []
    for r in runs:
        for f in r.flips:
            rows.append([*([_short(r.run_id)] if multi else []), _fmt_num(f["gamma"]),
                         str(f["tokens"]), pct(f["flips"], f["tokens"]).split(" = ")[-1]
                         if f["tokens"] else "n/a", str(f["flips"]),
                         f"{f['lines_flipped']} of {f['lines']}"])
    if not rows:
        blocks.append(_p("No guided lines yet (no line decoded with γ > 0 and a non-empty signal), "
                         "so there is no argmax-flip rate."))
        return blocks
    blocks.append(_p("Tokens of guided lines only (γ > 0 and a non-empty signal). A flip is a token "
                     "where the combined distribution's argmax differs from the unguided argmax "
                     "(`token_decisions.argmax_changed`)."))
    blocks.append(Block("table", headers=[*(["run"] if multi else []), "γ", "guided tokens",
                                          "flip rate", "flipped tokens", "lines with a flip"],
                        rows=rows))
    if fig:
        blocks.append(Block("img", text="argmax-flip rate by γ", path=fig))
    return blocks


def _time_section(runs: list[RunData], fig: str | None) -> list[Block]:
    blocks = [_h(2, "Wall time per problem by stage")]
    per = {r.run_id: _per_problem_stages(r) for r in runs}
    stages: list[str] = []
    for d in per.values():
        stages += [k for k in d if k not in stages]
    if not stages:
        blocks.append(_p("No timings yet (no done problem)."))
        return blocks
    rows = []
    for st in stages:
        rows.append([STAGE_LABELS.get(st, st), *[f"{per[r.run_id][st]:.2f}" if st in per[r.run_id]
                                                 else "-" for r in runs]])
    rows.append(["**sum of stages**", *[f"{sum(v for k, v in per[r.run_id].items() if k != 'other_s'):.2f}"
                                        if per[r.run_id] else "-" for r in runs]])
    rows.append(["**problem wall time**", *[f"{r.wall_s_total / r.done:.2f}" if r.done else "-"
                                            for r in runs]])
    blocks.append(_p("Mean seconds per done problem. Line stages (sample, execute, prefill, decode) "
                     "are summed over every line of every attempt (`lines.timings`), the visible-test "
                     "run of each finished attempt from `attempts.timings['test_s']`; *other* is the "
                     "problem's wall time not covered by them: the prefill of the prompt head all "
                     "agents share, the hidden-test run, storage and orchestration (and, on a "
                     "session's first problem, the model's warm-up). Agents running concurrently can make the stages sum to more than the wall time."))
    blocks.append(Block("table", headers=["stage (s / problem)", *[f"run {_short(r.run_id)}"
                                                                   for r in runs]], rows=rows))
    if fig:
        blocks.append(Block("img", text="time per stage", path=fig))
    return blocks


def _fixes_section(runs: list[RunData]) -> list[Block]:
    blocks = [_h(2, "Where the execution signal turned a failing baseline into a passing solution")]
    blocks.append(_p("Guided lines (with a signal) of the winning (γ > 0) attempt with at least one "
                     "token whose argmax the guidance changed, in problems where the γ=0 baseline failed the visible tests. "
                     "*hidden* is the final solution's verdict on the hidden tests."))
    for r in runs:
        if len(runs) > 1:
            blocks.append(_h(3, f"run {r.run_id}"))
        if not r.has_baseline:
            blocks.append(_p("This run has no γ=0 baseline agent, so there is nothing to compare."))
            continue
        if not is_guided(r):
            blocks.append(_p(f"This run has no guided agents ({describe_agents(r.config)}), so "
                             f"there is no execution signal to show."))
            continue
        if not r.fixes:
            blocks.append(_p("None: no problem where the baseline failed the visible tests was won "
                             "by a guided agent with a flipped token."))
            continue
        rows = []
        for f in r.fixes:
            hidden = {True: "pass", False: "fail", None: "not scored"}[f["passed_hidden"]]
            toks = ", ".join(json.dumps(t, ensure_ascii=False) for t in f["flipped_tokens"])
            excerpt = f["signal_excerpt"] + (" …" if f["signal_chars"] > SIGNAL_EXCERPT else "")
            rows.append([f["task_id"], Code(f["agent_name"]), str(f["line_index"]),
                         Code(f["chosen_text"].rstrip("\n")), Code(toks), Code(excerpt), hidden])
        blocks.append(Block("table", headers=["task", "winning agent", "line", "line written",
                                              "flipped tokens", "signal (excerpt)", "hidden"],
                            rows=rows))
        if r.fixes_total > len(r.fixes):
            blocks.append(_p(f"{r.fixes_total - len(r.fixes)} more line(s) not shown (the first "
                             f"{len(r.fixes)} are)."))
    return blocks


def regenerate_command(run_id: str, vs: str | Sequence[str] | None, db_paths: Sequence[str | Path],
                       out: Path, fmt: str, figures_dir: Path | None = None, papers: bool = True) -> str:
    parts = ["egcfg", "report", run_id]
    for v in _vs_list(vs):
        parts += ["--vs", v]
    for p in db_paths:
        parts += ["--db", str(p)]
    parts += ["--out", str(out)]
    if fmt != infer_format(out):
        parts += ["--format", fmt]
    if figures_dir is not None:
        parts += ["--figures-dir", str(figures_dir)]
    if not papers:
        parts.append("--no-papers")
    return " ".join(shlex.quote(p) for p in parts)


def _vs_list(vs: str | Sequence[str] | None) -> list[str]:
    return [vs] if isinstance(vs, str) else list(vs or [])


def infer_format(out: Path) -> str:
    return "html" if Path(out).suffix.lower() in (".html", ".htm") else "md"


def build_report(runs: list[RunData], figs: dict[str, str | None], papers: dict | None,
                 command: str, budget_data: Budget | None = None) -> list[Block]:
    main = runs[0]
    title = f"EG-CFG report: run {main.run_id}" + (
        " vs " + ", ".join(r.run_id for r in runs[1:]) if len(runs) > 1 else "")
    blocks = [_h(1, title),
              _p(f"Generated from the DuckDB store by `egcfg report` (all figures by SQL over the "
                 f"tables of `storage/schema.sql`). Model {_ic(main.model)}, benchmark "
                 f"**{main.benchmark}**, {main.done} problem(s) done.")]
    if any(r.benchmark != main.benchmark for r in runs[1:]):
        blocks.append(_p(f"Note: the runs are on different benchmarks "
                         f"({' vs '.join(r.benchmark for r in runs)}); their figures are not "
                         f"directly comparable."))
    blocks += _summary(runs)
    blocks += _pass_section(runs, papers, figs.get("pass_at_1"))
    blocks += _agents_section(runs, figs.get("by_gamma_t"))
    blocks += _sources_section(runs)
    blocks += _budget_section(runs, budget_data, figs.get("budget"))
    blocks += _flips_section(runs, figs.get("flips"))
    blocks += _time_section(runs, figs.get("stages"))
    blocks += _fixes_section(runs)
    blocks += [_h(2, "Regenerate this report"), Block("code", text=command)]
    return blocks


# ============================================================================= rendering
def _md_cell(v: Any) -> str:
    if isinstance(v, Code):
        text = str(v).replace("\r", "").replace("\n", " ⏎ ")
        text = text.replace("|", "\\|")
        if not text:
            return ""
        run = max((len(m) for m in re.findall(r"`+", text)), default=0)
        fence = "`" * (run + 1)
        pad = " " if text.startswith("`") or text.endswith("`") or run else ""
        return f"{fence}{pad}{text}{pad}{fence}"
    return _plain(v).replace("|", "\\|").replace("\n", "<br>")


def render_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out.append("#" * int(b.kind[1]) + " " + b.text)
        elif b.kind == "p":
            out.append(b.text)
        elif b.kind == "table":
            out.append("| " + " | ".join(_md_cell(h) for h in b.headers) + " |")
            out.append("|" + "|".join("---" for _ in b.headers) + "|")
            for row in b.rows:
                out.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
        elif b.kind == "img":
            out.append(f"![{b.text}]({b.path})")
        elif b.kind == "code":
            out.append("```sh\n" + b.text + "\n```")
        out.append("")
    return "\n".join(out)


def _html_inline(text: str) -> str:
    s = html.escape(text)
    s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
    s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
    s = re.sub(r"(?<![\w*])\*([^*]+)\*(?![\w*])", r"<em>\1</em>", s)
    return s


def _html_cell(v: Any) -> str:
    if isinstance(v, Code):
        return "<code>" + html.escape(str(v)).replace("\n", "<br>") + "</code>"
    return _html_inline(_plain(v))


_CSS = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;font-size:14px}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}"
        "th{background:#f2f2f2}code{background:#f6f6f6;white-space:pre-wrap}"
        "pre{background:#f6f6f6;padding:8px;overflow-x:auto}img{max-width:100%}")


def render_html(blocks: list[Block]) -> str:
    title = next((b.text for b in blocks if b.kind == "h1"), "egcfg report")
    out = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\">",
           f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"]
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out.append(f"<{b.kind}>{_html_inline(b.text)}</{b.kind}>")
        elif b.kind == "p":
            out.append(f"<p>{_html_inline(b.text)}</p>")
        elif b.kind == "table":
            out.append("<table><thead><tr>" + "".join(f"<th>{_html_cell(h)}</th>" for h in b.headers)
                       + "</tr></thead><tbody>")
            for row in b.rows:
                out.append("<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>")
            out.append("</tbody></table>")
        elif b.kind == "img":
            out.append(f"<p><img src=\"{html.escape(b.path)}\" alt=\"{html.escape(b.text)}\"></p>")
        elif b.kind == "code":
            out.append(f"<pre><code>{html.escape(b.text)}</code></pre>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# ============================================================================= entry point
def write_report(
    db_paths: str | Path | Sequence[str | Path],
    run_id: str,
    vs: str | Sequence[str] | None = None,
    out: Path = Path("report.md"),
    fmt: str = "md",
    *,
    figures_dir: Path | None = None,
    papers: dict[str, dict[str, float]] | None = PAPERS,
    command: str | None = None,
) -> Path:
    """Write the report of ``run_id`` (an id or unique prefix), optionally against ``vs`` (one
    run or several, e.g. its greedy baseline and a sampling ablation), to
    ``out`` in format ``fmt`` ("md" or "html"), with PNG figures in ``figures_dir`` (default:
    beside the report, named ``<out stem>-<figure>.png``).  ``papers=None`` leaves out the
    paper's reference figures.  ``command`` is the line printed at the end (default: the
    ``egcfg report`` command that regenerates it).  Returns ``out``."""
    if fmt not in FORMATS:
        raise ReportError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    paths = [db_paths] if isinstance(db_paths, (str, Path)) else list(db_paths)
    out = Path(out)
    con = open_stores(paths)
    try:
        rid = resolve_run(con, run_id)
        vids = [resolve_run(con, v) for v in _vs_list(vs)]
        if len(set([rid, *vids])) < 1 + len(vids):
            raise ReportError(f"a run is named twice among {[rid, *vids]}")
        runs = [collect(con, x) for x in (rid, *vids)]
        budget_data = collect_budget(con, runs)
    finally:
        con.close()
    fig_dir = Path(figures_dir) if figures_dir is not None else out.parent
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create the output folder: {exc}") from exc
    stem = out.stem
    figs: dict[str, str | None] = {}
    makers = {"pass_at_1": lambda p: plot_pass_at_1(runs, papers, p),
              "by_gamma_t": lambda p: plot_by_gamma_t(runs, p),
              "stages": lambda p: plot_stages(runs, p),
              "flips": lambda p: plot_flips(runs, p),
              "budget": lambda p: plot_budget(runs, budget_data, p)}
    for name, make in makers.items():
        path = fig_dir / f"{stem}-{name}.png"
        made = make(path)
        if made is None and path.exists():
            path.unlink()  # a stale figure of an earlier report with data
        figs[name] = (Path(os.path.relpath(made, out.parent)).as_posix() if made else None)
    if command is None:
        command = regenerate_command(rid, vids, paths, out, fmt, figures_dir, bool(papers))
    blocks = build_report(runs, figs, papers, command, budget_data)
    text = render_markdown(blocks) if fmt == "md" else render_html(blocks)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write {out}: {exc}") from exc
    return out
