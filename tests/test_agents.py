"""End-to-end EG-CFG solves on the tiny random-weight model (mechanics, not quality)."""
import pytest

from egcfg_core.agents import BASELINE, agent_grid, final_index, solve
from egcfg_core.decoding import DecodeSettings
from egcfg_core.records import AgentConfig, AttemptRecord, Problem, TestCase, TestOutcome
from egcfg_core.engines.transformers import TransformersEngine
from tests.tiny import tiny_model

PROBLEM = Problem(
    task_id="toy/add", benchmark="toy", description="Write a function add(a, b) returning a + b.",
    function_name="add",
    visible_tests=(TestCase(source="assert add(1, 2) == 3", call="add(1, 2)"),
                   TestCase(source="assert add(2, 2) == 4", call="add(2, 2)")),
    hidden_tests=(TestCase(source="assert add(5, 5) == 10", call="add(5, 5)"),))
SETTINGS = DecodeSettings(max_new_tokens=24, max_lines=6, candidate_tokens_per_line=12, exec_timeout_s=2.0,
                          skip_certain="")  # every guided line explores (the stages under test)


@pytest.fixture(scope="module")
def lm():
    model, tok = tiny_model(seed=1)
    return TransformersEngine(model, tok)


def test_grid_order_and_validation():
    grid = agent_grid((0.7, 1.0), (0.5, 3.0), (3,), (2,))
    assert grid[0] == BASELINE and grid[0].is_baseline
    assert [(a.gamma, a.t) for a in grid[1:]] == [(0.5, 0.7), (0.5, 1.0), (3.0, 0.7), (3.0, 1.0)]
    with pytest.raises(ValueError, match="s >= 1"):
        agent_grid((0.7,), (1.0,), (0,), (2,))
    assert agent_grid((0.7,), (0.0, 1.0), (2,), (1,), baseline=False) == [AgentConfig(0.7, 1.0, 2, 1)]


def _attempt(i, passed, n_pass):
    return AttemptRecord(agent_index=i, agent=BASELINE, code="x", stop_reason="eos", lines=[],
                         visible=[TestOutcome(k, "passed" if k < n_pass else "failed", "", 0.0) for k in range(3)],
                         passed_visible=passed, timings={})


def test_final_index_prefers_first_winner_then_most_visible():
    assert final_index([_attempt(0, False, 1), _attempt(1, True, 3), _attempt(2, True, 3)]) == (1, 1)
    assert final_index([_attempt(0, False, 1), _attempt(1, False, 2), _attempt(2, False, 2)]) == (None, 1)


def test_tiny_model_solve_runs_every_stage(lm):
    grid = [BASELINE, AgentConfig(t=1.0, gamma=1.0, s=2, d=1)]
    lines_seen = []
    rec = solve(PROBLEM, lm, grid, settings=SETTINGS, on_line=lambda i, ln: lines_seen.append((i, ln)))
    # random weights never pass: both agents ran, in grid order
    assert [a.agent for a in rec.attempts] == grid
    assert rec.winner is None and rec.final is rec.attempts[rec.final_index]
    base, guided = rec.attempts
    assert all(not ln.candidates and ln.signal_text == "" for ln in base.lines)
    assert all(len(ln.candidates) == 2 for ln in guided.lines)
    ran = [c for ln in guided.lines for c in ln.candidates if c.executable and c.duplicate_of is None]
    for c in ran:  # every unique executable candidate ran on every visible test, in the sandbox
        assert sorted(e.test_index for e in c.executions) == [0, 1]
        assert all(e.status in {"passed", "failed", "error", "timeout", "memory", "killed"} for e in c.executions)
    for ln in guided.lines:  # a line has a signal iff one of its candidates ran
        has_runs = any(c.executions for c in ln.candidates if c.duplicate_of is None)
        assert bool(ln.signal_text) == has_runs
    assert len(lines_seen) == len(base.lines) + len(guided.lines)
    n_tokens = sum(len(ln.tokens) for a in rec.attempts for ln in a.lines)
    assert n_tokens >= 2 and all(len(ln.tokens) >= 1 for a in rec.attempts for ln in a.lines)
    assert all(len(a.visible) == 2 or not a.code for a in rec.attempts)


def test_deterministic_and_concurrent_equals_sequential(lm):
    grid = [BASELINE, AgentConfig(t=1.0, gamma=1.0, s=2, d=1), AgentConfig(t=0.7, gamma=3.0, s=2, d=1)]
    a = solve(PROBLEM, lm, grid, settings=SETTINGS)
    b = solve(PROBLEM, lm, grid, settings=SETTINGS, workers=2)
    tokens = lambda r: [[d.token_id for ln in at.lines for d in ln.tokens] for at in r.attempts]
    cands = lambda r: [[c.raw_text for ln in at.lines for c in ln.candidates] for at in r.attempts]
    assert tokens(a) == tokens(b)
    assert cands(a) == cands(b)
    assert a.solution == b.solution and a.final_index == b.final_index


def test_samplers_are_the_no_guidance_ablation(lm):
    """γ = 0 with t > 0: whole functions sampled (temperature + top-p), no candidates, no signal;
    deterministic per seed, and replicates draw differently."""
    grid = agent_grid((), (), (), (), sample_ts=(1.0,), sample_n=2)
    assert [a.name for a in grid] == ["greedy", "sample_t1_r0", "sample_t1_r1"]
    assert grid[0].is_baseline and not grid[0].is_sampler and grid[1].is_sampler
    rec = solve(PROBLEM, lm, grid, settings=SETTINGS)
    again = solve(PROBLEM, lm, grid, settings=SETTINGS)
    toks = lambda r: [[d.token_id for ln in a.lines for d in ln.tokens] for a in r.attempts]
    assert toks(rec) == toks(again)
    greedy, s0, s1 = toks(rec)
    assert s0 != s1 and s0 != greedy
    for a in rec.attempts:
        assert all(not ln.candidates and ln.signal_text == "" for ln in a.lines)
    # a sampler's tokens come from its own unguided distribution, mostly not the argmax
    drawn = [d for ln in rec.attempts[1].lines for d in ln.tokens]
    assert any(d.argmax_changed for d in drawn)
    assert all(d.logp_combined == d.logp_uncond for d in drawn)
    with pytest.raises(ValueError, match="t > 0"):
        agent_grid((), (), (), (), sample_ts=(0.0,), sample_n=1)
