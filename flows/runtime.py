"""Process-wide resources of a pipeline worker: the loaded model and the sandbox pool.

Loaded once per process and shared by every task (never passed through Prefect's API).
"""
from __future__ import annotations

import importlib
import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from egcfg_core.decoding import SHUTDOWN
from egcfg_core.streams import TransformersLM

_lock = threading.Lock()
_lms: dict[str, tuple[TransformersLM, str, float]] = {}


def get_lm(spec: str) -> tuple[TransformersLM, str, float]:
    """(lm, model fingerprint, load seconds) for a model spec, loaded once per process.

    ``spec`` is what ``egcfg_core.model.load_model`` takes, or ``factory:module:function`` for a
    callable returning ``(model, tokenizer)`` (used by the tests' tiny model).
    """
    with _lock:
        if spec not in _lms:
            t0 = time.perf_counter()
            if spec.startswith("factory:"):
                model, tok = _factory(spec)()
                lm, fingerprint = TransformersLM(model, tok, name=spec), spec
            else:
                from egcfg_core.model import load_model, model_fingerprint

                loaded = load_model(spec)
                lm, fingerprint = TransformersLM(loaded.model, loaded.tokenizer, name=loaded.name), model_fingerprint(loaded)
            _lms[spec] = (lm, fingerprint, time.perf_counter() - t0)
        return _lms[spec]


def _factory(spec: str):
    try:
        _, mod, fn = spec.split(":", 2)
    except ValueError:
        raise ValueError(f"model spec {spec!r}: expected factory:module:function") from None
    if os.getcwd() not in sys.path:  # like `python -m`: modules of the current folder
        sys.path.append(os.getcwd())
    try:
        return getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"model spec {spec!r}: cannot import {mod}.{fn}: {e}") from e


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
