"""reports/results.py (scripts/make_results.py): RESULTS.md and the README's results block come from the committed
results data (results/<experiment>/), byte for byte; the runs are told apart by config; the dev
and held-out splits, the paper-protocol figure and the paired statistics are computed, and an
experiment without data is said, not hidden."""
from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from egcfg_core.records import EvaluationRecord, TestOutcome as Outcome
from storage import Store
from storage.export import export_results
from tests.test_report import CONFIG, RUN_A, RUN_S, ev, fill_a, fill_sampler, solve_p1, solve_p2, solve_p3

ROOT = Path(__file__).resolve().parent.parent
RUN_G = "gggg4444eeee"


def load_script():
    import reports.results

    return reports.results


def test_committed_results_md_regenerates_byte_for_byte(tmp_path, monkeypatch):
    """What a fresh clone does: only results/, configs/ (which runs today's configs make: the
    superseded note), the history file and README.md are needed."""
    mod = load_script()
    assert (ROOT / "results").is_dir(), "no committed results data"
    shutil.copytree(ROOT / "results", tmp_path / "results")
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / mod.HISTORY, tmp_path / mod.HISTORY)
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    monkeypatch.setattr(mod, "ROOT", tmp_path)
    mod.main()
    assert (tmp_path / "docs" / "RESULTS.md").read_text() == (ROOT / "docs" / "RESULTS.md").read_text(), (
        "docs/RESULTS.md is not what scripts/make_results.py makes from results/: rerun it and commit")
    assert (tmp_path / "README.md").read_text() == (ROOT / "README.md").read_text(), (
        "the README's results block is stale: rerun scripts/make_results.py and commit")
    shown = set(re.findall(r"\]\((results-[^)]+\.png)\)", (ROOT / "docs" / "RESULTS.md").read_text()))
    assert shown == {p.name for p in (tmp_path / "docs").glob("*.png")}
    assert all((ROOT / "docs" / name).is_file() for name in shown)  # the figures it shows are committed
    # the lost earlier figures are there only as the labelled hand-written history
    text = (ROOT / "docs" / "RESULTS.md").read_text()
    assert "Earlier results, data lost" in text and text.index("## Reading these numbers honestly") < text.index(
        "Earlier results, data lost")


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A project root with the README markers and results/toy exported from an EG-CFG store, a
    baseline store and an ablation store (with every attempt of two runs scored)."""
    mod = load_script()
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(f"# x\n\nbefore\n{mod.README_START}\nstale\n{mod.README_END}\nafter\n")
    runs = tmp_path / "runs"
    runs.mkdir()
    with Store(runs / "eg.duckdb") as s:
        fill_a(s)  # greedy + γ agents: Mbpp/1 (greedy wins), Mbpp/2 (γ=3 wins), Mbpp/3 (none)
    with Store(runs / "base.duckdb") as s:
        s.ensure_run(RUN_G, {**CONFIG, "gamma": []}, "toy-model", "deadbeef")
        for rec, ok in ((solve_p1(), True), (solve_p2(), False), (solve_p3(), False)):
            first = rec.attempts[0]
            if rec.problem.task_id == "Mbpp/2":  # a greedy attempt that differs from the other runs'
                first = replace(first, code=first.code + "# other\n")
            greedy_only = replace(rec, attempts=[first], winner=rec.winner if rec.winner == 0 else None,
                                  final_index=0, solution=first.code)
            s.write_problem(RUN_G, greedy_only, ev(rec.problem.task_id, ok), wall_s=1.0)
    with Store(runs / "abl.duckdb") as s:
        fill_sampler(s)  # Mbpp/1 and Mbpp/2 only; its Mbpp/2 final fails the hidden tests

    def score(db, run, passed):  # every attempt on the hidden tests (paper protocol)
        with Store(db) as s:
            for tid, agents in passed.items():
                s.write_attempt_evaluations(run, "mbpp", tid, [(i, EvaluationRecord(
                    tid, "mbpp", ok, [Outcome(0, "passed" if ok else "failed", "", 0.01)])) for i, ok in enumerate(agents)])
    # Mbpp/3: no final solution passes, but EG-CFG's γ=1 attempt would have: counted only by the paper protocol
    score(runs / "eg.duckdb", RUN_A, {"Mbpp/1": [True], "Mbpp/2": [False, False, True], "Mbpp/3": [False, True, False]})
    score(runs / "abl.duckdb", RUN_S, {"Mbpp/1": [True], "Mbpp/2": [False, True]})
    for name in ("eg", "base", "abl"):
        with Store(runs / f"{name}.duckdb", read_only=True) as s, s._use() as con:
            export_results(con, tmp_path / "results" / "toy")
    shutil.rmtree(runs)  # the stores are not needed any more
    monkeypatch.setattr(mod, "ROOT", tmp_path)
    monkeypatch.setattr(mod, "EXPERIMENTS", [
        {"key": "toy", "short": "toy MBPP", "title": "A toy experiment", "how": ["egcfg sweep ..."],
         "splits": [("dev", "Mbpp/", 1, 1), ("held-out", "Mbpp/", 2, 3)]},
        {"key": "gone", "short": "gone", "title": "Not run", "how": ["egcfg sweep -c gone"]},
    ])
    return mod, tmp_path


def test_results_and_readme_table_from_the_committed_data(tree):
    mod, root = tree
    mod.main()
    readme = (root / "README.md").read_text()
    assert readme.startswith("# x\n\nbefore\n") and readme.endswith("after\n") and "stale" not in readme
    results = (root / "docs" / "RESULTS.md").read_text()
    rows = [r for r in results.splitlines() if r.startswith("| toy MBPP")]
    # all problems: EG-CFG and greedy on all 3, then all three runs on the 2 the ablation finished;
    # then the dev split (Mbpp/1) and the held-out split (Mbpp/2-3)
    # the equal-compute columns (every toy attempt took 9 s): at EG-CFG's compute (27 s on Mbpp/2)
    # the sampling run's winning sampler fits and fails the hidden tests; at the sampling run's
    # (18 s) EG-CFG affords greedy + its γ=1 agent, both failing: no difference
    assert rows == [
        "| toy MBPP | mbpp | 3 | 1/3 = 33.3% | (rows below) | **2/3 = 66.7%** | - | - | - | 3/3 = 100.0% |",
        "| toy MBPP | mbpp | 2 | 1/2 = 50.0% | 1/2 = 50.0% | **2/2 = 100.0%** | +50.0 [+0.0, +100.0] "
        "| +0.0 [+0.0, +0.0] vs 2 samplers | +50.0 [+0.0, +100.0] vs 2 samplers | 2/2 = 100.0% |",
        "| toy MBPP, dev Mbpp/1-1 | mbpp | 1 | 1/1 = 100.0% | 1/1 = 100.0% | **1/1 = 100.0%** | +0.0 [+0.0, +0.0] "
        "| +0.0 [+0.0, +0.0] vs 2 samplers | +0.0 [+0.0, +0.0] vs 2 samplers | 1/1 = 100.0% |",
        "| toy MBPP, held-out Mbpp/2-3 | mbpp | 2 | 0/2 = 0.0% | (rows below) | **1/2 = 50.0%** | - | - | - | 2/2 = 100.0% |",
        "| toy MBPP, held-out Mbpp/2-3 | mbpp | 1 | 0/1 = 0.0% | 0/1 = 0.0% | **1/1 = 100.0%** | +100.0 [+100.0, +100.0] "
        "| +0.0 [+0.0, +0.0] vs 2 samplers | +100.0 [+100.0, +100.0] vs 2 samplers | 1/1 = 100.0% |",
    ]
    # the paper's EG-CFG figure counts any of its attempts: it sits in the paper-protocol column
    assert "| paper: DeepSeek-Coder-1.3B, full benchmark | mbpp | all | 49.4% | - | - | - | - | - | **83.2%** |" in results
    # the README: the full set only, on the problems every run finished, on the benchmark's own suite
    assert [r for r in readme.splitlines() if r.startswith("|")] == [
        "| experiment | problems | greedy | greedy + samplers | EG-CFG | EG-CFG minus sampling "
        "| same, at sampling's compute | same, at EG-CFG's compute |", "|---|---|---|---|---|---|---|---|",
        "| toy MBPP | 2 | 1/2 = 50.0% | 1/2 = 50.0% | **2/2 = 100.0%** | +50.0 [+0.0, +100.0] "
        "| +0.0 [+0.0, +0.0] vs 2 samplers | +50.0 [+0.0, +100.0] vs 2 samplers |",
        "| paper, DeepSeek-Coder-1.3B (mbpp, any attempt) | all | 49.4% | - | **83.2%** | - | - | - |"]
    assert max(len(ln) for ln in readme.splitlines()) <= 200
    assert f"egcfg report {RUN_A} --vs {RUN_G} --vs {RUN_S} --db results/toy" in results
    assert "## Protocol (fixed before the full runs)" in results
    assert ("On mbpp, EG-CFG vs greedy (3 problems): solved by EG-CFG only: 1 (Mbpp/2); by greedy only: 0; "
            "two-sided sign test p = 1; EG-CFG minus greedy: +33.3 points, 95% bootstrap interval "
            "[+0.0, +100.0].") in results
    assert ("On mbpp, EG-CFG vs sampling (2 problems): solved by EG-CFG only: 1 (Mbpp/2); by sampling "
            "only: 0; two-sided sign test p = 1; EG-CFG minus sampling: +50.0 points") in results
    # EG-CFG vs greedy said once per split (all, dev, held-out), on that split's larger set
    assert re.findall(r"On mbpp, EG-CFG vs greedy \((\d) problems\)", results) == ["3", "1", "2"]
    assert ("on the 2 problems above: on mbpp EG-CFG 2/2, sampling 2/2, greedy not scored yet.") in results
    assert "- toy MBPP, held-out Mbpp/2-3, mbpp (1 problems): +100.0 points, 95% bootstrap interval [+100.0, +100.0]" in results
    # the bottom line: the held-out split only
    line = next(ln for ln in results.splitlines() if ln.startswith("- EG-CFG beats greedy"))
    assert line == ("- EG-CFG beats greedy significantly in 0 of 1 comparisons (toy MBPP, held-out Mbpp/2-3, mbpp, "
                    "2 problems: 1 to 0, p = 1, +50.0 points, 95% bootstrap interval [+0.0, +100.0]).")
    assert "the greedy attempt wrote the same code in all 3 runs on 1 of the 2 problems" in results
    assert "_Not run yet (no EG-CFG run in `results/gone/`)._" in results
    assert not list((root / "docs").glob("results-*.md"))  # the per-experiment temp reports are gone
    first = results
    mod.main()
    assert (root / "docs" / "RESULTS.md").read_text() == first  # reproducible

    (root / "README.md").write_text("# no markers\n")
    with pytest.raises(SystemExit, match="markers are missing"):
        mod.main()


def test_a_mechanism_check_is_not_a_bottom_line(tree, monkeypatch):
    mod, root = tree
    monkeypatch.setattr(mod, "EXPERIMENTS", [{"key": "toy", "short": "toy", "title": "toy", "how": [],
                                              "mechanism": True}])
    mod.main()
    results = (root / "docs" / "RESULTS.md").read_text()
    assert "No protocol run has finished problems of a held-out split yet" in results
    assert "EG-CFG beats greedy" not in results and "The execution signal's own share**" not in results


@pytest.mark.parametrize("a,b,n", [(5, 1, 30), (8, 1, 74), (22, 0, 74), (40, 31, 400), (0, 3, 12)])
def test_bootstrap_interval_is_the_paired_bootstrap_without_its_sampling_error(a, b, n):
    mod = load_script()
    lo, hi = mod.bootstrap_interval(a, b, n)
    # the seeded resampling it replaces: problems drawn with replacement, 20000 times
    d = np.array([1] * a + [-1] * b + [0] * (n - a - b))
    sums = d[np.random.default_rng(0).integers(0, n, size=(20000, n))].sum(axis=1)
    mc = np.quantile(sums, [0.025, 0.975], method="inverted_cdf") * 100 / n
    step = 100 / n  # one problem
    assert abs(lo - mc[0]) <= step + 1e-9 and abs(hi - mc[1]) <= step + 1e-9, (lo, hi, mc)
    assert lo <= 100 * (a - b) / n <= hi
    assert mod.bootstrap_interval(b, a, n) == (-hi, -lo)  # symmetric
    assert mod.bootstrap_interval(a, b, n) == (lo, hi)  # no seed, no drift


def test_bootstrap_interval_edges():
    mod = load_script()
    assert mod.bootstrap_interval(0, 0, 10) == (0.0, 0.0)
    assert mod.bootstrap_interval(10, 0, 10) == (100.0, 100.0)
    for bad in ((1, 1, 0), (6, 5, 10), (-1, 0, 3)):
        with pytest.raises(ValueError):
            mod.bootstrap_interval(*bad)
    assert mod.sign_test(9, 1) == pytest.approx(0.021484375) and mod.sign_test(0, 0) == 1.0


def _comp(n, rates, discord):
    return {"labels": list(rates), "n": n, "rates": rates, "discord": discord}


def test_verdict_follows_the_numbers():
    mod = load_script()
    ex = {"short": "toy"}
    pair = _comp(40, {"EG-CFG": {"mbpp": (30, 40), "mbpp-et": (25, 40)}, "greedy": {"mbpp": (10, 40), "mbpp-et": (8, 40)}},
                 {"mbpp": {"greedy": (list("a" * 20), [], 40)}, "mbpp-et": {"greedy": (list("b" * 17), [], 40)}})
    rates = {"EG-CFG": {"mbpp": (30, 40), "mbpp-et": (25, 40)}, "sampling": {"mbpp": (28, 40), "mbpp-et": (12, 40)},
             "greedy": {"mbpp": (10, 40), "mbpp-et": (8, 40)}}
    triple = _comp(40, rates, {"mbpp": {"sampling": (["x", "y", "z"], ["w"], 40)},
                               "mbpp-et": {"sampling": ([f"t{i}" for i in range(13)], [], 40)}})
    res = [{"ex": ex, "name": "toy", "primary": True, "bench": "mbpp", "suites": ["mbpp-et"],
            "comps": [pair, triple], "cost": (60.0, 10.0)},
           {"ex": ex, "name": "dev", "primary": False, "bench": "mbpp", "suites": [], "comps": [pair]}]
    text = mod.verdict(res)
    assert "EG-CFG beats greedy significantly in 2 of 2 comparisons" in text  # the dev split is not counted
    assert "is significant in 1 of 2 comparisons" in text
    assert "toy, mbpp-et, 40 problems: 13 to 0, p = 0.00024, +32.5 points, 95% bootstrap interval [+17.5, +47.5]" in text
    assert "1 of them pass the Bonferroni threshold p < 0.025, so the signal's own share is established" in text
    assert "Sampling recovers 90% of EG-CFG's gain over greedy on the benchmarks' own tests and 24% on the extended" in text
    assert "60 s against 10 s for a sampler attempt (6.0x, toy)" in text

    triple["discord"]["mbpp-et"]["sampling"] = (["t1"], [], 40)  # now nothing is significant
    triple["rates"]["sampling"]["mbpp-et"] = (24, 40)
    text = mod.verdict(res)
    assert "is significant in no comparison" in text and "most of EG-CFG's gain over greedy comes from" in text

    # a suite that lacks some tasks (HumanEval-ET has 158 of 164) is named with its own count
    for label in rates:
        rates[label]["mbpp-et"] = (rates[label]["mbpp-et"][0], 38)
    text = mod.verdict(res)
    assert "over greedy (toy, mbpp-et, 38 problems)" in text and "over greedy (toy, mbpp, 40 problems)" in text


def test_gains_line_reads_each_suite_against_its_own_problem_count():
    mod = load_script()
    rates = {"EG-CFG": {"mbpp": (30, 40), "mbpp-et": (25, 38)}, "sampling": {"mbpp": (28, 40), "mbpp-et": (12, 38)},
             "greedy": {"mbpp": (10, 40), "mbpp-et": (8, 38)}}
    [line] = mod._gains_lines(_comp(40, rates, {}), ["mbpp", "mbpp-et"])
    assert "on mbpp EG-CFG gains +50.0 points over greedy and sampling +45.0" in line
    assert "on mbpp-et (38 problems scored) EG-CFG gains +44.7 points over greedy and sampling +10.5" in line
    assert line.endswith("(on 40 problems one problem is 2.5 points; on 38 problems one problem is 2.6 points).")
    for label in rates:  # 39 rounds to the 40's 2.6 points: one clause for both
        rates[label]["mbpp"] = (rates[label]["mbpp"][0], 39)
    [line] = mod._gains_lines(_comp(40, rates, {}), ["mbpp", "mbpp-et"])
    assert line.endswith("(on 39 or 38 problems one problem is 2.6 points).")
    assert "on mbpp (39 problems scored)" in line
    for label in rates:  # every suite complete: one denominator, no per-suite count
        rates[label]["mbpp"] = (rates[label]["mbpp"][0], 40)
        rates[label]["mbpp-et"] = (rates[label]["mbpp-et"][0], 40)
    [line] = mod._gains_lines(_comp(40, rates, {}), ["mbpp", "mbpp-et"])
    assert "scored)" not in line and line.endswith("(on 40 problems one problem is 2.5 points).")


def test_the_matched_ablation_and_the_equal_compute_sampling_runs_are_told_apart():
    """The matched ablation has as many samplers as EG-CFG has agents; a run with more samplers
    (configs/*_sampling8.toml) is compared at equal compute only, whatever the order."""
    mod = load_script()
    eg = ("e", {"gamma": [0.5, 1.0], "t": [0.7], "s": [3], "d": [2]})
    base = ("g", {"gamma": []})
    two = ("s2", {"gamma": [], "sample_t": [0.7], "sample_n": 2})
    eight = ("s8", {"gamma": [], "sample_t": [0.7], "sample_n": 8})
    assert mod.pick([eight, eg, two, base]) == ("e", "g", "s2", ["s8"])
    assert mod.pick([eg, eight]) == ("e", None, "s8", [])  # the only sampling run is the ablation
    assert mod.pick([base]) == (None, "g", None, [])


def test_superseded_runs_are_labelled_with_what_changed():
    """The first committed HumanEval runs were made with the old prompt: today's configs make other
    run ids, and the note names the fields; MBPP's runs are today's configs' own.  Once today's
    three runs are there, RESULTS.md and the README show them and not the old ones."""
    mod = load_script()
    by_key = {ex["key"]: ex for ex in mod.EXPERIMENTS}
    assert mod.superseded(by_key["mbpp500"], mod.runs_in(by_key["mbpp500"])) == {}
    old = mod.superseded(by_key["humaneval164"], mod.runs_in(by_key["humaneval164"]))
    assert sorted(old) == ["1176e2a872ae", "3db8a203f4d7", "bd4fb20f2baa"]
    assert old["3db8a203f4d7"] == ('fewshot: true -> false, problems_parser: 2 -> 3, prompt_style: "describe" -> '
                                   '"evalplus"; today\'s configs/protocol/humaneval164_egcfg.toml')
    runs = dict(mod.runs_in(by_key["humaneval164"]))
    today = [r for r in runs if r not in old]
    assert mod.pick([(r, runs[r]) for r in today])[:3] == ("f08cebbfba6b", "0b4544dab24f", "5cd848d7678b")
    text = (ROOT / "docs" / "RESULTS.md").read_text()
    assert "these HumanEval runs were made with the old prompt" not in text and "HumanEval (old prompt)" not in text
    assert "| HumanEval, held-out HumanEval/50-163 | humaneval | 114 |" in text
    assert not any(r in text for r in old) and all(r in text for r in today)
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "| HumanEval | 164 | 87/164 = 53.0% | 100/164 = 61.0% | **102/164 = 62.2%** |" in readme
    assert "old prompt" not in readme


def test_equal_compute_and_win_sources_in_the_bottom_line():
    """The bottom line reads the equal-compute comparisons (undecided problems in EG-CFG's favour:
    an upper bound on its lead) and where EG-CFG's wins came from."""
    from reports.budget import Paired, Point

    mod = load_script()
    rates = {"EG-CFG": {"mbpp": (30, 40)}, "sampling": {"mbpp": (28, 40)}, "greedy": {"mbpp": (10, 40)}}
    pair = _comp(40, {k: v for k, v in rates.items() if k != "sampling"}, {"mbpp": {"greedy": (list("a" * 20), [], 40)}})
    triple = _comp(40, rates, {"mbpp": {"sampling": (["x", "y", "z"], ["w"], 40)}})
    ids = [f"t{i}" for i in range(40)]
    compute = {"label": "sampling", "run": "s2", "key": "mbpp", "unit": "wall_s", "n": 40,
               "curves": [[Point(1, 8.0, 10, 40), Point(3, 60.0, 30, 40, 10)],
                          [Point(1, 8.0, 10, 40), Point(3, 20.0, 28, 40, 12)]],
               # at EG-CFG's compute: 2 to 3 decided, 12 undecided of which EG-CFG solved 4
               "at_eg": Paired(ids[:2], ids[2:5], ids[5:9], ids[9:17], 40),
               # at the sampling run's: sampling whole 12 to EG-CFG 1, nothing undecided
               "at_s": Paired(ids[:12], ids[12:13], [], [], 40)}
    res = [{"ex": {"short": "toy"}, "name": "toy", "primary": True, "bench": "mbpp", "suites": [],
            "comps": [pair, triple], "cost": (60.0, 10.0), "compute": [compute],
            "sources": {"EG-CFG": {"greedy": (20, 10, 10, 0, 0), "draft": (19, 19, 18, 12, 7),
                                   "loop": (1, 1, 1, 0, 0)}}}]
    text = mod.verdict(res)
    assert ("at the sampling run's compute, EG-CFG minus sampling is toy, mbpp: 1 to 12, p = 0.0034, "
            "-27.5 points") in text
    assert "At EG-CFG's compute: toy, mbpp: 6 to 3, p = 0.51, +7.5 points" in text and ", 12 undecided" in text
    assert "The sampling run's curve ends at 20.0 s against EG-CFG's 60.0 s (33%, toy) per problem" in text
    assert "toy: 19 accepted drafts (12 of them known to have no token chosen under a signal, 7 not known" in text
    assert "Nearly all of EG-CFG's own wins (19 of 20) were accepted drafts" in text
    assert "at the sampling run's compute sampling solves significantly more than EG-CFG" in text
    assert "at EG-CFG's own compute no lead of EG-CFG over sampling can be shown" in text
    # a lead that holds only if sampling fails where it ran out of samplers is said to be undecided
    compute["at_eg"] = Paired(ids[:2], [], ids[2:20], ids[20:30], 40)
    text = mod.verdict(res)
    assert "EG-CFG leads sampling only if the sampling run fails the problems where it ran out of samplers" in text
    compute["at_eg"] = Paired(ids[:20], [], [], ids[20:22], 40)  # and whatever they do
    assert "EG-CFG leads sampling significantly, whatever the undecided problems do" in mod.verdict(res)


def test_equal_compute_reads_the_sampling_run_that_leaves_the_fewest_problems_undecided():
    """With a matched ablation (2 samplers: its curve ends before EG-CFG's, so at EG-CFG's compute
    most problems are undecided) and an equal-compute run (8 samplers: at its compute EG-CFG runs
    out of agents), each direction reads the run that decides most there, and says which."""
    from reports.budget import Paired, Point

    mod = load_script()
    ids = [f"t{i}" for i in range(40)]
    curves = lambda end: [[Point(1, 8.0, 10, 40), Point(3, 60.0, 30, 40)], [Point(1, 8.0, 10, 40), Point(3, end, 28, 40)]]
    ablation = {"label": "sampling", "run": "s2", "samplers": 2, "key": "mbpp", "unit": "wall_s", "n": 40,
                "curves": curves(20.0),
                "at_eg": Paired(ids[:2], ids[2:3], ids[3:9], ids[9:30], 40),  # 27 undecided
                "at_s": Paired(ids[:12], ids[12:13], [], [], 40)}  # sampling whole 12 to 1, decided
    more = {"label": "sampling, 8 samplers", "run": "s8", "samplers": 8, "key": "mbpp", "unit": "wall_s", "n": 40,
            "curves": curves(58.0),
            "at_eg": Paired(ids[:1], ids[1:13], [], ids[13:14], 40),  # EG-CFG 1 to 12, 1 undecided
            "at_s": Paired(ids[:3], ids[3:5], ids[5:6], ids[6:26], 40)}  # 20 undecided
    res = {"ex": {"short": "toy"}, "name": "toy", "primary": True, "bench": "mbpp", "suites": [],
           "compute": [ablation, more]}
    assert mod._main_compute(res, "mbpp", "s") is ablation and mod._main_compute(res, "mbpp", "eg") is more
    c = _comp(40, {"EG-CFG": {"mbpp": (30, 40)}, "sampling": {"mbpp": (28, 40)}, "greedy": {"mbpp": (10, 40)}},
              {"mbpp": {"sampling": (["x"], ["w"], 40)}})
    _, at = mod._minus_sampling(res, c, "mbpp", undecided=True)
    assert at["s"] == "-27.5 [-42.5, -12.5] vs 2 samplers"
    assert at["eg"] == "≤ -27.5 [-42.5, -12.5] vs 8 samplers (1 of 40 undecided)"
    text = mod._so_compute([res])
    assert "at the sampling run's compute sampling solves significantly more than EG-CFG" in text
    assert ("at EG-CFG's own compute sampling solves significantly more than EG-CFG in 1 of 1 comparisons even "
            "with every problem where the sampling run ran out of samplers counted as its failure (EG-CFG minus "
            "sampling, at most: toy: -27.5 [-42.5, -12.5] against 8 samplers)") in text
    bullet = "".join(mod._compute_verdict([res]))
    assert "toy, mbpp (against 2 samplers): 1 to 12" in bullet and "toy, mbpp (against 8 samplers): 1 to 12" in bullet
    assert "curve ends at 58.0 s against EG-CFG's 60.0 s (97%, toy, 8 samplers)" in bullet


def test_egcfg_results_build_is_the_script(monkeypatch):
    """`egcfg results build` runs what scripts/make_results.py runs."""
    from typer.testing import CliRunner

    import reports.results as results_mod
    from egcfg_cli.main import app

    calls = []
    monkeypatch.setattr(results_mod, "main", lambda: calls.append("built"))
    res = CliRunner().invoke(app, ["results", "build"])
    assert res.exit_code == 0, res.output
    assert calls == ["built"]
    script = (ROOT / "scripts" / "make_results.py").read_text()
    assert "from reports.results import main" in script
