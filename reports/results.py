"""Generate docs/RESULTS.md and the README's results block from the COMMITTED results data.

    .venv/bin/python scripts/make_results.py      # on a fresh clone: no store needed (calls main())

Every figure comes by SQL from ``results/<experiment>/`` (compact Parquet written by
``egcfg results export``: runs, done problems, attempts without per-line detail, solutions,
evaluations, suite and attempt evaluations), so the output is the same byte for byte wherever it
is run.  The full stores (per-line, per-token, traces) stay in ``runs/`` and out of git; the
commands under each experiment regenerate them.

Each experiment is (title, folder, how it was made, splits, the configs that make it today); its
runs are told apart by their configs: the EG-CFG run (γ > 0 agents), the greedy-only baseline run,
the matched sampling ablation (greedy + as many unguided samplers as EG-CFG has agents, no signal)
and sampling runs with more samplers (compared at equal compute).  Runs that today's configs no
longer make (an older prompt or parser) are kept, labelled, and give way to today's runs where
both are present.  An experiment without data is listed as "not run yet" with its commands.  docs/results-history.md (hand-written: figures whose data is lost) is
included verbatim at the end.
"""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

from reports import budget
from reports.data import SOURCES, ReportError
from reports.report import write_report
from egcfg_core.attribution import LOOP_SOURCES
from egcfg_core.records import sampler_sql
from reports.stats import CONFIDENCE, bootstrap_interval, interval_text as _interval_text, sign_test
from storage.store import StoreError

ROOT = Path(__file__).resolve().parent.parent  # the repository (the project is installed editable)

RESULTS = "results"  # one folder per experiment, under ROOT
HISTORY = "docs/results-history.md"


def _protocol_how(bench: str, n: int, suite: str) -> list[str]:
    key = f"{bench}{n}"
    return [
        f"# the three runs, one store; each resumes (also on another machine: --resume-from the committed data)",
        *(f"egcfg sweep -c configs/protocol/{key}_{kind}.toml --db runs/{key}.duckdb --resume-from results/{key}"
          for kind in ("greedy", "sampling", "egcfg")),
        f"# the equal-compute sampling run (greedy + 8 samplers; copies the ablation's greedy + 2 samplers)",
        f"egcfg sweep -c configs/protocol/{key}_sampling8.toml --db runs/{key}.duckdb --resume-from results/{key}",
        f"# per run: the final solutions on {suite}; every attempt on {bench} and {suite} (paper protocol)",
        f"egcfg evaluate RUN {suite} --db runs/{key}.duckdb",
        f"egcfg evaluate RUN {bench} --all-attempts --db runs/{key}.duckdb",
        f"egcfg evaluate RUN {suite} --all-attempts --db runs/{key}.duckdb",
        f"# at least once per session: add the finished problems to the committed data",
        f"egcfg results export {key} --db runs/{key}.duckdb && git add results/{key}",
    ]


def _protocol_configs(key: str) -> list[str]:
    return [f"configs/protocol/{key}_{kind}.toml" for kind in ("greedy", "sampling", "egcfg", "sampling8")]


EXPERIMENTS = [
    {
        "key": "mbpp500", "short": "MBPP (test split)",
        "title": "MBPP, the whole test split (Mbpp/11-510): greedy, the matched sampling ablation, EG-CFG",
        "splits": [("dev", "Mbpp/", 11, 110), ("held-out", "Mbpp/", 111, 510)],
        "how": _protocol_how("mbpp", 500, "mbpp-et"),
        "configs": _protocol_configs("mbpp500"),
    },
    {
        "key": "humaneval164", "short": "HumanEval",
        "title": "HumanEval, all 164 tasks: greedy, the matched sampling ablation, EG-CFG",
        "splits": [("dev", "HumanEval/", 0, 49), ("held-out", "HumanEval/", 50, 163)],
        "how": _protocol_how("humaneval", 164, "humaneval-et"),
        "configs": _protocol_configs("humaneval164"),
        "superseded": {  # shown while the runs are not today's configs' (superseded())
            "short": "HumanEval (old prompt)",
            "tag": "made with the old prompt: superseded",
            "note": ("Superseded: these HumanEval runs were made with the old prompt (MBPP's three "
                     "few-shot turns in the 'describe' style, and the task context cut to its imports), "
                     "before HumanEval was asked as instruct models are evaluated (0-shot, the evalplus "
                     "style, the whole task context). Their figures are kept as they are and labelled "
                     "'old prompt'; a run of today's configs, where there is one, is shown instead."),
        },
    },
    {
        "key": "quick-humaneval", "short": "HumanEval/0-2, quick grid (mechanism check)",
        "title": ("The `make run` sweep (configs/quick.toml: HumanEval/0-2, one EG-CFG agent) with its "
                  "greedy baseline and sampling twin, on a 2-core CPU: a check that the results "
                  "mechanism works on real data, far too small to measure anything"),
        "mechanism": True,  # not part of the bottom line
        "configs": [f"configs/{c}.toml" for c in ("quick", "quick_baseline", "quick_sampling")],
        "superseded": {
            "short": "HumanEval/0-2, quick grid (mechanism check, old prompt)",
            "tag": "made with the old prompt",
            "note": ("Made with the old HumanEval prompt (MBPP's few-shot turns, the task context cut to "
                     "its imports); `make run` makes today's prompt's runs."),
        },
        "how": [
            "export EGCFG_THREADS=1   # ~40 s per run on 2 cores",
            *(f"egcfg sweep -c configs/{c}.toml --db runs/quick.duckdb" for c in
              ("quick", "quick_baseline", "quick_sampling")),
            "egcfg evaluate RUN humaneval-et --db runs/quick.duckdb                  # each run",
            "egcfg evaluate RUN humaneval --all-attempts --db runs/quick.duckdb      # each run",
            "egcfg evaluate RUN humaneval-et --all-attempts --db runs/quick.duckdb   # each run",
            "egcfg results export quick-humaneval --db runs/quick.duckdb",
        ],
    },
]


def folder(ex: dict) -> Path:
    return ROOT / RESULTS / ex["key"]


def has_data(ex: dict) -> bool:
    return (folder(ex) / "runs").is_dir()


def open_data(ex: dict):
    from storage.readers import open_stores

    return open_stores([folder(ex)])


def runs_in(ex: dict) -> list[tuple[str, dict]]:
    con = open_data(ex)
    try:
        return [(r[0], json.loads(r[1])) for r in con.execute(
            "SELECT run_id, config::VARCHAR FROM runs ORDER BY created_at, run_id").fetchall()]
    finally:
        con.close()


def _extra_agents(cfg: dict) -> tuple[int, int]:
    """(EG-CFG agents, samplers) of a stored run config, besides the greedy one."""
    def n(key: str) -> int:
        v = cfg.get(key)
        return len(v) if isinstance(v, (list, tuple)) else 1
    guided = len([g for g in cfg.get("gamma") or [] if g]) * n("t") * n("s") * n("d")
    return guided, int(cfg.get("sample_n") or 0) * len(cfg.get("sample_t") or [])


