"""Flow: solve one problem with its agent grid (first agent passing the visible tests wins)."""
from __future__ import annotations

import functools
import time

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from egcfg_core import agents
from egcfg_core.agents import PromptHeads
from egcfg_core.config import SweepConfig
from egcfg_core.decoding import SHUTDOWN
from egcfg_core.records import AttemptRecord, EvaluationRecord, Problem, SolveRecord
from tasks.decode import run_agent_task
from tasks.evaluate import evaluate_task
from tasks.prompt import build_prompt_task

from .runtime import get_engine, get_pool, stop_all_on_interrupt


def solve_problem(problem: Problem, config: SweepConfig, fewshot: list | None = None,
                  reuse: AttemptRecord | list[AttemptRecord] | None = None) -> tuple[SolveRecord, EvaluationRecord]:
    """``agents.solve`` with the pipeline's hooks (each agent a Prefect task, the prompt head a
    task, concurrent agents on a Prefect task runner), then hidden-test scoring of the final
    solution.  ``reuse``: the grid's first attempts (agent 0's greedy one, samplers after it),
    copied from stored runs that made the same ones (the sweep finds them:
    ``config.attempt_keys``); they are not decoded again."""
    t0 = time.perf_counter()
    lm, _, _ = get_engine(config)
    pool = get_pool()
    style = config.prompting()[1]
    solve = agents.solve(
        problem, lm, config.grid(), settings=config.decode, pool=pool,
        heads=PromptHeads(lambda variant: build_prompt_task(problem, lm, fewshot, variant, style)),
        reuse=[reuse] if isinstance(reuse, AttemptRecord) else list(reuse or []),
        run_agent=functools.partial(run_agent_task, line_tasks=config.line_tasks),
        workers=config.agent_workers, run_many=functools.partial(_on_task_runner, line_tasks=config.line_tasks))
    if SHUTDOWN.is_set():  # the sweep was interrupted: it commits nothing more, skip the scoring
        raise RuntimeError(f"{problem.task_id}: interrupted")
    solve.isolation = pool.isolation if pool is not None else ""
    evaluation = evaluate_task(problem, solve.solution, timeout_s=config.eval_timeout_s, pool=pool)
    solve.wall_s = time.perf_counter() - t0
    return solve, evaluation


def _on_task_runner(run_agent, jobs: list[dict], workers: int, line_tasks: bool = False):
    """``agents.solve``'s ``run_many`` for the pipeline: each agent a task on a Prefect thread task
    runner (so they show in the flow run), Ctrl-C stopping them all."""
    runner = ThreadPoolTaskRunner(max_workers=workers)
    with runner, stop_all_on_interrupt():
        futures = {runner.submit(run_agent_task, parameters={**job, "line_tasks": line_tasks}): job["agent_index"]
                   for job in jobs}
        for fut in as_completed(list(futures)):
            yield futures[fut], fut.result()


# The flow and the task wrap the module-level function itself (not a decorated copy of it) so that
# cloudpickle pickles them *by reference* (module + name) when a Dask task runner ships them, or
# the flow run context holding them, to a worker: a decorated ``def`` is shadowed by its Flow/Task
# object, so its function would be pickled by value, with copies of the module globals it uses.
solve_problem_flow = flow(name="egcfg-solve-problem", validate_parameters=False)(solve_problem)
solve_problem_task = task(name="egcfg-solve-problem", cache_policy=NO_CACHE)(solve_problem)
"""The same, as a task: what a sweep hands to a thread or Dask task runner."""
