"""extract_executable: fences, repair of partial code, None for nothing runnable.

Nothing here executes candidate code: results are checked by comparing text and by compile()
(which parses and compiles without running anything).
"""
from __future__ import annotations

import time

import pytest

from egcfg_core.executable import extract_executable, strip_fences


def compiles(src: str) -> bool:
    try:
        compile(src, "<t>", "exec", dont_inherit=True)
        return True
    except SyntaxError:
        return False


# --------------------------------------------------------------------------- complete code


def test_complete_function_is_returned_normalised():
    code = "def f(x):\n    return x + 1\n\n\n   \n"
    assert extract_executable(code) == "def f(x):\n    return x + 1\n"


def test_adds_final_newline_and_crlf_normalised():
    assert extract_executable("x = 1") == "x = 1\n"
    assert extract_executable("def f():\r\n    return 2\r\n") == "def f():\n    return 2\n"


def test_decorated_function_kept():
    code = "import functools\n\n@functools.lru_cache(None)\ndef f(n):\n    return n\n"
    assert extract_executable(code) == code


# --------------------------------------------------------------------------- fences


def test_python_fence_with_text_before_and_after():
    text = "Here is the solution:\n```python\ndef f():\n    return 1\n```\nIt returns one."
    assert extract_executable(text) == "def f():\n    return 1\n"


def test_fence_without_language_tag():
    text = "Sure.\n```\ndef g(a):\n    return a * 2\n```\n"
    assert extract_executable(text) == "def g(a):\n    return a * 2\n"


def test_unclosed_fence_with_partial_tail():
    text = "```python\ndef f(xs):\n    for x in xs:\n        print(x"
    assert extract_executable(text) == "def f(xs):\n    for x in xs:\n        pass\n"


def test_closing_fence_only_keeps_code_before_it():
    # a continuation of a prompt that opened the fence itself
    text = "    return a + b\n```\n\nThis adds the numbers."
    assert strip_fences(text) == "    return a + b"
    text2 = "def add(a, b):\n    return a + b\n```\nExplanation: adds."
    assert extract_executable(text2) == "def add(a, b):\n    return a + b\n"


def test_untagged_unclosed_fence_after_prose():
    # one untagged fence with prose before it and no closer: the prose is not code, so the
    # text after the fence is used
    text = "Here you go:\n```\ndef f():\n    return 1"
    assert extract_executable(text) == "def f():\n    return 1\n"


def test_long_complete_program_is_not_truncated():
    code = "".join(f"x{i} = {i}\n" for i in range(5000))
    assert extract_executable(code) == code


def test_prefers_python_block_over_other_language():
    text = "```bash\npip install x\n```\nthen\n```python\ny = 2\n```\n"
    assert extract_executable(text) == "y = 2\n"


def test_fence_only_or_empty_fence_is_none():
    assert extract_executable("```python\n```") is None
    assert extract_executable("```") is None


# --------------------------------------------------------------------------- repairs


@pytest.mark.parametrize(
    "code, expected",
    [
        # trailing partial line is trimmed
        ("def f(x):\n    y = x * 2\n    return y +", "def f(x):\n    y = x * 2\n"),
        # open if -> indented pass at the right depth
        ("def f(x):\n    if x:\n", "def f(x):\n    if x:\n        pass\n"),
        # open for
        ("def f(xs):\n    total = 0\n    for x in xs:", "def f(xs):\n    total = 0\n    for x in xs:\n        pass\n"),
        # open def
        ("import math\ndef f(x):", "import math\ndef f(x):\n    pass\n"),
        # open while inside else
        (
            "def f(x):\n    if x:\n        return 1\n    else:\n        while x:\n",
            "def f(x):\n    if x:\n        return 1\n    else:\n        while x:\n            pass\n",
        ),
        # nested blocks, all empty
        (
            "class A:\n    def m(self, xs):\n        for i in xs:\n            if i:\n",
            "class A:\n    def m(self, xs):\n        for i in xs:\n            if i:\n                pass\n",
        ),
        # open else / except
        ("if a:\n    b = 1\nelse:\n", "if a:\n    b = 1\nelse:\n    pass\n"),
        ("try:\n    x = int(s)\nexcept ValueError:\n", "try:\n    x = int(s)\nexcept ValueError:\n    pass\n"),
        # decorator then open def
        ("@staticmethod\ndef g():\n", "@staticmethod\ndef g():\n    pass\n"),
        # unterminated string in the last line -> trimmed
        ("def f(x):\n    y = x\n    return 'abc", "def f(x):\n    y = x\n"),
        # unclosed paren in the last line -> trimmed
        ("def f(x):\n    y = x\n    z = max(y,", "def f(x):\n    y = x\n"),
        # unclosed paren spanning lines -> trimmed back to before it
        ("def f(x):\n    y = x\n    z = max(y,\n            1,\n", "def f(x):\n    y = x\n"),
        # tabs
        ("def f():\n\tif x:\n", "def f():\n\tif x:\n\t\tpass\n"),
        # two-space indentation is kept
        ("def f(x):\n  if x:\n", "def f(x):\n  if x:\n    pass\n"),
        # a comment after the colon
        ("def f(x):\n    if x:  # check x\n", "def f(x):\n    if x:  # check x\n        pass\n"),
        # wrong dedent in the last line -> trimmed
        ("def f(x):\n    y = 1\n  z = 2\n", "def f(x):\n    y = 1\n"),
    ],
)
def test_repairs(code, expected):
    out = extract_executable(code)
    assert out == expected
    assert compiles(out)


