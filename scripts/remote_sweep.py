"""Run a sweep config's core loop on a machine without Prefect or DuckDB (e.g. a lent GPU box).

The pipeline's orchestration and store are not there; the algorithm is (egcfg_core is plain
Python).  N worker processes share the problems; each appends (SolveRecord, EvaluationRecord,
wall_s) records as gzip members to OUT/worker-K.pkl.gz, so a deadline or a kill loses at most the
problems in flight.  Back home, `egcfg ingest OUT -c CONFIG --tag TAG --db STORE` (with the same
--preset, --tasks, --model and --decode) commits them to a store like any sweep (the tag, e.g.
"h100", becomes part of the run's config and id).

    python3 scripts/remote_sweep.py -c configs/experiments/mbpp_cpu.toml --tasks 11-510 --workers 8 \
        --device cuda --deadline-s 420 --out $OUT [--gguf-parts '.gpu/part-*']

Resumable: ``--done FOLDER`` (repeatable) skips the problems whose records a FOLDER already holds
(an earlier call's OUT, brought back or left on a warm machine); a problem is recorded only whole.
The paper preset on the second offline model (its GGUF parts carried, or its wheels installed):

    python3 scripts/remote_sweep.py --preset paper --model qwen2.5-coder-1.5b --benchmark mbpp \
        --tasks 111-510 --workers 8 --device cuda --deadline-s 540 --out $OUT --done prev/
"""
from __future__ import annotations

import argparse
import glob
import gzip
import multiprocessing as mp
import os
import pickle
import time
from pathlib import Path



def load_cfg(args):
    """The sweep config exactly as `egcfg sweep` / `egcfg ingest` build it from the same options."""
    from egcfg_core.config import decode_overrides, load_config

    overrides = {"tasks": args.tasks, "benchmark": args.benchmark, "model": args.model}
    overrides = {k: v for k, v in overrides.items() if v}
    return load_config(args.config, {**overrides, **decode_overrides(args.decode)}, preset=args.preset)


def prepare_model(spec: str, parts_glob: str | None, cache_dir: str) -> None:
    """Assemble + verify an offline bundle (the spec's: the default or another `egcfg models`
    entry) from carried parts and convert it once (same code path as on the CPU: sha256-checked,
    then the bf16 cache).  Any other spec (a model folder, a hub id) is loaded as given."""
    from egcfg_core import model as M

    bundle = M.offline_model(spec)
    if bundle is None:
        return
    parts = sorted(Path(p) for p in glob.glob(parts_glob)) if parts_glob else None  # the carried chunks
    if not M.is_converted_model_dir(M.resolve_cache_dir(cache_dir) / bundle.bf16_dirname):
        M.convert_bundle(cache_dir, bundle, parts=parts)


def done_task_ids(folders: list[str]) -> set[str]:
    """Task ids of the whole problems recorded in earlier OUT folders (read as `egcfg ingest` does)."""
    from egcfg_core.records import read_remote_records

    return {solve.problem.task_id for folder in folders for solve, _, _ in read_remote_records(folder)}


def worker(k: int, args, queue, deadline: float) -> None:
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 2) // args.workers))
    from egcfg_core.agents import solve
    from egcfg_core.evaluation import evaluate
    from egcfg_core.problems import mbpp_fewshot
    from egcfg_core.sandbox import SandboxPool
    from egcfg_core.engines import load_engine
    from egcfg_core.engines.transformers import TransformersEngine
    from egcfg_core.model import load_model

    cfg = load_cfg(args)
    if cfg.engine != "transformers" or cfg.model.startswith("factory:"):  # e.g. the tests' tiny model
        lm = load_engine(cfg.engine, cfg.model, cfg.engine_options)[0]
    else:  # transformers on the requested device
        loaded = load_model(cfg.model, cache_dir=args.cache_dir, device=args.device)
        lm = TransformersEngine(loaded.model, loaded.tokenizer, name=loaded.name)
    use_fewshot, style = cfg.prompting()  # as the sweep
    fewshot = mbpp_fewshot() if use_fewshot else None
    out = Path(args.out) / f"worker-{k}.pkl.gz"  # appended to: a resumed call in the same OUT adds
    with SandboxPool(size=2) as pool:
        while time.time() < deadline:
            try:
                problem = queue.get_nowait()
            except Exception:
                break
            t0 = time.perf_counter()
            rec = solve(problem, lm, cfg.grid(), settings=cfg.decode, fewshot=fewshot, prompt_style=style,
                        pool=pool)
            ev = evaluate(problem, rec.solution, timeout_s=cfg.eval_timeout_s, pool=pool)
            with gzip.open(out, "ab") as f:  # one gzip member per problem: a kill loses only this one
                pickle.dump((rec, ev, time.perf_counter() - t0), f)
            print(f"[{k}] {problem.task_id}: hidden {'pass' if ev.passed else 'fail'} "
                  f"({time.perf_counter() - t0:.0f}s, {len(rec.attempts)} attempts)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-c", "--config", default=None, help="sweep config (TOML/YAML); optional with --preset")
    ap.add_argument("--preset", default=None, help="a named configuration under the config, e.g. paper")
    ap.add_argument("--benchmark", default=None)
    ap.add_argument("--tasks", default=None)
    ap.add_argument("--model", default=None, help="override model.spec, e.g. qwen2.5-coder-1.5b")
    ap.add_argument("--decode", action="append", default=[], metavar="KEY=VALUE", help="as `egcfg sweep --decode`")
    ap.add_argument("--done", action="append", default=[], metavar="FOLDER",
                    help="skip the problems recorded in FOLDER (an earlier OUT); repeatable")
    ap.add_argument("--data-dir", default=os.environ.get("EGCFG_DATA_DIR"))
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--deadline-s", type=float, default=420)
    ap.add_argument("--out", required=True)
    ap.add_argument("--gguf-parts", default=None, help="glob of carried bundle chunks, in order")
    ap.add_argument("--cache-dir", default=os.environ.get("EGCFG_CACHE_DIR"))
    args = ap.parse_args()
    t_start = time.time()
    deadline = t_start + args.deadline_s
    from egcfg_core.config import ConfigError
    from egcfg_core.problems import load_problems, parse_task_selection

    if not (args.config or args.preset):
        ap.error("give -c CONFIG, --preset NAME or both")
    try:
        cfg = load_cfg(args)
    except ConfigError as e:
        ap.error(f"bad config: {e}")
    if cfg.engine == "transformers":
        prepare_model(cfg.model, args.gguf_parts, args.cache_dir)
    print(f"model ready in {time.time() - t_start:.0f}s", flush=True)
    sel = parse_task_selection(cfg.tasks)
    problems = load_problems(cfg.benchmark, data_dir=args.data_dir, task_ids=sel.task_ids, limit=sel.limit).problems
    Path(args.out).mkdir(parents=True, exist_ok=True)
    done = done_task_ids(args.done + [args.out])  # a second call into the same OUT resumes it too
    problems = [p for p in problems if p.task_id not in done]
    print(f"{len(problems)} problems to solve ({len(done)} already recorded)", flush=True)
    queue = mp.get_context("spawn").Queue()
    for p in problems:
        queue.put(p)
    procs = [mp.get_context("spawn").Process(target=worker, args=(k, args, queue, deadline)) for k in range(args.workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=max(1.0, deadline + 120 - time.time()))
        if p.is_alive():
            p.kill()
    print(f"done in {time.time() - t_start:.0f}s", flush=True)


if __name__ == "__main__":
    main()
