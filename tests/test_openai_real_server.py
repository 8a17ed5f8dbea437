"""The OpenAI engine against REAL servers on loopback serving the offline default model (GGUF):

  * llama-cpp-python's own server (``python -m llama_cpp.server``; classic logprobs, text prompts,
    ignores ``n``): needs ``pip install 'egcfg[server-test]'`` and the llama-cpp-python wheel;
  * llama.cpp's C++ ``llama-server`` (chat-style logprobs, token-id prompts, prompt lists, parallel
    slots): needs the binary on PATH or in ``$EGCFG_LLAMA_SERVER`` (docs/ENGINES.md: how to build it).

Each test skips with the reason when its server cannot be started.  Tests: one EG-CFG solve end
to end through ``sweep_flow``; the server killed mid-sweep, then the rerun resumes; a wrong URL,
a wrong model name and a missing key fail before any problem starts.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.real_server
THREADS = os.environ.get("EGCFG_THREADS", "1")


def gguf_path() -> Path | None:
    from egcfg_core import model as m

    path = m.resolve_cache_dir() / m.DEFAULT_MODEL.gguf_filename
    if path.is_file():
        return path
    try:
        return m.ensure_gguf() if m.bundle_part_paths() else None
    except m.ModelUnavailableError:
        return None


def llama_server_binary() -> str | None:
    return os.environ.get("EGCFG_LLAMA_SERVER") or shutil.which("llama-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process on loopback; ``start()`` waits until GET /v1/models answers."""

    def __init__(self, kind: str, port: int | None = None):
        self.kind, self.port = kind, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.proc: subprocess.Popen | None = None

    def command(self, gguf: Path) -> list[str]:
        if self.kind == "llama_cpp.server":
            return [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                    "--port", str(self.port), "--n_ctx", "4096", "--n_threads", THREADS]
        return [llama_server_binary(), "-m", str(gguf), "--host", "127.0.0.1", "--port", str(self.port),
                "-c", "16384", "-np", "4", "-t", THREADS]

    def start(self, timeout_s: float = 120) -> "Server":
        import httpx

        gguf = gguf_path()
        if gguf is None:
            pytest.skip("the default model's GGUF is not available (pip install 'egcfg[offline-model]')")
        if self.kind == "llama_cpp.server":
            try:
                import llama_cpp.server.app  # noqa: F401
            except ImportError as e:
                pytest.skip(f"llama_cpp.server is not installed ({e}): pip install 'egcfg[server-test]' "
                            "and the llama-cpp-python wheel (see docs/ENGINES.md)")
        elif not llama_server_binary():
            pytest.skip("llama-server not found: put it on PATH or set EGCFG_LLAMA_SERVER (docs/ENGINES.md: build it)")
        log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"egcfg-{self.kind}-{self.port}.log", "wb")
        self.proc = subprocess.Popen(self.command(gguf), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if self.proc.returncode < 0:  # a native crash (e.g. SIGILL) is a failure, not a missing server
                    from egcfg_core.engines.probe import signal_name

                    pytest.fail(f"{self.kind} was killed by {signal_name(-self.proc.returncode)} at start: see "
                                f"{log.name}; rebuild llama-cpp-python for this CPU: python -m "
                                "egcfg_core.engines.llama_build", pytrace=False)
                pytest.skip(f"{self.kind} exited at start with {self.proc.returncode}: see {log.name}")
            try:
                if httpx.get(self.url + "/models", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        pytest.skip(f"{self.kind} did not answer within {timeout_s:.0f} s: see {log.name}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


KINDS = ["llama_cpp.server", "llama-server"]


@pytest.fixture(scope="module", params=KINDS)
def server(request):
    srv = Server(request.param).start()
    yield srv
    srv.stop()


def config(data_dir, url: str, **over):
    from egcfg_core.config import load_config

    base = dict(model="default", engine="openai", benchmark="mbpp", tasks="11", data_dir=str(data_dir),
                fewshot=False, t=[0.7], gamma=[1.0], s=[2], d=[1], baseline=False, max_new_tokens=12,
                problem_retries=0, engine_options={"base_url": url, "retries": 1, "backoff_s": 0.2, "timeout_s": 60})
    base.update(over)
    return load_config(None, base)


def q(db, sql):
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_an_eg_cfg_solve_end_to_end(server, prefect_harness, data_dir, tmp_path):
    from flows.sweep import sweep_flow

    cfg = config(data_dir, server.url)
    db = tmp_path / "e2e.duckdb"
    st = sweep_flow(config=cfg, db=str(db))
    assert st["done"] == 1 and st["failed"] == 0, st
    (model,), = q(db, "SELECT model FROM runs")
    assert model.startswith("openai:") and "gguf" in model
    lines = q(db, "SELECT count(*), count(*) FILTER (signal_text <> '') FROM lines")[0]
    assert lines[0] >= 1
    (tokens,), = q(db, "SELECT count(*) FROM token_decisions")
    assert tokens >= 1
    (cands,), = q(db, "SELECT count(*) FROM candidates")
    assert cands >= 2  # s = 2 candidates on the first line at least


def test_the_server_dies_mid_sweep_and_the_rerun_resumes(prefect_harness, data_dir, tmp_path):
    from flows import progress
    from flows.sweep import sweep_flow

    srv = Server("llama-server" if llama_server_binary() else "llama_cpp.server").start()
    try:
        # greedy only: the shortest real attempt; two problems, the server is killed during the second
        cfg = config(data_dir, srv.url, tasks="11-12", gamma=[], baseline=True, max_new_tokens=16)
        db = tmp_path / "kill.duckdb"
        killed = threading.Event()

        def on(event, info):
            if event == "done" and not killed.is_set():
                killed.set()
                threading.Thread(target=srv.stop).start()

        stop = progress.listen(on)
        try:
            st = sweep_flow(config=cfg, db=str(db))
        finally:
            stop()
        assert killed.is_set() and st["done"] == 1 and st["failed"] == 1, st
        (err,), = q(db, "SELECT error FROM problems WHERE status = 'failed'")
        assert "EngineError" in err and "cannot connect" in err
        # a new server (another port: the address is not part of the run id) finishes the run
        srv = Server(srv.kind).start()
        again = config(data_dir, srv.url, tasks="11-12", gamma=[], baseline=True, max_new_tokens=16)
        assert again.run_id() == cfg.run_id()
        st = sweep_flow(config=again, db=str(db))
        assert st["done"] == 2 and st["failed"] == 0, st
    finally:
        srv.stop()


def test_bad_url_wrong_model_and_missing_key_fail_before_any_problem(server, prefect_harness, data_dir,
                                                                      tmp_path, monkeypatch):
    from egcfg_core.engines import EngineError
    from flows.sweep import sweep_flow

    db = tmp_path / "bad.duckdb"
    closed = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(EngineError, match="no OpenAI-compatible server at"):
        sweep_flow(config=config(data_dir, closed), db=str(db))
    bad_model = config(data_dir, server.url, engine_options={"base_url": server.url, "model": "no-such-model"})
    with pytest.raises(EngineError, match="does not serve model 'no-such-model'"):
        sweep_flow(config=bad_model, db=str(db))
    monkeypatch.delenv("EGCFG_TEST_UNSET_KEY", raising=False)
    no_key = config(data_dir, server.url, engine_options={"base_url": server.url, "api_key_env": "EGCFG_TEST_UNSET_KEY"})
    with pytest.raises(EngineError, match="EGCFG_TEST_UNSET_KEY.*not set"):
        sweep_flow(config=no_key, db=str(db))
    assert not db.exists()  # nothing started: no store was even opened
