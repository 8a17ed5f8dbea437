from prefect import task
from prefect.cache_policies import NO_CACHE

from egcfg_core.decoding import Head
from egcfg_core.prompts import build_prompt


@task(name="build-prompt", cache_policy=NO_CACHE)
def build_prompt_task(problem, lm, fewshot, variant: str = "default", style: str = "describe") -> Head:
    """p_inst for one problem (one prompt variant, in the run's prompt style) and the KV cache of
    the prompt head that the agents of that variant share."""
    return Head.build(lm, build_prompt(problem, lm.tokenizer, fewshot, variant, style))
