"""The report's sections, built from ``RunData`` as blocks, and the whole document (``build_report``)."""
from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, Sequence


from reports import budget

from reports.data import (
    Budget,
    PAPER_LABEL,
    RunData,
    SIGNAL_EXCERPT,
    SOURCES,
    STAGE_LABELS,
    baseline_hidden_cell,
    describe_agents,
    grid_text,
    is_guided,
    paper_for,
    pct,
    per_problem_stages,
    run_label,
    short_id,
)
from reports.document import Block, Code, fmt_num, heading, inline_code, para, plain


# ============================================================================= report blocks
def _summary(runs: list[RunData]) -> list[Block]:
    blocks = [heading(2, "Run summary")]
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
        row("grid γ", lambda r: grid_text(r.config, "gamma")),
        row("grid t", lambda r: grid_text(r.config, "t") if is_guided(r) else "-"),
        row("grid s (candidates)", lambda r: grid_text(r.config, "s") if is_guided(r) else "-"),
        row("grid d (lines per candidate)", lambda r: grid_text(r.config, "d") if is_guided(r) else "-"),
        row("γ=0 greedy baseline agent", lambda r: str(r.config.get("baseline", "?"))),
        row("few-shot prompt", lambda r: str(r.config.get("fewshot", "?")) + (  # the style, where not "describe"
            f" (prompt style {r.config['prompt_style']})" if "prompt_style" in r.config else "")),
        row("hidden-test timeout (s)", lambda r: grid_text(r.config, "eval_timeout_s")),
        row("decode settings", decode),
        row("code version", lambda r: Code(r.code_version)),
        row("created / updated (UTC)", lambda r: f"{_ts(r.created_at)} / {_ts(r.updated_at)}"),
        row("run timings", lambda r: ", ".join(f"{k} {v:.1f}s" for k, v in r.run_timings.items()) or "-"),
    ]
    blocks.append(Block("table", headers=heads, rows=rows))
    return blocks


def _ts(x: Any) -> str:
    return x.strftime("%Y-%m-%d %H:%M") if hasattr(x, "strftime") else plain(x)


