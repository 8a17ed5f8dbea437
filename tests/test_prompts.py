from egcfg_core.prompts import CODE_FENCE, build_prompt, render_signal, task_message
from egcfg_core.records import CandidateRecord, ExecutionRecord, Problem, TestCase
from tests.tiny import tiny_tokenizer

PROBLEM = Problem(task_id="Mbpp/1", benchmark="mbpp", description="Write a function to add two numbers.",
                  function_name="add", visible_tests=(TestCase(source="assert add(1, 2) == 3", call="add(1, 2)"),),
                  hidden_tests=())
FEWSHOT = [{"text": "Write a function to reverse a string.", "test_list": ["assert rev('ab') == 'ba'"],
            "code": "def rev(s):\n    return s[::-1]\n"}]


def test_p_sol_is_the_chat_template_with_an_open_code_fence():
    tok = tiny_tokenizer()
    parts = build_prompt(PROBLEM, tok, FEWSHOT)
    msgs_text = tok.apply_chat_template(
        [{"role": "system", "content": parts.head.split("<|im_start|>system\n")[1].split("<|im_end|>")[0]},
         {"role": "user", "content": "Write a function to reverse a string.\nYour code should pass these tests:\n"
                                     "assert rev('ab') == 'ba'\nWrite the function `rev`."},
         {"role": "assistant", "content": CODE_FENCE + "def rev(s):\n    return s[::-1]\n```"},
         {"role": "user", "content": task_message(PROBLEM)}], add_generation_prompt=True, tokenize=False)
    assert parts.p_sol() == msgs_text + CODE_FENCE
    assert parts.p_sol("x = 1\n").endswith("```python\nx = 1\n")
    # p_dyn = head + signal + tail + code: the signal sits at the end of the task's user turn
    dyn = parts.p_dyn("\n\nSIGNAL", "x = 1\n")
    assert dyn.startswith(parts.head) and "assert add(1, 2) == 3\nWrite the function `add`.\n\nSIGNAL<|im_end|>" in dyn
    assert "assert add(1, 2) == 3" in parts.head and "`add`" in parts.head


def test_task_message_lists_visible_tests_and_function_name():
    msg = task_message(PROBLEM)
    assert "assert add(1, 2) == 3" in msg and "`add`" in msg


def _cand(i, exe, statuses, dup=None):
    trace = {"invocation": "add(1, 2)"}
    return CandidateRecord(index=i, raw_text="", executable=exe, duplicate_of=dup, executions=[
        ExecutionRecord(candidate_index=i, test_index=k, status=st, error="", trace_text="", trace={}, duration_s=0.0)
        for k, st in enumerate(statuses)])


def test_signal_is_deterministic_bounded_and_skips_duplicates():
    tests = PROBLEM.visible_tests
    cands = [_cand(0, "def add(a, b):\n    return a - b\n", ["failed"]),
             _cand(1, "def add(a, b):\n    return a - b\n", ["failed"], dup=0),
             _cand(2, None, [])]
    sig = render_signal(cands, tests)
    assert sig == render_signal(cands, tests)
    assert sig.count("Draft ") == 1 and "  2|     return a - b" in sig and "verdict: failed" in sig
    assert render_signal([_cand(2, None, [])], tests) == ""
    many = [_cand(i, f"def add(a, b):\n    return a - {i}\n" + "#" * 300 + "\n", ["failed"]) for i in range(40)]
    assert len(render_signal(many, tests, max_chars=1200)) <= 1201


# ---- signal format v2 -------------------------------------------------------------------------

from egcfg_core.prompts import expected_of, new_lines, returned_value  # noqa: E402

V2_TESTS = (TestCase(source="assert add(1, 2) == 3", call="add(1, 2)"),
            TestCase(source="assert 7 == add(3, 4)", call="add(3, 4)"))
PREFIX = "def add(a, b):\n"


def _traced(i, exe, outcomes):
    """A candidate whose executions carry harness-shaped traces: outcomes = [(status, returned, error)]."""
    execs = []
    for k, (status, value, error) in enumerate(outcomes):
        events = [{"t": "call", "fn": "add", "d": 1, "ln": 1, "args": {"a": "1", "b": "2"}},
                  {"t": "line", "fn": "add", "d": 1, "ln": 2, "vars": {"c": "-1"}}]
        events.append({"t": "return", "fn": "add", "d": 1, "value": value} if value is not None
                      else {"t": "raise", "fn": "add", "d": 1})
        trace = {"function_name": "add", "invocation": V2_TESTS[k].call, "events": events, "status": status,
                 "error": error, "exception": None, "kind": "function"}
        execs.append(ExecutionRecord(candidate_index=i, test_index=k, status=status, error=error, trace_text="",
                                     trace=trace, duration_s=0.0))
    return CandidateRecord(index=i, raw_text="", executable=exe, executions=execs)


