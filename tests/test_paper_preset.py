"""The paper preset (issue 29): its prompt style, its signal format, its grid order, its drafts,
and the preset itself as a named configuration."""
from __future__ import annotations

import json

import pytest

from egcfg_core.agents import agent_grid
from egcfg_core.config import ConfigError, load_config
from egcfg_core.decoding import Attempt, DecodeSettings
from egcfg_core.prompts import CODE_FENCE, PAPER_SIGNAL_INTRO, build_prompt, prompting, render_signal
from egcfg_core.records import AgentConfig, CandidateRecord, ExecutionRecord, Problem, TestCase
from egcfg_core.sandbox import SandboxPool
from egcfg_core.tracing import render_trace_steps, run_traced, type_of_repr

PROBLEM = Problem(task_id="Mbpp/1", benchmark="mbpp", description="Write a function to add two numbers.",
                  function_name="add", hidden_tests=(),
                  visible_tests=(TestCase(source="assert add(1, 2) == 3", call="add(1, 2)"),
                                 TestCase(source="assert add(0, 0) == 0", call="add(0, 0)")))
FEWSHOT = [{"text": f"Task {i}.", "test_list": [f"assert f{i}(1) == {i}"], "code": f"def f{i}(x):\n    return {i}\n"}
           for i in (2, 3, 4)]


class NoTemplate:  # the paper style needs no chat template: a tokenizer without one must do
    chat_template = None


def test_paper_prompt_is_raw_instruction_response_with_the_signal_before_the_response():
    parts = build_prompt(PROBLEM, NoTemplate(), FEWSHOT, style="paper")
    p = parts.p_sol("x = 1\n")
    assert p.index("### Instruction:\n") < p.index("- Example 1:\n>>> Problem:\nTask 2.\n>>> Test Cases:\n"
                                                   "assert f2(1) == 2\n\n>>> Code:\n```python\ndef f2(x):")
    assert p.count(">>> Code:") == 3 and "- Example 3:" in p
    assert p.index("Here is my problem:\n>>> Problem:\nWrite a function to add two numbers.\n>>> Test Cases:\n"
                   "assert add(1, 2) == 3\nassert add(0, 0) == 0\n") > p.index("- Example 3:")
    assert p.endswith("\n### Response:\n" + CODE_FENCE + "x = 1\n")
    assert "<|im_start|>" not in p and "Write the function" not in p  # no chat template, no describe text
    dyn = parts.p_dyn("\nSIGNAL\n", "x = 1\n")
    assert dyn.startswith(parts.head) and "assert add(0, 0) == 0\n\nSIGNAL\n\n### Response:\n```python\nx = 1\n" in dyn
    # the long-code variant is zero-shot, with the rules after the tests
    lc = build_prompt(PROBLEM, NoTemplate(), FEWSHOT, variant="long-code", style="paper").p_sol()
    assert "Example" not in lc and "Write a Python function that satisfies the following test cases:" in lc
    assert lc.index("assert add(0, 0) == 0") < lc.index("no lambda") < lc.index("### Response:")


def test_paper_style_is_for_function_tasks_only():
    assert prompting("humaneval", True, "paper") == (True, "paper")
    with pytest.raises(ValueError, match="paper"):
        prompting("codecontests", False, "paper")
    stdio = Problem(task_id="cc/1", benchmark="codecontests", description="x", function_name="", kind="stdio",
                    visible_tests=(), hidden_tests=())
    with pytest.raises(ValueError, match="program"):
        build_prompt(stdio, NoTemplate(), None, style="paper")


def test_type_of_repr():
    cases = {"3": "int", "-2": "int", "2.5": "float", "1e-05": "float", "True": "bool", "None": "NoneType",
             "'a'": "str", '"b"': "str", "b'x'": "bytes", "[1]": "list", "(1,)": "tuple", "{}": "dict",
             "{'a': 1}": "dict", "{1, 2}": "set", "frozenset({1})": "frozenset", "<Foo object>": "object"}
    assert {r: type_of_repr(r) for r in cases} == cases


CODE = "def add(a, b):\n    c = a + b\n    return helper(c)\n\ndef helper(x):\n    return x * 1\n"


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(2) as p:
        yield p


