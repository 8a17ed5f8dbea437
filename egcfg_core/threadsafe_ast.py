"""``ast.parse`` and ``ast.literal_eval`` that are safe to call from several threads at once.

CPython 3.11 keeps the AST constructor's recursion counter in interpreter-wide state: when two
threads build AST objects at the same time (a garbage collection inside one can hand the GIL to
the other), the check at the end sees the other thread's count and raises
``SystemError: AST constructor recursion depth mismatch (before=39, after=33)`` (CPython issues
gh-106905 and its reports).  A sweep hits it: agents decode in threads, and the executor threads
parse the sandbox's verdicts while another agent parses a candidate.  It failed HumanEval/39 of
a protocol run.  Every parse in the decoding path goes through here: one process-wide lock
serialises our own parses, and a parse that still lost the race to someone else's (a library's)
is retried, since the counter is reset at the start of every parse.
"""
from __future__ import annotations

import ast
import threading
from typing import Any

_LOCK = threading.Lock()
_TRIES = 5


def _guarded(fn, *args, **kwargs):
    for attempt in range(_TRIES):
        try:
            with _LOCK:
                return fn(*args, **kwargs)
        except SystemError as e:
            if "recursion depth mismatch" not in str(e) or attempt == _TRIES - 1:
                raise


def parse(source: str, filename: str = "<unknown>", mode: str = "exec", **kwargs) -> ast.AST:
    """``ast.parse``, thread-safe (SyntaxError / ValueError as usual)."""
    return _guarded(ast.parse, source, filename, mode, **kwargs)


def literal_eval(text: str) -> Any:
    """``ast.literal_eval`` of a string, thread-safe (ValueError / SyntaxError as usual)."""
    return _guarded(ast.literal_eval, text)
