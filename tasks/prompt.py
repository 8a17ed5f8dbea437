from prefect import task
from prefect.cache_policies import NO_CACHE

from egcfg_core.decoding import Head
from egcfg_core.prompts import build_prompt


@task(name="build-prompt", cache_policy=NO_CACHE)
def build_prompt_task(problem, lm, fewshot) -> Head:
    """p_inst for one problem and the KV cache of the prompt head every agent shares."""
    return Head.build(lm, build_prompt(problem, lm.tokenizer, fewshot))
