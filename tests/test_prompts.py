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
