"""Where rows come from: a data dir's JSONL files or the Hugging Face hub (the optional
``datasets`` package), and the collector that turns rows into problems or skipped rows."""
from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from egcfg_core.records import SkippedRow

from .base import (
    DATA_DIR_ENV,
    DataUnavailableError,
    LoadResult,
    MalformedRowError,
    et_tests_from_row,
)
from .selection import canonical_id


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


def need_file(data_dir: Path, name: str, benchmark: str) -> Path:
    path = data_dir / name
    if not path.is_file():
        raise DataUnavailableError(
            f"{benchmark}: {name} not found in data directory {str(data_dir)!r}; point --data-dir / "
            f"{DATA_DIR_ENV} at a directory holding it, or leave both unset to use the Hugging "
            "Face hub (needs `pip install 'egcfg[hub]'` and network)"
        )
    return path


def read_jsonl(path: Path) -> Iterator[tuple[int, dict | None, str]]:
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


def hub_rows(path: str, name: str | None = None, split: str | None = None) -> list[dict]:
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


def enumerate_rows(rows: Iterable[dict]) -> Iterator[tuple[int, dict | None, str]]:
    for i, row in enumerate(rows, 1):
        if isinstance(row, dict):
            yield i, row, ""
        else:
            yield i, None, f"expected a mapping, got {type(row).__name__}"


# --------------------------------------------------------------------------- loaders


class Collector:
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
            self.wanted = {canonical_id(benchmark, t): False for t in task_ids}
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


def et_map(
    rows: Iterable[tuple[int, dict | None, str]], col: Collector, what: str
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
