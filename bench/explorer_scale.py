"""How `egcfg explore` scales: build a synthetic store of N problems (bench/storage_throughput.py's
records: 4 agents, lines with 3 candidates x 3 traced tests and token decisions each) and time the
page build for 50 and for N problems.

    .venv/bin/python bench/explorer_scale.py [--n 500]

Prints, measured in this run: build seconds, index.html size and total size for both store sizes,
and their ratios (index.html should stay small: per-problem data is loaded on click).
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from egcfg_core.records import EvaluationRecord, Problem, SolveRecord, TestCase, TestOutcome
from reports.explorer import write_explorer
from storage import Store, config_hash
from storage_throughput import template_attempts  # the sibling benchmark's synthetic attempts

CONFIG = {"bench": "explorer_scale", "benchmark": "mbpp"}
RUN = config_hash(CONFIG)
TESTS = (TestCase("assert f(1) == 1", "f(1)"), TestCase("assert f(2) == 2", "f(2)"))


def build(path: Path, n: int, decisions: int) -> float:
    """n problems of the same synthetic attempts (about `decisions` token decisions each)."""
    attempts = template_attempts(decisions, random.Random(0))
    t0 = time.perf_counter()
    with Store(path) as s:
        s.ensure_run(RUN, CONFIG, "synthetic", "bench")
        for k in range(n):
            tid = f"Mbpp/{k + 1}"
            rec = SolveRecord(Problem(tid, "mbpp", f"task {k}", "f", TESTS, TESTS), attempts, 0, 0,
                              attempts[0].code, 1.0)
            ev = EvaluationRecord(tid, "mbpp", k % 2 == 0,
                                  [TestOutcome(0, "passed" if k % 2 == 0 else "failed", "", 0.01)])
            s.write_problem(RUN, rec, ev, wall_s=1.0)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--decisions", type=int, default=400, help="token decisions per problem")
    args = ap.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (50, args.n):
            db = Path(tmp) / f"s{n}.duckdb"
            fill_s = build(db, n, args.decisions)
            t0 = time.perf_counter()
            res = write_explorer(db, RUN, out=Path(tmp) / f"e{n}")
            rows[n] = (time.perf_counter() - t0, res["index_bytes"], res["total_bytes"])
            print(f"{n:>4} problems: store filled in {fill_s:.1f} s; page built in {rows[n][0]:.2f} s, "
                  f"index.html {rows[n][1] / 1e3:.0f} kB, all files {rows[n][2] / 1e6:.2f} MB")
    small, big = rows[50], rows[args.n]
    print(f"{args.n}/50 problems: build time x{big[0] / small[0]:.1f}, index.html x{big[1] / small[1]:.1f}, "
          f"total x{big[2] / small[2]:.1f}")


if __name__ == "__main__":
    main()
