from prefect import task
from prefect.cache_policies import NO_CACHE

from egcfg_core.evaluation import evaluate


@task(name="evaluate-hidden", cache_policy=NO_CACHE, retries=1)
def evaluate_task(problem, solution, timeout_s=10.0, pool=None):
    """Score the one final solution on the hidden tests (never used to choose)."""
    return evaluate(problem, solution, timeout_s=timeout_s, pool=pool)
