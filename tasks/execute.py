from prefect import task
from prefect.cache_policies import NO_CACHE


@task(name="execute-candidates", cache_policy=NO_CACHE, retries=1)
def execute_task(attempt, candidates):
    """Step 3: every executable candidate on every visible test, traced, in the sandbox."""
    attempt.execute(candidates)
    return candidates
