"""The dev-split table (issues 10 and 29): each configuration against greedy and the matched
sampling ablation, on the benchmark and its ET suite, with paired sign tests (dev split only:
tuning), where each run's wins over greedy came from, and what a problem cost.

Runs are named LABEL=RUN_ID (a unique prefix will do; RUN_ID+RUN_ID+... joins runs of the same
settings over disjoint task selections, e.g. MBPP 11-30 and 31-50); the first one is the reference
each other run is compared with.  Greedy is the greedy attempt (agent 0) of the reference run, scored on the
hidden tests by ``egcfg evaluate RUN SUITE --all-attempts`` (of the run it was copied from, if that
run's data is opened too).  Attempt cost is the mean wall time
per attempt of the guided agents (noisy: the machine is shared; bench/attempt_cost.py measures cost).

Below the table, per run: its wins over greedy (problems greedy fails and the run solves) by where
the final code came from (``attempts.code_source``: an accepted draft, guided code that ran to its
end, a sampler, ...), "guided code solves" = the problems greedy fails that guided code solved,
over greedy's failures (issue 29's goal: >= 10%), "loop code passing visible" = of the EG-CFG attempts
whose own line loop wrote their code to its end (not an accepted draft), those that passed the
visible tests (the old MBPP-500 run: 1 of 540), and per problem: attempt wall seconds and model
tokens (prefill + decoded on both streams + sampled drafts; NULL where not measured).

    .venv/bin/python scripts/dev_table.py --db runs/a.duckdb --db runs/b.duckdb \\
        before=116f all=ea24 v2=... sampling=9d54 [--suite mbpp --suite mbpp-et]
"""
from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import replace
from pathlib import Path

from egcfg_core.attribution import LOOP_SOURCES
from reports import budget
from reports.results import bootstrap_interval, sign_test
from storage.readers import open_stores


def solved(con, run: str, suite: str, benchmark: str) -> dict[str, bool]:
    if suite == benchmark:
        rows = con.execute("SELECT task_id, passed_hidden FROM solutions WHERE run_id = ?", [run]).fetchall()
    else:
        rows = con.execute("SELECT task_id, bool_and(passed_problem) FROM suite_evaluations "
                           "WHERE run_id = ? AND suite = ? GROUP BY task_id", [run, suite]).fetchall()
    return {t: bool(p) for t, p in rows if p is not None}


def greedy(con, run: str, suite: str) -> dict[str, bool]:
    """The greedy attempt's hidden-test result per task: the run's own ``--all-attempts`` score, or,
    for a greedy attempt copied from another run (``attempts.reused_from``), that run's score of it
    when its data is open too (``--db results/humaneval164``)."""
    rows = con.execute(
        "SELECT a.task_id, bool_or(e.passed) FILTER (WHERE e.run_id = a.run_id), any_value(e.passed) "
        "FROM attempts a JOIN attempt_evaluations e ON e.task_id = a.task_id AND e.agent_index = 0 "
        "AND e.suite = ? AND e.run_id IN (a.run_id, a.reused_from) "
        "WHERE a.run_id = ? AND a.agent_index = 0 GROUP BY a.task_id", [suite, run]).fetchall()
    return {t: bool(own if own is not None else other) for t, own, other in rows}


def sources(con, group: tuple[str, ...]) -> dict[str, str]:
    """task -> where its final solution's code came from (``attempts.code_source``)."""
    rows = con.execute("SELECT s.task_id, a.code_source FROM solutions s JOIN attempts a ON a.run_id = s.run_id "
                       "AND a.task_id = s.task_id AND a.agent_index = s.agent_index "
                       "WHERE list_contains(?, s.run_id)", [list(group)]).fetchall()
    return dict(rows)


def loop_code_visible(con, group: tuple[str, ...], tasks: list[str]) -> tuple[int, int]:
    """(passed the visible tests, all) over the EG-CFG attempts on ``tasks`` whose line loop wrote
    their code to its end, not an accepted draft (``attribution.LOOP_SOURCES``: guided, unguided, or
    loop where a back-fill could not tell the two apart): (0, 0) where none did or the run predates
    the column."""
    passed, n = con.execute(
        "SELECT count(*) FILTER (WHERE passed_visible), count(*) FROM attempts WHERE list_contains(?, run_id) "
        "AND list_contains(?, task_id) AND list_contains(?, code_source)",
        [list(group), tasks, list(LOOP_SOURCES)]).fetchone()
    return int(passed or 0), int(n or 0)


