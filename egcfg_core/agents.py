"""Agents: a grid over (t, γ, s, d) [and prompt variant], the γ = 0 greedy baseline first; the
first to pass wins.

``solve`` runs the agents of one problem in grid order and stops at the first whose finished
function passes every *visible* test.  Hidden tests are never looked at here.  When agents run
concurrently (``workers`` > 1), a passing agent cancels only the agents after it in grid order
and the winner is the lowest passing index, so the result equals the sequential one.  The sweep's
flow calls the same ``solve`` with its Prefect-task hooks (``flows/solve.py``).
"""
from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Callable, Iterable, Sequence

from .decoding import Attempt, DecodeSettings, Head
from .prompts import build_prompt, check_variant
from .records import AgentConfig, AttemptRecord, LineRecord, Problem, SolveRecord
from .engines.base import Engine

BASELINE = AgentConfig(t=0.0, gamma=0.0, s=0, d=0)


def agent_grid(ts: Iterable[float] = (0.7, 1.0), gammas: Iterable[float] = (0.5, 1.0, 3.0),
               ss: Iterable[int] = (3,), ds: Iterable[int] = (2, 3), *, baseline: bool = True,
               sample_ts: Iterable[float] = (), sample_n: int = 0,
               prompts: Iterable[str] = ("default",), gamma_inner: bool = False) -> list[AgentConfig]:
    """The γ = 0 greedy agent, then every (γ, t, d, s) combination, γ in the order given (γ the
    outer loop; ``gamma_inner``: the inner one, so each (t, d, s) agent tries its γ values in
    turn, the paper's schedule); then ``sample_n`` samplers per temperature in ``sample_ts`` (the
    no-guidance ablation).  With several prompt variants the whole grid comes once per variant, in
    the order given."""
    gammas, ts, ss, ds, sample_ts = (tuple(x) for x in (gammas, ts, ss, ds, sample_ts))
    grid: list[AgentConfig] = []
    for prompt in dict.fromkeys(prompts):
        check_variant(prompt)
        if baseline:
            grid.append(dataclasses.replace(BASELINE, prompt=prompt))
        combos = (((g, t, d, s) for t, d, s, g in itertools.product(ts, ds, ss, gammas)) if gamma_inner
                  else itertools.product(gammas, ts, ds, ss))
        for gamma, t, d, s in combos:
            if gamma == 0:
                continue
            if t < 0 or s < 1 or d < 1:
                raise ValueError(f"invalid agent t={t} s={s} d={d}: need t >= 0, s >= 1, d >= 1")
            grid.append(AgentConfig(t=float(t), gamma=float(gamma), s=int(s), d=int(d), prompt=prompt))
        for r in range(sample_n):
            for t in sample_ts:
                if t <= 0:
                    raise ValueError(f"invalid sampler temperature {t}: need t > 0")
                grid.append(AgentConfig(t=float(t), gamma=0.0, s=0, d=0, replicate=r, prompt=prompt))
    return grid


class PromptHeads:
    """The shared prompt head of each prompt variant of one problem, built on first use (so a
    problem solved by a default-prompt agent never pays for the other variant's prefill).
    ``build(variant)`` makes one; thread-safe for concurrently running agents."""

    def __init__(self, build: Callable[[str], Head]):
        self._build = build
        self._heads: dict[str, Head] = {}
        self._lock = threading.Lock()

    def __call__(self, variant: str) -> Head:
        with self._lock:
            if variant not in self._heads:
                self._heads[variant] = self._build(variant)
            return self._heads[variant]

    @classmethod
    def of(cls, problem: Problem, lm: Engine, fewshot: Sequence[dict] | None,
           prompt_style: str = "describe") -> "PromptHeads":
        return cls(lambda variant: Head.build(lm, build_prompt(problem, lm.tokenizer, fewshot, variant,
                                                               prompt_style)))


def final_index(attempts: Sequence[AttemptRecord]) -> tuple[int | None, int]:
    """(winner, final): the first attempt passing all visible tests; else the one passing most."""
    for i, a in enumerate(attempts):
        if a.passed_visible:
            return i, i
    score = [sum(o.status == "passed" for o in a.visible) for a in attempts]
    best = max(range(len(attempts)), key=lambda i: (score[i], -i))
    return None, best


RunAgent = Callable[..., AttemptRecord]
"""``run_agent(problem=, lm=, head=, agent=, agent_index=, settings=, pool=, cancel=, on_line=)``:
one agent's attempt (default: ``decoding.Attempt(...).run()``; the pipeline runs it as a Prefect
task)."""
RunMany = Callable[[RunAgent, list[dict], int], Iterable[tuple[int, AttemptRecord]]]
"""``run_many(run_agent, jobs, workers)``: every job (``run_agent``'s keyword arguments) at up to
``workers`` at once, yielding ``(agent_index, attempt)`` as they finish (default: ``run_threads``)."""


