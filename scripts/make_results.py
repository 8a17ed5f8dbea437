"""Generate docs/RESULTS.md from the stored runs: every figure comes from `egcfg report` / SQL.

    .venv/bin/python scripts/make_results.py            # after the runs below exist in runs/

Each experiment is (title, store files, how it was made); its runs are told apart by their
configs: the EG-CFG run (γ > 0 agents), the greedy-only baseline run and, where it exists, the
sampling ablation (greedy + unguided samplers, no signal).  An experiment whose store or runs are
missing is listed as "not run yet" with its command; a missing ablation store is simply left out.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reports.report import ReportError, write_report  # noqa: E402
from storage.store import StoreError  # noqa: E402

EXPERIMENTS = [
    {
        "key": "mbpp-gpu", "short": "MBPP, Mbpp/11-84, 12-agent grid (EG-CFG on H200, ablation on CPU)",
        "title": ("MBPP, the whole 12-agent grid on a lent H200 GPU (tasks Mbpp/11 onward in order), "
                  "with its sampling ablation run on this CPU"),
        "db": ["runs/mbpp-gpu.duckdb"],
        "run_config": "configs/mbpp_full.toml", "tag": "h200",
        "how": [
            "# on the GPU machine (no Prefect/DuckDB there: the plain core loop, 7 processes, a deadline);",
            "# the default model travels as the carried bundle chunks (.gpu/part-*), MBPP data as .gpu/data",
            "bash scripts/gpu_run.sh configs/mbpp_full.toml 430 7 --gguf-parts '/tmp/gg/part-*'",
            "# back here: store the records as a run, the greedy attempts as its baseline run, then MBPP-ET",
            "egcfg ingest runs/gpu-h200-1 -c configs/mbpp_full.toml --tag h200 --db runs/mbpp-gpu.duckdb",
            "egcfg ingest runs/gpu-h200-1 -c configs/mbpp_full.toml --tag h200 --db runs/mbpp-gpu.duckdb --baseline-only",
            "egcfg evaluate <run> mbpp-et --db runs/mbpp-gpu.duckdb   # for both runs",
            "# the sampling ablation (greedy + 12 unguided samplers), on this CPU, same task order:",
            "egcfg sweep -c configs/mbpp_sampling_ablation.toml --db runs/mbpp-sampling-ablation.duckdb",
            "egcfg evaluate <run> mbpp-et --db runs/mbpp-sampling-ablation.duckdb",
        ],
        "optional": ["runs/mbpp-sampling-ablation.duckdb"],
    },
    {
        "key": "mbpp-cpu", "short": "MBPP, Mbpp/11-40, CPU, 3-agent grid",
        "title": "MBPP on this 2-core CPU through the Prefect pipeline: Mbpp/11-40, a 3-agent grid",
        "db": ["runs/mbpp-cpu.duckdb", "runs/mbpp-baseline.duckdb"],
        "how": [
            "egcfg sweep -c configs/mbpp_cpu.toml --db runs/mbpp-cpu.duckdb            # resumable",
            "egcfg sweep -c configs/mbpp_baseline.toml --db runs/mbpp-baseline.duckdb  # γ = 0 only",
            "egcfg sweep -c configs/mbpp_cpu_sampling.toml --db runs/mbpp-cpu-sampling.duckdb  # the ablation",
            "egcfg evaluate <run> mbpp-et --db <store>   # for all three runs",
        ],
        "optional": ["runs/mbpp-cpu-sampling.duckdb"],
    },
    {
        "key": "humaneval-cpu", "short": "HumanEval/0-29, CPU, 3-agent grid",
        "title": "HumanEval on this 2-core CPU through the Prefect pipeline: HumanEval/0-29, a 3-agent grid",
        "db": ["runs/humaneval-cpu.duckdb", "runs/humaneval-baseline.duckdb"],
        "how": [
            "egcfg sweep -c configs/humaneval_cpu.toml --db runs/humaneval-cpu.duckdb            # resumable",
            "egcfg sweep -c configs/humaneval_baseline.toml --db runs/humaneval-baseline.duckdb  # γ = 0 only",
            "egcfg sweep -c configs/humaneval_cpu_sampling.toml --db runs/humaneval-cpu-sampling.duckdb  # the ablation",
            "egcfg evaluate <run> humaneval-et --db <store>   # for all three runs",
        ],
        "optional": ["runs/humaneval-cpu-sampling.duckdb"],
    },
]


def runs_in(db_paths: list[str]) -> list[tuple[str, dict]]:
    import json

    from reports.report import open_stores

    con = open_stores([str(ROOT / p) for p in db_paths])
    try:
        return [(r[0], json.loads(r[1])) for r in con.execute(
            "SELECT run_id, config::VARCHAR FROM runs ORDER BY created_at").fetchall()]
    finally:
        con.close()


def pick(runs: list[tuple[str, dict]]) -> tuple[str | None, str | None, str | None]:
    """(EG-CFG run, greedy-only baseline run, sampling-ablation run), told apart by their configs."""
    eg = next((r for r, c in runs if c.get("gamma")), None)
    base = next((r for r, c in runs if not c.get("gamma") and not c.get("sample_n")), None)
    ablation = next((r for r, c in runs if not c.get("gamma") and c.get("sample_n")), None)
    return eg, base, ablation


def dbs(ex: dict) -> list[str]:
    """The experiment's stores: the required ones, plus the optional ones that exist."""
    return ex["db"] + [p for p in ex.get("optional", []) if (ROOT / p).exists()]