def _pass_section(runs: list[RunData], papers: dict | None, fig: str | None) -> list[Block]:
    blocks = [heading(2, "pass@1")]
    paper_benches = []
    for r in runs:
        if paper_for(r.benchmark, papers) and r.benchmark not in paper_benches:
            paper_benches.append(r.benchmark)
    run_benches = list(paper_benches)
    suites: list[str] = []
    for r in runs:
        suites += [s for s in r.suites if s not in suites]
    for s in suites:
        if paper_for(s, papers) and s not in paper_benches:
            paper_benches.append(s)
    heads = ["metric", *[f"run {short_id(r.run_id)} ({r.benchmark})" for r in runs],
             *[f"{PAPER_LABEL}, {b}" for b in paper_benches]]

    def paper_cells(key: str | None) -> list[str]:
        # the run-level rows are about the runs' own benchmarks: a column added for a suite
        # only is filled in that suite's row
        return [f"{paper_for(b, papers)[key]:.1f}%" if key and b in run_benches else ""
                for b in paper_benches]

    def suite_paper_cells(suite: str) -> list[str]:
        out = []
        for b in paper_benches:
            fig = paper_for(b, papers) if b == suite else None
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
                parts.append(f"run {inline_code(r.run_id)}: {n} of its {r.solutions} final solutions"
                             + (f" ({rest} not scored: the suite lacks the task or it was not "
                                f"evaluated yet)" if rest > 0 else ""))
        have = [r for r in runs if suite in r.suites and r.suites[suite][0]]
        diff = ""
        if len(have) >= 2:
            rate = {r.run_id: r.suites[suite][1] / r.suites[suite][0] for r in have}
            first = have[0].run_id
            diff = "".join(f" Run {inline_code(first)} minus run {inline_code(o.run_id)} on {suite}: "
                           f"**{100 * (rate[first] - rate[o.run_id]):+.1f} points**."
                           for o in have[1:])
        notes.append(f"Hidden pass@1 on {suite}: problems whose stored final solution passed "
                     f"every {suite} test, over the problems scored on {suite} "
                     f"({'; '.join(parts)}). Scored by `egcfg evaluate` after the run without "
                     f"re-generating; these tests chose nothing.{diff}")
    for r in runs:
        if r.solutions == 0:
            notes.append(f"Run {inline_code(r.run_id)}: no problem is done yet, so there is no pass@1.")
            continue
        if r.evaluated < r.solutions:
            notes.append(f"Run {inline_code(r.run_id)}: {r.solutions - r.evaluated} of {r.solutions} final "
                         f"solutions are not scored on hidden tests yet (left out of hidden pass@1).")
        if r.failed:
            notes.append(f"Run {inline_code(r.run_id)}: {r.failed} problem(s) failed (no solution) and are "
                         f"not in any denominator.")
        if r.has_baseline and r.baseline_eval_problems:
            if r.baseline_hidden_available:
                notes.append(
                    f"Run {inline_code(r.run_id)}, baseline on hidden tests: {r.baseline_scored} problem(s) "
                    f"scored directly (the baseline was the final solution); {r.baseline_implied} "
                    f"implied failures (the baseline failed or raised on a visible test that is also "
                    f"a hidden test, or produced no code).")
            else:
                notes.append(
                    f"Run {inline_code(r.run_id)}: the baseline's hidden pass@1 is not reported because its "
                    f"code was scored on hidden tests only where it was the final solution "
                    f"({r.baseline_scored} of {r.baseline_eval_problems}); its pass@1 on VISIBLE "
                    f"tests is given instead.")
        extra_agents = is_guided(r) or r.config.get("sample_n")
        if r.baseline_hidden is not None and r.pass_at_1 is not None and extra_agents:
            gain = 100 * (r.pass_at_1 - r.baseline_hidden)
            notes.append(f"Run {inline_code(r.run_id)} ({describe_agents(r.config)}): final solution minus "
                         f"its own greedy baseline on hidden tests: **{gain:+.1f} points**.")
    if paper_benches:
        notes.append(f"The {PAPER_LABEL} column is the published figure on the full benchmark, "
                     f"not a result of this pipeline; our runs may cover a subset of the tasks "
                     f"with another model.")
    blocks += [para(n) for n in notes]
    if fig:
        blocks.append(Block("img", text="pass@1: γ=0 greedy baseline vs final solution", path=fig))
    return blocks


