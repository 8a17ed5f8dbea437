"""Prompt variants ("default", "long-code") as a grid dimension: the prompt text, the agent grid
and names, the sweep config and run id, the lazily built per-variant prompt heads, and a sweep
that stores both variants' attempts."""
from __future__ import annotations

import json
import pickle

import duckdb
import pytest

from egcfg_core import agents as agents_mod
from egcfg_core.agents import BASELINE, PromptHeads, agent_grid, solve
from egcfg_core.config import ConfigError, load_config
from egcfg_core.decoding import DecodeSettings, line_seed
from egcfg_core.prompts import LONG_CODE_INSTRUCTION, PROMPT_VARIANTS, build_prompt, task_message
from egcfg_core.records import AgentConfig, AttemptRecord, Problem, TestCase, TestOutcome
from egcfg_core.engines.transformers import TransformersEngine
from tests.tiny import tiny_model, tiny_tokenizer

PROBLEM = Problem(
    task_id="toy/add", benchmark="toy", description="Write a function add(a, b) returning a + b.",
    function_name="add", visible_tests=(TestCase(source="assert add(1, 2) == 3", call="add(1, 2)"),),
    hidden_tests=(TestCase(source="assert add(5, 5) == 10", call="add(5, 5)"),))
SETTINGS = DecodeSettings(max_new_tokens=12, max_lines=4, candidate_tokens_per_line=8, exec_timeout_s=2.0)
LONG = dict(prompt="long-code")


def test_long_code_adds_its_instruction_to_the_task_message_only():
    assert PROMPT_VARIANTS == ("default", "long-code")
    default, long = task_message(PROBLEM), task_message(PROBLEM, "long-code")
    assert LONG_CODE_INSTRUCTION not in default and long == default + "\n" + LONG_CODE_INSTRUCTION
    assert "comprehensions" in LONG_CODE_INSTRUCTION and "lambda" in LONG_CODE_INSTRUCTION
    with pytest.raises(ValueError, match="unknown prompt variant 'short'"):
        task_message(PROBLEM, "short")
    tok = tiny_tokenizer()
    fewshot = [{"text": "Reverse a string.", "test_list": ["assert rev('ab') == 'ba'"], "code": "def rev(s):\n    return s[::-1]\n"}]
    d, lc = build_prompt(PROBLEM, tok, fewshot), build_prompt(PROBLEM, tok, fewshot, "long-code")
    assert build_prompt(PROBLEM, tok, fewshot, "default") == d  # the default prompt is unchanged
    # the variant changes the head (the task's message) and nothing else
    assert lc.tail == d.tail and lc.head == d.head + "\n" + LONG_CODE_INSTRUCTION
    assert LONG_CODE_INSTRUCTION not in lc.tail


def test_grid_repeats_per_variant_and_default_names_are_unchanged():
    old = agent_grid((0.7,), (1.0,), (3,), (2,), sample_ts=(0.7,), sample_n=1)
    assert [a.name for a in old] == ["greedy", "t0.7_g1_s3_d2", "sample_t0.7_r0"]
    assert agent_grid((0.7,), (1.0,), (3,), (2,), sample_ts=(0.7,), sample_n=1, prompts=("default",)) == old
    both = agent_grid((0.7,), (1.0,), (3,), (2,), sample_ts=(0.7,), sample_n=1, prompts=("default", "long-code"))
    assert both[:3] == old
    assert [a.name for a in both[3:]] == ["greedy_long-code", "t0.7_g1_s3_d2_long-code", "sample_t0.7_r0_long-code"]
    assert [a.prompt for a in both] == ["default"] * 3 + ["long-code"] * 3
    assert both[3].is_baseline and both[5].is_sampler
    # its own seeds: the name is part of the per-line seed
    assert line_seed(0, "t", both[1], 0) != line_seed(0, "t", both[4], 0)
    assert agent_grid((), (), (), (), prompts=("long-code", "long-code")) == [AgentConfig(0.0, 0.0, 0, 0, **LONG)]
    with pytest.raises(ValueError, match="unknown prompt variant"):
        agent_grid((0.7,), (1.0,), (3,), (2,), prompts=("fancy",))


def test_an_old_pickled_agent_reads_as_the_default_prompt():
    # records pickled before the field existed (scripts/remote_sweep.py -> egcfg ingest) have no
    # "prompt" in their state: unpickling leaves it to the class default
    a = pickle.loads(pickle.dumps(AgentConfig(t=1.0, gamma=1.0, s=2, d=1)))
    del a.__dict__["prompt"]
    assert a.prompt == "default" and a.name == "t1_g1_s2_d1"


