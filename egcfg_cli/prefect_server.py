"""The Prefect API server the CLI's flows report to, when the user runs none.

Prefect would start a temporary ("ephemeral") server itself, as a child in the CLI's process
group.  Ctrl-C in the terminal then reaches that server too: it shuts down at once, and the
interrupted sweep spends about a minute retrying to report its crashed task runs to it before
it exits with a ConnectError traceback.  So the CLI starts the same ephemeral server (Prefect's
own app and settings, the same uvicorn command line) in its own session, so that the terminal's
Ctrl-C reaches only the CLI, and with a parent-death signal, so that it ends with the CLI even
when the CLI is SIGKILLed.  With ``PREFECT_API_URL`` set (a `prefect server start`, Prefect Cloud,
the test harness) nothing is started.

This throw-away server is quiet and has no dashboard (``SERVER_ENV``); the project's prefect.toml
leaves both alone, so a `prefect server start` in the project folder gets its UI.  What it prints
goes to ``$PREFECT_HOME/egcfg-server.log`` (``SERVER_LOG``), not to the terminal: its services log
the events they could not flush when it is stopped (a ``CancelledError`` traceback), which is
Prefect's shutdown and nothing of ours, but which a user reading the sweep's output would take for
its failure.  A server that fails to start is reported with the tail of that file.
"""
from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator

PR_SET_PDEATHSIG = 1
# The CLI's own server only: no dashboard (nobody opens it; it lives as long as one command),
# no analytics, its logs at WARNING.
SERVER_ENV = {"PREFECT_SERVER_UI_ENABLED": "false", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
              "PREFECT_SERVER_LOGGING_LEVEL": "WARNING"}


# A fresh PREFECT_HOME's server first builds its database (migrations): more than 30 s measured
# on a 2-core machine busy with a sweep, so the CLI waits at least this long (Prefect: 20 s).
STARTUP_FLOOR_S = 90
SERVER_LOG = "egcfg-server.log"  # under PREFECT_HOME, appended to by every command
SERVER_LOG_MAX_BYTES = 5_000_000  # started afresh when it has grown past this


def _detach() -> None:  # runs in the child between fork and exec
    os.setsid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the session alone still keeps Ctrl-C out
        pass


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path | None, start: int, n: int = 20) -> str:
    """The last ``n`` lines ``path`` got from byte ``start`` on (this server's part of the log)."""
    if path is None:
        return ""
    try:
        with path.open("rb") as f:
            f.seek(start)
            lines = f.read().decode(errors="replace").splitlines()[-n:]
    except OSError:
        return ""
    return "; its log (" + str(path) + ") ends:\n" + "\n".join(lines) if lines else ""


def wait_healthy(proc: subprocess.Popen, url: str, timeout: float, log: Path | None = None,
                 log_from: int = 0) -> float:
    """Wait until the Prefect API at ``url`` (its server process ``proc``, writing to ``log`` from
    byte ``log_from`` on) answers its health check; the seconds it took.  RuntimeError, with the
    end of what it wrote, when the process exits or the time runs out."""
    import httpx

    t0 = time.monotonic()
    with httpx.Client() as client:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the Prefect API server exited with code {proc.returncode} "
                                   f"while starting ({url}){_tail(log, log_from)}")
            try:
                if client.get(f"{url}/health", timeout=2).status_code == 200:
                    return time.monotonic() - t0
            except httpx.HTTPError:
                pass
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"the Prefect API server did not start within {timeout} s "
                                   f"({url}){_tail(log, log_from)}")
            time.sleep(0.1)


@contextmanager
def api_server() -> Iterator[str]:
    """Yield the API URL flows report to, starting a private ephemeral server if none is set."""
    import prefect
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_HOME,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        get_current_settings,
        temporary_settings,
    )

    if PREFECT_API_URL.value():
        yield PREFECT_API_URL.value()
        return
    port = free_port()
    env = {**os.environ, **get_current_settings().to_environment_variables(exclude_unset=True),
           **SERVER_ENV, "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    log = Path(PREFECT_HOME.value()).expanduser() / SERVER_LOG
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:  # the child holds its own descriptor; ours closes here
        if out.tell() > SERVER_LOG_MAX_BYTES:
            out.truncate(0)
        log_from = out.seek(0, os.SEEK_END)  # other commands may share the file: ours from here
        out.write(f"== {datetime.now().isoformat(timespec='seconds')} pid {os.getpid()}: "
                  f"{' '.join([Path(sys.argv[0]).name, *sys.argv[1:2]])} -> port {port}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent),
             "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "error", "--lifespan", "on"],
            env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=_detach)
    url = f"http://127.0.0.1:{port}/api"
    try:
        try:
            wait_healthy(proc, url, max(STARTUP_FLOOR_S, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()),
                         log, log_from)
        except RuntimeError as e:
            from .common import fail

            raise fail(f"{e}\nSet PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS (seconds) to wait "
                       "longer, or PREFECT_API_URL to use a Prefect server that is already running.") from None
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url
    finally:
        try:  # the flows' logs still queued for the API go out before it stops
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=5)
        except Exception:
            pass
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
