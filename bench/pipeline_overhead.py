"""Pipeline overhead: the same problems through the bare core loop and through the Prefect sweep.

    .venv/bin/python bench/pipeline_overhead.py                       # default model, MBPP 11-12
    .venv/bin/python bench/pipeline_overhead.py --model factory:tests.tiny:tiny_model

In one process, with the model loaded once (not timed):
  bare      for each problem: egcfg_core.agents.solve + egcfg_core.evaluation.evaluate +
            Store.write_problem (one transaction per problem), into a fresh DuckDB file;
  pipeline  flows.sweep.sweep_flow with the same config, into another fresh DuckDB file.
The one-time start of Prefect's ephemeral server (and the first flow run's setup) happens before
either is timed and is printed separately.  The ratio pipeline / bare is the goal (<= 1.03).
Both runs are deterministic, so they must make the same decisions: the script checks that the
two stores hold the same solutions and token ids, else the timing comparison is void (exit 1).

With the tiny random-weight model each line takes milliseconds, so the fixed per-task/per-flow
cost of Prefect dominates and the ratio is large; the goal is about real models, where a line
takes seconds.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_UI_ENABLED", "false")

GOAL = 1.03


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="default", help="model spec (default: the offline default model)")
    ap.add_argument("--benchmark", default="mbpp")
    ap.add_argument("--tasks", default="11-12", help="task selection (default: 2 MBPP tasks)")
    ap.add_argument("--data-dir", default=None, help="benchmark data (default $EGCFG_DATA_DIR or ../shared/data)")
    ap.add_argument("--t", default="0.7")
    ap.add_argument("--gamma", default="1")
    ap.add_argument("--s", default="2")
    ap.add_argument("--d", default="1")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--no-fewshot", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat both runs, alternating which goes first; the best time of each counts")
    ap.add_argument("--keep", default=None, help="keep the stores in this folder")
    return ap.parse_args(argv)


def default_data_dir() -> str | None:
    env = os.environ.get("EGCFG_DATA_DIR", "").strip()
    if env:
        return env
    here = REPO.parent / "shared" / "data"
    return str(here) if here.is_dir() else None


def build(args):
    from egcfg_core.config import load_config

    nums = lambda s, typ: [typ(x) for x in s.split(",") if x.strip()]  # noqa: E731
    return load_config(None, dict(
        model=args.model, benchmark=args.benchmark, tasks=args.tasks,
        data_dir=args.data_dir or default_data_dir() or "", t=nums(args.t, float), gamma=nums(args.gamma, float),
        s=nums(args.s, int), d=nums(args.d, int), max_new_tokens=args.max_new_tokens, fewshot=not args.no_fewshot))


def run_bare(cfg, problems, fewshot, lm, fingerprint, db: Path) -> tuple[float, list[float]]:
    """The core loop with storage and no Prefect: solve, evaluate, write, problem by problem."""
    from egcfg_core.agents import solve
    from egcfg_core.evaluation import evaluate
    from flows.runtime import get_pool
    from flows.sweep import code_version
    from storage.store import Store

    t0 = time.perf_counter()
    pool = get_pool()
    per = []
    with Store(db) as store:
        run_id = store.ensure_run(cfg.run_id(), cfg.semantic(), fingerprint, code_version())
        for p in problems:
            t1 = time.perf_counter()
            rec = solve(p, lm, cfg.grid(), settings=cfg.decode, fewshot=fewshot, pool=pool)
            ev = evaluate(p, rec.solution, timeout_s=cfg.eval_timeout_s, pool=pool)
            store.write_problem(run_id, rec, ev, wall_s=time.perf_counter() - t1)
            per.append(time.perf_counter() - t1)
    return time.perf_counter() - t0, per


def run_pipeline(cfg, db: Path) -> tuple[float, list[float]]:
    from flows import progress
    from flows.sweep import sweep_flow

    per = []
    stop = progress.listen(lambda ev, info: per.append(info["wall_s"]) if ev == "done" else None)
    t0 = time.perf_counter()
    try:
        status = sweep_flow(config=cfg, db=str(db))
    finally:
        stop()
    wall = time.perf_counter() - t0
    if status["failed"]:
        raise SystemExit(f"the pipeline recorded {status['failed']} failed problem(s); see the store {db}")
    return wall, per


def same_work(a: Path, b: Path) -> list[str]:
    """Differences between the decisions stored by the two runs (empty = the same work)."""
    import duckdb

    queries = {
        "solutions": "SELECT task_id, code, agent_index, passed_hidden FROM solutions ORDER BY ALL",
        "attempts": "SELECT task_id, agent_index, code, stop_reason FROM attempts ORDER BY ALL",
        "token ids": "SELECT task_id, agent_index, position, token_id FROM token_decisions ORDER BY ALL",
        "candidates": "SELECT task_id, agent_index, line_index, candidate_index, raw_text FROM candidates ORDER BY ALL",
    }
    out = []
    ca, cb = duckdb.connect(str(a), read_only=True), duckdb.connect(str(b), read_only=True)
    try:
        for name, sql in queries.items():
            if ca.execute(sql).fetchall() != cb.execute(sql).fetchall():
                out.append(name)
    finally:
        ca.close()
        cb.close()
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = build(args)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from prefect import flow
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from flows.runtime import get_lm, get_pool
    from flows.sweep import load_selection

    t0 = time.perf_counter()
    lm, fingerprint, load_s = get_lm(cfg.model)
    loaded, fewshot = load_selection(cfg)
    problems = loaded.problems
    get_pool()
    setup_s = time.perf_counter() - t0
    print(f"model {cfg.model} ({fingerprint}) loaded in {load_s:.1f}s; {len(problems)} problems "
          f"({', '.join(p.task_id for p in problems)}); grid {len(cfg.grid())} agents; "
          f"max_new_tokens {cfg.decode.max_new_tokens}; setup {setup_s:.1f}s")

    @flow(name="egcfg-bench-warmup")
    def warmup() -> int:
        return 1

    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="egcfg-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    best: dict[str, tuple[float, list[float]]] = {}
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        t0 = time.perf_counter()
        warmup()  # starts the ephemeral server (or connects to PREFECT_API_URL)
        server_s = time.perf_counter() - t0
        print(f"Prefect server start + first flow run: {server_s:.2f}s (one-time, excluded from the ratio)")
        for r in range(args.rounds):
            order = ("bare", "pipeline") if r % 2 == 0 else ("pipeline", "bare")
            for mode in order:
                db = tmp / f"{mode}-{r}.duckdb"
                db.unlink(missing_ok=True)
                if mode == "bare":
                    wall, per = run_bare(cfg, problems, fewshot, lm, fingerprint, db)
                else:
                    wall, per = run_pipeline(cfg, db)
                print(f"round {r + 1} {mode:>8}: {wall:8.2f}s   per problem {', '.join(f'{x:.2f}' for x in per)}")
                if mode not in best or wall < best[mode][0]:
                    best[mode] = (wall, per)
    (bare_s, bare_per), (pipe_s, pipe_per) = best["bare"], best["pipeline"]
    bare_db, pipe_db = tmp / "bare-0.duckdb", tmp / "pipeline-0.duckdb"
    diff = same_work(bare_db, pipe_db)
    ratio = pipe_s / bare_s
    extra = (pipe_s - bare_s) / max(len(problems), 1)
    print(f"ratio pipeline / bare = {ratio:.3f}  (goal <= {GOAL}); overhead {extra:+.2f}s per problem, "
          f"median problem {statistics.median(bare_per):.2f}s bare vs {statistics.median(pipe_per):.2f}s pipeline")
    if diff:
        print(f"WARNING: the two runs made different decisions ({', '.join(diff)}): the comparison is void")
        return 1
    print("both runs made identical decisions (solutions, attempts, token ids, candidates)")
    print(f"torch threads {__import__('torch').get_num_threads()}; Prefect server start {server_s:.2f}s not included")
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