def compare_runs(found: list[tuple[dict, str, str | None, str | None]]) -> list[dict]:
    """Per experiment, its runs' pass rates on the problems every compared run has finished, on the
    benchmark and on each suite scored afterwards (``egcfg evaluate``): all by SQL."""
    from reports.report import open_stores

    out = []
    for ex, eg, base, abl in found:
        con = open_stores([str(ROOT / p) for p in dbs(ex)])
        try:
            def common(runs):  # the problems every one of these runs has finished
                q = " INTERSECT ".join("SELECT task_id FROM solutions WHERE run_id = ?" for _ in runs)
                return [r[0] for r in con.execute(q, list(runs)).fetchall()]

            def solved(run, tasks, suite=None):  # (task ids passed, task ids scored) among ``tasks``
                if suite is None:
                    rows = con.execute("SELECT task_id, passed_hidden FROM solutions WHERE run_id = ? "
                                       "AND list_contains(?, task_id)", [run, tasks]).fetchall()
                else:
                    rows = con.execute(
                        "SELECT task_id, bool_and(passed_problem) FROM suite_evaluations WHERE run_id = ? "
                        "AND suite = ? AND list_contains(?, task_id) GROUP BY task_id", [run, suite, tasks]).fetchall()
                return {t for t, ok in rows if ok}, {t for t, _ in rows}

            bench = con.execute("SELECT config->>'benchmark' FROM runs WHERE run_id = ?", [eg]).fetchone()[0]
            agents = con.execute("SELECT count(DISTINCT agent_index) FROM attempts WHERE run_id = ?",
                                 [eg]).fetchone()[0]
            suites = [r[0] for r in con.execute(
                "SELECT DISTINCT suite FROM suite_evaluations WHERE run_id = ? ORDER BY 1", [eg]).fetchall()]
            comps = []
            labelled = [("EG-CFG", eg)] + ([("greedy", base)] if base else [])
            for runs in ([labelled] + ([labelled[:1] + [("sampling", abl)] + labelled[1:]] if abl else [])):
                tasks = common([r for _, r in runs])
                got = {label: {key: solved(r, tasks, None if key == bench else key) for key in [bench, *suites]}
                       for label, r in runs}
                rates = {label: {key: (len(ok), len(sc)) for key, (ok, sc) in by_key.items()}
                         for label, by_key in got.items()}
                # per key and other run, among the problems both had scored: (solved by EG-CFG
                # only, solved by the other only): the sign test's discordant problems
                discord = {}
                for key in [bench, *suites]:
                    eg_ok, eg_sc = got["EG-CFG"][key]
                    discord[key] = {label: (sorted((eg_ok - got[label][key][0]) & got[label][key][1]),
                                            sorted((got[label][key][0] - eg_ok) & eg_sc))
                                    for label, _ in runs[1:] if len(comps) == 0 or label == "sampling"}
                comps.append({"labels": [label for label, _ in runs], "n": len(tasks), "rates": rates,
                              "discord": discord})
            runs_here = [r for r in (eg, base, abl) if r]
            tasks = common(runs_here)
            greedy = con.execute(  # the greedy attempt is deterministic: the same code in every run?
                "SELECT count(*) FILTER (n_codes = 1), count(*) FROM (SELECT task_id, "
                "count(DISTINCT code) n_codes FROM attempts WHERE list_contains(?, run_id) AND "
                "agent_name = 'greedy' AND list_contains(?, task_id) GROUP BY task_id)",
                [runs_here, tasks]).fetchone() if len(runs_here) > 1 else None
            models = [r[0] for r in con.execute(
                "SELECT DISTINCT model FROM runs WHERE list_contains(?, run_id) ORDER BY 1",
                [runs_here]).fetchall()]
            cost = None  # mean seconds per EG-CFG attempt and per sampler attempt (same device only)
            if abl and len(models) == 1:
                q = ("SELECT avg(timings['wall_s']) FROM attempts WHERE run_id = ? AND {} "
                     "AND outcome <> 'cancelled'")
                cost = (con.execute(q.format("gamma > 0"), [eg]).fetchone()[0],
                        con.execute(q.format("gamma = 0 AND t > 0"), [abl]).fetchone()[0])
            out.append({"ex": ex, "greedy_same": greedy, "models": models, "cost": cost, "bench": bench, "suites": suites, "agents": agents, "comps": comps})
        finally:
            con.close()
    return out


