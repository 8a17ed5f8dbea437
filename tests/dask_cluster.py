"""A local Dask cluster for tests and benchmarks: `python -m dask scheduler` and n `python -m dask
worker` processes on loopback, one thread each, each in its own process group (killable alone).

The workers get this checkout first on PYTHONPATH (they import `flows`, `egcfg_core` and the tests'
models), the given Prefect API URL (without one each worker would start a temporary Prefect server
of its own), one torch thread, and $EGCFG_TEST_LOAD_LOG (see tests/tiny.py: logged_tiny_model).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import distributed

from tests.tiny import LOAD_LOG_ENV

REPO = Path(__file__).resolve().parents[1]


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