def pick(runs: list[tuple[str, dict]]) -> tuple[str | None, str | None, str | None, list[str]]:
    """(EG-CFG run, greedy-only baseline run, the matched sampling ablation, the other sampling
    runs), told apart by their configs.  The matched ablation has as many samplers as the EG-CFG
    run has agents (else the fewest); the others (more samplers: the equal-compute runs) are
    compared at equal compute only."""
    eg = next((r for r, c in runs if c.get("gamma")), None)
    base = next((r for r, c in runs if not c.get("gamma") and not c.get("sample_n")), None)
    sampling = [(r, c) for r, c in runs if not c.get("gamma") and c.get("sample_n")]
    agents = _extra_agents(dict(runs)[eg])[0] if eg else 0
    ranked = sorted(sampling, key=lambda rc: (_extra_agents(rc[1])[1] != agents, _extra_agents(rc[1])[1]))
    ablation = ranked[0][0] if ranked else None
    more = sorted((r for r, _ in ranked[1:]), key=lambda r: _extra_agents(dict(runs)[r])[1])
    return eg, base, ablation, more


def superseded(ex: dict, runs: list[tuple[str, dict]]) -> dict[str, str]:
    """The experiment's runs that today's configs of it (``ex["configs"]``) no longer make: run ->
    'FIELD: stored -> today's, ...; today's CONFIG' against the nearest of those configs (made with
    an older prompt, parser or settings: kept and labelled, never mixed with today's runs)."""
    from egcfg_core.config import LEGACY_PROMPT_STYLE, load_config

    def full(cfg: dict) -> dict:  # a stored config leaves the legacy prompt style out
        return {"prompt_style": LEGACY_PROMPT_STYLE, **json.loads(json.dumps(cfg))}
    today = [full(load_config(ROOT / c).semantic()) for c in ex.get("configs", [])]
    if not today:
        return {}
    ids = {load_config(ROOT / c).run_id() for c in ex["configs"]}
    out = {}
    for rid, cfg in runs:
        if rid in ids:
            continue
        cfg = full(cfg)
        diffs = [sorted(k for k in set(cfg) | set(t) if cfg.get(k) != t.get(k)) for t in today]
        best = min(range(len(today)), key=lambda i: (len(diffs[i]), i))
        fields = ", ".join(f"{k}: {json.dumps(cfg.get(k))} -> {json.dumps(today[best].get(k))}"
                           for k in diffs[best] if k != "decode")
        out[rid] = f"{fields or 'its decode settings'}; today's {ex['configs'][best]}"
    return out


# ============================================================================= data
def _task_key(task_id: str) -> tuple:
    """HumanEval/9 before HumanEval/10."""
    return tuple(int(x) if x.isdigit() else x for x in re.split(r"(\d+)", task_id))


def _in_split(task_id: str, split: tuple | None) -> bool:
    if split is None:
        return True
    _, prefix, lo, hi = split
    return task_id.startswith(prefix) and task_id[len(prefix):].isdigit() and lo <= int(task_id[len(prefix):]) <= hi


def _split_label(split: tuple | None) -> str:
    if split is None:
        return "all"
    name, prefix, lo, hi = split
    return f"{name} {prefix}{lo}-{hi}"


def compare_runs(found: list[tuple[dict, str, str | None, str | None, list[str]]]) -> list[dict]:
    """Per experiment and split (all problems, then the dev and held-out splits), its runs' pass
    rates on the problems every compared run has finished, on the benchmark and on each suite
    scored afterwards, the discordant problems, the paper-protocol figure, EG-CFG against each
    sampling run at equal compute (reports/budget.py) and where the final solutions came from:
    all by SQL."""
    out = []
    for ex, eg, base, abl, more in found:
        con = open_data(ex)
        try:
            def finished(run):
                return {r[0] for r in con.execute(
                    "SELECT s.task_id FROM solutions s JOIN problems p USING (run_id, task_id) "
                    "WHERE s.run_id = ? AND p.status = 'done'", [run]).fetchall()}

            def solved(run, tasks, suite=None):  # (task ids passed, task ids scored) among ``tasks``
                if suite is None:
                    rows = con.execute("SELECT task_id, passed_hidden FROM solutions WHERE run_id = ? "
                                       "AND passed_hidden IS NOT NULL AND list_contains(?, task_id)",
                                       [run, tasks]).fetchall()
                else:
                    rows = con.execute(
                        "SELECT task_id, bool_and(passed_problem) FROM suite_evaluations WHERE run_id = ? "
                        "AND suite = ? AND list_contains(?, task_id) GROUP BY task_id", [run, suite, tasks]).fetchall()
                return {t for t, ok in rows if ok}, {t for t, _ in rows}

            def any_attempt(run, tasks, suite):  # paper protocol: (tasks any attempt passed, tasks all scored)
                rows = con.execute(
                    "SELECT a.task_id, bool_or(e.passed), count(e.passed) = count(*) FROM attempts a "
                    "LEFT JOIN attempt_evaluations e ON e.run_id = a.run_id AND e.task_id = a.task_id "
                    "AND e.agent_index = a.agent_index AND e.suite = ? WHERE a.run_id = ? "
                    "AND list_contains(?, a.task_id) GROUP BY a.task_id", [suite, run, tasks]).fetchall()
                return {t for t, ok, full in rows if full and ok}, {t for t, _, full in rows if full}

            def cfg_of(run):
                return json.loads(con.execute("SELECT config::VARCHAR FROM runs WHERE run_id = ?", [run]).fetchone()[0])

            def by_source(run, tasks):  # its final solutions by code source: (finals, won, passed hidden,
                # won: without a token chosen under a signal, not known whether)
                return {r[0]: r[1:] for r in con.execute(
                    "SELECT coalesce(a.code_source, ''), count(*), count(*) FILTER (s.is_winner), "
                    "count(*) FILTER (s.passed_hidden), count(*) FILTER (s.is_winner AND a.final_guided_tokens = 0), "
                    "count(*) FILTER (s.is_winner AND a.final_guided_tokens IS NULL) "
                    "FROM solutions s JOIN attempts a ON a.run_id = s.run_id "
                    "AND a.task_id = s.task_id AND a.agent_index = s.agent_index WHERE s.run_id = ? "
                    "AND list_contains(?, s.task_id) GROUP BY 1", [run, tasks]).fetchall()}

            bench = con.execute("SELECT config->>'benchmark' FROM runs WHERE run_id = ?", [eg]).fetchone()[0]
            suites = [r[0] for r in con.execute(
                "SELECT DISTINCT suite FROM suite_evaluations WHERE run_id = ? ORDER BY 1", [eg]).fetchall()]
            keys = [bench, *suites]
            labelled = [("EG-CFG", eg)] + ([("greedy", base)] if base else [])
            groups = [labelled] + ([labelled[:1] + [("sampling", abl)] + labelled[1:]] if abl else [])
            done = {r: finished(r) for r in (eg, base, abl, *more) if r}
            n_samplers = {r: _extra_agents(cfg_of(r))[1] for r in (abl, *more) if r}
            samplings = [(r, "sampling" if r == abl else f"sampling, {k} samplers") for r, k in n_samplers.items()]
            tries = {(r, key): budget.load(con, r, key) for r in (eg, *dict(samplings)) for key in keys}
            models = [r[0] for r in con.execute(
                "SELECT DISTINCT model FROM runs WHERE list_contains(?, run_id) ORDER BY 1", [list(done)]).fetchall()]
            for split in [None, *ex.get("splits", [])]:
                comps = []
                for runs in groups:
                    tasks = sorted(set.intersection(*(done[r] for _, r in runs)), key=_task_key)
                    tasks = [t for t in tasks if _in_split(t, split)]
                    if not tasks:
                        continue
                    got = {label: {key: solved(r, tasks, None if key == bench else key) for key in keys}
                           for label, r in runs}
                    rates = {label: {key: (len(ok), len(sc)) for key, (ok, sc) in by_key.items()}
                             for label, by_key in got.items()}
                    paper = {label: {key: tuple(map(len, any_attempt(r, tasks, key))) for key in keys}
                             for label, r in runs}
                    # per key and other run, among the problems both scored: (solved by EG-CFG
                    # only, solved by the other only, both scored): the paired tests' input
                    discord = {}
                    for key in keys:
                        eg_ok, eg_sc = got["EG-CFG"][key]
                        discord[key] = {label: (sorted((eg_ok - got[label][key][0]) & got[label][key][1], key=_task_key),
                                                sorted((got[label][key][0] - eg_ok) & eg_sc, key=_task_key),
                                                len(eg_sc & got[label][key][1]))
                                        for label, _ in runs[1:] if len(comps) == 0 or label == "sampling"}
                    comps.append({"labels": [label for label, _ in runs], "n": len(tasks), "rates": rates,
                                  "paper": paper, "discord": discord, "tasks": tasks})
                if not comps:
                    continue
                runs_here = [r for r in (eg, base, abl) if r]
                tasks = comps[-1]["tasks"]
                greedy = con.execute(  # the greedy attempt is deterministic: the same code in every run?
                    "SELECT count(*) FILTER (n_codes = 1), count(*) FROM (SELECT task_id, "
                    "count(DISTINCT code) n_codes FROM attempts WHERE list_contains(?, run_id) AND "
                    "agent_name = 'greedy' AND list_contains(?, task_id) GROUP BY task_id)",
                    [runs_here, tasks]).fetchone() if len(runs_here) > 1 and len(comps[-1]["labels"]) == len(runs_here) else None
                cost = None  # mean seconds per EG-CFG attempt and per sampler attempt (same device only)
                if abl and len(models) == 1 and len(comps) > 1:
                    q = ("SELECT avg(timings['wall_s']) FROM attempts WHERE run_id = ? AND {} "
                         "AND outcome <> 'cancelled' AND list_contains(?, task_id)")
                    cost = (con.execute(q.format("gamma > 0"), [eg, tasks]).fetchone()[0],
                            con.execute(q.format(sampler_sql()), [abl, tasks]).fetchone()[0])
                agents = con.execute("SELECT count(DISTINCT agent_index) FROM attempts WHERE run_id = ? "
                                     "AND list_contains(?, task_id)", [eg, comps[0]["tasks"]]).fetchone()[0]
                compute = []  # EG-CFG against each sampling run at equal compute (reports/budget.py)
                for srun, label in samplings:
                    for key in keys:
                        both = [t for t in sorted(done[eg] & done[srun], key=_task_key) if _in_split(t, split)
                                and t in tries[(eg, key)] and t in tries[(srun, key)]]
                        if not both:
                            continue
                        pair = (tries[(eg, key)], tries[(srun, key)])
                        for unit in budget.units_measured(pair, both):
                            curves = [budget.curve(d, both, unit) for d in pair]
                            at_eg, at_s = budget.paired(*pair, both, unit), budget.paired(*pair[::-1], both, unit)
                            if None in curves or at_eg is None or at_s is None:
                                continue  # not every attempt scored on this suite yet
                            compute.append({"label": label, "run": srun, "samplers": n_samplers[srun],
                                            "key": key, "unit": unit, "n": len(both),
                                            "curves": curves, "at_eg": at_eg, "at_s": at_s})
                sources = {"EG-CFG": by_source(eg, comps[0]["tasks"])}
                sources.update({label: by_source(r, comps[-1]["tasks"]) for r, label in samplings[:1]
                                if "sampling" in comps[-1]["labels"]})
                name = (ex.get("superseded", {}).get("short") if ex.get("old") else None) or ex["short"]
                name += "" if split is None else f", {_split_label(split)}"
                primary = not ex.get("mechanism") and (split is None) == (not ex.get("splits")) and (
                    split is None or split[0] == "held-out")
                out.append({"ex": ex, "split": split, "name": name, "primary": primary, "greedy_same": greedy,
                            "models": models, "cost": cost, "bench": bench, "suites": suites, "agents": agents,
                            "comps": comps, "compute": compute, "sources": sources})
        finally:
            con.close()
    return out


