"""scripts/make_results.py: RESULTS.md and the README's results table come from the stores (EG-CFG,
greedy baseline and sampling ablation told apart by config), and a missing store is said, not hidden."""
from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest

from storage import Store
from tests.test_report import CONFIG, RUN_A, RUN_S, fill_a, fill_sampler, solve_p1, solve_p2, solve_p3, ev

ROOT = Path(__file__).resolve().parent.parent
RUN_G = "gggg4444eeee"


def load_script():
    spec = importlib.util.spec_from_file_location("make_results", ROOT / "scripts" / "make_results.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A project root with the README markers, an EG-CFG store, a baseline store and an ablation store."""
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
    monkeypatch.setattr(mod, "ROOT", tmp_path)
    monkeypatch.setattr(mod, "EXPERIMENTS", [
        {"key": "toy", "short": "toy MBPP", "title": "A toy experiment", "how": ["egcfg sweep ..."],
         "db": ["runs/eg.duckdb", "runs/base.duckdb"], "optional": ["runs/abl.duckdb"]},
        {"key": "gone", "short": "gone", "title": "Not run", "how": ["egcfg sweep -c gone"],
         "db": ["runs/missing.duckdb"]},
    ])
    return mod, tmp_path


def test_results_and_readme_table_from_the_stores(tree):
    mod, root = tree
    mod.main()
    readme = (root / "README.md").read_text()
    assert readme.startswith("# x\n\nbefore\n") and readme.endswith("after\n") and "stale" not in readme
    rows = [r for r in readme.splitlines() if r.startswith("| toy MBPP")]
    # EG-CFG and greedy on all 3 problems; then all three runs on the 2 the ablation finished
    assert rows == [
        "| toy MBPP | mbpp | 3 | 1/3 = 33.3% | (rows below) | **2/3 = 66.7%** |",
        "| toy MBPP | mbpp | 2 | 1/2 = 50.0% | 1/2 = 50.0% | **2/2 = 100.0%** |",
    ]
    assert "| paper: DeepSeek-Coder-1.3B, full benchmark | mbpp | all | 49.4% | - | **83.2%** |" in readme
    results = (root / "docs" / "RESULTS.md").read_text()
    assert f"egcfg report {RUN_A} --vs {RUN_G} --vs {RUN_S}" in results
    assert ("on mbpp EG-CFG gains +50.0 points over greedy and sampling +0.0, so the execution "
            "signal's own share is +50.0") in results
    assert ("On mbpp, EG-CFG vs greedy (3 problems): solved by EG-CFG only: 1 (Mbpp/2); by greedy "
            "only: 0; two-sided sign test p = 1.") in results
    assert ("On mbpp, EG-CFG vs sampling (2 problems): solved by EG-CFG only: 1 (Mbpp/2); by sampling "
            "only: 0; two-sided sign test p = 1.") in results
    assert "EG-CFG vs greedy (2 problems)" not in results  # said once, on the larger set
    assert "EG-CFG beats greedy significantly in 0 of 1 comparisons (toy MBPP, mbpp, 3 problems: 1 to 0, p = 1)" in results
    assert "no comparison is significant (toy MBPP, mbpp, 2 problems: 1 to 0, p = 1)" in results
    assert "Cost: an EG-CFG attempt took 9 s against 9 s for a sampler attempt (1.0x, toy MBPP)" in results
    assert mod.sign_test(9, 1) == pytest.approx(0.021484375) and mod.sign_test(0, 0) == 1.0
    assert "the greedy attempt wrote the same code in all 3 runs on 1 of the 2 problems" in results
    assert "_Not run yet (missing: runs/missing.duckdb)._" in results
    assert not list((root / "docs").glob("results-*.md"))  # the per-experiment temp reports are gone

    (root / "README.md").write_text("# no markers\n")
    with pytest.raises(SystemExit, match="markers are missing"):
        mod.main()


def _comp(n, rates, discord):
    return {"labels": list(rates), "n": n, "rates": rates, "discord": discord}


def test_verdict_follows_the_numbers():
    mod = load_script()
    ex = {"short": "toy"}
    pair = _comp(40, {"EG-CFG": {"mbpp": (30, 40), "mbpp-et": (25, 40)}, "greedy": {"mbpp": (10, 40), "mbpp-et": (8, 40)}},
                 {"mbpp": {"greedy": (list("a" * 20), [])}, "mbpp-et": {"greedy": (list("b" * 17), [])}})
    rates = {"EG-CFG": {"mbpp": (30, 40), "mbpp-et": (25, 40)}, "sampling": {"mbpp": (28, 40), "mbpp-et": (12, 40)},
             "greedy": {"mbpp": (10, 40), "mbpp-et": (8, 40)}}
    triple = _comp(40, rates, {"mbpp": {"sampling": (["x", "y", "z"], ["w"])},
                               "mbpp-et": {"sampling": ([f"t{i}" for i in range(13)], [])}})
    res = [{"ex": ex, "bench": "mbpp", "suites": ["mbpp-et"], "comps": [pair, triple], "cost": (60.0, 10.0)}]
    text = mod.verdict(res)
    assert "EG-CFG beats greedy significantly in 2 of 2 comparisons" in text
    assert "significant in 1 of 2 comparisons" in text
    assert "1 of them pass the Bonferroni threshold p < 0.025, so the signal's own share is established" in text
    assert "Sampling recovers 90% of EG-CFG's gain over greedy on the benchmarks' own tests and 24% on the extended" in text
    assert "60 s against 10 s for a sampler attempt (6.0x, toy)" in text

    triple["discord"]["mbpp-et"]["sampling"] = (["t1"], [])  # now nothing is significant
    triple["rates"]["sampling"]["mbpp-et"] = (24, 40)
    text = mod.verdict(res)
    assert "no comparison is significant" in text and "most of EG-CFG's gain over greedy comes from" in text