def sign_test(a: int, b: int) -> float:
    """Two-sided exact sign test of a vs b discordant problems (H0: each equally likely)."""
    from math import comb

    n, k = a + b, min(a, b)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(comb(n, i) for i in range(k + 1)) / 2 ** n)


def _rates_text(c: dict, keys: list[str]) -> str:
    parts = []
    for key in keys:
        got = [c["rates"][label][key] for label in c["labels"]]
        if all(n for _, n in got):
            parts.append(f"on {key} " + " vs ".join(f"{k}/{n}" for k, n in got))
    return "; ".join(parts)


def _task_key(task_id: str) -> tuple:
    """HumanEval/9 before HumanEval/10."""
    return tuple(int(x) if x.isdigit() else x for x in re.split(r"(\d+)", task_id))


def _discord_lines(c: dict, keys: list[str]) -> list[str]:
    """Per suite: the problems EG-CFG alone and the other run alone solved, and the sign test."""
    def listed(ids: list[str]) -> str:
        return f" ({', '.join(sorted(ids, key=_task_key))})" if 0 < len(ids) <= 8 else ""
    out = []
    for key in keys:
        for label, (only_eg, only_other) in c["discord"][key].items():
            if c["rates"][label][key][1] == 0 or c["rates"]["EG-CFG"][key][1] == 0:
                continue  # not scored on this suite (yet)
            out.append(f"  - On {key}, EG-CFG vs {label} ({c['n']} problems): solved by EG-CFG only: "
                       f"{len(only_eg)}{listed(only_eg)}; by {label} only: {len(only_other)}"
                       f"{listed(only_other)}; two-sided sign test p = "
                       f"{sign_test(len(only_eg), len(only_other)):.3g}.")
    return out


def _gains(c: dict, key: str) -> tuple[float, float] | None:
    """(EG-CFG, sampling) gain over greedy in points on ``key``, where all three were scored."""
    r = {label: c["rates"][label][key] for label in c["labels"]}
    if not {"greedy", "sampling"} <= r.keys() or not all(n for _, n in r.values()):
        return None
    pts = {label: 100 * k / n for label, (k, n) in r.items()}
    return pts["EG-CFG"] - pts["greedy"], pts["sampling"] - pts["greedy"]


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


