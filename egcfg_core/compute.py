"""What an attempt costs: counters that the decoder, the engines and the sandbox add to.

A ``Meter`` holds one number per entry of ``FIELDS``.  The decoder opens one meter per attempt and
one per line (``metered``); while they are open, ``add(...)`` anywhere in the same thread (an
engine's forward pass, a sandbox run) adds to every open meter.  A thread starts with none open,
so work handed to a worker thread takes the caller's meters along: ``carry(fn)``.  Work outside
any meter (the hidden-test scoring, a benchmark script) is counted nowhere.

Each field says who counts it.  Storage keeps them as plain columns of ``attempts`` and ``lines``
(storage/schema.sql); ``records.AttemptRecord.compute`` / ``LineRecord.compute`` carry them as a
dict (empty = not measured, stored NULL).

Plain Python: no torch, no prefect, no duckdb.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator, TypeVar

FIELDS: dict[str, str] = {
    # what the decoder asks of the engine (decoding.py)
    "prefill_tokens": "tokens handed to extend(): the prompt tail of p_sol, and per guided line p_dyn's "
                      "signal + prompt tail + code so far",
    "decoded_tokens_sol": "tokens appended to p_sol one at a time (step / pair_step; a skip_confident "
                          "peek's fork included)",
    "decoded_tokens_dyn": "tokens appended to p_dyn (pair_step)",
    "sampled_tokens": "tokens of the candidate rows, all rows together (EOS not counted)",
    # what the engine knows (engines/)
    "forward_passes": "model forward calls: transformers one per model() call (p_sol + p_dyn batched "
                      "in one; one per generate step), llama.cpp one per llama_decode; 0 for a server",
    "server_requests": "HTTP requests sent to an OpenAI-compatible server (retries included)",
    "server_prompt_tokens": "prompt tokens sent to the server (every request resends the whole prompt)",
    "server_completion_tokens": "completion tokens the server returned (its usage field, else counted)",
    # what the sandbox knows (sandbox.py)
    "sandbox_runs": "programs run in the sandbox: traced candidate x visible test, and the finished "
                    "attempt's visible tests",
    "sandbox_cpu_s": "user + system CPU seconds of those programs (the sandbox's fork child, wait4 "
                     "rusage: the program and the harness's tracer in it; not the fork server or bwrap)",
    # what the meter measures itself (metered)
    "process_cpu_s": "CPU seconds of this whole process (time.process_time) over the scope: it includes "
                     "the model's threads, and any other agent or problem running at the same time",
    "wall_s": "wall-clock seconds of the scope",
}
# per attempt only: the problem's prompt head, shared by its agents, is prefilled once per problem
# and prompt variant (decoding.Head) and charged to the first attempt that starts from it
ATTEMPT_FIELDS: dict[str, str] = {
    **FIELDS,
    "head_prefill_tokens": "tokens of the shared prompt head prefilled for this problem and prompt "
                           "variant, on the first attempt that started from it (0 on the others)",
}

T = TypeVar("T")


class Meter:
    """One number per field of ``FIELDS``; ``add`` is thread-safe."""

    def __init__(self) -> None:
        self.counts: dict[str, float] = dict.fromkeys(FIELDS, 0)
        self._lock = threading.Lock()

    def add(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                self.counts[name] += amount


_open: ContextVar[tuple[Meter, ...]] = ContextVar("egcfg_open_meters", default=())


def add(**amounts: float) -> None:
    """Add to every meter open in this context (nothing when none is)."""
    for meter in _open.get():
        meter.add(**amounts)


def start(meter: Meter) -> Callable[[], dict[str, float]]:
    """Open ``meter`` (besides those already open) until the returned function is called; that
    call adds the process CPU and wall seconds since, closes it and returns its counts.  (An
    exception that skips the call is cleaned up by the enclosing ``metered`` block.)"""
    token = _open.set(_open.get() + (meter,))
    cpu, wall = time.process_time(), time.perf_counter()

    def stop() -> dict[str, float]:
        meter.add(process_cpu_s=time.process_time() - cpu, wall_s=time.perf_counter() - wall)
        _open.reset(token)
        return meter.counts

    return stop


@contextmanager
def metered(meter: Meter) -> Iterator[Meter]:
    """``start``/stop as a block: ``meter`` is open inside it."""
    stop = start(meter)
    try:
        yield meter
    finally:
        stop()


def carry(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` with the meters open here, for running in another thread (which starts with none)."""
    meters = _open.get()

    def run(*args, **kwargs) -> T:
        token = _open.set(meters)
        try:
            return fn(*args, **kwargs)
        finally:
            _open.reset(token)

    return run
