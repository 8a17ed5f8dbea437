"""Turn a (possibly partial) model completion into runnable Python: ``ExtractExecutable``.

EG-CFG samples candidate continuations of a few lines; most of them stop mid-statement or leave
a block open.  :func:`extract_executable` makes each one into a program that *compiles*, changing
as little as possible:

1. Markdown fences are stripped.  An opening fence (```` ```python ````, ```` ``` ````, any
   language tag) starts the code; a closing fence, or the end of the text (unclosed fence), ends
   it; prose before an opening fence is dropped.  An untagged fence with code before it and no
   fence after it is taken to be a *closing* fence (a completion that continued a prompt which
   opened the fence), so the code before it is kept.
2. If the result compiles it is returned as is (normalised: ``\\r\\n`` -> ``\\n``, trailing
   blank lines dropped, exactly one final ``\\n``).
3. Otherwise it is repaired: the broken tail is trimmed line by line (an unterminated string or
   bracket, a half-written expression), and blocks left open are closed:

   * a block header with no body (``if x:``, ``def f():``, ``for ...:``, ``else:``, ...) gets an
     indented ``pass``;
   * a ``try:`` with no ``except``/``finally`` yet gets ``finally:`` + ``pass`` at the ``try``'s
     indentation.  ``try: <body> finally: pass`` behaves exactly like ``<body>``: exceptions
     still propagate, so execution traces show the errors the real code would raise (an
     ``except Exception: pass`` would hide them).

   The longest prefix that compiles after that closing wins.  Code that is indented as a whole
   (a bare function body) is dedented first.
4. ``None`` when nothing runnable is left: empty text, only comments/blank lines, or nothing
   that can be repaired.

"Compiles" means ``compile(source, ..., "exec")`` succeeds (parser *and* compiler checks such as
``return`` outside a function); nothing is ever executed.  The function is pure and
deterministic; results are memoised because candidates repeat.
"""
from __future__ import annotations

import re
import textwrap
import warnings
from functools import lru_cache

__all__ = ["extract_executable", "strip_fences"]

