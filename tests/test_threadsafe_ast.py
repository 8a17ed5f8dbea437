"""egcfg_core.threadsafe_ast: parses from many threads at once never hit CPython 3.11's
"AST constructor recursion depth mismatch" SystemError (it failed a protocol sweep's problem)."""
from __future__ import annotations

import ast
import gc
import re
import sys
import threading
from pathlib import Path

import pytest

from egcfg_core import threadsafe_ast

TEXT = repr({"a": [(i, {"b": [1, 2, (3, 4)], "c": "x" * i}) for i in range(30)]})
SOURCE = "def f(x):\n" + "".join(f"    y{i} = [x, ({i}, {{'k': x}})]\n" for i in range(20)) + "    return x\n"


def _hammer(parse_literal, parse_source, threads: int = 4, rounds: int = 100) -> list[str]:
    """Parse from ``threads`` threads at once, with a GIL switch interval of 1 µs and a collection
    (running Python code) at every allocation step: the conditions under which two threads build
    AST objects at the same time.  Returns the SystemErrors seen."""
    errors: list[str] = []
    want = ast.literal_eval(TEXT)

    def work():
        for _ in range(rounds):
            try:
                assert parse_literal(TEXT) == want
                assert isinstance(parse_source(SOURCE).body[0], ast.FunctionDef)
            except SystemError as e:
                errors.append(str(e))

    callback = lambda phase, info: sum(range(50))  # noqa: E731  Python code inside the collector
    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()
    sys.setswitchinterval(1e-6)
    gc.set_threshold(1, 1, 1)
    gc.callbacks.append(callback)
    try:
        ts = [threading.Thread(target=work) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    finally:
        gc.callbacks.remove(callback)
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(interval)
    return errors


def test_concurrent_parses_never_raise_the_recursion_depth_systemerror():
    raw = _hammer(ast.literal_eval, ast.parse)  # the plain functions, for the record
    print(f"plain ast: {len(raw)} SystemErrors under the same load ({sys.version.split()[0]})")
    assert _hammer(threadsafe_ast.literal_eval, threadsafe_ast.parse) == []


def test_a_parse_that_lost_the_race_elsewhere_is_retried(monkeypatch):
    calls = []
    real = ast.literal_eval

    def flaky(text):
        calls.append(text)
        if len(calls) < 3:
            raise SystemError("AST constructor recursion depth mismatch (before=39, after=33)")
        return real(text)

    monkeypatch.setattr(ast, "literal_eval", flaky)
    assert threadsafe_ast.literal_eval("(1, 'a')") == (1, "a")
    assert len(calls) == 3


def test_other_errors_pass_through_unchanged(monkeypatch):
    with pytest.raises(SyntaxError):
        threadsafe_ast.parse("def f(:\n")
    with pytest.raises(ValueError):
        threadsafe_ast.literal_eval("open('x')")

    def broken(text):
        raise SystemError("something else")

    monkeypatch.setattr(ast, "literal_eval", broken)
    with pytest.raises(SystemError, match="something else"):
        threadsafe_ast.literal_eval("1")


def test_the_decoding_path_parses_only_through_it():
    """The sweep's modules (the sandbox's parent side, the decoder, prompts, problems) must not call
    ast.parse / ast.literal_eval directly; only the jailed harness (its own process) may."""
    core = Path(threadsafe_ast.__file__).parent
    direct = re.compile(r"(?<![\w.])ast\.(parse|literal_eval)\(")
    offenders = [f"{p.relative_to(core.parent)}:{i}" for p in sorted(core.rglob("*.py"))
                 if p.name not in ("_harness.py", "threadsafe_ast.py")
                 for i, line in enumerate(p.read_text().splitlines(), 1) if direct.search(line)]
    assert offenders == []
