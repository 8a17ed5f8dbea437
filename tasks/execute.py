from prefect import task
from prefect.cache_policies import NO_CACHE

from egcfg_core.decoding import Attempt


@task(name="execute-candidates", cache_policy=NO_CACHE, retries=1)
def execute_task(attempt, candidates):
    """Step 3: every executable candidate on every visible test, traced, in the sandbox."""
    for c in candidates:  # a retried task starts over
        c.executions.clear()
    Attempt.execute(attempt, candidates)
    return candidates
