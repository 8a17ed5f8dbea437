"""How `egcfg explore` scales: build a synthetic store of N problems (3 attempts, guided lines with
candidates, traces and token decisions each) and time the page build for 50 and for N problems.

    .venv/bin/python bench/explorer_scale.py [--n 500]

Prints, measured in this run: build seconds, index.html size and total size for both store sizes,
and their ratios (index.html should stay small: per-problem data is loaded on click).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reports.explorer import write_explorer
from storage import Store
from tests.test_report import CONFIG, RUN_A, ev, solve_p2  # noqa: E402  (the report tests' records)


def build(path: Path, n: int) -> float:
    t0 = time.perf_counter()
    with Store(path) as s:
        s.ensure_run(RUN_A, CONFIG, "toy-model", "bench")
        for k in range(n):
            tid = f"Mbpp/{k + 1}"
            s.write_problem(RUN_A, solve_p2(tid), ev(tid, k % 2 == 0), wall_s=1.0)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500)
    args = ap.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (50, args.n):
            db = Path(tmp) / f"s{n}.duckdb"
            fill_s = build(db, n)
            t0 = time.perf_counter()
            res = write_explorer(db, RUN_A, out=Path(tmp) / f"e{n}")
            rows[n] = (time.perf_counter() - t0, res["index_bytes"], res["total_bytes"])
            print(f"{n:>4} problems: store filled in {fill_s:.1f} s; page built in {rows[n][0]:.2f} s, "
                  f"index.html {rows[n][1] / 1e3:.0f} kB, all files {rows[n][2] / 1e6:.2f} MB")
    small, big = rows[50], rows[args.n]
    print(f"{args.n}/50 problems: build time x{big[0] / small[0]:.1f}, index.html x{big[1] / small[1]:.1f}, "
          f"total x{big[2] / small[2]:.1f}")


if __name__ == "__main__":
    main()