# ============================================================================= text
def _rates_text(c: dict, keys: list[str], which: str = "rates") -> str:
    parts = []
    for key in keys:
        got = [c[which][label][key] for label in c["labels"]]
        if all(n for _, n in got):
            parts.append(f"on {key} " + " vs ".join(f"{k}/{n}" for k, n in got))
    return "; ".join(parts)


def _scored(c: dict, label: str, key: str) -> bool:
    return bool(c["rates"][label][key][1] and c["rates"]["EG-CFG"][key][1] and c["discord"][key][label][2])


def _discord_lines(c: dict, keys: list[str]) -> list[str]:
    """Per suite: the problems EG-CFG alone and the other run alone solved, the sign test, and
    the paired bootstrap interval of the difference."""
    def listed(ids: list[str]) -> str:
        return f" ({', '.join(ids)})" if 0 < len(ids) <= 8 else ""
    out = []
    for key in keys:
        for label, (only_eg, only_other, n) in c["discord"][key].items():
            if not _scored(c, label, key):
                continue  # not scored on this suite (yet)
            out.append(f"  - On {key}, EG-CFG vs {label} ({n} problems): solved by EG-CFG only: "
                       f"{len(only_eg)}{listed(only_eg)}; by {label} only: {len(only_other)}"
                       f"{listed(only_other)}; two-sided sign test p = "
                       f"{sign_test(len(only_eg), len(only_other)):.3g}; EG-CFG minus {label}: "
                       f"{_interval_text(len(only_eg), len(only_other), n)}.")
    return out


def _gains(c: dict, key: str) -> tuple[float, float, int] | None:
    """(EG-CFG, sampling) gain over greedy in points on ``key``, where all three were scored, and
    the problems scored on ``key`` (an ET suite lacks a few of the comparison's)."""
    r = {label: c["rates"][label][key] for label in c["labels"]}
    if not {"greedy", "sampling"} <= r.keys() or not all(n for _, n in r.values()):
        return None
    pts = {label: 100 * k / n for label, (k, n) in r.items()}
    return pts["EG-CFG"] - pts["greedy"], pts["sampling"] - pts["greedy"], r["greedy"][1]


def _gains_lines(c: dict, keys: list[str]) -> list[str]:
    """EG-CFG's and sampling's gains over greedy per suite, each suite with the problems it
    scored (HumanEval-ET lacks some tasks), so a point is read against the right denominator."""
    diffs, sizes = [], []
    for key in keys:
        if (g := _gains(c, key)) is not None:
            n = g[2]
            sizes += [n] if n not in sizes else []
            diffs.append(f"on {key}{f' ({n} problems scored)' if n != c['n'] else ''} EG-CFG gains "
                         f"{g[0]:+.1f} points over greedy and sampling {g[1]:+.1f}")
    if not diffs:
        return []
    by_points: dict[str, list[str]] = {}  # sizes whose points round alike share one clause
    for n in sizes:
        by_points.setdefault(f"{100 / n:.1f}", []).append(str(n))
    return ["  - " + "; ".join(diffs) + " (" + "; ".join(
        f"on {' or '.join(ns)} problems one problem is {pts} points" for pts, ns in by_points.items()) + ")."]


