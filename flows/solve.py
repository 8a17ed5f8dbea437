"""Flow: solve one problem with its agent grid (first agent passing the visible tests wins)."""
from __future__ import annotations

import threading
import time

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from egcfg_core.agents import PromptHeads, final_index, settle
from egcfg_core.config import SweepConfig
from egcfg_core.decoding import SHUTDOWN
from egcfg_core.records import AttemptRecord, EvaluationRecord, Problem, SolveRecord
from tasks.decode import run_agent_task
from tasks.evaluate import evaluate_task
from tasks.prompt import build_prompt_task

from .runtime import get_engine, get_pool, stop_all_on_interrupt


def solve_problem(problem: Problem, config: SweepConfig, fewshot: list | None = None,
                  reuse: AttemptRecord | list[AttemptRecord] | None = None) -> tuple[SolveRecord, EvaluationRecord]:
    """Prompt, agents in grid order (or concurrently), hidden-test scoring of the final solution.
    ``reuse``: the grid's first attempts (agent 0's greedy one, samplers after it), copied from
    stored runs that made the same ones (the sweep finds them: ``config.attempt_keys``); they are
    not decoded again."""
    t0 = time.perf_counter()
    lm, _, _ = get_engine(config)
    pool = get_pool()
    grid = config.grid()
    style = config.prompting()[1]
    heads = PromptHeads(lambda variant: build_prompt_task(problem, lm, fewshot, variant, style))
    attempts = [reuse] if isinstance(reuse, AttemptRecord) else list(reuse or [])
    if attempts and attempts[-1].passed_visible:
        pass  # a copied attempt won: no other agent runs, as if it had been decoded here
    elif config.agent_workers <= 1:
        for i in range(len(attempts), len(grid)):
            attempts.append(run_agent_task(problem, lm, heads(grid[i].prompt), grid[i], i, config.decode,
                                           pool=pool, line_tasks=config.line_tasks))
            if attempts[-1].passed_visible:
                break
    else:
        attempts += _concurrent(problem, lm, heads, grid, config, pool, start=len(attempts))
    if SHUTDOWN.is_set():  # the sweep was interrupted: it commits nothing more, skip the scoring
        raise RuntimeError(f"{problem.task_id}: interrupted")
    winner, final = final_index(attempts)
    solve = SolveRecord(problem=problem, attempts=attempts, winner=winner, final_index=final,
                        solution=attempts[final].code, wall_s=0.0,
                        isolation=pool.isolation if pool is not None else "")
    evaluation = evaluate_task(problem, solve.solution, timeout_s=config.eval_timeout_s, pool=pool)
    solve.wall_s = time.perf_counter() - t0
    return solve, evaluation


# The flow and the task wrap the module-level function itself (not a decorated copy of it) so that
# cloudpickle pickles them *by reference* (module + name) when a Dask task runner ships them, or
# the flow run context holding them, to a worker: a decorated ``def`` is shadowed by its Flow/Task
# object, so its function would be pickled by value, with copies of the module globals it uses.
solve_problem_flow = flow(name="egcfg-solve-problem", validate_parameters=False)(solve_problem)
solve_problem_task = task(name="egcfg-solve-problem", cache_policy=NO_CACHE)(solve_problem)
"""The same, as a task: what a sweep hands to a thread or Dask task runner."""


def _concurrent(problem, lm, heads, grid, config, pool, start: int = 0):
    """Agents ``start``... in a thread task runner; a passing agent cancels those after it in grid
    order, so the winner (the lowest passing index) is the one the sequential run would pick."""
    cancels = [threading.Event() for _ in grid]
    runner = ThreadPoolTaskRunner(max_workers=config.agent_workers)
    done = {}
    with runner, stop_all_on_interrupt():
        futures = {runner.submit(run_agent_task, parameters=dict(
            problem=problem, lm=lm, head=heads(agent.prompt), agent=agent, agent_index=i, settings=config.decode,
            pool=pool, cancel=cancels[i], line_tasks=config.line_tasks)): i
            for i, agent in enumerate(grid) if i >= start}
        for fut in as_completed(list(futures)):
            i = futures[fut]
            rec = fut.result()
            done[i] = rec
            if rec.passed_visible:
                for j in range(i + 1, len(grid)):
                    cancels[j].set()
    return settle(done)
