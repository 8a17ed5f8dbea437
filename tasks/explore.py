from prefect import task
from prefect.cache_policies import NO_CACHE

from egcfg_core.decoding import Attempt


@task(name="explore-candidates", cache_policy=NO_CACHE, retries=1)
def explore_task(attempt, sol, prefix, line_index, n=None):
    """Step 1-2: s (or n) candidate continuations of d lines, made executable and deduplicated."""
    return Attempt.explore(attempt, sol, prefix, line_index, n)  # the core step (the attempt may route here)
