"""Classifier-free guidance between the plain prompt (p_sol) and the trace-enriched one (p_dyn).

    log M_CFG(w | p_sol, p_dyn) = log M(w | p_sol) + γ · (log M(w | p_dyn) − log M(w | p_sol))

γ = 0 is the unguided model, γ = 1 the guided one, γ > 1 amplifies the execution signal.
"""
from __future__ import annotations

import math

import torch


def cfg_logprobs(uncond_logits: torch.Tensor, cond_logits: torch.Tensor, gamma: float) -> torch.Tensor:
    """Combine two next-token distributions; returns normalised log-probabilities.

    Both inputs are logits (or log-probs) with the vocabulary on the last dimension.  The result is
    computed in float32 and re-normalised with log_softmax, so it is a proper distribution for any γ.
    Tokens impossible under both streams stay impossible (no NaN from ``-inf - -inf``).
    """
    if uncond_logits.shape != cond_logits.shape:
        raise ValueError(f"shape mismatch: {tuple(uncond_logits.shape)} vs {tuple(cond_logits.shape)}")
    lu = torch.log_softmax(uncond_logits.float(), dim=-1)
    if gamma == 0:
        return lu
    lc = torch.log_softmax(cond_logits.float(), dim=-1)
    diff = torch.where(torch.isfinite(lu) | torch.isfinite(lc), lc - lu, torch.zeros_like(lu))
    combined = lu + gamma * diff
    combined = torch.where(torch.isnan(combined), torch.full_like(combined, -math.inf), combined)
    return torch.log_softmax(combined, dim=-1)


class PlausibilityMask:
    """Keep only tokens the unguided model finds plausible (Li et al.'s adaptive plausibility).

    A token survives when its unguided probability is at least ``alpha`` times the unguided maximum,
    or when it is among the unguided ``top_k``.  With ``alpha = 0`` and ``top_k = 0`` it is the
    identity.  Same call shape as a transformers LogitsProcessor, plus the unguided log-probs:
    ``mask(uncond_logprobs, scores) -> scores`` with masked entries set to ``-inf``.
    """

    def __init__(self, alpha: float = 0.0, top_k: int = 0):
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"plausibility alpha must be in [0, 1], got {alpha}")
        if top_k < 0:
            raise ValueError(f"plausibility top_k must be >= 0, got {top_k}")
        self.alpha = alpha
        self.top_k = top_k

    @property
    def active(self) -> bool:
        return self.alpha > 0 or self.top_k > 0

    def __call__(self, uncond_logprobs: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if not self.active:
            return scores
        keep = torch.zeros_like(scores, dtype=torch.bool)
        if self.alpha > 0:
            best = uncond_logprobs.max(dim=-1, keepdim=True).values
            keep |= uncond_logprobs >= best + math.log(self.alpha)
        if self.top_k > 0:
            k = min(self.top_k, uncond_logprobs.shape[-1])
            idx = uncond_logprobs.topk(k, dim=-1).indices
            keep.scatter_(-1, idx, True)
        masked = scores.masked_fill(~keep, -math.inf)
        return torch.log_softmax(masked, dim=-1)


def topk_pairs(logprobs: torch.Tensor, k: int) -> list[tuple[int, float]]:
    """The k most likely tokens of a 1-D log-prob vector as (token id, log-prob) pairs."""
    k = min(k, logprobs.shape[-1])
    vals, idx = logprobs.topk(k)
    return [(int(i), float(v)) for i, v in zip(idx.tolist(), vals.tolist())]