def signal_shares(results: list[dict]) -> list[tuple[str, str, int, int, int]]:
    """The execution signal's own share, EG-CFG minus the sampling ablation, per experiment,
    split and suite: (name, key, EG-CFG only, sampling only, problems)."""
    out = []
    for res in results:
        for c in res["comps"][1:]:
            for key in [res["bench"], *res["suites"]]:
                if "sampling" in c["discord"][key] and _scored(c, "sampling", key):
                    a, b, n = c["discord"][key]["sampling"]
                    out.append((res["name"], key, len(a), len(b), n))
    return out


def _recovered(shares: list[tuple[str, float, float]]) -> str:
    """How much of EG-CFG's gain sampling recovers, on the benchmarks' own tests vs the ET suites."""
    def span(rows):
        fr = [samp / eg for _, eg, samp in rows if eg > 0]
        return f"{min(fr):.0%}" + (f" to {max(fr):.0%}" if max(fr) != min(fr) else "") if fr else None
    own = span([r for r in shares if "-et," not in r[0]])
    et = span([r for r in shares if "-et," in r[0]])
    if not (own and et):
        return ""
    return (f" Sampling recovers {own} of EG-CFG's gain over greedy on the benchmarks' own tests and "
            f"{et} on the extended (ET) suites: where the ET share is the lower one, the signal's "
            f"solutions are more often right beyond the asserts the agents could see.")


def _source_lines(res: dict) -> list[str]:
    """Where each run's final solutions came from (attempts.code_source), on the split's problems."""
    if not res.get("sources") or not any(res["sources"].values()):
        return []
    def run(label, rows):
        return f"{label}: " + ", ".join(f"{src or 'not recorded'} {f} ({w} won, {h} passed the hidden tests)"
                                        for src, (f, w, h, *_) in sorted(rows.items(), key=_source_order))
    return ["  - Where the final solutions came from (`attempts.code_source`; *draft*: an unguided "
            "candidate the agent accepted after it passed the visible tests; *guided* / *unguided* / "
            "*loop*: the agent's line loop ran to its end, with a token under a signal / with none / "
            "not known for rows back-filled from an export; the tables in the experiment's report "
            "below): " + "; ".join(run(label, rows) for label, rows in res["sources"].items() if rows) + "."]


def _source_order(item) -> tuple:
    order = list(SOURCES)
    return (order.index(item[0]) if item[0] in order else len(order), item[0])


def _main_compute(res: dict, key: str, where: str) -> dict | None:
    """The equal-compute comparison the verdict and the README read for ``key`` at EG-CFG's
    compute per problem (``where`` = "eg") or at the sampling run's ("s"): the first unit measured,
    among the comparisons with the most problems the one that leaves the fewest problems undecided
    there (the truncated run out of agents), then at "eg" the sampling run whose curve reaches
    furthest (the most samplers), at "s" the one whose curve ends first (the matched ablation)."""
    rows = [c for c in res.get("compute", []) if c["key"] == key]
    if not rows:
        return None
    unit = rows[0]["unit"]
    rows = [c for c in rows if c["unit"] == unit]
    n = max(c["n"] for c in rows)
    sign = -1 if where == "eg" else 1
    return min((c for c in rows if c["n"] == n),
               key=lambda c: (c["at_eg" if where == "eg" else "at_s"].undecided, sign * c["curves"][1][-1].cost))


def _samplers(c: dict, before: str = "", after: str = "") -> str:
    """Which sampling run an equal-compute figure is against, by its samplers: ``before`` "2 samplers"
    ``after``; "" where the comparison does not say."""
    k = c.get("samplers")
    return "" if k is None else f"{before}{k} sampler{'s' * (k != 1)}{after}"


def _compute_rows(results: list[dict]) -> dict[str, list[tuple[dict, str, dict]]]:
    """Per direction ("s", "eg"), the (result, suite, comparison) the bottom line reads (``_main_compute``)."""
    return {where: [(res, key, c) for res in results for key in [res["bench"], *res["suites"]]
                    if (c := _main_compute(res, key, where))] for where in ("s", "eg")}