def test_trace_steps_show_calls_lines_locals_types_and_returns(pool):
    r = run_traced(CODE, TestCase(source="assert add(1, 2) == 3", call="add(1, 2)"), function_name="add", pool=pool)
    assert r.status == "passed"
    text = render_trace_steps(r.trace, CODE)
    rows = text.split("\n")
    assert rows[0] == "= {'a': 1, 'b': 2} , {'a': 'int', 'b': 'int'}" and rows[1] == "CALL: def add(a, b):"
    assert "LINE:     c = a + b" in rows
    # the state before `return helper(c)` holds c, written by the line before it
    i = rows.index("LINE:     return helper(c)")
    assert rows[i - 1] == "= {'a': 1, 'b': 2, 'c': 3} , {'a': 'int', 'b': 'int', 'c': 'int'}"
    assert "== {'x': 3} , {'x': 'int'}" in rows and "CALL: def helper(x):" in rows  # depth 2
    assert rows[-2:] == ["RETURN:     return helper(c)", "Return Value: 3"]
    # a wrong result is not a verdict here (a bare call): no assertion error in the steps
    bad = run_traced(CODE, TestCase(source="assert add(1, 2) == 4", call="add(1, 2)"), function_name="add", pool=pool)
    assert bad.status == "failed"
    assert "AssertionError" not in render_trace_steps(bad.trace, CODE)
    # an exception inside the function is shown where it happened
    boom = "def add(a, b):\n    return a // b\n"
    r = run_traced(boom, TestCase(source="assert add(1, 0) == 0", call="add(1, 0)"), function_name="add", pool=pool)
    steps = render_trace_steps(r.trace, boom)
    assert "EXCEPTION:     return a // b" in steps and "ZeroDivisionError" in steps


def _ran(pool, codes):
    cands = []
    for i, code in enumerate(codes):
        execs = []
        for k, t in enumerate(PROBLEM.visible_tests):
            r = run_traced(code, t, function_name="add", pool=pool)
            execs.append(ExecutionRecord(candidate_index=i, test_index=k, status=r.status, error=r.error,
                                         trace_text="", trace=r.trace, duration_s=r.duration_s))
        cands.append(CandidateRecord(index=i, raw_text=code, executable=code, executions=execs))
    return cands


def test_paper_signal_has_every_draft_and_test_and_no_verdicts(pool):
    good, bad = "def add(a, b):\n    return a + b\n", "def add(a, b):\n    return a - b\n"
    cands = _ran(pool, [good, bad])
    block = render_signal(cands, PROBLEM.visible_tests, max_chars=0, format="paper")
    assert block.startswith(PAPER_SIGNAL_INTRO)
    assert block.count("# Function:\n") == 4 and block.count("# Execution Trace:\n") == 4
    assert block.count("# Invocation:\nadd(1, 2)\n") == 2 and block.count("# Invocation:\nadd(0, 0)\n") == 2
    assert block.index(good) < block.index(bad)  # sampling order
    assert "Return Value: 3" in block and "Return Value: -1" in block
    for word in ("passed", "FAILED", "expected", "verdict"):
        assert word not in block
    cut = render_signal(cands, PROBLEM.visible_tests, max_chars=300, format="paper")
    assert len(cut) <= 300 and cut.endswith("[cut]\n")
    # 0 = no limit for the other formats too
    assert len(render_signal(cands, PROBLEM.visible_tests, max_chars=0, format="v1")) > 300


class RecordingEngine:
    """Stands in for an engine's sample(): records what it is asked for, returns fixed rows."""

    def __init__(self, text):
        self.text, self.calls = text, []

    def sample(self, stream, **kw):
        self.calls.append(kw)
        return [list(self.text)] * kw["n"]

    def decode(self, row):
        return "".join(row)


@pytest.mark.parametrize("to_end", [False, True])
def test_drafts_run_to_the_end_of_the_function_when_asked(to_end):
    body = "    a = 1\n    b = 2\n    c = 3\n    return a + b + c\n```"
    lm = RecordingEngine(body)
    settings = DecodeSettings(drafts_to_end=to_end, max_new_tokens=300)
    att = Attempt.__new__(Attempt)
    att.lm, att.problem, att.settings = lm, PROBLEM, settings
    att.agent = AgentConfig(t=0.7, gamma=1.0, s=2, d=2)
    cands = att.explore(None, "def add(a, b):\n", 0)
    call = lm.calls[0]
    if to_end:
        assert (call["lines"], call["max_new_tokens"]) == (settings.max_lines, 300)
        assert cands[0].raw_text.startswith(body.split("```")[0]) and "return a + b + c" in cands[0].executable
    else:
        assert (call["lines"], call["max_new_tokens"]) == (2, 2 * settings.candidate_tokens_per_line)
        assert cands[0].raw_text == "    a = 1\n    b = 2\n"


