"""The naive EG-CFG token step, as the published code does it: re-encode both prompts every token.

No KV cache at all: for each token, p_sol and p_dyn are run through the model from scratch.
Slow on purpose; it is the reference the cached decoder must match token for token (tests) and
the baseline of bench/decode_speed.py.
"""
from __future__ import annotations

import torch

from .guidance import PlausibilityMask, cfg_logprobs


@torch.inference_mode()
def last_logits(model, ids: list[int]) -> torch.Tensor:
    x = torch.tensor([ids], dtype=torch.long, device=next(model.parameters()).device)
    return model(input_ids=x, use_cache=False).logits[0, -1].float()


def naive_token(model, sol_ids: list[int], dyn_ids: list[int] | None, gamma: float,
                mask: PlausibilityMask | None = None) -> int:
    """The token EG-CFG picks after p_sol / p_dyn, both encoded from scratch."""
    lu_logits = last_logits(model, sol_ids)
    lu = torch.log_softmax(lu_logits, dim=-1)
    if dyn_ids is None:
        return int(lu.argmax())
    combined = cfg_logprobs(lu_logits, last_logits(model, dyn_ids), gamma)
    if mask is not None:
        combined = mask(lu, combined)
    return int(combined.argmax())
