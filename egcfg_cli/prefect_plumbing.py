"""Prefect plumbing for the CLI (beside prefect_server.py, which starts the server): quiet logs,
flow-run logs kept for the API, Ctrl-C stopping running attempts, interruptions as a clean exit."""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager

import typer

from .common import console


@contextmanager
def quiet_prefect():
    """Quiet, offline Prefect with the flow heartbeat off (it costs ~1 s per sync flow), talking
    to the user's API server or to a private one out of reach of the terminal's Ctrl-C.  The
    terminal shows Prefect's warnings only; the flow runs' INFO logs still reach the API."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from .prefect_server import api_server

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}), api_server(), \
            _run_logs_to_api_only():
        yield


class _RunLogsBelow(logging.Filter):
    """Drops flow and task run records below ``level`` (for the terminal's handlers), and, once
    Ctrl-C has set ``decoding.SHUTDOWN``, every Prefect record: its account of our own interrupt
    (a "Crash detected" report and traceback when the SIGINT lands inside its task bookkeeping)
    is noise; the CLI says what happened and how to resume."""

    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        from egcfg_core.decoding import SHUTDOWN

        if SHUTDOWN.is_set() and record.name.startswith("prefect"):
            return False
        return record.levelno >= self.level or not record.name.startswith(("prefect.flow_runs", "prefect.task_runs"))


@contextmanager
def _run_logs_to_api_only():
    """Flow and task runs log at INFO (a sweep: one line per problem, for the UI's flow-run page)
    to the API, while the terminal keeps to PREFECT_LOGGING_LEVEL (WARNING unless the user sets
    it): the CLI prints its own progress.  Prefect's run loggers otherwise inherit that level and
    would drop those records before any handler sees them."""
    import prefect.main  # noqa: F401 - Prefect's SDK entry point sets up its logging (first import
    # only; done here, so that it cannot reset the levels set below when a flow module imports it)
    from prefect.settings import get_current_settings

    terminal = logging.getLevelName(str(get_current_settings().logging.level).upper())
    terminal = terminal if isinstance(terminal, int) else logging.WARNING
    loggers = [logging.getLogger(n) for n in ("prefect.flow_runs", "prefect.task_runs")]
    before = [lg.level for lg in loggers]
    quiet = _RunLogsBelow(terminal)
    consoles = [h for h in logging.getLogger().handlers if type(h).__name__ != "APILogHandler"]
    for lg in loggers:
        if lg.getEffectiveLevel() > logging.INFO:
            lg.setLevel(logging.INFO)
    for h in consoles:
        h.addFilter(quiet)
    try:
        yield
    finally:
        for lg, level in zip(loggers, before):
            lg.setLevel(level)
        for h in consoles:
            h.removeFilter(quiet)


@contextmanager
def ctrl_c_stops_attempts():
    """Ctrl-C sets ``decoding.SHUTDOWN`` before it raises KeyboardInterrupt. The interrupt can land
    inside Prefect's own task bookkeeping, which may turn it into an ordinary error (seen: a
    ValueError 'Task run is not set' from its crash handler); the flag still stops every attempt
    and the sweep's commits, so the sweep ends either way.  A SIGINT the shell set to be ignored
    (a background job) stays ignored."""
    import signal

    from egcfg_core.decoding import SHUTDOWN

    def on_sigint(signum, frame):
        SHUTDOWN.set()
        raise KeyboardInterrupt

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def interrupted(what: str) -> typer.Exit:
    """Ctrl-C: say what is kept and how to go on, exit 130 (the shell's code for SIGINT)."""
    console.print(f"[yellow]interrupted[/]: {what}")
    return typer.Exit(130)


class _DropErrors(logging.Filter):
    """Drops log records that carry one of the given exception types."""

    def __init__(self, types: tuple[type[BaseException], ...]):
        super().__init__()
        self.types = types

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, self.types)


@contextmanager
def unlogged(*types: type[BaseException]):
    """Keep these errors' tracebacks off the console: Prefect logs every exception that ends a
    flow run, with its traceback, and the CLI reports these ones itself as one clear line."""
    drop = _DropErrors(types)
    handlers = [h for name in ("", "prefect", "prefect.flow_runs") for h in logging.getLogger(name).handlers
                if type(h).__name__ != "APILogHandler"]
    for h in handlers:
        h.addFilter(drop)
    try:
        yield
    finally:
        for h in handlers:
            h.removeFilter(drop)