def test_gamma_inner_orders_each_agent_through_its_gammas():
    outer = agent_grid((0.7, 1.2), (0.5, 3.0), (3,), (2,))
    inner = agent_grid((0.7, 1.2), (0.5, 3.0), (3,), (2,), gamma_inner=True)
    assert sorted(a.name for a in outer) == sorted(a.name for a in inner)
    assert [a.name for a in inner] == ["greedy", "t0.7_g0.5_s3_d2", "t0.7_g3_s3_d2", "t1.2_g0.5_s3_d2", "t1.2_g3_s3_d2"]
    assert [a.name for a in outer][1:3] == ["t0.7_g0.5_s3_d2", "t1.2_g0.5_s3_d2"]


def test_paper_preset_loads_and_a_config_refines_it(tmp_path):
    cfg = load_config(None, {"benchmark": "mbpp", "tasks": "11-12"}, preset="paper")
    assert cfg.prompting() == (True, "paper") and cfg.gamma_inner and cfg.prompt == ("default", "long-code")
    st = cfg.decode
    assert (st.signal_format, st.signal_max_chars, st.plausibility_alpha, st.skip_certain, st.accept_verified,
            st.max_new_tokens) == ("paper", 0, 0.0, "", False, 512)
    assert len(cfg.grid()) == 2 * (1 + 6 * 4 * 3)
    assert cfg.semantic()["gamma_inner"] is True and cfg.semantic()["prompt_style"] == "paper"
    small = tmp_path / "small.toml"
    small.write_text("[grid]\nt = [0.7]\nd = [2]\nprompt = [\"default\"]\n[decode]\ndrafts_to_end = true\n")
    cfg2 = load_config(small, {"benchmark": "mbpp"}, preset="paper")
    assert [a.name for a in cfg2.grid()] == ["greedy", "t0.7_g0.5_s3_d2", "t0.7_g1_s3_d2", "t0.7_g3_s3_d2"]
    assert cfg2.decode.signal_format == "paper" and cfg2.decode.drafts_to_end  # the rest of the preset stays
    assert cfg2.run_id() != cfg.run_id() and cfg2.semantic()["decode"]["drafts_to_end"] is True
    with pytest.raises(ConfigError, match="unknown preset 'nope'.*paper"):
        load_config(None, {}, preset="nope")


def test_new_settings_leave_existing_run_ids_alone():
    from pathlib import Path

    cfg = load_config(Path(__file__).parent.parent / "configs" / "protocol" / "mbpp500_egcfg.toml")
    sem = cfg.semantic()
    assert "gamma_inner" not in sem and "drafts_to_end" not in sem["decode"]
    assert cfg.run_id() == "3fd7a0a14555"  # the committed MBPP-500 EG-CFG run


@pytest.mark.usefixtures("one_torch_thread")
def test_paper_preset_sweeps_end_to_end_with_the_tiny_model(prefect_harness, data_dir, tmp_path):
    """The preset through sweep_flow into the store: its grid order, its prompt (no chat template),
    and every stored signal in its format."""
    import duckdb

    from flows.sweep import sweep_flow

    cfg = load_config(None, dict(model="factory:tests.tiny:tiny_model", benchmark="mbpp", tasks="11",
                                 data_dir=str(data_dir), t=[0.7], d=[2], prompt=["default"], max_new_tokens=24,
                                 gamma=[0.5, 1.0]), preset="paper")
    db = tmp_path / "paper.duckdb"
    status = sweep_flow(config=cfg, db=str(db))
    assert (status["done"], status["failed"]) == (1, 0)
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT agent_name FROM attempts ORDER BY agent_index").fetchall()]
        signals = [r[0] for r in con.execute("SELECT signal_text FROM lines WHERE signal_text <> ''").fetchall()]
        n_lines = con.execute("SELECT count(*) FROM lines").fetchone()[0]
        n_cands = con.execute("SELECT count(*) FROM candidates").fetchone()[0]
        n_runs = con.execute("SELECT count(*) FROM executions").fetchone()[0]
        stored = json.loads(con.execute("SELECT config::VARCHAR FROM runs").fetchone()[0])
    finally:
        con.close()
    assert names[0] == "greedy" and names[1:] == ["t0.7_g0.5_s3_d2", "t0.7_g1_s3_d2"][: len(names) - 1]
    assert n_lines > 0 and all(s.startswith(PAPER_SIGNAL_INTRO) for s in signals)
    if len(names) > 1:  # the guided agent explored with the preset's s = 3 on every line (no skip rules)
        assert n_cands >= 3
    assert stored["prompt_style"] == "paper" and stored["decode"]["signal_format"] == "paper"