def _v2_cands():
    return [_traced(0, PREFIX + "    return a + b\n", [("passed", "3", ""), ("passed", "7", "")]),
            _traced(1, PREFIX + "    c = a - b\n    return c\n", [("failed", "-1", "AssertionError"),
                                                                    ("failed", "-1", "AssertionError")]),
            _traced(2, PREFIX + "    return a / 0\n", [("error", None, "ZeroDivisionError: division by zero"),
                                                       ("error", None, "ZeroDivisionError: division by zero")])]


def test_v2_sorts_drafts_by_tests_passed_with_the_best_last():
    sig = render_signal(_v2_cands(), V2_TESTS, format="v2", prefix=PREFIX)
    # the passing draft was sampled first; v2 shows it last, the erroring one first
    assert sig.index("return a / 0") < sig.index("c = a - b") < sig.index("return a + b")
    assert "Draft 1 (passes 0 of 2 tests)" in sig and "Draft 3 (passes ALL tests)" in sig
    assert sig.rstrip().endswith("-> passed")
    # v1 (the default) keeps sampling order
    v1 = render_signal(_v2_cands(), V2_TESTS)
    assert v1 == render_signal(_v2_cands(), V2_TESTS, format="v1")
    assert v1.index("return a + b") < v1.index("c = a - b") < v1.index("return a / 0")


def test_v2_shows_the_code_so_far_once_and_each_drafts_new_lines_only():
    sig = render_signal(_v2_cands(), V2_TESTS, format="v2", prefix=PREFIX)
    assert sig.count("def add(a, b):") == 1 and "Code so far:\n  1| def add(a, b):" in sig
    assert "  2|     c = a - b\n  3|     return c" in sig  # numbered as in the program the traces ran
    v1 = render_signal(_v2_cands(), V2_TESTS)
    assert v1.count("def add(a, b):") == 3


def test_v2_puts_call_expected_and_actual_side_by_side():
    sig = render_signal(_v2_cands(), V2_TESTS, format="v2", prefix=PREFIX)
    assert "add(1, 2)  expected 3  got -1  -> FAILED" in sig
    assert "add(3, 4)  expected 7  got 7  -> passed" in sig  # expected taken from either side of ==
    assert "add(1, 2)  expected 3  got error: ZeroDivisionError: division by zero  -> FAILED" in sig
    # failing drafts get a short trace (without the run/verdict lines Results already say)
    assert "Trace of add(1, 2):\n  => add(a=1, b=2)\n  L2  c = -1" in sig and "verdict:" not in sig


def test_v2_drops_the_worst_drafts_first_when_too_long():
    cands = [_traced(i, PREFIX + f"    return a - {i}\n" + "    #" + "x" * 200 + "\n",
                     [("failed", "0", "AssertionError")] * 2) for i in range(1, 12)]
    cands.append(_traced(99, PREFIX + "    return a + b\n", [("passed", "3", ""), ("passed", "7", "")]))
    sig = render_signal(cands, V2_TESTS, format="v2", prefix=PREFIX, max_chars=1500)
    assert len(sig) <= 1500
    assert "return a + b" in sig and "worse drafts not shown" in sig
    # a long code-so-far is shown by its end, keeping the line numbers
    long_prefix = PREFIX + "".join(f"    x{i} = {i}\n" for i in range(200))
    cands = [_traced(0, long_prefix + "    return a + b\n", [("passed", "3", ""), ("passed", "7", "")])]
    sig = render_signal(cands, V2_TESTS, format="v2", prefix=long_prefix, max_chars=1500)
    assert len(sig) <= 1500 and "not repeated" in sig and "202|     return a + b" in sig


