"""`egcfg solve`: one task, streamed line by line, ending with visible and hidden results."""
import re

import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_solve_streams_lines_and_reports_tests(data_dir):
    from egcfg_cli.main import app

    r = CliRunner().invoke(app, ["solve", "mbpp", "11", "--model", "factory:tests.tiny:tiny_model",
                                 "--data-dir", str(data_dir), "--gamma", "1", "--t", "0.7", "--s", "2",
                                 "--d", "1", "--max-new-tokens", "12"])
    assert r.exit_code == 0, r.output
    out = r.output
    assert "Mbpp/11" in out and "3 visible tests" in out
    assert re.search(r"greedy\s+greedy \|", out)  # the baseline's lines
    assert re.search(r"t0.7_g1_s2_d1\s+\d+ ran, \d+ failed, \d+ flipped \|", out)  # guided lines
    assert re.search(r"visible\s*│\s*\d/3", out) and re.search(r"hidden\s*│\s*\d/3", out)
    assert "hidden tests: " in out


def test_solve_unknown_task_and_bad_model_are_clear_errors(data_dir):
    from egcfg_cli.main import app

    r = CliRunner().invoke(app, ["solve", "mbpp", "99999", "--data-dir", str(data_dir)])
    assert r.exit_code == 2 and "no task '99999'" in r.output
    r = CliRunner().invoke(app, ["solve", "mbpp", "11", "--data-dir", str(data_dir), "--model", "/nonexistent/model"])
    assert r.exit_code == 2 and "/nonexistent/model" in r.output


@pytest.mark.parametrize("args, benchmark, task, want", [
    ([], "mbpp", "11", (3, "describe")),  # "auto", as a sweep of MBPP: its 3 few-shot turns
    ([], "humaneval", "0", (0, "evalplus")),  # as a sweep of HumanEval
    (["--fewshot", "true", "--prompt-style", "describe"], "humaneval", "0", (3, "describe")),
    (["--fewshot", "false"], "mbpp", "11", (0, "describe")),
])
def test_solve_asks_as_a_sweep_of_the_benchmark_would(data_dir, monkeypatch, args, benchmark, task, want):
    """`egcfg solve` takes its prompt from prompts.prompting, the rule a sweep's config follows."""
    import egcfg_core.agents
    from egcfg_cli.main import app

    seen = {}

    def fake_solve(problem, lm, grid, *, fewshot=None, prompt_style="describe", **kw):
        seen.update(fewshot=len(fewshot or ()), style=prompt_style)
        raise SystemExit(0)  # the prompt choice is all this test is about

    monkeypatch.setattr(egcfg_core.agents, "solve", fake_solve)
    r = CliRunner().invoke(app, ["solve", benchmark, task, "--model", "factory:tests.tiny:tiny_model",
                                 "--data-dir", str(data_dir), *args])
    assert r.exit_code == 0, r.output
    assert (seen["fewshot"], seen["style"]) == want


def test_solve_rejects_a_bad_prompt_choice(data_dir):
    from egcfg_cli.main import app

    r = CliRunner().invoke(app, ["solve", "mbpp", "11", "--data-dir", str(data_dir), "--prompt-style", "chatty"])
    assert r.exit_code == 2 and "prompt_style" in r.output