def _eg_bound(c: dict, where: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """((EG-CFG only, sampling only) with every undecided problem counted in EG-CFG's favour, the
    same against it) at EG-CFG's compute per problem (``where`` = "eg": sampling truncated) or at
    the sampling run's (EG-CFG truncated)."""
    if where == "eg":
        p = c["at_eg"]
        return p.completed(False), p.completed(True)
    p = c["at_s"]
    fav, unfav = p.completed(True), p.completed(False)
    return fav[::-1], unfav[::-1]


def _compute_lines(res: dict) -> list[str]:
    """EG-CFG against each sampling run at equal compute: where the curves end, each read at the
    other's budget, and the paired comparisons at each run's compute per problem."""
    out = []
    for c in res.get("compute", []):
        unit, (eg, samp) = c["unit"], c["curves"]
        what = budget.UNITS[unit].label.replace(" per problem", "")
        s_at = budget.read_at(samp, eg[-1].cost)
        e_at = budget.read_at(eg, samp[-1].cost)

        def point(p):
            return f"{p.solved}/{p.n} with its first {p.k} agent{'s' * (p.k != 1)} ({budget.fmt_cost(p.cost, unit)})"
        out.append(
            f"  - At equal compute ({what}; {c['label']} run {c['run']}), on {c['key']} ({c['n']} problems; the "
            f"definitions are in the experiment's report below): the curves end at "
            f"{budget.fmt_cost(eg[-1].cost, unit)} per problem for EG-CFG ({eg[-1].solved}) and "
            f"{budget.fmt_cost(samp[-1].cost, unit)} for {c['label']} ({samp[-1].solved}), "
            f"{samp[-1].cost / eg[-1].cost:.0%} of EG-CFG's. EG-CFG read at {c['label']}'s budget: "
            + (point(e_at) if e_at else "not read (past its curve)") + f"; {c['label']} read at EG-CFG's: "
            + (point(s_at) if s_at else "not read: its curve ends before it") + ". At EG-CFG's compute per "
            f"problem, {budget.paired_text(c['at_eg'], 'EG-CFG', c['label'], 'EG-CFG')}. At {c['label']}'s "
            f"compute per problem, {budget.paired_text(c['at_s'], c['label'], 'EG-CFG', 'EG-CFG')}.")
    return out


_SOURCE_WORDS = {"draft": "accepted drafts", "guided": "guided code", "unguided": "line-loop code with no "
                 "token under a signal", "loop": "line-loop code (guided or not unknown)", "sampler": "samplers"}


def _win_sources(results: list[dict]) -> dict[str, dict[str, int]]:
    """Per primary result, EG-CFG's visible wins by code source, its greedy attempt's left out."""
    out = {}
    for res in results:
        rows = {src: (w, clean, unknown) for src, (_, w, _, clean, unknown) in sorted(
            res.get("sources", {}).get("EG-CFG", {}).items(), key=_source_order) if src != "greedy" and w}
        if rows:
            out[res["name"]] = rows
    return out


def _guided_before(clean: int, unknown: int) -> str:
    """How many accepted drafts had no token chosen under a signal before them, and how many are
    not known (rows back-filled from an export without lines, accepted after line 1)."""
    return (f" ({clean} of them known to have no token chosen under a signal"
            + (f", {unknown} not known: their earlier lines may have been guided" if unknown else "") + ")")


def _so_sources(wins: dict[str, dict[str, tuple[int, int, int]]]) -> str:
    """'Nearly all of EG-CFG's own wins (D of W) were accepted drafts ...', from the counts."""
    def total(src=None, i=0):
        return sum(v[i] for rows in wins.values() for k, v in rows.items() if src is None or k == src)
    # the line loop's own code, the guided code counted apart
    drafts, guided = total("draft"), total("guided")
    loop = sum(total(src) for src in LOOP_SOURCES if src != "guided")
    if not total():
        return ""
    share = ("Nearly all" if drafts >= 0.9 * total() else "Most" if 2 * drafts > total() else
             "A minority" if drafts else "None")
    return (f" {share} of EG-CFG's own wins ({drafts} of {total()}) were accepted drafts: candidates "
            f"sampled without the signal that passed the visible tests and were kept"
            f"{_guided_before(total('draft', 1), total('draft', 2))}, against {guided} from guided code "
            f"that ran to its end"
            + (f" and {loop} from line-loop code with no or unknown guidance" if loop else "") + ".")


def _compute_verdict(results: list[dict]) -> list[str]:
    """The equal-compute bullet: EG-CFG against a sampling run, each problem given the compute one
    run spent on it, the undecided problems counted in EG-CFG's favour (so each figure bounds
    EG-CFG's lead from above), and where the sampling curve ends.  At each run's compute the
    sampling run is the one that leaves the fewest problems undecided there (``_main_compute``)."""
    rows = _compute_rows(results)
    if not rows["eg"]:
        return []
    units = sorted({c["unit"] for _, _, c in rows["eg"]}, key=list(budget.UNITS).index)
    only = {c["unit"] for res in results for c in res.get("compute", [])} == {"wall_s"}

    def at(c, where):
        (a, b), _ = _eg_bound(c, where)
        und = (c["at_eg"] if where == "eg" else c["at_s"]).undecided
        return (f"{a} to {b}, p = {sign_test(a, b):.2g}, {_interval_text(a, b, c['n'])}"
                + (f", {und} undecided" if und else ""))

    def said(where):
        return "; ".join(f"{res['name']}, {key}" + _samplers(c, " (against ", ")")
                         + f": {at(c, where)}" for res, key, c in rows[where])
    ends = "; ".join(f"{budget.fmt_cost(c['curves'][1][-1].cost, c['unit'])} against EG-CFG's "
                     f"{budget.fmt_cost(c['curves'][0][-1].cost, c['unit'])} "
                     f"({c['curves'][1][-1].cost / c['curves'][0][-1].cost:.0%}, {res['name']}{_samplers(c, ', ')})"
                     for res, key, c in rows["eg"] if key == res["bench"])
    return [
        "- At equal compute (" + ", ".join(budget.UNITS[u].label for u in units)
        + ("; the only unit every attempt of these runs measured" if only else "")
        + "; each problem given the compute one run spent on it, the other run's agents truncated there; "
        "a problem where the truncated run ran out of agents is undecided and counted in EG-CFG's favour, "
        "so each difference is an upper bound on EG-CFG's lead; at each run's compute the sampling run "
        "that leaves the fewest problems undecided): at the sampling run's compute, EG-CFG "
        f"minus sampling is {said('s')}. At EG-CFG's compute: {said('eg')}. The sampling run's curve ends "
        f"at {ends} per problem on average: beyond that it is not in the data and is not extrapolated."]


def _so_compute(results: list[dict]) -> str:
    """What the equal-compute comparisons allow to say, in the bottom line's last sentence."""
    rows = _compute_rows(results)
    if not rows["eg"]:
        return ""

    def sig(c, where, favourable=True):
        (a, b), (ua, ub) = _eg_bound(c, where)
        if not favourable:
            a, b = ua, ub
        return sign_test(a, b) < 0.05, a - b
    behind = rows["s"] and all(s and d < 0 for s, d in (sig(c, "s") for _, _, c in rows["s"]))
    lead = [sig(c, "eg") for _, _, c in rows["eg"]]
    firm = [sig(c, "eg", favourable=False) for _, _, c in rows["eg"]]
    bounds = "; ".join(  # EG-CFG's lead at its own compute, at most (each benchmark's own suite)
        f"{res['name']}: {100 * (a - b) / c['n']:+.1f} [{lo:+.1f}, {hi:+.1f}]"
        + _samplers(c, " against ")
        for res, key, c in rows["eg"] if key == res["bench"]
        for (a, b), _ in [_eg_bound(c, "eg")] for lo, hi in [bootstrap_interval(a, b, c["n"])])
    out = " At equal compute per problem, "
    if behind:
        out += ("at the sampling run's compute sampling solves significantly more than EG-CFG, whose guided "
                "attempts cost several samplers each; ")
    if any(s and d < 0 for s, d in lead):
        out += ("at EG-CFG's own compute sampling solves significantly more than EG-CFG in "
                f"{sum(s and d < 0 for s, d in lead)} of {len(lead)} comparisons even with every problem "
                f"where the sampling run ran out of samplers counted as its failure (EG-CFG minus sampling, "
                f"at most: {bounds}).")
    elif not any(s and d > 0 for s, d in lead):
        out += ("at EG-CFG's own compute no lead of EG-CFG over sampling can be shown, even with every "
                f"problem where the sampling run ran out of samplers counted as its failure (EG-CFG minus "
                f"sampling, at most: {bounds}).")
    elif all(s and d > 0 for s, d in firm):
        out += "at EG-CFG's own compute EG-CFG leads sampling significantly, whatever the undecided problems do."
    else:
        out += ("at EG-CFG's own compute EG-CFG leads sampling only if the sampling run fails the problems "
                "where it ran out of samplers: a sampling run with more samplers decides it.")
    return out


def verdict(results: list[dict]) -> str:
    """The bottom line, decided by the numbers, over the primary comparisons only (the held-out
    split of a protocol experiment; never a mechanism check): does EG-CFG beat greedy, and does
    it beat the sampling ablation (does the execution signal itself add anything measurable)?"""
    results = [r for r in results if r.get("primary", True)]
    out = ["\n**Bottom line**, computed over the held-out splits (MBPP 111-510, HumanEval 50-163): "
           "two-sided sign tests over the problems one run solved and the other did not, p < 0.05 "
           f"counted as significant, with paired {CONFIDENCE:.0%} bootstrap intervals of the differences.\n"]
    if not results:
        out.append("- No protocol run has finished problems of a held-out split yet, so there is no "
                   "bottom line: the experiments below say what has run.")
        return "\n".join(out)
    vs_greedy, vs_sampling = [], []
    for res in results:
        for c in res["comps"]:
            for key in [res["bench"], *res["suites"]]:
                for label, (a, b, n) in c["discord"][key].items():
                    if not _scored(c, label, key):
                        continue
                    (vs_greedy if label == "greedy" else vs_sampling).append(
                        (f"{res['name']}, {key}, {n} problems", len(a), len(b), sign_test(len(a), len(b)), n))

    def said(rows):
        return "; ".join(f"{name}: {a} to {b}, p = {p:.2g}, {_interval_text(a, b, n)}" for name, a, b, p, n in rows)
    sig = [r for r in vs_greedy if r[3] < 0.05 and r[1] > r[2]]
    out.append(f"- EG-CFG beats greedy significantly in {len(sig)} of {len(vs_greedy)} comparisons "
               f"({said(vs_greedy)}).")
    if vs_sampling:
        sig = [r for r in vs_sampling if r[3] < 0.05]
        out.append(
            "- The execution signal's own share (EG-CFG minus the sampling ablation: the same number of "
            "extra attempts, no signal) "
            + (f"is significant in {len(sig)} of {len(vs_sampling)} comparisons" if sig
               else "is significant in no comparison")
            + f" ({said(vs_sampling)}).")
        out += _compute_verdict(results)
        wins = _win_sources(results)
        if wins:
            out.append("- Where EG-CFG's wins beyond its greedy attempt came from (its final solutions that "
                       "passed the visible tests, by `attempts.code_source`): " + "; ".join(
                           f"{name}: " + ", ".join(f"{w} {_SOURCE_WORDS.get(src, src or 'not recorded')}"
                                                   + (_guided_before(*counts) if src == "draft" else "")
                                                   for src, (w, *counts) in rows.items())
                           for name, rows in wins.items()) + ".")
        shares = []  # (name, EG-CFG gain, sampling gain) over greedy, in points, where all 3 ran
        for res in results:
            for c in res["comps"][1:]:
                for key in [res["bench"], *res["suites"]]:
                    if (g := _gains(c, key)) is not None:
                        eg, samp, n = g
                        shares.append((f"{res['name']}, {key}, {n} problems", eg, samp))
        if shares:
            out.append("- Sampling alone recovers " + "; ".join(
                f"{samp:+.1f} of EG-CFG's {eg:+.1f} points over greedy ({name})" for name, eg, samp in shares) + ".")
        costs = [(res["name"], *res["cost"]) for res in results if res.get("cost") and all(res["cost"])]
        if costs:
            out.append("- Cost: an EG-CFG attempt took " + "; ".join(
                f"{eg:.0f} s against {samp:.0f} s for a sampler attempt ({eg / samp:.1f}x, {name})"
                for name, eg, samp in costs) + ", on average on the same machine.")
        if not sig and shares and all(eg > 0 and samp > eg / 2 for _, eg, samp in shares):
            out.append("- So most of EG-CFG's gain over greedy comes from trying several times and "
                       "keeping the first attempt that passes the visible tests; what the execution "
                       "signal adds on top is too small to tell from chance at these sizes."
                       + _so_sources(wins) + _so_compute(results))
        elif sig:
            k = len(vs_sampling)
            strong = [r for r in sig if r[3] < 0.05 / k]
            out.append(
                f"- Where the execution signal beat sampling at p < 0.05 ({'; '.join(r[0] for r in sig)}): "
                f"with {k} tests, at least one such p would come up by chance {1 - 0.95 ** k:.0%} of the "
                f"time if the signal added nothing; "
                + (f"{len(strong)} of them pass the Bonferroni threshold p < {0.05 / k:.3g}, so the signal's "
                   f"own share is established there." if strong else
                   f"none passes the Bonferroni threshold p < {0.05 / k:.3g}. Read it as a lead for a "
                   f"larger run, not as established.")
                + _recovered(shares))
        else:
            out.append("- How the gain splits between extra attempts and the execution signal is not "
                       "settled by these runs.")
    else:
        out.append("- No sampling ablation has finished yet, so the gain over greedy is an upper bound "
                   "on what the execution signal itself adds.")
    return "\n".join(out)


PAPER_PROTOCOL = ("paper protocol, not pass@1: a task counts when ANY attempt's code passes the hidden "
                  "tests (every attempt scored after the run, never used to choose)")

PROTOCOL = """
## Protocol (fixed before the full runs)

- **Tuning only on the dev splits**: MBPP 11-110 (`Mbpp/11`-`Mbpp/110`) and HumanEval 0-49. The
  signal format, the grid, the prompt and the decode defaults are chosen there and nowhere else.
- **Reported on the held-out splits** MBPP 111-510 and HumanEval 50-163 (the bottom line is
  computed on these), and on the full sets (MBPP's 500-task test split, HumanEval's 164), with
  MBPP-ET and HumanEval-ET scored on the same final solutions afterwards (`egcfg evaluate`).
- **Three runs per benchmark**, one command each: greedy (`configs/protocol/mbpp500_greedy.toml`,
  `configs/protocol/humaneval164_greedy.toml`), the matched sampling ablation (greedy + as many unguided
  samplers as EG-CFG has agents, stopped by the same visible tests; `*_sampling.toml`) and EG-CFG
  (`*_egcfg.toml`). The three runs of one comparison use the same engine and the same machine type.
- **The grid** (fixed before any sampling or EG-CFG run of these benchmarks had started): greedy
  first, then 2 EG-CFG agents, t = 0.7 x γ in {0.5, 1} x s = 3 x d = 2, with the decode settings
  chosen on the dev split (signal v2, verified candidates accepted, certain lines skipped); the
  ablation has greedy + 2 samplers at t = 0.7. It replaced the paper-sized 12-agent grid
  (`*_egcfg_12.toml`, `*_sampling_12.toml`, kept for a GPU machine) because on the 2-core CPU
  those cost some 20 core-hours per benchmark; a smaller grid measures the signal's share with
  fewer attempts, so its absolute rates sit below a 12-agent run's.
- **Honest pass@1**: the visible tests guide and stop the agents; the hidden tests only score the
  one final solution. Beside it, labelled as such, the **paper-protocol** figure: a task counts
  when ANY attempt's code passes the hidden tests (how the reference counts); for it every
  attempt is scored on the hidden tests after the run (`egcfg evaluate RUN SUITE --all-attempts`),
  which never chooses anything.
- **Statistics**: paired over problems. Two-sided exact sign tests on the discordant problems, and
  95% paired bootstrap percentile intervals of each difference in pass rate (resampling the
  problems; the bootstrap distribution is computed exactly from the discordant counts, so the
  interval is the same on every machine, with no seed and no Monte-Carlo error). The execution
  signal's own share is EG-CFG minus the sampling ablation, per benchmark, with its interval.
- **Equal compute** (added after these runs; no run was changed for it): problems solved against
  the compute spent (`reports/budget.py`; the definitions are printed with each experiment's
  figure): each run truncated to its first k agents, each run read at the others' budgets without
  extrapolating past its last agent, and the paired comparison per problem at the compute one run
  spent on it, where a problem the truncated run ran out of agents on is *undecided* and reported
  under both completions. A fourth run per benchmark, sampling with 8 samplers
  (`*_sampling8.toml`), extends the sampling curve toward EG-CFG's compute; its first three
  attempts are the ablation's, copied (the same agents and seeds).
- **Data**: every figure here is computed from `results/<experiment>/` (committed Parquet: runs,
  done problems, attempts without per-line detail, solutions, evaluations); `python
  scripts/make_results.py` rebuilds this file and the README block from it byte for byte. The full
  stores (lines, candidates, traces, token decisions) are not committed: the commands under each
  experiment regenerate them in `runs/`. A sweep carried on on another machine resumes from the
  committed data (`--resume-from results/<experiment>`) and skips its finished problems.
"""


def _paper_text(c: dict, keys: list[str]) -> str:
    """Each run's paper-protocol figure per suite, over the problems all of whose attempts were
    scored (``egcfg evaluate RUN SUITE --all-attempts``)."""
    def one(label, key):
        k, n = c["paper"][label][key]
        return f"{label} {k}/{n}" if n else f"{label} not scored yet"
    return "; ".join(f"on {key} " + ", ".join(one(label, key) for label in c["labels"]) for key in keys)


WALL_ONLY = (
    "- The equal-compute figures are in attempt wall seconds, the only compute every attempt of these runs "
    "recorded (model tokens, sandbox executions and CPU seconds come with runs made since the compute "
    "meter, not with attempts copied from earlier runs). The runs shared a 2-core machine with other "
    "sweeps, so an attempt's seconds carry the load of its moment; and a run's curve stops at its last "
    "agent: where the sampling run ran out of samplers before EG-CFG's compute, its figure there is not "
    "in the data.\n")


def reading(results: list[dict]) -> str:
    """The honest reading, with every number pulled from the committed data."""
    lines = ["\n## Reading these numbers honestly\n"]
    if not results:
        lines.append("- No experiment has data yet.")
    for res in results:
        keys = [res["bench"], *res["suites"]]
        pair, *triple = res["comps"]
        where = "" if res["split"] is None else f", {_split_label(res['split'])}"
        both = "all runs" if len(pair["labels"]) > 2 else "both runs"
        tag = f" ({res['ex'].get('superseded', {}).get('tag', 'superseded')})" if res["ex"].get("old") else ""
        lines.append(f"- **{res['ex']['title']}{where}**{tag}: on the {pair['n']} problems {both} finished, "
                     f"{' vs '.join(pair['labels'])}: {_rates_text(pair, keys)} ({res['agents']} "
                     f"agents ran at least once).")
        lines += _discord_lines(pair, keys)
        for c in triple:
            lines.append(f"  - With the sampling ablation (greedy + unguided samplers, the same "
                         f"visible-test stopping, no execution signal), on the {c['n']} problems all "
                         f"three runs finished, {' vs '.join(c['labels'])}: {_rates_text(c, keys)}.")
            lines += _gains_lines(c, keys)
            lines += _discord_lines(c, keys)
        last = res["comps"][-1]
        lines.append(f"  - The {PAPER_PROTOCOL}, on the {last['n']} problems above: {_paper_text(last, keys)}.")
        if res["greedy_same"]:
            same, n = res["greedy_same"]
            lines.append(f"  - Determinism check: the greedy attempt wrote the same code in all "
                         f"{len(res['comps'][-1]['labels'])} runs on {same} of the {n} problems "
                         f"they all finished"
                         + (f" (the runs' models are recorded as {' and '.join(f'`{m}`' for m in res['models'])}: "
                            f"another device's bf16 arithmetic can change a greedy token)."
                            if len(res["models"]) > 1 else "."))
        lines += _source_lines(res)
        lines += _compute_lines(res)
    shares = signal_shares([r for r in results if not r["ex"].get("mechanism")])
    if shares:
        lines.append("\n**The execution signal's own share** (EG-CFG minus the matched sampling ablation, "
                     "pass@1 points, paired bootstrap interval):\n")
        lines += [f"- {name}, {key} ({n} problems): {_interval_text(a, b, n)}" for name, key, a, b, n in shares]
    lines.append(verdict(results))
    lines.append(
        "\nWhat these numbers do and do not show:\n\n"
        "- Model size: Qwen2.5-Coder-0.5B, not the paper's DeepSeek-Coder-1.3B; its greedy baseline is "
        "lower, so absolute rates are not comparable, only the direction and rough size of the gain.\n"
        "- On MBPP the hidden tests are the visible ones, so an agent that passes the visible tests "
        "passes the hidden ones by construction; MBPP-ET is the check that the gain is real code, not "
        "fitting three asserts.\n"
        "- The gain over greedy mixes two things: more attempts (several agents, stopped by the "
        "visible tests) and the guidance itself. The sampling ablation is the control that separates "
        "them: EG-CFG minus sampling is what the execution signal adds; where no ablation is listed, "
        "the gain over greedy is an upper bound on it.\n"
        "- The sign tests count only the problems one run solved and the other did not. Against "
        "greedy they can only confirm the direction: an EG-CFG run's first agent is the same greedy "
        "attempt, so 'greedy only' is near zero by construction. Against the sampling ablation they "
        "are the informative test.\n"
        + WALL_ONLY * ({c["unit"] for res in results for c in res.get("compute", [])} == {"wall_s"}) +
        "- A comparison uses only the problems all of its runs have finished; the per-run report "
        "tables below count each run's own problems. The per-run reports are computed from the "
        "committed data, which has no per-line detail: their line-level sections (time per stage, "
        "argmax flips, fixes) are empty here and come back with `egcfg report` on the full stores.\n")
    return "\n".join(lines)


EQUAL_COMPUTE_NOTE = (
    "*At equal compute*: EG-CFG minus sampling in pass@1 points (paired 95% bootstrap interval), each "
    "problem given the compute (attempt wall seconds) one run spent on it and the other run's agents, in "
    "their order, truncated there; at sampling's: EG-CFG truncated at the sampling run's compute, at "
    "EG-CFG's: the sampling run truncated at EG-CFG's; against the sampling run (\"vs N samplers\") that "
    "leaves the fewest problems undecided there. *Undecided*: problems where the truncated run ran "
    "out of agents with budget left, counted in EG-CFG's favour, so a figure marked ≤ is an upper bound on "
    "EG-CFG's lead (docs/RESULTS.md gives both completions and where each curve ends).")
README_START = "<!-- results:start (written by scripts/make_results.py; do not edit by hand) -->"
README_END = "<!-- results:end -->"


def _minus_sampling(res: dict, c: dict, key: str, *, undecided: bool) -> tuple[str, dict[str, str]]:
    """EG-CFG minus sampling on comparison ``c``, in points with its paired interval: at equal
    attempts, and at equal compute at the sampling run's ("s") and at EG-CFG's ("eg") budget
    ("≤": an upper bound; ``undecided`` adds how many problems made it one)."""
    share = "-"
    if "sampling" in c["discord"][key] and _scored(c, "sampling", key):
        a, b, n = c["discord"][key]["sampling"]
        lo, hi = bootstrap_interval(len(a), len(b), n)
        share = f"{100 * (len(a) - len(b)) / n:+.1f} [{lo:+.1f}, {hi:+.1f}]"
    at = {"s": "-", "eg": "-"}
    for where in at:
        eq = _main_compute(res, key, where) if "sampling" in c["labels"] else None
        if eq is not None:
            (a, b), _ = _eg_bound(eq, where)
            lo, hi = bootstrap_interval(a, b, eq["n"])
            und = eq["at_eg" if where == "eg" else "at_s"].undecided
            at[where] = (("≤ " if und else "") + f"{100 * (a - b) / eq['n']:+.1f} [{lo:+.1f}, {hi:+.1f}]"
                         + _samplers(eq, " vs ")
                         + (f" ({und} of {eq['n']} undecided)" if und and undecided else ""))
    return share, at


def results_table(results: list[dict]) -> list[str]:
    """RESULTS.md's table of every experiment, split and suite, every figure by SQL."""
    from reports.data import PAPERS, pct

    rows = ["| experiment | scored on | problems | greedy (γ = 0) | greedy + samplers, no signal "
            "| EG-CFG | EG-CFG minus sampling (95% interval) | at equal compute: at sampling's "
            "| at equal compute: at EG-CFG's | EG-CFG, paper protocol (any attempt) |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for res in results:
        pair, *triple = res["comps"]
        # every run on the same problems; the ablation, where it has finished fewer, on its own rows
        comps = triple if triple and triple[0]["n"] == pair["n"] else [pair, *triple]
        for c in comps:
            for key in [res["bench"], *res["suites"]]:
                def cell_of(label, which="rates"):
                    if label not in c[which]:
                        return "(rows below)" if triple else "not run"
                    k, n = c[which][label][key]
                    return pct(k, n) if n else "not scored yet"
                cell = {label: cell_of(label) for label in ("greedy", "sampling", "EG-CFG")}
                share, at = _minus_sampling(res, c, key, undecided=True)
                rows.append(f"| {res['name']} | {key} | {c['n']} | {cell['greedy']} | "
                            f"{cell['sampling']} | **{cell['EG-CFG']}** | {share} | {at['s']} | {at['eg']} | "
                            f"{cell_of('EG-CFG', 'paper')} |")
    for key, fig in PAPERS.items():
        rows.append(f"| paper: DeepSeek-Coder-1.3B, full benchmark | {key} | all | {fig['baseline']:.1f}% "
                    f"| - | - | - | - | - | **{fig['egcfg']:.1f}%** |")
    return rows


def _superseded_notes(results: list[dict]) -> list[str]:
    """One note per experiment whose runs a config of today no longer makes."""
    notes, seen = [], set()
    for res in results:
        ex = res["ex"]
        if ex.get("old") and ex["key"] not in seen:
            seen.add(ex["key"])
            name = ex.get("superseded", {}).get("short", ex["short"])
            notes.append(f"*{name}*: {ex.get('superseded', {}).get('note', 'made with an older config than today.')}")
    return notes


def full_table(results: list[dict]) -> str:
    """RESULTS.md's section with the whole table (the README shows its first rows)."""
    return "\n".join(["\n## Every experiment, split and suite in one table\n", *results_table(results), "",
                      "\n\n".join([EQUAL_COMPUTE_NOTE, *_superseded_notes(results)]), ""])


def _wrap(text: str, width: int = 100) -> str:
    return "\n".join(textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False))


def readme_block(results: list[dict]) -> str:
    """The README's short answer to "does it reproduce the paper?": the full benchmarks on their own
    suites (greedy, sampling, EG-CFG, their paired differences) and the bottom line's conclusion;
    the splits, the ET suites and the tests behind each figure are in docs/RESULTS.md."""
    from reports.data import PAPERS, pct

    rows = ["| experiment | problems | greedy | greedy + samplers | EG-CFG | EG-CFG minus sampling "
            "| same, at sampling's compute | same, at EG-CFG's compute |", "|---|---|---|---|---|---|---|---|"]
    for res in results:
        if res["split"] is not None or res["ex"].get("mechanism"):
            continue
        c, key = res["comps"][-1], res["bench"]  # the problems every run finished
        cell = {label: pct(*c["rates"][label][key]) if label in c["rates"] and c["rates"][label][key][1]
                else "-" for label in ("greedy", "sampling", "EG-CFG")}
        share, at = _minus_sampling(res, c, key, undecided=False)
        rows.append(f"| {res['name']} | {c['n']} | {cell['greedy']} | {cell['sampling']} | **{cell['EG-CFG']}** "
                    f"| {share} | {at['s']} | {at['eg']} |")
    for key, fig in PAPERS.items():
        if key.endswith("-et"):
            continue
        rows.append(f"| paper, DeepSeek-Coder-1.3B ({key}, any attempt) | all | {fig['baseline']:.1f}% | - "
                    f"| **{fig['egcfg']:.1f}%** | - | - | - |")
    conclusion = [ln[2:] for ln in verdict(results).splitlines() if ln.startswith("- So ")]
    notes = [_wrap("Differences in pass@1 points with paired 95% bootstrap intervals; ≤: an upper bound (problems "
                   "where the truncated run ran out of agents count for EG-CFG). Every split, the ET suites, "
                   "the paper-protocol figures and the sign tests: [docs/RESULTS.md](docs/RESULTS.md).")]
    notes += [_wrap(n) for n in _superseded_notes([r for r in results if not r["ex"].get("mechanism")])]
    if conclusion:
        text = conclusion[0].removeprefix("So ")
        notes.append(_wrap("**Bottom line** (held-out splits): " + text[0].upper() + text[1:]))
    return "\n".join([README_START, "", *rows, "", "\n\n".join(notes), "", README_END])


def update_readme(block: str) -> None:
    path = ROOT / "README.md"
    text = path.read_text()
    if README_START not in text or README_END not in text:
        raise SystemExit(f"{path}: the results markers are missing ({README_START!r} ... {README_END!r})")
    head, rest = text.split(README_START, 1)
    tail = rest.split(README_END, 1)[1]
    path.write_text(head + block + tail)


def main() -> None:
    out = ROOT / "docs" / "RESULTS.md"
    parts = [
        "# Results: does this implementation reproduce EG-CFG's effect?\n",
        "Generated by `scripts/make_results.py` from the committed results data (`results/`) with "
        "`egcfg report`: no figure in this file is typed by hand, and a fresh clone rebuilds it byte "
        "for byte. Model: the offline default, Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF converted to "
        "bf16). The paper's figures (DeepSeek-Coder-1.3B, full benchmarks) are shown beside ours for "
        "orientation only: other model, other size.\n",
        "Honest evaluation: the visible tests (MBPP's 3 asserts, HumanEval's docstring examples) guide "
        "the agents and stop them; the hidden tests only score the one final solution. On MBPP the "
        "hidden tests *are* the visible ones (the paper's setting too), so MBPP pass@1 rewards passing "
        "what the agents could see; MBPP-ET (the extended tests, scored afterwards by `egcfg "
        "evaluate`) is the figure that says whether the solutions are right beyond the shown asserts.\n",
        PROTOCOL,
    ]
    found = []
    for ex in EXPERIMENTS:
        parts.append(f"\n## {ex['title']}\n")
        eg = base = abl = None
        more: list[str] = []
        if has_data(ex):
            try:
                runs = runs_in(ex)
            except StoreError as e:
                parts.append(f"_results data not readable ({e})._\n")
                continue
            old = superseded(ex, runs)  # today's runs are picked first, where there are both
            eg, base, abl, more = pick([rc for rc in runs if rc[0] not in old] + [rc for rc in runs if rc[0] in old])
            # an older sampling run is not compared at equal compute with today's runs
            more = [r for r in more if r not in old or abl in old]
            shown = [f"{r} ({old[r]})" for r in (eg, base, abl, *more) if r in old]
            if shown:
                ex = {**ex, "old": shown}
                note = ex.get("superseded", {}).get("note", "Made with an older config than today's.")
                parts.append(f"**{note}** The runs shown here that today's configs no longer make: "
                             f"{'; '.join(shown)}.\n")
        parts.append("How it was made (the data: `" + f"{RESULTS}/{ex['key']}/" + "`):\n\n```\n"
                     + "\n".join(ex["how"]) + "\n```\n")
        if not eg:
            parts.append(f"_Not run yet (no EG-CFG run in `{RESULTS}/{ex['key']}/`)._\n")
            continue
        tmp = ROOT / "docs" / f"results-{ex['key']}.md"
        vs = [r for r in (base, abl, *more) if r]
        try:
            write_report([folder(ex)], eg, vs=vs, out=tmp,
                         command=f"egcfg report {eg}" + "".join(f" --vs {r}" for r in vs) +
                         f" --db {RESULTS}/{ex['key']}")
        except (ReportError, StoreError) as e:
            parts.append(f"_report failed: {e}_\n")
            continue
        body = tmp.read_text()
        tmp.unlink()
        found.append((ex, eg, base, abl, more))
        body = re.sub(r"^# .*\n", "", body, count=1)  # our own heading instead
        body = re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", body, flags=re.M)  # one level down
        parts.append(body)
    results = compare_runs(found)
    parts.insert(4, reading(results) + full_table(results))  # after the protocol, before the experiments
    history = ROOT / HISTORY
    if history.exists():
        parts.append("\n" + history.read_text())
    out.write_text("\n".join(parts))
    update_readme(readme_block(results))
    print(f"wrote {out} and the results table of README.md")


if __name__ == "__main__":
    main()