def verdict(results: list[dict]) -> str:
    """The bottom line, decided by the numbers: does EG-CFG beat greedy, and does it beat the
    sampling ablation (i.e. does the execution signal itself add anything measurable)?"""
    vs_greedy, vs_sampling = [], []
    for res in results:
        for i, c in enumerate(res["comps"]):
            for key in [res["bench"], *res["suites"]]:
                for label, (a, b) in c["discord"][key].items():
                    if not (c["rates"][label][key][1] and c["rates"]["EG-CFG"][key][1]):
                        continue
                    (vs_greedy if label == "greedy" else vs_sampling).append(
                        (f"{res['ex']['short']}, {key}, {c['n']} problems", len(a), len(b), sign_test(len(a), len(b))))

    def said(rows):
        return "; ".join(f"{name}: {a} to {b}, p = {p:.2g}" for name, a, b, p in rows)
    out = ["\n**Bottom line**, computed: two-sided sign tests over the problems one run solved and the "
           "other did not (listed in `docs/RESULTS.md`), p < 0.05 counted as significant.\n"]
    sig = [r for r in vs_greedy if r[3] < 0.05 and r[1] > r[2]]
    out.append(f"- EG-CFG beats greedy significantly in {len(sig)} of {len(vs_greedy)} comparisons "
               f"({said(vs_greedy)}).")
    if vs_sampling:
        sig = [r for r in vs_sampling if r[3] < 0.05]
        out.append(
            "- Against the sampling ablation (the same number of extra attempts, no execution signal) "
            + (f"the difference is significant in {len(sig)} of {len(vs_sampling)} comparisons"
               if sig else "no comparison is significant")
            + f" ({said(vs_sampling)}).")
        shares = []  # (name, EG-CFG gain, sampling gain) over greedy, in points, where all 3 ran
        for res in results:
            for c in res["comps"][1:]:
                for key in [res["bench"], *res["suites"]]:
                    if (g := _gains(c, key)) is not None:
                        shares.append((f"{res['ex']['short']}, {key}, {c['n']} problems", *g))
        if shares:
            out.append("- Sampling alone recovers " + "; ".join(
                f"{samp:+.1f} of EG-CFG's {eg:+.1f} points over greedy ({name})" for name, eg, samp in shares) + ".")
        costs = [(res["ex"]["short"], *res["cost"]) for res in results if res.get("cost") and all(res["cost"])]
        if costs:
            out.append("- Cost: an EG-CFG attempt took " + "; ".join(
                f"{eg:.0f} s against {samp:.0f} s for a sampler attempt ({eg / samp:.1f}x, {name})"
                for name, eg, samp in costs) + ", on average on the same machine.")
        if not sig and shares and all(eg > 0 and samp > eg / 2 for _, eg, samp in shares):
            out.append("- So on these subsets most of EG-CFG's gain over greedy comes from trying several "
                       "times and keeping the first attempt that passes the visible tests; what the "
                       "execution signal adds on top is too small to tell from chance at these sizes.")
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


