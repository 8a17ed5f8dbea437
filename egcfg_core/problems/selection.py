"""Task selection: the CLI's ``--tasks`` text (``0-9``, ``11,12``, ``first:20``, ``all``) and
canonical task ids."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any



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


def canonical_id(benchmark: str, tid: Any) -> str:
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
