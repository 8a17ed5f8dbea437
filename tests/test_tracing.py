"""Traced runs: statuses, line numbers, determinism and bounds of the rendered text."""
from __future__ import annotations

import json
import re

import pytest

from egcfg_core import records
from egcfg_core.sandbox import SandboxPool
from egcfg_core.tracing import TraceResult, render_trace, run_tests, run_traced

CODE = """def f(n):
    total = 0
    for i in range(n):
        total += i * i
    return total + helper(n)

def helper(x):
    return 10 // (x - 3)
"""
# f(2) = 1 + 10 // -1 = -9 ; f(4) = 14 + 10 = 24 ; f(3) -> ZeroDivisionError


def T(src: str) -> records.TestCase:
    call = src[len("assert "):].split(" ==")[0] if src.startswith("assert ") else ""
    return records.TestCase(source=src, call=call)


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(2) as p:
        yield p


def test_statuses(pool):
    assert run_traced(CODE, T("assert f(4) == 24"), function_name="f", pool=pool).status == "passed"
    r = run_traced(CODE, T("assert f(4) == 25"), function_name="f", pool=pool)
    assert (r.status, r.error) == ("failed", "AssertionError")
    r = run_traced(CODE, T("assert f(3) == 0"), function_name="f", pool=pool)
    assert (r.status, r.error) == ("error", "ZeroDivisionError: integer division or modulo by zero")
    r = run_traced("def f(x):\n    while x > 0:\n        x += 1\n", T("assert f(1) == 2"), function_name="f",
                   pool=pool, timeout_s=0.6)
    assert r.status == "timeout"
    r = run_traced("def f(x):\n    return [0] * (10 ** 10)\n", T("assert f(1) == 2"), function_name="f",
                   pool=pool, memory_mb=256)
    assert r.status == "memory"
    assert isinstance(r, TraceResult)


def test_assertion_inside_candidate_is_error_not_failed(pool):
    r = run_traced("def f(x):\n    assert x > 5, 'too small'\n    return x\n", T("assert f(1) == 1"),
                   function_name="f", pool=pool)
    assert (r.status, r.error) == ("error", "AssertionError: too small")


def test_syntax_error_in_candidate_is_error(pool):
    r = run_traced("def f(x):\n    return (\n", T("assert f(1) == 1"), function_name="f", pool=pool)
    assert r.status == "error" and r.error.startswith("SyntaxError")


def test_trace_content_and_relative_line_numbers(pool):
    setup = "import math\nimport re\n\n\nX = 1\n"
    r = run_traced(CODE, T("assert f(2) == -9"), function_name="f", setup_code=setup, pool=pool)
    assert r.status == "passed"
    ev = r.trace["events"]
    json.dumps(r.trace)  # JSON-serialisable
    lines = [e["ln"] for e in ev if e["t"] == "line"]
    assert lines == [2, 3, 4, 3, 4, 3, 5, 8]  # relative to CODE, not to setup + code
    calls = [(e["fn"], e.get("args")) for e in ev if e["t"] == "call"]
    assert calls == [("f", {"n": "2"}), ("helper", {"x": "2"})]
    rets = [(e["fn"], e["value"]) for e in ev if e["t"] == "return"]
    assert rets == [("helper", "-10"), ("f", "-9")]
    changed = [e.get("vars") for e in ev if e["t"] == "line"]
    assert changed[0] == {"total": "0"} and changed[1] == {"i": "0"} and changed[4] == {"total": "1"}
    text = render_trace(r.trace)
    assert text.splitlines()[0] == "run: f(2)"
    assert "  L4  total = 1" in text
    assert "-> f returned -9" in text
    assert text.splitlines()[-1] == "verdict: passed"


def test_exception_rendering_has_type_message_and_line(pool):
    r = run_traced(CODE, T("assert f(3) == 0"), function_name="f", pool=pool)
    exc = r.trace["exception"]
    assert exc["type"] == "ZeroDivisionError" and exc["line"] == 8
    text = render_trace(r.trace)
    assert "!! ZeroDivisionError: integer division or modulo by zero (L8)" in text
    assert text.endswith("verdict: error (ZeroDivisionError: integer division or modulo by zero)")