def run_attempt(*, problem: Problem, lm: Engine, head: Head, agent: AgentConfig, agent_index: int,
                settings: DecodeSettings, pool=None, cancel: threading.Event | None = None,
                on_line: Callable[[LineRecord], None] | None = None) -> AttemptRecord:
    """The default ``run_agent``: the line-by-line loop of ``decoding.Attempt``."""
    return Attempt(lm, problem, head, agent, agent_index, settings, pool=pool, cancel=cancel,
                   on_line=on_line).run()


def run_threads(run_agent: RunAgent, jobs: list[dict], workers: int) -> Iterable[tuple[int, AttemptRecord]]:
    """The default ``run_many``: a thread pool."""
    with ThreadPoolExecutor(max_workers=workers) as ex:
        futures = {ex.submit(run_agent, **job): job["agent_index"] for job in jobs}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


def solve(problem: Problem, lm: Engine, grid: Sequence[AgentConfig], *,
          settings: DecodeSettings = DecodeSettings(), fewshot: Sequence[dict] | None = None,
          prompt_style: str = "describe", pool=None,
          on_line: Callable[[int, LineRecord], None] | None = None,
          on_attempt: Callable[[AttemptRecord], None] | None = None,
          run_agent: RunAgent = run_attempt, heads: Callable[[str], Head] | None = None,
          reuse: Sequence[AttemptRecord] = (), workers: int = 1, run_many: RunMany = run_threads) -> SolveRecord:
    """The agents of one problem, in grid order, until one passes the visible tests: THE solving
    loop (``egcfg solve``, the sweep's flow and the benchmarks all come through here).

    ``fewshot`` and ``prompt_style``: the prompt (``prompts.prompting`` picks them for a benchmark);
    ``heads``: the prompt head of a prompt variant (default ``PromptHeads.of`` those); ``reuse``:
    the grid's first attempts, made before (a stored run's greedy and sampler attempts: copied,
    not decoded again; when the last of them passed, no agent runs).  ``workers`` > 1 runs agents
    concurrently through ``run_many``; a passing agent cancels the agents after it in grid order
    and the winner is the lowest passing index, so the result equals the sequential one."""
    if not grid:
        raise ValueError("the agent grid is empty")
    t0 = time.perf_counter()
    heads = heads or PromptHeads.of(problem, lm, fewshot, prompt_style)
    attempts: list[AttemptRecord] = list(reuse)

    def job(i: int, cancel: threading.Event | None = None) -> dict:
        cb = (lambda line, i=i: on_line(i, line)) if on_line else None
        return dict(problem=problem, lm=lm, head=heads(grid[i].prompt), agent=grid[i], agent_index=i,
                    settings=settings, pool=pool, cancel=cancel, on_line=cb)

    if attempts and attempts[-1].passed_visible:
        pass  # a copied attempt won: no other agent runs, as if it had been decoded here
    elif workers <= 1:
        for i in range(len(attempts), len(grid)):
            attempts.append(run_agent(**job(i)))
            if on_attempt:
                on_attempt(attempts[-1])
            if attempts[-1].passed_visible:
                break
    else:
        cancels = [threading.Event() for _ in grid]
        done: dict[int, AttemptRecord] = {}
        for i, rec in run_many(run_agent, [job(i, cancels[i]) for i in range(len(attempts), len(grid))], workers):
            done[i] = rec
            if rec.passed_visible:
                for j in range(i + 1, len(grid)):
                    cancels[j].set()
        for rec in settle(done):
            attempts.append(rec)
            if on_attempt:
                on_attempt(rec)
    winner, final = final_index(attempts)
    return SolveRecord(problem=problem, attempts=attempts, winner=winner, final_index=final,
                       solution=attempts[final].code, wall_s=time.perf_counter() - t0)


def settle(done: dict[int, AttemptRecord]) -> list[AttemptRecord]:
    """The attempts of concurrently run agents, in grid order, up to the first that passed the
    visible tests: the later ones were cancelled or are moot, and dropping them leaves exactly
    what the sequential run would have (so a resumed run equals an uninterrupted one)."""
    attempts = [done[i] for i in sorted(done)]
    first_pass = next((k for k, a in enumerate(attempts) if a.passed_visible), None)
    return attempts[: first_pass + 1] if first_pass is not None else attempts