_FENCE_RE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([A-Za-z0-9_+.#-]*)[^\n`]*$")
_PY_TAGS = {"", "python", "py", "python3", "py3", "python2", "ipython", "pycon"}
_MAX_REPAIR_TRIES = 500  # prefixes tried before giving up (bounds pathological inputs)


def strip_fences(text: str) -> str:
    """Return the code inside the first markdown code fence of ``text`` (see module doc).

    Text without any fence line is returned unchanged (after ``\\r\\n`` -> ``\\n``).
    """
    return _fence_candidates(text)[0]


def _fence_candidates(text: str) -> list[str]:
    """The possible code parts of ``text``, most likely first."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    fences = [(i, m) for i, line in enumerate(lines) if (m := _FENCE_RE.match(line))]
    if not fences:
        return [text]
    first_i, first_m = fences[0]
    before = "\n".join(lines[:first_i])
    tag = first_m.group(2).lower()
    if not tag and before.strip() and len(fences) == 1:
        # `code\n```` : most likely the closing fence of a block opened by the prompt; but it
        # may be an opening fence after prose ("Here you go:\n```\ncode...")
        return [before, "\n".join(lines[first_i + 1 :])]
    # prefer the first python (or untagged) block when several blocks are present
    blocks = []
    k = 0
    while k < len(fences):
        open_i, open_m = fences[k]
        close_i = fences[k + 1][0] if k + 1 < len(fences) else len(lines)
        blocks.append((open_m.group(2).lower(), "\n".join(lines[open_i + 1 : close_i])))
        k += 2
    for btag, body in blocks:
        if btag in _PY_TAGS and body.strip():
            return [body]
    return [blocks[0][1]]


def _compiles(source: str) -> tuple[bool, int | None]:
    """(ok, error line) without executing anything; warnings are silenced."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "<candidate>", "exec", dont_inherit=True)
        return True, None
    except SyntaxError as e:  # IndentationError / TabError are subclasses
        return False, e.lineno
    except (ValueError, OverflowError, MemoryError, RecursionError):  # e.g. NUL bytes
        return False, None


def _strip_comment(line: str) -> str:
    """The line without a trailing ``# comment`` (quote-aware, single line), right-stripped."""
    if "#" not in line:
        return line.rstrip()
    quote = ""
    i = 0
    n = len(line)
    while i < n:
        c = line[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
        elif c in "'\"":
            quote = line[i : i + 3] if line.startswith(c * 3, i) else c
            i += len(quote)
            continue
        elif c == "#":
            return line[:i].rstrip()
        i += 1
    return line.rstrip()


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _width(ws: str) -> int:
    return len(ws.expandtabs(8))


def _indent_unit(lines: list[str]) -> str:
    """The indentation step used by the code (tab, or the smallest space step; default 4)."""
    best = 0
    prev = 0
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        ws = _indent_of(line)
        if "\t" in ws:
            return "\t"
        w = len(ws)
        if w > prev and (best == 0 or w - prev < best):
            best = w - prev
        prev = w
    return " " * (best if 0 < best <= 8 else 4)


def _first_word(code: str) -> str:
    m = re.match(r"[A-Za-z_]+", code)
    return m.group(0) if m else ""


def _close_blocks(lines: list[str], unit: str) -> list[str] | None:
    """Lines to append so that every open block of ``lines`` has a body and every ``try`` a
    handler; None when nothing is open."""
    # stack of [indent_ws, keyword, has_body]
    stack: list[list] = []
    for line in lines:
        code = _strip_comment(line)
        if not code.strip():
            continue
        ws = _indent_of(code)
        w = _width(ws)
        while stack and _width(stack[-1][0]) >= w:
            stack.pop()
        if stack:
            stack[-1][2] = True
        if code.endswith(":") and not code.lstrip().startswith("@"):
            stack.append([ws, _first_word(code.lstrip()), False])
    if not stack:
        return None
    extra: list[str] = []
    needs = False
    for ws, word, has_body in reversed(stack):
        if not has_body:
            extra.append(ws + unit + "pass")
            needs = True
        if word == "try":
            extra.append(ws + "finally:")
            extra.append(ws + unit + "pass")
            needs = True
    return extra if needs else None


def _normalise(lines: list[str]) -> str | None:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    if not any(_strip_comment(l).strip() for l in lines):
        return None
    return "\n".join(lines) + "\n"


def _has_statement(source: str) -> bool:
    # a source made only of comments/blank lines compiles but runs nothing
    return any(
        (s := line.strip()) and not s.startswith("#") for line in source.split("\n")
    )


def _repair(lines: list[str], start: int) -> str | None:
    unit = _indent_unit(lines)
    cut = min(start, len(lines))
    tries = 0
    while cut > 0 and tries < _MAX_REPAIR_TRIES:
        tries += 1
        if not lines[cut - 1].strip():
            cut -= 1
            continue
        prefix = lines[:cut]
        src = "\n".join(prefix) + "\n"
        ok, err_line = _compiles(src)
        if ok:
            return src if _has_statement(src) else None
        extra = _close_blocks(prefix, unit)
        if extra is not None:
            closed = src + "\n".join(extra) + "\n"
            if _compiles(closed)[0]:
                return closed
        # an error strictly inside the prefix cannot be fixed by a longer prefix: jump there
        if err_line is not None and 1 <= err_line < cut:
            cut = err_line
        else:
            cut -= 1
    return None


@lru_cache(maxsize=8192)
def extract_executable(code: str) -> str | None:
    """Runnable Python from a model completion, or None (see the module docstring)."""
    if not isinstance(code, str):
        raise TypeError(f"extract_executable expects str, got {type(code).__name__}")
    for text in _fence_candidates(code):
        out = _extract(text)
        if out is not None:
            return out
    return None


def _extract(text: str) -> str | None:
    src = _normalise(text.split("\n"))
    if src is None:
        return None
    ok, err_line = _compiles(src)
    if ok:
        return src if _has_statement(src) else None
    body = src.rstrip("\n").split("\n")
    first_code = next((l for l in body if l.strip() and not l.lstrip().startswith("#")), "")
    if _indent_of(first_code):
        dedented = textwrap.dedent(src)
        if dedented != src:
            ok2, err2 = _compiles(dedented)
            if ok2:
                return dedented if _has_statement(dedented) else None
            body, err_line = dedented.rstrip("\n").split("\n"), err2
    start = len(body) if err_line is None else max(1, min(err_line, len(body)))
    # an EOF-type error may be reported on an earlier line than the real tail: try the whole
    # text first (closing blocks), then trim from the reported error line
    if start < len(body):
        unit = _indent_unit(body)
        extra = _close_blocks(body, unit)
        if extra is not None:
            closed = "\n".join(body) + "\n" + "\n".join(extra) + "\n"
            if _compiles(closed)[0]:
                return closed
    return _repair(body, start)
