"""Process-wide resources of a pipeline worker: the loaded model and the sandbox pool.

Loaded once per process and shared by every task (never passed through Prefect's API).
"""
from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from egcfg_core.decoding import SHUTDOWN
from egcfg_core.engines import DEFAULT_ENGINE, Engine, load_engine

_lock = threading.Lock()
_engines: dict[str, tuple[Engine, str, float]] = {}


def get_lm(spec: str, engine: str = DEFAULT_ENGINE, options: dict | None = None) -> tuple[Engine, str, float]:
    """(engine, model fingerprint, load seconds) for a model spec on an engine, loaded once per
    process (``egcfg_core.engines.load_engine``; ``factory:module:function`` specs give the tests'
    tiny model on the transformers engine)."""
    key = json.dumps([engine, spec, options or {}], sort_keys=True, default=str)
    with _lock:
        if key not in _engines:
            t0 = time.perf_counter()
            lm, fingerprint = load_engine(engine, spec, options)
            _engines[key] = (lm, fingerprint, time.perf_counter() - t0)
        return _engines[key]


def loaded_models() -> list[str]:
    """The models this process holds (``engine:spec``), one entry per ``get_lm`` load."""
    with _lock:
        return [":".join(json.loads(key)[:2]) for key in _engines]


def get_engine(config) -> tuple[Engine, str, float]:
    """``get_lm`` for a sweep config's model, engine and engine options."""
    return get_lm(config.model, config.engine, config.engine_options)


def get_pool():
    """The process's pre-started sandbox pool (None when pooled execution is unavailable)."""
    try:
        from egcfg_core.sandbox import default_pool
    except ImportError:
        return None
    return default_pool()


@contextmanager
def stop_all_on_interrupt() -> Iterator[None]:
    """Around a block that waits on worker threads: on Ctrl-C / SIGTERM (anything that is not an
    ordinary Exception) tell every running attempt to stop (``decoding.SHUTDOWN``) before the
    thread pool's exit waits for them, so the process ends in seconds, not when they finish."""
    try:
        yield
    except BaseException as exc:
        if not isinstance(exc, Exception):
            SHUTDOWN.set()
        raise