def test_try_without_handler_gets_finally_pass():
    out = extract_executable("def f(s):\n    try:\n        x = int(s)\n")
    # finally: pass keeps the body's behaviour: exceptions still propagate
    assert out == "def f(s):\n    try:\n        x = int(s)\n    finally:\n        pass\n"
    assert compiles(out)


def test_empty_try_gets_body_and_finally():
    out = extract_executable("def f():\n    try:\n")
    assert out == "def f():\n    try:\n        pass\n    finally:\n        pass\n"


def test_nested_try_inside_for():
    code = "for i in range(3):\n    try:\n        if i:\n"
    out = extract_executable(code)
    assert out == (
        "for i in range(3):\n    try:\n        if i:\n            pass\n"
        "    finally:\n        pass\n"
    )


def test_unclosed_triple_quoted_docstring_is_trimmed():
    code = 'def f(x):\n    """Return the double\n    of x.\n'
    assert extract_executable(code) == "def f(x):\n    pass\n"


def test_complete_docstring_then_partial_line():
    code = 'def f(x):\n    """Double."""\n    return (x *'
    assert extract_executable(code) == 'def f(x):\n    """Double."""\n'


def test_return_outside_function_is_not_runnable():
    # compile() (not only ast.parse) is the criterion: a top-level return is trimmed away
    assert extract_executable("x = 1\nreturn x\n") == "x = 1\n"


def test_indented_body_only_is_dedented():
    assert extract_executable("    a = 1\n    b = a + 1\n") == "a = 1\nb = a + 1\n"


def test_partial_code_before_fence_closer():
    text = "def f(x):\n    if x:\n```\nmore prose"
    assert extract_executable(text) == "def f(x):\n    if x:\n        pass\n"


# --------------------------------------------------------------------------- nothing runnable


@pytest.mark.parametrize(
    "code",
    [
        "",
        "   \n\n",
        "# just a comment\n# and another\n",
        "Sorry, I cannot help with that request!",
        "@decorator_without_function\n",
        "def (:\n",
        ")))\n",
        "```python\n# only a comment\n```",
    ],
)
def test_nothing_runnable_is_none(code):
    assert extract_executable(code) is None


def test_non_string_raises_type_error():
    with pytest.raises(TypeError):
        extract_executable(None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- properties


def test_output_always_compiles_and_is_deterministic():
    samples = [
        "def f(x):\n    for i in range(x):\n        if i % 2:\n            yield i\n        el",
        "def f(x):\n    while True:\n        x = [1, 2,\n",
        "class C:\n    @property\n    def v(self):\n        return {'a': 1,",
        "def f(a, b):\n    try:\n        return a / b\n    except ZeroDivisionError:\n        return None\n    final",
        "x = 1\ny = x +\n",
    ]
    for s in samples:
        out = extract_executable(s)
        assert out is not None and compiles(out) and out.endswith("\n")
        assert extract_executable.__wrapped__(s) == out  # same answer without the memo


def test_fast_on_a_typical_candidate():
    body = "def f(x):\n" + "".join(f"    y{i} = x + {i}\n" for i in range(40))
    cases = [body + "    if x:\n", body + "    return (x +\n", body + '    s = """abc\n']
    fn = extract_executable.__wrapped__  # bypass the memo
    t0 = time.perf_counter()
    for _ in range(20):
        for c in cases:
            assert fn(c) is not None
    per_call = (time.perf_counter() - t0) / 60
    assert per_call < 0.02, f"{per_call * 1e3:.1f} ms per call"
