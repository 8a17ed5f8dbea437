"""Reading stores: one connection over a store, its shards or committed Parquet exports, the runs
they hold, a run named by its id or a unique prefix, rows as dicts.  What the report, the
explorer, `egcfg evaluate` and the scripts read through."""
from __future__ import annotations

import glob
from pathlib import Path
from typing import Any, Iterable, Sequence

import duckdb

from storage.export import open_for_query, open_parquet, open_shards
from storage.schema import StoreError


class UnknownRunError(StoreError):
    """The run id (or prefix) matches no run, or several."""


def dict_rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[dict]:
    """The rows of ``sql`` as dicts keyed by column name."""
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def one_row(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> dict:
    """The first row as a dict ({} when there is none)."""
    rows = dict_rows(con, sql, params)
    return rows[0] if rows else {}


def open_stores(db_paths: str | Path | Iterable[str | Path]) -> duckdb.DuckDBPyConnection:
    """A read-only connection over one store, or over several shards (a union per table)."""
    paths = [db_paths] if isinstance(db_paths, (str, Path)) else list(db_paths)
    if not paths:
        raise StoreError("no store given (pass at least one --db)")
    if len(paths) == 1 and not glob.has_magic(str(paths[0])):
        con = open_for_query(paths[0])
    elif all(Path(p).is_dir() for p in paths):  # several Parquet exports (committed results/ folders)
        con = open_parquet(paths)
    elif any(Path(p).is_dir() for p in paths):
        folders = [str(p) for p in paths if Path(p).is_dir()]
        raise StoreError(
            f"{', '.join(folders)}: a results folder cannot be read together with store files; pass "
            "only folders (export a store first: egcfg results export NAME --db STORE) or only stores")
    else:
        con = open_shards(paths)
    try:
        con.execute("SELECT run_id FROM runs LIMIT 0").fetchall()
        con.execute("SELECT run_id FROM token_decisions LIMIT 0").fetchall()
    except duckdb.Error as exc:
        con.close()
        raise StoreError(f"{', '.join(map(str, paths))} is not an egcfg store ({exc})") from exc
    return con


def list_run_ids(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every run: id, model, benchmark, problems done, first created."""
    return dict_rows(con, """
        SELECT r.run_id, r.model, json_extract_string(r.config, '$.benchmark') AS benchmark,
               count(p.task_id) FILTER (p.status = 'done') AS done, min(r.created_at) AS created
        FROM runs r LEFT JOIN problems p USING (run_id)
        GROUP BY ALL ORDER BY created, r.run_id""")


def runs_listing(runs: list[dict[str, Any]]) -> str:
    if not runs:
        return "the store holds no runs"
    return "runs in the store:\n" + "\n".join(
        f"  {r['run_id']}  {r['benchmark'] or '?'}  {r['model']}  ({r['done']} done)" for r in runs)


def resolve_run(con: duckdb.DuckDBPyConnection, ref: str) -> str:
    """A run id from an id or a unique prefix; UnknownRunError listing the runs otherwise."""
    runs = list_run_ids(con)
    ids = [r["run_id"] for r in runs]
    if ref in ids:
        return ref
    matches = [i for i in ids if i.startswith(ref)] if ref else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UnknownRunError(f"run prefix {ref!r} is ambiguous: it matches {', '.join(matches)}")
    raise UnknownRunError(f"no run {ref!r} in the store; {runs_listing(runs)}")
