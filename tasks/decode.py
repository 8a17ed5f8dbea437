import time

from prefect import task
from prefect.cache_policies import NO_CACHE

from egcfg_core.decoding import Attempt

from .execute import execute_task
from .explore import explore_task


class PipelineAttempt(Attempt):
    """An attempt whose per-line exploration and execution run as Prefect tasks."""

    def build_signal(self, sol, prefix, line_index, timings):
        if self.agent.gamma == 0 or not self.problem.visible_tests:
            return [], ""
        t0 = time.perf_counter()
        cands = explore_task(self, sol, prefix, line_index)
        timings["sample_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        cands = execute_task(self, cands)
        timings["execute_s"] = time.perf_counter() - t0
        return cands, self.render(cands, prefix)


@task(name="guided-decoding", cache_policy=NO_CACHE)
def run_agent_task(problem, lm, head, agent, agent_index, settings, pool=None, cancel=None, line_tasks=False):
    """Steps 1-5 for one agent: the line-by-line EG-CFG loop, returning its AttemptRecord.

    With ``line_tasks`` each line's exploration and execution are tasks of their own (visible in
    the Prefect UI, retried on their own) at about 50 ms of orchestration a line; without, they
    are plain calls inside this task (the default: orchestration stays well under 3% of a line).
    """
    cls = PipelineAttempt if line_tasks else Attempt
    return cls(lm, problem, head, agent, agent_index, settings, pool=pool, cancel=cancel).run()
