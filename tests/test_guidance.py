import math

import pytest
import torch

from egcfg_core.guidance import PlausibilityMask, cfg_logprobs, topk_pairs


@pytest.fixture
def logits():
    g = torch.Generator().manual_seed(0)
    return torch.randn(4, 50, generator=g) * 3, torch.randn(4, 50, generator=g) * 3


def test_gamma_zero_is_unguided(logits):
    u, c = logits
    assert torch.allclose(cfg_logprobs(u, c, 0.0), torch.log_softmax(u, -1), atol=1e-6)


def test_gamma_one_is_guided(logits):
    u, c = logits
    assert torch.allclose(cfg_logprobs(u, c, 1.0), torch.log_softmax(c, -1), atol=1e-5)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 3.0, 7.5])
def test_output_is_normalised(logits, gamma):
    u, c = logits
    out = cfg_logprobs(u, c, gamma)
    assert torch.allclose(out.exp().sum(-1), torch.ones(4), atol=1e-5)


def test_formula_matches_paper(logits):
    u, c = logits
    lu, lc = torch.log_softmax(u, -1), torch.log_softmax(c, -1)
    expected = torch.log_softmax(lu + 3.0 * (lc - lu), -1)
    assert torch.allclose(cfg_logprobs(u, c, 3.0), expected, atol=1e-5)


def test_amplified_guidance_moves_mass_towards_guided():
    u = torch.tensor([2.0, 1.0, 0.0])
    c = torch.tensor([0.0, 3.0, 0.0])
    p1 = cfg_logprobs(u, c, 1.0).exp()[1]
    p3 = cfg_logprobs(u, c, 3.0).exp()[1]
    assert p3 > p1 > cfg_logprobs(u, c, 0.0).exp()[1]


def test_impossible_tokens_stay_impossible_without_nan():
    u = torch.tensor([0.0, -math.inf, 1.0])
    c = torch.tensor([1.0, -math.inf, 0.0])
    out = cfg_logprobs(u, c, 2.0)
    assert not torch.isnan(out).any()
    assert out[1] == -math.inf


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="shape"):
        cfg_logprobs(torch.zeros(3), torch.zeros(4), 1.0)


def test_plausibility_mask_keeps_only_plausible_tokens():
    lu = torch.log_softmax(torch.tensor([5.0, 4.9, 0.0, -5.0]), -1)
    scores = torch.log_softmax(torch.tensor([0.0, 0.0, 10.0, 10.0]), -1)
    out = PlausibilityMask(alpha=0.1)(lu, scores)
    assert torch.isinf(out[2]) and torch.isinf(out[3])
    assert torch.allclose(out.exp().sum(), torch.tensor(1.0))
    out_k = PlausibilityMask(top_k=3)(lu, scores)
    assert not torch.isinf(out_k[2]) and torch.isinf(out_k[3])
    assert PlausibilityMask()(lu, scores) is scores


def test_plausibility_mask_rejects_bad_values():
    with pytest.raises(ValueError, match="alpha"):
        PlausibilityMask(alpha=2.0)
    with pytest.raises(ValueError, match="top_k"):
        PlausibilityMask(top_k=-1)


def test_topk_pairs_sorted():
    lp = torch.log_softmax(torch.tensor([0.0, 3.0, 1.0, 2.0]), -1)
    pairs = topk_pairs(lp, 2)
    assert [p[0] for p in pairs] == [1, 3]
    assert pairs[0][1] > pairs[1][1]