def problem_cost(con, group: tuple[str, ...], tasks: list[str]) -> tuple[float | None, float | None]:
    """Mean attempt wall seconds and model tokens per problem over ``tasks`` (all its attempts; the
    units of the equal-compute comparisons, reports/budget.py)."""
    wall, tokens = budget.UNITS["wall_s"].sql, budget.UNITS["tokens"].sql
    return con.execute(
        f"SELECT avg(wall), avg(tokens) FROM (SELECT a.run_id, a.task_id, sum({wall}) AS wall, sum({tokens}) AS tokens "
        "FROM attempts a WHERE list_contains(?, a.run_id) AND list_contains(?, a.task_id) "
        "GROUP BY a.run_id, a.task_id)", [list(group), tasks]).fetchone()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", help="LABEL=RUN_ID[+RUN_ID...] (prefixes); the first is the reference")
    ap.add_argument("--db", action="append", required=True, help="store(s) or results folders")
    ap.add_argument("--suite", action="append", help="default: the benchmark and its -et suite")
    args = ap.parse_args()
    con = open_stores([Path(p) for p in args.db])
    ids = [r for (r,) in con.execute("SELECT run_id FROM runs").fetchall()]
    runs = []
    for item in args.runs:
        label, _, prefixes = item.partition("=")
        group = []
        for prefix in prefixes.split("+"):
            match = [r for r in ids if r.startswith(prefix)]
            if len(match) != 1:
                raise SystemExit(f"{item}: {len(match)} runs match {prefix!r}")
            group.append(match[0])
        runs.append((label, tuple(group)))
    if "greedy" in [label for label, _ in runs]:
        raise SystemExit("'greedy' is the table's own row (the reference run's greedy attempt): give the runs other labels")
    ref_label, ref = runs[0]
    benchmark = con.execute("SELECT any_value(benchmark) FROM problems WHERE run_id = ?", [ref[0]]).fetchone()[0]
    suites = args.suite or [benchmark, f"{benchmark}-et"]
    cost = {group: con.execute("SELECT avg(timings['wall_s']) FROM attempts WHERE gamma > 0 AND list_contains(?, run_id)",
                               [list(group)]).fetchone()[0] for _, group in runs}

    def joined(fn, group, *a):
        out: dict[str, bool] = {}
        for r in group:
            out.update(fn(con, r, *a))
        return out

    for suite in suites:
        cols = [("greedy", joined(greedy, ref, suite))] + [(label, joined(solved, g, suite, benchmark))
                                                            for label, g in runs]
        if not cols[1][1]:  # every row is compared with the reference: nothing to say without it
            print(f"\n{suite}: the reference run {ref_label} is not scored on it yet "
                  f"(egcfg evaluate {ref[0]} {suite})")
            continue
        common = sorted(set.intersection(*(set(c) for _, c in cols if c)))
        print(f"\n{suite}: {len(common)} problems scored by every run\n")
        print(f"| run | pass@1 | vs {ref_label}: only this / only {ref_label} (sign p) | "
              f"difference, 95% interval (points) | s / guided attempt |")
        print("|---|---|---|---|---|")
        base = cols[1][1]
        for (label, res), run in zip(cols, [None] + [r for _, r in runs]):
            if not res:
                print(f"| {label} | not evaluated | | | |")
                continue
            k = sum(res[t] for t in common)
            a = sum(res[t] and not base[t] for t in common)
            b = sum(base[t] and not res[t] for t in common)
            lo, hi = bootstrap_interval(a, b, len(common)) if common else (0.0, 0.0)
            diff = 100 * (a - b) / len(common) if common else 0.0
            c = f"{cost[run]:.0f}" if run in cost and cost[run] is not None else "-"
            vs = "" if label == ref_label else f"{a} / {b} (p = {sign_test(a, b):.2f})"
            iv = "" if label == ref_label else f"{diff:+.1f} [{lo:+.1f}, {hi:+.1f}]"
            print(f"| {label} | {k}/{len(common)} | {vs} | {iv} | {c} |")
        greedy_fails = [t for t in common if not cols[0][1].get(t, False)] if cols[0][1] else []
        print(f"\n{suite}: wins over greedy by source ({len(greedy_fails)} problems greedy fails), cost per problem\n")
        print("| run | wins by source | guided code solves | loop code passing visible | wall s / problem "
              "| tokens / problem |")
        print("|---|---|---|---|---|---|")
        for (label, res), (_, group) in zip(cols[1:], runs):
            if not res:
                continue
            src = sources(con, group)
            wins = [t for t in greedy_fails if res.get(t)]
            by = Counter(src.get(t) or "not recorded" for t in wins)
            guided = sum(src.get(t) == "guided" for t in wins)
            share = f"{guided}/{len(greedy_fails)} = {100 * guided / len(greedy_fails):.0f}%" if greedy_fails else "-"
            wall, tokens = problem_cost(con, group, common)
            ok, ran = loop_code_visible(con, group, common)
            print(f"| {label} | {', '.join(f'{n} {k}' for k, n in sorted(by.items())) or '-'} | {share} | "
                  f"{f'{ok}/{ran}' if ran else '-'} | "
                  f"{'-' if wall is None else f'{wall:.0f}'} | {'-' if tokens is None else f'{tokens:,.0f}'} |")
        equal_attempts(con, runs, suite)


def equal_attempts(con, runs, suite: str) -> None:
    """The reference against each other run at equal attempts per problem, both ways, paired
    (``reports.budget.paired`` with every attempt costing one: the other run makes as many attempts
    on a problem as the reference made there, stopping at a visible pass, and chooses by its own
    rule); needs every attempt scored (``egcfg evaluate RUN SUITE --all-attempts``)."""
    def load(group):
        out = {}
        for r in group:
            out.update({t: [replace(x, cost={**x.cost, "attempts": 1.0}) for x in tries]
                        for t, tries in budget.load(con, r, suite).items()})
        return out
    (ref_label, ref), others = runs[0], runs[1:]
    mine = load(ref)
    lines = []
    for label, group in others:
        theirs = load(group)
        tasks = sorted(set(mine) & set(theirs))
        for whole, cut, whole_label in ((mine, theirs, ref_label), (theirs, mine, label)):
            p = budget.paired(whole, cut, tasks, "attempts")
            if p is None:
                lines.append(f"- {ref_label} against {label}: not every attempt is scored on {suite}")
                break
            lines.append(f"- at the attempts {whole_label} made on each problem: "
                         + budget.paired_text(p, whole_label, label if whole is mine else ref_label, ref_label))
    if lines:
        print(f"\n{suite}: at equal attempts per problem (paired)\n")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