def _agents_section(runs: list[RunData], fig: str | None) -> list[Block]:
    blocks = [heading(2, "Agents: runs, visible-test passes and wins")]
    multi = len(runs) > 1
    rows = []
    for r in runs:
        for a in r.by_agent:
            rows.append([*([short_id(r.run_id)] if multi else []), Code(a["agent_name"]),
                         fmt_num(a["gamma"]), fmt_num(a["t"]), str(a["d"]), str(a["s"]),
                         f"{a['attempts']} of {r.done}", str(a["cancelled"]),
                         pct(a["passed_visible"], a["attempts"]), str(a["wins"]), str(a["finals"]),
                         f"{a['final_passed_hidden']}"])
    if not rows:
        blocks.append(para("No attempts are stored yet."))
        return blocks
    blocks.append(para("An agent runs on a problem only when every agent before it in the grid failed "
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
    blocks = [heading(2, "Where the final solutions came from")]
    if not any(r.sources for r in runs):
        blocks.append(para("No attempt records where its code came from (`attempts.code_source`): "
                         "the store predates it."))
        return blocks
    blocks.append(para(
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
            rows.append([short_id(r.run_id), Code(row["source"]) if row["source"] else "not recorded",
                         str(row["finals"]), str(row["wins"]), hidden,
                         *[f"{row['suites'][x][0]} of {row['suites'][x][1]}" if x in row["suites"] else "-"
                           for x in suites],
                         _draft_lines(row["draft_lines"])])
    blocks.append(Block("table", headers=["run", "code source", "final solutions", "won (passed the visible tests)",
                                          f"hidden pass ({runs[0].benchmark})",
                                          *[f"hidden pass on {x}" for x in suites], "drafts accepted at"],
                        rows=rows))
    rows = [[short_id(r.run_id), Code(row["source"]) if row["source"] else "not recorded", str(row["attempts"]),
             pct(row["passed_visible"], row["attempts"])] for r in runs for row in r.attempt_sources]
    blocks.append(para("Every attempt by where its code came from (each problem's attempts up to its "
                     "first visible pass): how often each path passed the visible tests."))
    blocks.append(Block("table", headers=["run", "code source", "attempts", "passed the visible tests"],
                        rows=rows))
    return blocks


def _budget_section(runs: list[RunData], b: Budget | None, fig: str | None) -> list[Block]:
    blocks = [heading(2, "Equal compute: problems solved against compute spent")]
    if b is None:
        blocks.append(para("The runs are of different benchmarks: no equal-compute comparison."))
        return blocks
    bench = b.suites[0]
    if not b.tasks[bench]:
        blocks.append(para("No problem that every run finished and was scored on yet."))
        return blocks
    missing = [budget.UNITS[u].label.replace(" per problem", "") for u in budget.UNITS if u not in b.units]
    blocks.append(para(budget.DEFINITION + " Units: " + "; ".join(
        budget.UNITS[u].label.replace(" per problem", "") for u in b.units) + "." + (
        f" Not measured by every attempt of these runs, so not shown: {', '.join(missing)} (rows "
        f"written before the compute meter, e.g. the committed exports, and attempts copied from "
        f"them, have wall seconds only)." if missing else "")
        + (f" Wall seconds compare runs on one machine only; these runs' models are recorded as "
           f"{' and '.join(sorted({inline_code(r.model) for r in runs}))}." if len({r.model for r in runs}) > 1 else "")))
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
        blocks.append(para("Not every attempt these points need is scored on the hidden tests yet "
                         "(`egcfg evaluate RUN SUITE --all-attempts`)."))
        return blocks
    blocks.append(para(f"On the {len(b.tasks[bench])} problems every run finished (on each suite, those "
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
                                 + budget.paired_text(pr, f"run {short_id(whole.run_id)}", f"run {short_id(cut.run_id)}",
                                                      f"run {short_id(main.run_id)}") + ".")
    blocks += [para(n) for n in notes]
    if fig:
        blocks.append(Block("img", text="problems solved against compute spent", path=fig))
    return blocks


def _flips_section(runs: list[RunData], fig: str | None) -> list[Block]:
    blocks = [heading(2, "How often guidance changed the argmax, by γ")]
    multi = len(runs) > 1
    rows = []
    for r in runs:
        for f in r.flips:
            rows.append([*([short_id(r.run_id)] if multi else []), fmt_num(f["gamma"]),
                         str(f["tokens"]), pct(f["flips"], f["tokens"]).split(" = ")[-1]
                         if f["tokens"] else "n/a", str(f["flips"]),
                         f"{f['lines_flipped']} of {f['lines']}"])
    if not rows:
        blocks.append(para("No guided lines yet (no line decoded with γ > 0 and a non-empty signal), "
                         "so there is no argmax-flip rate."))
        return blocks
    blocks.append(para("Tokens of guided lines only (γ > 0 and a non-empty signal). A flip is a token "
                     "where the combined distribution's argmax differs from the unguided argmax "
                     "(`token_decisions.argmax_changed`)."))
    blocks.append(Block("table", headers=[*(["run"] if multi else []), "γ", "guided tokens",
                                          "flip rate", "flipped tokens", "lines with a flip"],
                        rows=rows))
    if fig:
        blocks.append(Block("img", text="argmax-flip rate by γ", path=fig))
    return blocks


def _time_section(runs: list[RunData], fig: str | None) -> list[Block]:
    blocks = [heading(2, "Wall time per problem by stage")]
    per = {r.run_id: per_problem_stages(r) for r in runs}
    stages: list[str] = []
    for d in per.values():
        stages += [k for k in d if k not in stages]
    if not stages:
        blocks.append(para("No timings yet (no done problem)."))
        return blocks
    rows = []
    for st in stages:
        rows.append([STAGE_LABELS.get(st, st), *[f"{per[r.run_id][st]:.2f}" if st in per[r.run_id]
                                                 else "-" for r in runs]])
    rows.append(["**sum of stages**", *[f"{sum(v for k, v in per[r.run_id].items() if k != 'other_s'):.2f}"
                                        if per[r.run_id] else "-" for r in runs]])
    rows.append(["**problem wall time**", *[f"{r.wall_s_total / r.done:.2f}" if r.done else "-"
                                            for r in runs]])
    blocks.append(para("Mean seconds per done problem. Line stages (sample, execute, prefill, decode) "
                     "are summed over every line of every attempt (`lines.timings`), the visible-test "
                     "run of each finished attempt from `attempts.timings['test_s']`; *other* is the "
                     "problem's wall time not covered by them: the prefill of the prompt head all "
                     "agents share, the hidden-test run, storage and orchestration (and, on a "
                     "session's first problem, the model's warm-up). Agents running concurrently can make the stages sum to more than the wall time."))
    blocks.append(Block("table", headers=["stage (s / problem)", *[f"run {short_id(r.run_id)}"
                                                                   for r in runs]], rows=rows))
    if fig:
        blocks.append(Block("img", text="time per stage", path=fig))
    return blocks


def _fixes_section(runs: list[RunData]) -> list[Block]:
    blocks = [heading(2, "Where the execution signal turned a failing baseline into a passing solution")]
    blocks.append(para("Guided lines (with a signal) of the winning (γ > 0) attempt with at least one "
                     "token whose argmax the guidance changed, in problems where the γ=0 baseline failed the visible tests. "
                     "*hidden* is the final solution's verdict on the hidden tests."))
    for r in runs:
        if len(runs) > 1:
            blocks.append(heading(3, f"run {r.run_id}"))
        if not r.has_baseline:
            blocks.append(para("This run has no γ=0 baseline agent, so there is nothing to compare."))
            continue
        if not is_guided(r):
            blocks.append(para(f"This run has no guided agents ({describe_agents(r.config)}), so "
                             f"there is no execution signal to show."))
            continue
        if not r.fixes:
            blocks.append(para("None: no problem where the baseline failed the visible tests was won "
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
            blocks.append(para(f"{r.fixes_total - len(r.fixes)} more line(s) not shown (the first "
                             f"{len(r.fixes)} are)."))
    return blocks


def regenerate_command(run_id: str, vs: str | Sequence[str] | None, db_paths: Sequence[str | Path],
                       out: Path, fmt: str, figures_dir: Path | None = None, papers: bool = True) -> str:
    parts = ["egcfg", "report", run_id]
    for v in vs_list(vs):
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


def vs_list(vs: str | Sequence[str] | None) -> list[str]:
    return [vs] if isinstance(vs, str) else list(vs or [])


def infer_format(out: Path) -> str:
    return "html" if Path(out).suffix.lower() in (".html", ".htm") else "md"


def build_report(runs: list[RunData], figs: dict[str, str | None], papers: dict | None,
                 command: str, budget_data: Budget | None = None) -> list[Block]:
    main = runs[0]
    title = f"EG-CFG report: run {main.run_id}" + (
        " vs " + ", ".join(r.run_id for r in runs[1:]) if len(runs) > 1 else "")
    blocks = [heading(1, title),
              para(f"Generated from the DuckDB store by `egcfg report` (all figures by SQL over the "
                 f"tables of `storage/schema.sql`). Model {inline_code(main.model)}, benchmark "
                 f"**{main.benchmark}**, {main.done} problem(s) done.")]
    if any(r.benchmark != main.benchmark for r in runs[1:]):
        blocks.append(para(f"Note: the runs are on different benchmarks "
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
    blocks += [heading(2, "Regenerate this report"), Block("code", text=command)]
    return blocks