def test_same_run_twice_gives_identical_text(pool):
    code = (
        "class P:\n    pass\n\n"
        "def f(words):\n"
        "    s = set(words)\n"
        "    d = {w: len(w) for w in words}\n"
        "    p = P()\n"
        "    fn = lambda: 1\n"
        "    return sorted(s)\n"
    )
    t = T("assert f(['pear', 'apple', 'fig', 'kiwi']) == ['apple', 'fig', 'kiwi', 'pear']")
    a = run_traced(code, t, function_name="f", pool=pool)
    b = run_traced(code, t, function_name="f")  # fresh sandbox, not the pool
    assert a.status == b.status == "passed"
    ta, tb = render_trace(a.trace), render_trace(b.trace)
    assert ta == tb
    assert "0x" not in ta
    assert "s = {'apple', 'fig', 'kiwi', 'pear'}" in ta  # sets are rendered sorted
    assert "p = <__main__.P object>" in ta


def test_bounds_long_loop_and_huge_repr(pool):
    code = "def f(n):\n    acc = []\n    for i in range(n):\n        acc.append('x' * 500)\n    return len(acc)\n"
    r = run_traced(code, T("assert f(20000) == 20000"), function_name="f", pool=pool, timeout_s=10)
    assert r.status == "passed"
    assert r.trace["truncated"] is True
    assert len(r.trace["events"]) <= 300
    assert len(json.dumps(r.trace)) < 200_000
    for max_steps, max_repr, max_chars in [(40, 60, 1500), (10, 20, 400), (5, 8, 120)]:
        text = render_trace(r.trace, max_steps=max_steps, max_repr=max_repr, max_chars=max_chars)
        assert len(text) <= max_chars
        step_lines = [ln for ln in text.splitlines()[1:-1]]
        assert len(step_lines) <= max_steps + 1
        for ln in step_lines:
            m = re.search(r"acc = (.*)", ln)
            if m:
                assert len(m.group(1)) <= max_repr
    assert text == render_trace(r.trace, max_steps=5, max_repr=8, max_chars=120)


def test_render_rejects_bad_input():
    with pytest.raises(TypeError):
        render_trace("not a trace")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bounds"):
        render_trace({}, max_steps=0)


def test_text_does_not_look_like_python_code(pool):
    r = run_traced(CODE, T("assert f(3) == 0"), function_name="f", pool=pool)
    text = render_trace(r.trace)
    for ln in text.splitlines():
        s = ln.strip()
        assert not s.startswith(("def ", "class ", "#", "return ", "import ", "for ", "if "))


def test_stdio_problem(pool):
    code = "n = int(input())\nfor i in range(n):\n    print(i * 2)\n"
    good = records.TestCase(stdin="3\n", expected_stdout="0\n2\n4\n")
    bad = records.TestCase(stdin="3\n", expected_stdout="0 2 5")
    r = run_traced(code, good, function_name="", pool=pool)
    assert r.status == "passed"
    assert [e["ln"] for e in r.trace["events"] if e["t"] == "line"][:3] == [1, 2, 3]
    assert "stdout: 0\\n2\\n4\\n" in render_trace(r.trace)
    r = run_traced(code, bad, function_name="", pool=pool)
    assert r.status == "failed" and r.error.startswith("WrongOutput")
    assert "expected: 0 2 5" in render_trace(r.trace)
    # whitespace-normalised comparison; an explicit exit(0) after the output is fine for stdio
    ws = run_tests("import sys\nprint('0  ', 2)\nprint(4)\nsys.exit(0)\n",
                   [records.TestCase(stdin="", expected_stdout="0 2\n4")], function_name="", kind="stdio", pool=pool)
    assert ws[0].status == "passed"


def test_run_tests_outcomes(pool):
    tests = [T("assert f(4) == 24"), T("assert f(4) == 0"), T("assert f(3) == 1")]
    out = run_tests(CODE, tests, function_name="f", pool=pool)
    assert all(isinstance(o, records.TestOutcome) for o in out)
    assert [(o.test_index, o.status) for o in out] == [(0, "passed"), (1, "failed"), (2, "error")]
    # without a pool: one fresh sandbox per test
    assert [o.status for o in run_tests(CODE, tests[:1], function_name="f")] == ["passed"]
    with pytest.raises(ValueError, match="kind"):
        run_tests(CODE, tests, function_name="f", kind="bogus")


def test_humaneval_style_check_program(pool):
    check = (
        "def check(candidate):\n"
        "    assert candidate(4) == 24\n"
        "    assert abs(candidate(2) + 9) < 1e-9\n"
        "check(f)\n"
    )
    assert run_tests(CODE, [records.TestCase(source=check)], function_name="f", pool=pool)[0].status == "passed"
    bad = check.replace("24", "23")
    assert run_tests(CODE, [records.TestCase(source=bad)], function_name="f", pool=pool)[0].status == "failed"
