"""HumanEval's visible tests: the examples in each entry point's docstring, parsed (``>>>``
sessions, ``f(x) ==> y`` arrows, Input/Output blocks, "for x the output should be y" prose),
never executed."""
from __future__ import annotations

import ast
import inspect
import keyword
import re
from typing import Any

from egcfg_core import threadsafe_ast
from egcfg_core.records import TestCase

from .base import BUILTIN_NAMES, outer_call


# --------------------------------------------------------------------------- HumanEval


def parse_prompt(prompt: str) -> ast.Module | None:
    """A HumanEval prompt's AST; a prompt that ends inside the function gets its body closed."""
    for text in (prompt, prompt.rstrip() + "\n    pass\n"):
        try:
            return threadsafe_ast.parse(text)
        except (SyntaxError, ValueError):
            continue
    return None


def _entry_def(prompt: str, entry_point: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    tree = parse_prompt(prompt)
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point:
            return node
    return None


def entry_docstring(prompt: str, entry_point: str) -> str:
    """The entry point's docstring; also one that follows leading imports (``import math`` then
    the string, as in HumanEval/115), which Python itself does not count as the docstring."""
    node = _entry_def(prompt, entry_point)
    if node is None:
        return ""
    doc = ast.get_docstring(node, clean=True)
    if doc:
        return doc
    for stmt in node.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(
            stmt.value.value, str
        ):
            return inspect.cleandoc(stmt.value.value)
        if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
            break
    return ""


def _entry_params(prompt: str, entry_point: str) -> tuple[str, ...]:
    """The entry point's positional parameter names, in order (``()`` when not found)."""
    node = _entry_def(prompt, entry_point)
    if node is None:
        return ()
    return tuple(a.arg for a in (*node.args.posonlyargs, *node.args.args))


_LITERAL_WORDS = {"true": "True", "false": "False", "null": "None", "none": "None"}


def _literal(text: str) -> tuple[bool, Any]:
    t = text.strip()
    if not t:
        return False, None
    t = _LITERAL_WORDS.get(t.lower(), t)
    if re.fullmatch(r"-?\d+\.", t):  # "should return 16." ends a sentence: the int 16
        t = t[:-1]
    try:
        return True, threadsafe_ast.literal_eval(t)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


def _closed_expr_end(text: str, start: int) -> int | None:
    """Index just past the bracket group opened at/after ``start`` (quote-aware), else None."""
    depth = 0
    quote = ""
    i = start
    n = len(text)
    opened = False
    while i < n:
        c = text[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
            opened = True
        elif c in ")]}":
            depth -= 1
            if depth < 0:
                return None
            if depth == 0 and opened:
                return i + 1
        i += 1
    return None


def _usable_expr(expr: ast.expr, entry_point: str) -> bool:
    """Contains a call of the entry point and no free names but it and builtins."""
    if outer_call(expr, entry_point) is None:
        return False
    for node in ast.walk(expr):
        if isinstance(node, ast.Name) and node.id != entry_point and node.id not in BUILTIN_NAMES:
            return False
        if isinstance(node, (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)):
            return False
    return True


def _example_case(expr_src: str, expected: str | None, entry_point: str) -> TestCase | None:
    try:
        expr = threadsafe_ast.parse(expr_src.strip(), mode="eval").body
    except (SyntaxError, ValueError):
        return None
    if not _usable_expr(expr, entry_point):
        return None
    call_node = outer_call(expr, entry_point)
    call = ast.unparse(call_node) if call_node is not None else ""
    if expected is not None and expected.strip():
        ok, value = _literal(expected)
        if not ok:
            first = expected.strip().split("\n")[0].strip()
            ok, value = _literal(first)
            if not ok and first.endswith((".", ",", ";")):
                ok, value = _literal(first[:-1])
            if not ok:  # `'No' (because ...)` / `3  # explanation`
                head = re.split(r"\s+(?:#|\()", first, maxsplit=1)[0]
                if head != first:
                    ok, value = _literal(head.rstrip(".,;"))
            if not ok:  # `4, and f([9]) should return 9`: the value ends where prose begins
                for c in _top_level_commas(first):
                    word = re.match(r",\s*([a-z]{2,})\b", first[c:])
                    if word and word.group(1) not in _LITERAL_WORDS:
                        ok, value = _literal(first[:c])
                        break
            if not ok:  # worked arithmetic `19 - 5 - 6 = 8`: the final value
                worked = re.fullmatch(r"[\d\s+\-*/%().]+=\s*([^=]+)", first)
                if worked:
                    ok, value = _literal(worked.group(1).rstrip(".,;"))
        if ok:
            return TestCase(source=f"assert {ast.unparse(expr)} == {value!r}", call=call)
    # `>>> f(x) == y` with no output line (or output True): the expression is the assertion
    if (
        isinstance(expr, ast.Compare)
        and len(expr.ops) == 1
        and isinstance(expr.ops[0], ast.Eq)
        and _literal(ast.unparse(expr.comparators[0]))[0]
        and (expected is None or not expected.strip() or _literal(expected) == (True, True))
    ):
        return TestCase(source=f"assert {ast.unparse(expr)}", call=call)
    return None


_ARROW_RE = re.compile(
    r"^\s*#?\s*(==>|=>|==|->|➞|=(?!=)|returns\b|should\s+return\b|should\s+be\b)\s*(.*)$",
    re.S | re.I,
)


def parse_docstring_examples(prompt: str, entry_point: str) -> tuple[TestCase, ...]:
    """Visible tests from the examples in the entry point's docstring (parse only, no exec).

    Understood forms:

    * doctest: ``>>> f(x)`` then the output line(s) (a multi-line literal is read whole);
      ``... `` continuation lines; ``>>> f(x) == y``; expressions around the call such as
      ``round(f(x), 2)``;
    * prose calls: ``f(x) == y`` / ``==> y`` / ``=> y`` / ``➞ y`` / ``-> y`` / ``= y`` /
      ``# => y`` / ``returns y`` / ``should return y`` / ``should be y`` (a call may span lines;
      text before the call such as a bullet or ``assert`` is ignored; a sentence's final ``.``
      and a trailing ``(comment)`` or ``# comment`` after the value are dropped; worked
      arithmetic ``-> 19 - 5 - 6 = 8`` keeps the final value); an unquoted word argument
      (``is_happy(abcd) => False``) is read as a string when the docstring speaks of a string;
    * ``Input: <args>`` (or ``Input:`` then one ``name : value`` per line) followed by
      ``Output: y``; ``name = value, ...`` naming every parameter, then ``return y`` within the
      next lines of the same paragraph;
    * ``For x = v, z = w the output should be y`` / ``... the result should be y``.

    Keyword arguments are put in the parameters' order (``Input:`` lists that name every
    parameter but under other names are taken in order).  When the docstring never calls the
    entry point but all its prose examples call one other, undefined name (a typo such as
    ``grade_equation`` for ``numerical_letter_grade``), that name is read as the entry point.
    An example is kept only when its arguments are literals (no free names but builtins) and its
    expected value is a Python literal (``true``/``false`` accepted).  The bare ``= y`` form is
    not trusted when the docstring defines the function by ``=`` equations with free names
    (``tri(n) = ...``).  Each example gives ``TestCase(source="assert <expr> == <expected>",
    call="<entry_point>(...)")``; duplicates are dropped.  Nothing usable -> ``()``; ``check()``
    is never looked at.  ``scripts/check_visible_tests.py`` checks every HumanEval parse against
    the canonical solution (in the sandbox); the docstring examples that are themselves wrong are
    dropped by :func:`humaneval_problem_from_row` (:data:`HUMANEVAL_DOCSTRING_ERRATA`).
    """
    doc = entry_docstring(prompt, entry_point)
    if not doc or not entry_point:
        return ()
    doc = _alias_to_entry(doc, prompt, entry_point)
    lines = doc.split("\n")
    params = _entry_params(prompt, entry_point)
    found = [
        *_call_examples(lines, entry_point, bare_strings=bool(re.search(r"\bstrings?\b", doc, re.I))),
        *_input_output_examples(lines, entry_point, params),
        *_for_output_examples(lines, entry_point, params),
    ]
    found.sort(key=lambda pair: pair[0])  # docstring order (stable within a line)
    seen: set[str] = set()
    uniq = []
    for _, tc in found:
        if tc.source not in seen:
            seen.add(tc.source)
            uniq.append(tc)
    return tuple(uniq)


def _call_re(name: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w.])" + re.escape(name) + r"\s*\(")


_PROSE_ARROW_RE = re.compile(r"^\s*#?\s*(==>|=>|==|->|➞)")


def _alias_to_entry(doc: str, prompt: str, entry_point: str) -> str:
    """``doc`` with a mistyped function name in its examples replaced by the entry point (see
    :func:`parse_docstring_examples`); ``doc`` unchanged when the entry point is called or the
    examples call no single other undefined name."""
    if _call_re(entry_point).search(doc):
        return doc
    names: set[str] = set()
    for line in doc.split("\n"):
        for m in re.finditer(r"(?<![\w.])([A-Za-z_]\w*)\s*\(", line):
            end = _closed_expr_end(line, m.start())
            if end is not None and _PROSE_ARROW_RE.match(line[end:]):
                names.add(m.group(1))
    if len(names) != 1:
        return doc
    (alias,) = names
    tree = parse_prompt(prompt)
    defined = {
        n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    } if tree is not None else set()
    if alias in BUILTIN_NAMES or alias in defined or keyword.iskeyword(alias):
        return doc
    return _call_re(alias).sub(entry_point + "(", doc)


def _quote_bare_word(call_src: str, entry_point: str) -> str | None:
    """``f(abcd)`` -> ``f('abcd')``: a single unquoted word argument (not a builtin or keyword)."""
    m = re.fullmatch(re.escape(entry_point) + r"\s*\(\s*([A-Za-z]+)\s*\)\s*", call_src)
    if m is None or m.group(1) in BUILTIN_NAMES or keyword.iskeyword(m.group(1)):
        return None
    return f"{entry_point}({m.group(1)!r})"


def _unbalanced(text: str) -> bool:
    return text.count("[") + text.count("(") + text.count("{") > (
        text.count("]") + text.count(")") + text.count("}")
    )


def _call_examples(lines: list[str], entry_point: str, *, bare_strings: bool) -> list[tuple[int, TestCase]]:
    """The doctest and prose-call forms, as (line index, test)."""
    call_re = _call_re(entry_point)
    # `tri(n) = 1 + n / 2` style definitions: then `f(1) = 3` lines define a sequence rather
    # than show what the function returns, so the bare `=` form is not trusted
    eq_defs = False
    for line in lines:
        m = call_re.search(line)
        if m:
            end = _closed_expr_end(line, m.start())
            if end is not None and re.match(r"\s*=(?!=)", line[end:]):
                try:
                    node = threadsafe_ast.parse(line[m.start() : end].strip(), mode="eval").body
                except (SyntaxError, ValueError):
                    continue
                if not _usable_expr(node, entry_point):
                    eq_defs = True
                    break
    cases: list[tuple[int, TestCase]] = []
    i = 0
    while i < len(lines):
        stripped = re.sub(r"^(?:[*\-•]\s+)", "", lines[i].strip())
        if stripped.startswith(">>>"):
            expr = stripped[3:].strip()
            j = i + 1
            while j < len(lines) and lines[j].strip().startswith("..."):
                expr += "\n" + lines[j].strip()[3:].strip()
                j += 1
            out: list[str] = []
            while j < len(lines) and lines[j].strip() and not lines[j].strip().startswith(">>>"):
                out.append(lines[j].strip())
                j += 1
            first_out = i + 1 + expr.count("\n")  # index of the first output line
            tc = None
            if len(out) > 1 and _literal("\n".join(out))[0]:
                tc = _example_case(expr, "\n".join(out), entry_point)
            else:
                # one output line; what follows without a blank line is prose: scan it again
                tc = _example_case(expr, out[0] if out else None, entry_point)
                j = first_out + 1 if out else j
            if tc is not None:
                cases.append((i, tc))
            i = j
            continue
        nxt = i + 1
        for m in call_re.finditer(lines[i]):  # several examples may share a line
            text = lines[i][m.start():]
            j = i + 1
            end = _closed_expr_end(text, 0)
            while end is None and j < len(lines) and j - i < 12:
                text += "\n" + lines[j]
                j += 1
                end = _closed_expr_end(text, 0)
            if end is None:
                break
            am = _ARROW_RE.match(text[end:])
            if not am or (eq_defs and am.group(1) == "="):
                continue
            expected = am.group(2).strip()
            # an expected value may continue on the next lines (open brackets)
            k = j
            while not _literal(expected)[0] and k < len(lines) and k - j < 12 and _unbalanced(expected):
                expected += "\n" + lines[k].strip()
                k += 1
            tc = _example_case(text[:end], expected, entry_point)
            if tc is None and bare_strings and (quoted := _quote_bare_word(text[:end], entry_point)):
                tc = _example_case(quoted, expected, entry_point)
            if tc is not None:
                cases.append((i, tc))
                if max(j, k) > i + 1:  # it ran over the next lines: go on after it
                    nxt = max(j, k)
                    break
        i = nxt
    return cases


def _call_from_args(entry_point: str, params: tuple[str, ...], args: str, *,
                    keywords_only: bool = False, by_position: bool = False) -> str | None:
    """``f(<args>)`` with positional literal arguments, from argument text (``1, [2]`` or
    ``a = 1, b = [2]``); keyword arguments must name every parameter (or, ``by_position``,
    be as many as the parameters, taken in order).  None when that does not work."""
    if not params or not args.strip():
        return None
    try:
        node = threadsafe_ast.parse(f"{entry_point}({args.strip()})", mode="eval").body
    except (SyntaxError, ValueError):
        return None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry_point):
        return None
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        return None
    if node.keywords:
        if node.args:
            return None
        given = {k.arg: k.value for k in node.keywords}
        if len(given) != len(node.keywords):
            return None
        if set(given) == set(params):
            values = [given[p] for p in params]
        elif by_position and len(given) == len(params):
            values = [k.value for k in node.keywords]
        else:
            return None
    elif keywords_only:
        return None
    else:
        values = list(node.args)
    if len(values) != len(params):
        return None
    return ast.unparse(ast.Call(func=node.func, args=values, keywords=[]))


_INPUT_RE = re.compile(r"^\s*input\s*:\s*(.*)$", re.I)
_OUTPUT_RE = re.compile(r"^\s*output\s*:\s*(.*)$", re.I)
_RETURN_RE = re.compile(r"^\s*return\s*=?\s*(.*)$", re.I)
_NAME_COLON_RE = re.compile(r"^([A-Za-z_]\w*)\s*:\s*")


def _value_at(lines: list[str], k: int, first: str) -> str:
    """``first`` and, while its brackets are open, the lines from ``k`` on."""
    value = first.strip()
    while not _literal(value)[0] and k < len(lines) and _unbalanced(value) and len(value) < 5000:
        value += "\n" + lines[k].strip()
        k += 1
    return value


def _input_output_examples(lines: list[str], entry_point: str,
                           params: tuple[str, ...]) -> list[tuple[int, TestCase]]:
    """``Input: ... / Output: ...`` and ``name = value ... return y``, as (line index, test)."""
    cases: list[tuple[int, TestCase]] = []
    for i, line in enumerate(lines):
        m = _INPUT_RE.match(line)
        if m:
            args, j = m.group(1).strip(), i + 1
            if not args:  # `Input:` then `name : value` (or `name = value`) lines
                parts = []
                while j < len(lines) and lines[j].strip() and not _OUTPUT_RE.match(lines[j]) and j - i <= 8:
                    parts.append(_NAME_COLON_RE.sub(r"\1 = ", lines[j].strip()))
                    j += 1
                args = ", ".join(parts)
            else:
                while _unbalanced(args) and j < len(lines) and j - i <= 12:
                    args += "\n" + lines[j].strip()
                    j += 1
            call = _call_from_args(entry_point, params, args, by_position=True)
            om = _OUTPUT_RE.match(lines[j]) if call and j < len(lines) else None
            if om:
                tc = _example_case(call, _value_at(lines, j + 1, om.group(1)), entry_point)
                if tc is not None:
                    cases.append((i, tc))
            continue
        call = _call_from_args(entry_point, params, line, keywords_only=True)
        if call is None:
            continue
        # `arr = [...]` then, later in the same paragraph, `return [...]`
        for k in range(i + 1, min(len(lines), i + 7)):
            if not lines[k].strip() or _call_from_args(entry_point, params, lines[k], keywords_only=True):
                break
            rm = _RETURN_RE.match(lines[k])
            if rm:
                tc = _example_case(call, _value_at(lines, k + 1, rm.group(1)), entry_point)
                if tc is not None:
                    cases.append((i, tc))
                break
    return cases


_FOR_RE = re.compile(r"^\s*for\s+(.+?),?\s+the\s+(?:output|result)\s+should\s+be\s*:?\s*(.+?)\s*$", re.I)


def _top_level_commas(text: str) -> list[int]:
    """Positions of the commas of ``text`` outside brackets and quotes."""
    out, depth, quote, i = [], 0, "", 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(i)
        i += 1
    return out


def _for_output_examples(lines: list[str], entry_point: str,
                         params: tuple[str, ...]) -> list[tuple[int, TestCase]]:
    """``For x = v[, y = w][, prose] the output/result should be z``, as (line index, test)."""
    cases: list[tuple[int, TestCase]] = []
    for i, line in enumerate(lines):
        m = _FOR_RE.match(line)
        if not m:
            continue
        args = m.group(1)
        # the longest prefix (at a top-level comma) that names every parameter: prose such as
        # "N = 1000, the sum of digits will be 1" follows the arguments
        for cut in [len(args), *reversed(_top_level_commas(args))]:
            call = _call_from_args(entry_point, params, args[:cut], keywords_only=True)
            if call is not None:
                tc = _example_case(call, m.group(2), entry_point)
                if tc is not None:
                    cases.append((i, tc))
                break
    return cases