def reading(results: list[dict]) -> str:
    """The honest reading, with every number pulled from the stores."""
    lines = ["\n## Reading these numbers honestly\n"]
    for res in results:
        keys = [res["bench"], *res["suites"]]
        pair, *triple = res["comps"]
        lines.append(f"- **{res['ex']['title']}**: on the {pair['n']} problems both runs finished, "
                     f"{' vs '.join(pair['labels'])}: {_rates_text(pair, keys)} ({res['agents']} "
                     f"agents ran at least once).")
        lines += _discord_lines(pair, keys)
        for c in triple:
            lines.append(f"  - With the sampling ablation (greedy + unguided samplers, the same "
                         f"visible-test stopping, no execution signal), on the {c['n']} problems all "
                         f"three runs finished, {' vs '.join(c['labels'])}: {_rates_text(c, keys)}.")
            diffs = []
            for key in keys:
                if (g := _gains(c, key)) is not None:
                    eg, samp = g
                    diffs.append(f"on {key} EG-CFG gains {eg:+.1f} points over greedy and sampling "
                                 f"{samp:+.1f}, so the execution signal's own share is {eg - samp:+.1f}")
            if diffs:
                lines.append("  - " + "; ".join(diffs) + f" (on {c['n']} problems one problem is "
                             f"{100 / c['n']:.1f} points).")
            lines += _discord_lines(c, keys)
        if res["greedy_same"]:
            same, n = res["greedy_same"]
            lines.append(f"  - Determinism check: the greedy attempt wrote the same code in all "
                         f"{len(res['comps'][-1]['labels'])} runs on {same} of the {n} problems "
                         f"they all finished"
                         + (f" (the runs' models are recorded as {' and '.join(f'`{m}`' for m in res['models'])}: "
                            f"another device's bf16 arithmetic can change a greedy token)."
                            if len(res["models"]) > 1 else "."))
    lines.append(verdict(results))
    lines.append(
        "\nWhat these numbers do and do not show:\n\n"
        "- Subset size: each experiment covers a fixed prefix or range of the benchmark's own order, "
        "chosen before any result, and far fewer problems than the paper's full benchmarks; one problem "
        "moves a 74-problem rate by 1.4 points. A run cut off by a session's end resumes in the next one; "
        "each comparison above uses only the problems all of its runs have finished, while the per-run "
        "report tables below count each run's own problems.\n"
        "- Model size: Qwen2.5-Coder-0.5B, not the paper's DeepSeek-Coder-1.3B; its greedy baseline is "
        "lower, so absolute rates are not comparable, only the direction and rough size of the gain.\n"
        "- On MBPP the hidden tests are the visible ones, so an agent that passes the visible tests "
        "passes the hidden ones by construction; MBPP-ET is the check that the gain is real code, not "
        "fitting three asserts.\n"
        "- The gain over greedy mixes two things: more attempts (several agents, stopped by the "
        "visible tests) and the guidance itself. The sampling ablation (greedy + as many unguided "
        "samplers as there are EG-CFG agents, `configs/mbpp_cpu_sampling.toml` and "
        "`configs/mbpp_sampling_ablation.toml`) is the control that separates them: EG-CFG minus "
        "sampling is what the execution signal adds; where no ablation is listed, the gain over "
        "greedy is an upper bound on it.\n"
        "- The sign tests count only the problems one run solved and the other did not. Against "
        "greedy they can only confirm the direction: an EG-CFG run's first agent is the same greedy "
        "attempt, so 'greedy only' is near zero by construction. Against the sampling ablation they "
        "are the informative test, and at these sizes they need many discordant problems to reach "
        "p < 0.05 (at least 6 to 0, or 8 to 1).\n"
        "- Devices: the 12-agent-grid EG-CFG run and its greedy baseline ran on the H200, its sampling "
        "ablation on this CPU. bf16 arithmetic differs between them, so the greedy code already differs "
        "on some problems (the determinism line), and part of any EG-CFG-vs-sampling difference in that "
        "experiment can be device noise; the CPU experiments compare runs of one machine.\n"
        "- The grid was not tuned on hidden tests: it is the issue's example grid (GPU) and a 3-agent "
        "slice of it (CPU), fixed before the runs.\n"
        "- What would most raise the pass rate: a stronger model first. The guided agents of the 0.5B "
        "model pass the visible tests on only a few percent to a fifth of the problems they run on "
        "(the agent tables), so the execution signal has little good code to choose between; the "
        "paper's effect needs candidates that are often nearly right. Then: spend the agent budget on "
        "γ <= 1 (γ = 3 agents almost never win here) and on more candidates per line (s), and give "
        "HumanEval better visible tests (25 of 164 tasks have no parseable docstring example, so "
        "their agents get no execution signal at all). The ablation says that, with this model, "
        "more attempts are the cheap part of the gain; whether the signal pays for its cost (the "
        "bottom line above) needs a larger run than these subsets.\n")
    return "\n".join(lines)


README_START = "<!-- results:start (written by scripts/make_results.py; do not edit by hand) -->"
README_END = "<!-- results:end -->"


