"""Storage throughput: token decisions written per second, and an analysis query's latency.

    .venv/bin/python bench/storage_throughput.py [--decisions 1000000] [--per-problem 2000]

Writes synthetic problems (4 agents; per line 3 candidates x 3 visible tests, 5 tokens with
top-5 lists under three distributions) through ``Store.write_problem`` (one transaction per
problem, Arrow inserts), then times a typical query over all decisions.  Goals: >= 1e5
decisions/s written, < 1 s per query.  Uses a temporary directory unless --keep is given.
"""
from __future__ import annotations

import argparse
import math
import random
import tempfile
import time
from pathlib import Path


from egcfg_core.records import (
    AgentConfig, AttemptRecord, CandidateRecord, ExecutionRecord, LineRecord, Problem,
    SolveRecord, TestCase, TestOutcome, TokenDecision,
)
from storage import Store, config_hash

GAMMAS = (0.0, 0.5, 1.0, 3.0)
TOKENS_PER_LINE, TOPK, S, TESTS = 12, 5, 3, 3

FLIP_QUERY = """
SELECT gamma, count(*) AS tokens, avg(argmax_changed::INTEGER) AS flip_rate,
       avg(logp_guided - logp_uncond) AS mean_logp_gap
FROM token_decisions GROUP BY gamma ORDER BY gamma
"""
SIGNAL_QUERY = """
SELECT l.signal_text, count(*) AS flips
FROM token_decisions t JOIN lines l USING (run_id, task_id, agent_index, line_index)
WHERE t.argmax_changed GROUP BY l.signal_text ORDER BY flips DESC LIMIT 5
"""


def template_attempts(per_problem: int, rng: random.Random, s: int = S) -> list[AttemptRecord]:
    """One problem's attempts (reused for every problem: only task_id changes)."""
    per_agent = per_problem // len(GAMMAS)
    n_lines = math.ceil(per_agent / TOKENS_PER_LINE)
    attempts = []
    for a, gamma in enumerate(GAMMAS):
        lines, pos = [], 0
        for li in range(n_lines):
            toks = []
            for _ in range(min(TOKENS_PER_LINE, per_agent - pos)):
                def topk():
                    return [(rng.randrange(150_000), -rng.random() * 5) for _ in range(TOPK)]
                lu, lg = -rng.random() * 3, -rng.random() * 3
                toks.append(TokenDecision(pos, rng.randrange(150_000), " tok", gamma, lu, lg,
                                          lu + gamma * (lg - lu), topk(), topk(), topk(),
                                          gamma > 0 and rng.random() < 0.1))
                pos += 1
            cands = [CandidateRecord(c, f"    x = {c}\n", f"def f(x):\n    x = {c}\n", None,
                                     [ExecutionRecord(c, t, "passed", "", f"x = {c}\n",
                                                      {"vars": {"x": c}}, 0.01)
                                      for t in range(TESTS)]) for c in range(s)]
            lines.append(LineRecord(li, "def f(x):\n", f"# signal {li % 7}", cands,
                                    "    x = 1\n", toks, {"sample_s": 0.5, "decode_s": 0.2}))
        attempts.append(AttemptRecord(a, AgentConfig(0.7 if gamma else 0.0, gamma, S, 2), "def f(x): pass\n",
                                      "eos", lines, [TestOutcome(0, "passed", "", 0.01)], True,
                                      {"total_s": 3.0}))
    return attempts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--decisions", type=float, default=1e6)
    ap.add_argument("--per-problem", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=1,
                    help="problems per transaction (1 = write_problem, the sweep's path; "
                         ">1 = write_problems, the bulk path)")
    ap.add_argument("--candidates", type=int, default=S,
                    help="candidates per line, each run on 3 tests (0: token decisions only)")
    ap.add_argument("--keep", type=Path, help="write the store here instead of a temp dir")
    args = ap.parse_args()
    n_problems = max(1, int(args.decisions) // args.per_problem)
    attempts = template_attempts(args.per_problem, random.Random(0), args.candidates)
    per_problem = sum(len(ln.tokens) for a in attempts for ln in a.lines)

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "bench.duckdb"
        with Store(path) as store:
            config = {"bench": "storage_throughput", "per_problem": per_problem}
            run_id = store.ensure_run(config_hash(config), config, "synthetic", "bench")
            def solve(i: int) -> SolveRecord:
                problem = Problem(f"Bench/{i}", "mbpp", "x", "f",
                                  (TestCase("assert f(1) == 1", "f(1)"),), ())
                return SolveRecord(problem, attempts, 0, 0, "def f(x): pass\n", 1.0)

            t0, cpu0 = time.perf_counter(), time.process_time()
            for start in range(0, n_problems, args.batch):
                batch = range(start, min(start + args.batch, n_problems))
                if args.batch == 1:
                    store.write_problem(run_id, solve(start), None, wall_s=1.0)
                else:
                    store.write_problems(run_id, [(solve(i), None, 1.0) for i in batch])
            write_s = time.perf_counter() - t0
            cpu_s = time.process_time() - cpu0
            total = n_problems * per_problem
            rate = total / write_s
            print(f"wrote {total:,} token decisions in {n_problems} problems "
                  f"({per_problem} decisions, {len(attempts[0].lines) * len(attempts)} lines, "
                  f"{len(attempts[0].lines) * len(attempts) * args.candidates * TESTS} executions each) "
                  f"in {write_s:.2f} s")
            print(f"  write ({args.batch} problem(s) per transaction): {rate:,.0f} decisions/s "
                  f"= {rate / 1e5:.2f}x the 1e5/s goal; {n_problems / write_s:.1f} problems/s; "
                  f"CPU {cpu_s / n_problems * 1e3:.0f} ms/problem "
                  f"({total / cpu_s:,.0f} decisions per CPU-second)")
            for name, sql in (("flip rate by gamma", FLIP_QUERY), ("flips by signal", SIGNAL_QUERY)):
                times = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    store.query(sql)
                    times.append(time.perf_counter() - t0)
                print(f"  query '{name}' over {total:,} decisions: first {times[0] * 1e3:.0f} ms, "
                      f"best {min(times) * 1e3:.0f} ms = {1.0 / max(times[0], 1e-9):.1f}x under "
                      f"the 1 s goal")
            t0 = time.perf_counter()
            store.export_parquet(Path(tmp) / "export")
            print(f"  export to Parquet: {time.perf_counter() - t0:.2f} s")
        print(f"  store size: {path.stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
