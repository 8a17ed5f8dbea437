"""MBPP and MBPP-ET: rows to problems, the loader, and the 3 few-shot examples of the prompt."""
from __future__ import annotations

from pathlib import Path

from egcfg_core.records import Problem, SkippedRow

from .base import (
    HUB_MBPP,
    HUB_MBPP_ET,
    MBPP_ET_FILE,
    MBPP_FEWSHOT_FILE,
    MBPP_FEWSHOT_IDS,
    MBPP_TEST_FILE,
    MalformedRowError,
    hidden_from_asserts,
    mbpp_function_name,
    mbpp_number,
    parse_source,
    require_field,
    str_list_field,
    test_case_from_assert,
)
from .sources import Collector, enumerate_rows, et_map, hub_rows, need_file, read_jsonl


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
    n = mbpp_number(row)
    task_id = f"Mbpp/{n}"
    text = require_field(row, "text", str, task_id)
    code = require_field(row, "code", str, task_id)
    tests = str_list_field(row, "test_list", task_id)
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
        parse_source(t.strip(), f"test {i}")
    fname = mbpp_function_name(code, tests)
    if not fname:
        raise MalformedRowError("no function call found in the tests")
    visible = tuple(test_case_from_assert(t, fname, setup=setup) for t in tests)
    dropped: list[SkippedRow] = []
    if et_tests is None:
        hidden = visible
    else:
        hidden, dropped = hidden_from_asserts(et_tests, fname, task_id, setup, strict)
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


def load_mbpp(
    benchmark: str, data_dir: Path | None, col: Collector, strict: bool
) -> None:
    if data_dir is not None:
        rows = read_jsonl(need_file(data_dir, MBPP_TEST_FILE, benchmark))
        col.result.source = str(data_dir / MBPP_TEST_FILE)
        et_rows = (
            read_jsonl(need_file(data_dir, MBPP_ET_FILE, benchmark))
            if benchmark == "mbpp-et"
            else None
        )
    else:
        rows = enumerate_rows(hub_rows(HUB_MBPP, "full", "test"))
        col.result.source = f"hub:{HUB_MBPP}"
        et_rows = enumerate_rows(hub_rows(HUB_MBPP_ET)) if benchmark == "mbpp-et" else None
    et = et_map(et_rows, col, "MBPP-ET") if et_rows is not None else None
    for lineno, row, err in rows:
        if col.full():
            break
        if row is None:
            col.unreadable_row(lineno, err)
            continue
        try:
            task_id = f"Mbpp/{mbpp_number(row)}"
        except MalformedRowError as e:
            col.unreadable_row(lineno, str(e))
            continue
        if not col.selected(task_id):
            continue
        col.add(task_id, et, "MBPP-ET",
                lambda et_tests: mbpp_problem_from_row(row, benchmark=benchmark, et_tests=et_tests, strict=strict))


def mbpp_fewshot() -> list[dict]:
    """The 3 standard MBPP few-shot examples (task ids 2, 3, 4 of the hub's ``prompt`` split) as
    dicts with ``task_id``, ``text``, ``code``, ``test_list``.  They are part of the prompt
    template, so they ship with the package (``egcfg_core/data/mbpp_fewshot.jsonl``): every
    checkout builds the same prompt whether or not a data dir is set (the run id does not record
    where the examples came from, so they must not depend on it)."""
    path = Path(__file__).parent.parent / "data" / MBPP_FEWSHOT_FILE
    rows = []
    for lineno, row, err in read_jsonl(path):
        if row is None:
            raise MalformedRowError(f"{path}: line {lineno}: {err}")
        rows.append(row)
    by_id: dict[int, dict] = {}
    for row in rows:
        try:
            n = mbpp_number(row)
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
            text = require_field(row, "text", str, str(n))
            code = require_field(row, "code", str, str(n))
            tests = str_list_field(row, "test_list", str(n))
        except MalformedRowError as e:
            raise MalformedRowError(f"MBPP few-shot example {n}: {e}") from None
        out.append({"task_id": n, "text": text, "code": code, "test_list": tests})
    return out
