"""CodeContests: stdio problems from the hub's rows, and the loader."""
from __future__ import annotations

from pathlib import Path

from egcfg_core.records import Problem, TestCase

from .base import CODECONTESTS_FILE, HUB_CODECONTESTS, MalformedRowError, require_field
from .sources import Collector, enumerate_rows, hub_rows, need_file, read_jsonl


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
    name = require_field(row, "name", str, "").strip()
    if not name:
        raise MalformedRowError("empty name")
    desc = require_field(row, "description", str, name)
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


def load_codecontests(data_dir: Path | None, col: Collector) -> None:
    if data_dir is not None:
        rows = read_jsonl(need_file(data_dir, CODECONTESTS_FILE, "codecontests"))
        col.result.source = str(data_dir / CODECONTESTS_FILE)
    else:
        rows = enumerate_rows(hub_rows(HUB_CODECONTESTS, None, "test"))
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