def test_v2_helpers():
    assert expected_of(TestCase(source="assert f(1) == [1, 2]", call="f(1)")) == "[1, 2]"
    assert expected_of(TestCase(source="import math\nassert math.isclose(f(1), 2.0)", call="f(1)")) is None
    assert expected_of(TestCase(source="assert set(f(1)) == {1}", call="f(1)")) is None
    assert expected_of(TestCase(source="assert f(1) == 2", call="")) is None
    assert returned_value({"function_name": "f", "events": [
        {"t": "call", "fn": "f", "d": 1}, {"t": "call", "fn": "f", "d": 2}, {"t": "return", "fn": "f", "d": 2, "value": "1"},
        {"t": "return", "fn": "f", "d": 1, "value": "2"}]}) == "2"
    assert returned_value({"function_name": "f", "events": [{"t": "raise", "fn": "f", "d": 1}]}) is None
    # an executable that closed an open block with `pass` shows that pass among its new lines
    assert new_lines("def f(x):\n    for i in x:\n        pass\n", "def f(x):\n") == (2, ["    for i in x:", "        pass"])
    assert new_lines("def f(x):\n    return x\n", "") == (1, ["def f(x):", "    return x"])
    import pytest
    with pytest.raises(ValueError, match="signal format"):
        render_signal(_v2_cands(), V2_TESTS, format="v3")


# ---- prompt styles: per benchmark, the same choice for sweeps and `egcfg solve` ---------------

HE_PROMPT = 'def add(a: int, b: int) -> int:\n    """ Add two numbers.\n    >>> add(1, 2)\n    3\n    """\n'
HE_PROBLEM = Problem(task_id="HumanEval/0", benchmark="humaneval", description=HE_PROMPT, function_name="add",
                     visible_tests=(TestCase(source="assert add(1, 2) == 3", call="add(1, 2)"),), hidden_tests=())


def test_evalplus_style_is_the_prompt_code_asked_for_a_self_contained_script():
    """HumanEval's convention (evalplus's chat prompt): no system message of ours, the task's prompt
    code in a fence, the assistant turn opened with evalplus's response prefix and ```python; the
    signal slot stays at the end of the task's user message."""
    from egcfg_core.prompts import EVALPLUS_INSTRUCTION, EVALPLUS_RESPONSE

    tok = tiny_tokenizer()
    parts = build_prompt(HE_PROBLEM, tok, style="evalplus")
    message = EVALPLUS_INSTRUCTION + "\n```\n" + HE_PROMPT.strip() + "\n```\n"
    assert task_message(HE_PROBLEM, style="evalplus") == message
    want = tok.apply_chat_template([{"role": "user", "content": message}], add_generation_prompt=True, tokenize=False)
    assert parts.p_sol() == want + EVALPLUS_RESPONSE + "\n" + CODE_FENCE
    assert "system" not in parts.head and "Your code should pass" not in parts.head
    assert parts.p_dyn("\n\nSIGNAL").startswith(parts.head + "\n\nSIGNAL<|im_end|>")
    # the long-code variant adds its instruction after the code; forced few-shot turns come first
    assert task_message(HE_PROBLEM, "long-code", "evalplus").startswith(message + "\n")
    shots = build_prompt(HE_PROBLEM, tok, FEWSHOT, style="evalplus").head
    assert shots.index("Write a function to reverse a string.") < shots.index(EVALPLUS_INSTRUCTION)


def test_describe_style_is_the_default_and_unchanged():
    tok = tiny_tokenizer()
    assert build_prompt(PROBLEM, tok, FEWSHOT, style="describe") == build_prompt(PROBLEM, tok, FEWSHOT)
    assert task_message(PROBLEM, style="describe") == task_message(PROBLEM) == (
        "Write a function to add two numbers.\nYour code should pass these tests:\nassert add(1, 2) == 3\n"
        "Write the function `add`.")


def test_evalplus_style_for_mbpp_is_evalplus_mbpp_form_and_refused_for_programs():
    import pytest

    from dataclasses import replace

    assert task_message(PROBLEM, style="evalplus").endswith(
        '```\n"""\nWrite a function to add two numbers.\nassert add(1, 2) == 3\n"""\n```\n')
    with pytest.raises(ValueError, match="asks for a function"):
        task_message(replace(PROBLEM, kind="stdio"), style="evalplus")
    with pytest.raises(ValueError, match="unknown prompt style"):
        task_message(PROBLEM, style="chatty")


def test_prompting_picks_per_benchmark_and_keeps_an_explicit_choice():
    import pytest

    from egcfg_core.prompts import prompting

    assert prompting("mbpp") == prompting("mbpp-et") == (True, "describe")
    assert prompting("humaneval") == prompting("humaneval-et") == (False, "evalplus")
    assert prompting("codecontests") == (False, "describe")
    assert prompting("humaneval", True, "describe") == (True, "describe")
    assert prompting("mbpp", False) == (False, "describe")
    for bad in (("mbpp", "yes"), ("mbpp", "auto", "plain"), ("codecontests", "auto", "evalplus"), ("apps",)):
        with pytest.raises(ValueError):
            prompting(*bad)
