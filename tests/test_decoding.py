"""The KV-cached two-stream decoder must pick exactly the tokens of the naive decoder that
re-encodes both prompts from scratch every token (tiny random-weight model, several γ)."""
from dataclasses import replace

import pytest
import torch

from egcfg_core.decoding import Attempt, DecodeSettings, Head, finished_function
from egcfg_core.config import LEGACY_DECODE
from egcfg_core.guidance import PlausibilityMask
from egcfg_core.naive import naive_token
from egcfg_core.prompts import build_prompt
from egcfg_core.records import AgentConfig, Problem, TestCase
from egcfg_core.engines.transformers import TransformersEngine
from tests.tiny import tiny_model


class NewlineBias(torch.nn.Module):
    """Wraps a model and adds a bias to the newline logit, so random weights still write lines."""

    def __init__(self, inner, newline_id: int, bias: float = 2.5):
        super().__init__()
        self.inner = inner
        self.bias = torch.zeros(inner.config.vocab_size)
        self.bias[newline_id] = bias
        self.config = inner.config
        self.generation_config = inner.generation_config

    def forward(self, input_ids=None, cache=None, **kw):
        out = self.inner(input_ids=input_ids, cache=cache, **kw)
        out.logits = out.logits + self.bias
        return out


class FixedSignals(Attempt):
    """An attempt whose per-line signal is given (no sampling, no execution)."""

    signals: list[str] = []

    def build_signal(self, sol, prefix, line_index, timings):
        return [], self.signals[line_index % len(self.signals)]


SIGNALS = ["\n\nfeedback one: x = 3, returned 9", "", "\n\nfeedback two is a little longer: L2 total = 10\n  -> returned None"]

PROBLEM = Problem(task_id="toy/1", benchmark="toy", description="Write a program that prints 42.",
                  function_name="", visible_tests=(TestCase(stdin="", expected_stdout="42"),),
                  hidden_tests=(), kind="stdio")


@pytest.fixture(scope="module")
def lm():
    model, tok = tiny_model(seed=3)
    return TransformersEngine(NewlineBias(model, tok.convert_tokens_to_ids("\n")), tok)


def naive_decode(lm, parts, gamma, mask, n_tokens):
    head, tail = lm.encode(parts.head), lm.encode(parts.tail)
    code, line = [], 0
    while len(code) < n_tokens:
        signal = SIGNALS[line % len(SIGNALS)]
        dyn = head + lm.encode(signal) + tail + code if signal else None
        tok = naive_token(lm.model, head + tail + code, dyn, gamma, mask)
        if tok in lm.eos_ids:
            break
        code.append(tok)
        if finished_function(lm.decode(code), PROBLEM):
            break
        if "\n" in lm.token_text(tok):
            line += 1
    return code


@pytest.mark.parametrize("batch_streams", [True, False])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 3.0])
def test_cached_decoder_matches_naive(lm, gamma, batch_streams):
    n = 48
    # every line guided with the v1 signal, as the naive decoder does (config.LEGACY_DECODE)
    settings = DecodeSettings(max_new_tokens=n, max_lines=100, batch_streams=batch_streams, **LEGACY_DECODE,
                              plausibility_alpha=0.05 if gamma == 3.0 else 0.0)
    parts = build_prompt(PROBLEM, lm.tokenizer)
    head = Head.build(lm, parts)
    agent = AgentConfig(t=0.7 if gamma else 0.0, gamma=gamma, s=2, d=1)  # γ = 0, t = 0: greedy

    FixedSignals.signals = SIGNALS
    attempt = FixedSignals(lm, replace(PROBLEM, visible_tests=()), head, agent, 0, settings)
    rec = attempt.run()
    cached = [d.token_id for line in rec.lines for d in line.tokens if d.token_id not in lm.eos_ids]
    mask = PlausibilityMask(settings.plausibility_alpha) if gamma else None
    naive = naive_decode(lm, parts, gamma, mask, n)
    assert len(rec.lines) >= 3, "the test needs several lines to exercise the per-line p_dyn rebuild"
    assert cached == naive
    # the record says which lines were guided and what the signal was
    for line in rec.lines:
        assert line.signal_text == SIGNALS[line.line_index % len(SIGNALS)]
    if gamma >= 1.0:
        assert any(d.argmax_changed for line in rec.lines for d in line.tokens)


def test_token_decisions_are_consistent(lm):
    settings = DecodeSettings(max_new_tokens=30, max_lines=100, plausibility_alpha=0.0)
    parts = build_prompt(PROBLEM, lm.tokenizer)
    FixedSignals.signals = SIGNALS
    rec = FixedSignals(lm, replace(PROBLEM, visible_tests=()), Head.build(lm, parts),
                       AgentConfig(t=0.7, gamma=1.0, s=2, d=1), 0, settings).run()
    pos = [d.position for line in rec.lines for d in line.tokens]
    assert pos == list(range(len(pos)))
    for line in rec.lines:
        for d in line.tokens:
            assert d.logp_combined <= 0 and d.logp_uncond <= 0
            if not line.signal_text:  # an unguided line: both distributions are p_sol's
                assert d.logp_guided == d.logp_uncond and not d.argmax_changed
            else:  # γ = 1: the combined distribution is the guided one
                assert abs(d.logp_combined - d.logp_guided) < 1e-4
            assert d.topk_uncond[0][1] >= d.logp_uncond - 1e-6
    assert "".join(line.chosen_text for line in rec.lines) == rec.code or rec.stop_reason == "token_cap"


def test_finished_function_rules():
    p = Problem(task_id="t", benchmark="b", description="", function_name="f",
                visible_tests=(), hidden_tests=())
    assert finished_function("def f(x):\n    return x\n", p) is None
    assert finished_function("def f(x):\n    return x\n```", p) == ("def f(x):\n    return x\n", "fence")
    code, reason = finished_function("import re\ndef f(x):\n    return x\nprint(f(2))\n", p)
    assert reason == "dedent" and code == "import re\ndef f(x):\n    return x\n"
    # helpers before and after the target function are kept
    assert finished_function("X = 3\ndef g():\n    pass\ndef f(x):\n    return g()\n\ndef h():\n", p) is None
