"""Guided decoding as Prefect tasks: an agent's attempt, and (with ``line_tasks``) each line's
exploration and execution as tasks of their own."""
from prefect import task
from prefect.cache_policies import NO_CACHE

from egcfg_core.decoding import Attempt

from .execute import execute_task
from .explore import explore_task


class PipelineAttempt(Attempt):
    """An attempt whose per-line exploration and execution run as Prefect tasks (the rest of the
    line, its timings included, is ``Attempt``'s)."""

    def explore(self, sol, prefix, line_index, n=None):
        return explore_task(self, sol, prefix, line_index, n)

    def execute(self, cands):
        execute_task(self, cands)


@task(name="guided-decoding", cache_policy=NO_CACHE)
def run_agent_task(problem, lm, head, agent, agent_index, settings, pool=None, cancel=None, on_line=None,
                   line_tasks=False):
    """Steps 1-5 for one agent: the line-by-line EG-CFG loop, returning its AttemptRecord
    (``agents.solve``'s ``run_agent`` hook in the pipeline).

    With ``line_tasks`` each line's exploration and execution are tasks of their own (visible in
    the Prefect UI, retried on their own) at about 50 ms of orchestration a line; without, they
    are plain calls inside this task (the default: orchestration stays well under 3% of a line).
    """
    cls = PipelineAttempt if line_tasks else Attempt
    return cls(lm, problem, head, agent, agent_index, settings, pool=pool, cancel=cancel, on_line=on_line).run()