def readme_block(results: list[dict]) -> str:
    """The README's answer to "does it reproduce the paper?": one table, every figure by SQL."""
    from reports.report import PAPERS, pct

    rows = ["| experiment | scored on | problems | greedy (γ = 0) | greedy + samplers, no signal "
            "| EG-CFG |", "|---|---|---|---|---|---|"]
    for res in results:
        pair, *triple = res["comps"]
        # every run on the same problems; the ablation, where it has finished fewer, on its own rows
        comps = triple if triple and triple[0]["n"] == pair["n"] else [pair, *triple]
        for c in comps:
            for key in [res["bench"], *res["suites"]]:
                def cell_of(label):
                    if label not in c["rates"]:
                        return "(rows below)" if triple else "not run"
                    k, n = c["rates"][label][key]
                    return pct(k, n) if n else "not scored yet"
                cell = {label: cell_of(label) for label in ("greedy", "sampling", "EG-CFG")}
                rows.append(f"| {res['ex']['short']} | {key} | {c['n']} | {cell['greedy']} | "
                            f"{cell['sampling']} | **{cell['EG-CFG']}** |")
    for key, fig in PAPERS.items():
        rows.append(f"| paper: DeepSeek-Coder-1.3B, full benchmark | {key} | all | {fig['baseline']:.1f}% "
                    f"| - | **{fig['egcfg']:.1f}%** |")
    return "\n".join([README_START, "", *rows, verdict(results), "", README_END])


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
        "Generated by `scripts/make_results.py` from the DuckDB stores with `egcfg report`: no figure "
        "in this file is typed by hand. Model: the offline default, Qwen2.5-Coder-0.5B-Instruct "
        "(Q4_K_M GGUF converted to bf16). The paper's figures (DeepSeek-Coder-1.3B, full benchmarks) "
        "are shown beside ours for orientation only: other model, other size, other task count.\n",
        "Honest evaluation: the visible tests (MBPP's 3 asserts) guide the agents and stop them; the "
        "hidden tests only score the one final solution. On MBPP the hidden tests *are* the visible "
        "ones (the paper's setting too), so MBPP pass@1 rewards passing what the agents could see; "
        "MBPP-ET (the extended tests, scored afterwards by `egcfg evaluate`) is the figure that says "
        "whether the solutions are right beyond the shown asserts.\n",
    ]
    found = []
    for ex in EXPERIMENTS:
        parts.append(f"\n## {ex['title']}\n")
        missing = [p for p in ex["db"] if not (ROOT / p).exists()]
        eg = base = abl = None
        if not missing:
            try:
                eg, base, abl = pick(runs_in(dbs(ex)))
            except StoreError as e:
                parts.append(f"_store not readable now ({e}); rerun this script when the sweep has finished._\n")
                continue
        parts.append("How it was made:\n\n```\n" + "\n".join(ex["how"]) + "\n```\n")
        if missing or not eg:
            parts.append(f"_Not run yet (missing: {', '.join(missing) or 'an EG-CFG run'})._\n")
            continue
        tmp = ROOT / "docs" / f"results-{ex['key']}.md"
        vs = [r for r in (base, abl) if r]
        try:
            write_report([str(ROOT / p) for p in dbs(ex)], eg, vs=vs, out=tmp,
                         command=f"egcfg report {eg}" + "".join(f" --vs {r}" for r in vs) +
                         "".join(f" --db {p}" for p in dbs(ex)))
        except (ReportError, StoreError) as e:
            parts.append(f"_report failed: {e}_\n")
            continue
        body = tmp.read_text()
        tmp.unlink()
        found.append((ex, eg, base, abl))
        body = re.sub(r"^# .*\n", "", body, count=1)  # our own heading instead
        body = re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", body, flags=re.M)  # one level down
        parts.append(body)
    results = compare_runs(found)
    parts.insert(3, reading(results))  # after the preface, before the experiments
    out.write_text("\n".join(parts))
    update_readme(readme_block(results))
    print(f"wrote {out} and the results table of README.md")


if __name__ == "__main__":
    main()
