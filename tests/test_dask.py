"""A sweep on a real local Dask cluster (`--dask-address`): a `dask scheduler` and two `dask worker`
processes on loopback, started here with one thread each and killed at the end.

(a) the Dask sweep stores the same run as a sequential one (solutions, pass flags, every attempt,
line, candidate and token decision), each worker loading the model once;
(b) SIGKILL of a busy worker mid-sweep loses nothing: the lost problems are solved again on the
other worker (or failed cleanly), and a rerun resumes to the complete, equal result.

The workers get this checkout on PYTHONPATH (they import `flows`, `egcfg_core` and the tests' tiny
model `factory:tests.tiny:logged_tiny_model`) and the session's Prefect server as PREFECT_API_URL.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytest.importorskip("prefect_dask", reason="Dask is absent: pip install 'egcfg[dask]' (prefect-dask)")
pytest.importorskip("distributed", reason="Dask is absent: pip install 'egcfg[dask]' (prefect-dask)")

from egcfg_core.config import load_config  # noqa: E402
from tests.dask_cluster import LocalCluster  # noqa: E402
from tests.faults_helpers import SweepProc, sweep_args  # noqa: E402
from tests.test_resume import integrity, snapshot  # noqa: E402

MODEL = "factory:tests.tiny:logged_tiny_model"
TASKS = "11-16"
GRID = dict(t="0.7", gamma="1", s="2", d="1", max_new_tokens=20)
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture
def cluster(prefect_harness, tmp_path):
    c = LocalCluster(tmp_path, prefect_harness)
    try:
        yield c
    finally:
        c.close()
        while SweepProc.started:  # a failed assertion must not leave a sweep running
            SweepProc.started.pop().kill()


def _config(data_dir: Path, **run):
    return load_config(None, dict(model=MODEL, benchmark="mbpp", tasks=TASKS, data_dir=str(data_dir), t=[0.7],
                                  gamma=[1.0], s=[2], d=[1], max_new_tokens=20, **run))


@pytest.fixture(scope="module")
def reference(prefect_harness, data_dir, tmp_path_factory):
    """The sequential run of the same config, in this process."""
    from flows.sweep import sweep_flow

    db = tmp_path_factory.mktemp("dask-ref") / "ref.duckdb"
    t0 = time.perf_counter()
    status = sweep_flow(config=_config(data_dir), db=str(db))
    print(f"sequential: {status['done']} problems in {time.perf_counter() - t0:.1f} s")
    assert (status["done"], status["failed"]) == (6, 0)
    return snapshot(db)


def test_dask_sweep_equals_the_sequential_run(cluster, reference, data_dir, tmp_path):
    from flows.sweep import sweep_flow

    cfg = _config(data_dir, dask_address=cluster.address)
    assert cfg.run_id() == _config(data_dir).run_id()  # the address is not part of the run id
    db = tmp_path / "dask.duckdb"
    t0 = time.perf_counter()
    status = sweep_flow(config=cfg, db=str(db))
    print(f"2 Dask workers: {status['done']} problems in {time.perf_counter() - t0:.1f} s")
    assert (status["done"], status["failed"]) == (6, 0), cluster.logs()
    assert integrity(db) == 6
    got = snapshot(db)
    assert got["solutions"] == reference["solutions"]  # code and pass flags per problem, first
    for table in reference:
        assert got[table] == reference[table], f"{table} differs from the sequential run"
    # the problems ran on the workers (both of them), each loading the model once
    loads = cluster.loads()
    workers = {pid: n for pid, n in loads.items() if pid != os.getpid()}
    assert len(workers) == 2 and set(workers.values()) == {1}, loads


def test_killing_a_worker_mid_sweep_loses_nothing(cluster, reference, data_dir, tmp_path):
    db = tmp_path / "killed.duckdb"
    args = sweep_args(db, data_dir, model=MODEL, tasks=TASKS, grid=GRID) + ["--dask-address", cluster.address]
    p = SweepProc(args, cluster.env["PREFECT_API_URL"], env={"PYTHONPATH": cluster.env["PYTHONPATH"]})
    p.wait_for_line(r"run \w+: 6 problems, 0 already done", timeout=180)
    # both workers have loaded the model inside their first problem: kill one while it solves one
    p.wait_until(lambda: len(cluster.loads()) == 2, "both workers loading the model", timeout=180)
    victim, keys = p.wait_until(lambda: next(((w, k) for w, k in cluster.executing().items() if k), None),
                                "a worker executing a problem", timeout=60)
    cluster.kill(victim)
    t_kill = time.perf_counter()
    rc, out = p.finish(timeout=300)
    assert rc == 0, out
    done = integrity(db)
    print(f"killed {victim} while it ran {keys}; that sweep ended {time.perf_counter() - t_kill:.1f} s later "
          f"with {done} of 6 done:\n{out}")
    # a rerun on the worker left solves whatever was failed (nothing, when Dask rescheduled it)
    rc, out = SweepProc(args, cluster.env["PREFECT_API_URL"], env={"PYTHONPATH": cluster.env["PYTHONPATH"]}).finish(300)
    assert rc == 0, out
    assert f"{done} already done" in out and "6 done, 0 failed" in out, out
    assert integrity(db) == 6
    assert snapshot(db) == reference
