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
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("prefect_dask", reason="Dask is absent: pip install 'egcfg[dask]' (prefect-dask)")
distributed = pytest.importorskip("distributed", reason="Dask is absent: pip install 'egcfg[dask]' (prefect-dask)")

from egcfg_core.config import load_config  # noqa: E402
from tests.faults_helpers import SweepProc, sweep_args  # noqa: E402
from tests.test_resume import integrity, snapshot  # noqa: E402
from tests.tiny import LOAD_LOG_ENV  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODEL = "factory:tests.tiny:logged_tiny_model"
TASKS = "11-16"
GRID = dict(t="0.7", gamma="1", s="2", d="1", max_new_tokens=20)
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalCluster:
    """`python -m dask scheduler` + `python -m dask worker` x n, each in its own process group."""

    def __init__(self, tmp: Path, api_url: str, n_workers: int = 2):
        self.tmp = tmp
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        self.load_log = tmp / "model_loads.txt"
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep), PREFECT_API_URL=api_url, PREFECT_LOGGING_LEVEL="WARNING", DO_NOT_TRACK="1",
            EGCFG_THREADS="1", OMP_NUM_THREADS="1", DASK_TEMPORARY_DIRECTORY=str(tmp),
            **{LOAD_LOG_ENV: str(self.load_log)})
        self.procs: dict[str, subprocess.Popen] = {}
        # --no-dashboard still serves HTTP (on :8787 by default): a random port instead
        self._start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", self.address.rsplit(":", 1)[1],
                                  "--no-dashboard", "--dashboard-address", "127.0.0.1:0"])
        for i in range(1, n_workers + 1):
            self._start(f"w{i}", ["worker", self.address, "--name", f"w{i}", "--host", "127.0.0.1", "--nthreads", "1",
                                  "--nworkers", "1", "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
                                  "--local-directory", str(tmp / f"w{i}")])
        self.client = distributed.Client(self.address, timeout=60)
        self.client.wait_for_workers(n_workers, timeout=120)

    def _start(self, name: str, args: list[str]) -> None:
        log = open(self.tmp / f"{name}.log", "w")
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=self.tmp, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def executing(self) -> dict[str, list[str]]:
        """Worker name -> the keys of the tasks it is executing now (asked of the workers)."""
        def running(dask_worker):
            return dask_worker.name, sorted(str(ts.key) for ts in dask_worker.state.executing)

        return dict(self.client.run(running).values())

    def kill(self, name: str) -> None:
        """SIGKILL a process and everything in its group (a worker: its nanny and the worker process)."""
        p = self.procs[name]
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        p.wait(timeout=30)

    def loads(self) -> Counter:
        """pid -> how many times that process loaded the model."""
        text = self.load_log.read_text() if self.load_log.exists() else ""
        return Counter(int(x) for x in text.split())

    def close(self) -> None:
        try:
            self.client.close(timeout=10)
        except Exception:  # noqa: BLE001 - tearing down
            pass
        for name in list(self.procs):
            self.kill(name)

    def logs(self) -> str:
        return "\n".join(f"--- {n}.log\n" + (self.tmp / f"{n}.log").read_text()[-3000:] for n in self.procs)


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
