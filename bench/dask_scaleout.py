"""Scale-out: the same sweep sequentially, on a thread pool, and on a local Dask cluster.

    .venv/bin/python bench/dask_scaleout.py                      # the offline default, MBPP 11-12, 2 workers
    .venv/bin/python -m bench.dask_scaleout --model factory:tests.tiny:tiny_model --tasks 11-18 --max-new-tokens 96

Starts a Prefect test server and a local Dask cluster (distributed.LocalCluster: --workers worker
processes, one thread each), warms everything up untimed (a one-problem Dask sweep loads the model
once in each worker; the sweep process loads it too), then times three sweeps of the same config
into fresh DuckDB files:
  sequential   problems one after another in this process;
  threads      --problem-workers N (a Prefect thread task runner in this process);
  dask         --dask-address (each problem a task on a worker; results committed here).
All three are deterministic and must store the same solutions (checked; exit 1 otherwise).
Needs the dask extra (prefect-dask).  One torch thread per process (EGCFG_THREADS=1).  The tests'
random-weight model (second line: from the repository root, so that the workers find `tests`)
measures the orchestration alone.
"""
from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_UI_ENABLED", "false")
os.environ.setdefault("EGCFG_THREADS", "1")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--tasks", default="11-12")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--t", type=float, default=0.7)
    ap.add_argument("--gamma", type=float, default=1.0)
    ap.add_argument("--s", type=int, default=3)
    ap.add_argument("--d", type=int, default=2)
    ap.add_argument("--data-dir", default=None)
    return ap.parse_args(argv)


def solutions(db: Path) -> list[tuple]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT task_id, code, passed_hidden FROM solutions ORDER BY task_id").fetchall()
    finally:
        con.close()


def loads_text(client) -> str:
    """The models each worker process holds (flows.runtime caches one per process)."""
    from flows.runtime import loaded_models

    return str(sorted(len(models) for models in client.run(loaded_models).values()))


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    from prefect.testing.utilities import prefect_test_harness

    from egcfg_core.config import load_config
    from egcfg_core.problems import resolve_data_dir
    from flows.runtime import get_engine
    from flows.sweep import sweep_flow
    from distributed import Client, LocalCluster

    torch.set_num_threads(1)
    data_dir = str(resolve_data_dir(args.data_dir))

    def config(tasks: str, **run):
        return load_config(None, dict(model=args.model, benchmark="mbpp", tasks=tasks, data_dir=data_dir,
                                      t=[args.t], gamma=[args.gamma], s=[args.s], d=[args.d],
                                      max_new_tokens=args.max_new_tokens, **run))

    with tempfile.TemporaryDirectory(prefix="egcfg-dask-bench-") as tmp, \
            prefect_test_harness(server_startup_timeout=120):
        from prefect.settings import PREFECT_API_URL

        tmp = Path(tmp)
        os.environ["PREFECT_API_URL"] = PREFECT_API_URL.value()  # the workers' (started below) too
        logging.getLogger("distributed").setLevel(logging.WARNING)  # Prefect's log setup shows its INFO
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, local_directory=str(tmp), silence_logs=logging.ERROR)
        client = Client(cluster)
        try:
            t0 = time.perf_counter()
            cfg = config(args.tasks)
            get_engine(cfg)  # the sweep process's model (loaded untimed), then each worker's

            def load_model_and_sandboxes():
                from flows.runtime import get_engine, get_pool

                get_engine(cfg)
                get_pool()

            client.run(load_model_and_sandboxes)
            sweep_flow(config=config(f"first:{args.workers}", dask_address=cluster.scheduler_address),
                       db=str(tmp / "warm.duckdb"))  # Prefect's first task runs on the workers
            warm = time.perf_counter() - t0
            print(f"warm-up (untimed): {warm:.1f} s; models held per worker process: {loads_text(client)}")
            times, sols = {}, {}
            for name, run in (("sequential", {}), ("threads", {"problem_workers": args.workers}),
                              ("dask", {"dask_address": cluster.scheduler_address})):
                db = tmp / f"{name}.duckdb"
                t0 = time.perf_counter()
                st = sweep_flow(config=config(args.tasks, **run), db=str(db))
                times[name] = time.perf_counter() - t0
                sols[name] = solutions(db)
                print(f"{name:10s} {st['done']} done, {st['failed']} failed in {times[name]:6.1f} s "
                      f"({times[name] / max(st['done'], 1):.2f} s/problem)")
            print(f"models held per worker process after all sweeps: {loads_text(client)}")
        finally:
            client.close()
            cluster.close()
    same = sols["sequential"] == sols["threads"] == sols["dask"]
    print(f"speedup vs sequential: threads x{times['sequential'] / times['threads']:.2f}, "
          f"dask ({args.workers} workers) x{times['sequential'] / times['dask']:.2f}; "
          f"same solutions: {same}; cpus here: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