def test_config_prompt_dimension_and_run_ids(tmp_path):
    base = load_config(None, {"tasks": "11-12"})
    assert base.prompt == ("default",) and "prompt" not in base.semantic()
    # the default prompt, said or not, keeps the run id (and so every stored run's id)
    assert load_config(None, {"tasks": "11-12", "prompt": ["default"]}).run_id() == base.run_id()
    f = tmp_path / "c.toml"
    f.write_text('[data]\ntasks = "11-12"\n[grid]\nprompt = ["default", "long-code"]\n')
    both = load_config(f)
    assert both.prompt == ("default", "long-code") and list(both.semantic()["prompt"]) == ["default", "long-code"]
    long_only = load_config(None, {"tasks": "11-12", "prompt": ["long-code"]})
    assert len({base.run_id(), both.run_id(), long_only.run_id()}) == 3
    assert [a.prompt for a in long_only.grid()] == ["long-code"] * len(base.grid())
    for bad, match in (([], "must not be empty"), (["short"], "'short' is not one of"),
                       (["default", "default"], "listed twice"), ([3], "3 is not one of")):
        with pytest.raises(ConfigError, match="grid.prompt"):
            load_config(None, {"prompt": bad})
        with pytest.raises(ConfigError, match=match):
            load_config(None, {"prompt": bad})
    assert set(both.semantic()) - set(base.semantic()) == {"prompt"}


def test_prompt_heads_are_built_once_per_variant_and_only_when_needed(monkeypatch):
    built = []
    heads = PromptHeads(lambda v: built.append(v) or f"head:{v}")
    assert [heads("default"), heads("default"), heads("long-code")] == ["head:default"] * 2 + ["head:long-code"]
    assert built == ["default", "long-code"]

    # solve(): when a default-prompt agent passes, the long-code head is never built
    variants = []
    real = agents_mod.build_prompt
    monkeypatch.setattr(agents_mod, "build_prompt", lambda *a, **k: variants.append(a[3]) or real(*a, **k))
    model, tok = tiny_model(seed=1)
    lm = TransformersEngine(model, tok)
    grid = [BASELINE, AgentConfig(0.0, 0.0, 0, 0, **LONG)]

    def passing(*, problem, lm, head, agent, agent_index, settings, pool=None, cancel=None, on_line=None):
        return AttemptRecord(agent_index=agent_index, agent=agent, code=head.parts.head, stop_reason="eos", lines=[],
                             visible=[TestOutcome(0, "passed", "", 0.0)], passed_visible=True, timings={})

    rec = solve(PROBLEM, lm, grid, settings=SETTINGS, run_agent=passing)
    assert variants == ["default"] and len(rec.attempts) == 1


def test_each_variant_decodes_from_its_own_head():
    model, tok = tiny_model(seed=1)
    lm = TransformersEngine(model, tok)
    grid = [BASELINE, AgentConfig(0.0, 0.0, 0, 0, **LONG), AgentConfig(1.0, 1.0, 2, 1, **LONG)]
    seen = []

    def record(*, problem, lm, head, agent, agent_index, settings, pool=None, cancel=None, on_line=None):
        seen.append((agent.prompt, head))
        return agents_mod.Attempt(lm, problem, head, agent, agent_index, settings, pool=pool, on_line=on_line).run()

    rec = solve(PROBLEM, lm, grid, settings=SETTINGS, run_agent=record)
    (p0, h0), (p1, h1), (p2, h2) = seen
    assert (p0, p1, p2) == ("default", "long-code", "long-code")
    assert h1 is h2 and h0 is not h1  # one head per variant, shared by its agents
    assert LONG_CODE_INSTRUCTION not in h0.parts.head and LONG_CODE_INSTRUCTION in h1.parts.head
    assert h1.head_ids == lm.encode(h1.parts.head)
    # the greedy agents of the two prompts read different prompts, concurrently just the same
    conc = solve(PROBLEM, lm, grid, settings=SETTINGS, workers=2)
    toks = lambda r: [[d.token_id for ln in a.lines for d in ln.tokens] for a in r.attempts]
    assert toks(conc) == toks(rec)


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_sweep_stores_both_variants(prefect_harness, data_dir, tmp_path):
    from flows.sweep import sweep_flow

    over = dict(model="factory:tests.tiny:tiny_model", benchmark="mbpp", tasks="11", data_dir=str(data_dir),
                gamma=[0.0], max_new_tokens=5, prompt=["default", "long-code"])
    cfg = load_config(None, over)
    db = tmp_path / "p.duckdb"
    st = sweep_flow(config=cfg, db=str(db))
    assert (st["total"], st["done"]) == (1, 1)
    par = load_config(None, {**over, "agent_workers": 2})
    assert par.run_id() == cfg.run_id()
    sweep_flow(config=par, db=str(tmp_path / "par.duckdb"))
    sql = "SELECT agent_index, agent_name, n_tokens, code FROM attempts ORDER BY agent_index"
    rows = {}
    for name in ("p", "par"):
        con = duckdb.connect(str(tmp_path / f"{name}.duckdb"), read_only=True)
        try:
            rows[name] = con.execute(sql).fetchall()
            config = json.loads(con.execute("SELECT config FROM runs").fetchone()[0])
        finally:
            con.close()
        assert config["prompt"] == ["default", "long-code"]
    assert [r[:2] for r in rows["p"]] == [(0, "greedy"), (1, "greedy_long-code")]
    assert rows["par"] == rows["p"]
