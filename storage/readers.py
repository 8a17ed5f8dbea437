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


def _timeout_sql(alias: str) -> str:
    """A run's per-test timeout of hidden-test scoring (its config's eval_timeout_s, default 10)."""
    return f"coalesce(TRY_CAST(json_extract_string({alias}.config, '$.eval_timeout_s') AS DOUBLE), 10.0)"


def scores_of_code(con: duckdb.DuckDBPyConnection, suite: str, task_ids: Sequence[str]
                   ) -> tuple[dict[tuple, dict[str, list[tuple]]], dict[tuple, dict[str, tuple]]]:
    """What a connection (a store, shards, a results export) already knows of code scored on
    ``suite``'s hidden tests, for the tasks ``task_ids``, keyed ``(task_id, code, timeout_s)``:

    - ``tests``: the outcome of every test, ``[(test_index, status, error, duration_s), ...]``,
      from final solutions scored on the suite (``suite_evaluations``) or, for runs of that very
      benchmark, the sweep's own scoring (``evaluations``);
    - ``summaries``: ``(passed, n_tests, n_passed, error, duration_s)`` from attempts scored on
      the suite (``attempt_evaluations``; the per-test outcomes are not stored there).

    Each value is ``{run_id: what that run's score said}``.  The same code of the same task on
    the same tests under the same timeout scores the same, so `egcfg evaluate` copies one of them
    instead of running the tests again (a test near its time limit can time out in one score and
    fail in another: the caller prefers its own run's)."""
    tids = sorted(set(task_ids))
    tests: dict[tuple, dict[str, list[tuple]]] = {}
    summaries: dict[tuple, dict[str, tuple]] = {}
    if not tids:
        return tests, summaries
    per_test = (
        f"SELECT e.task_id, s.code, {_timeout_sql('r')} AS timeout_s, e.run_id, "
        "list((e.test_index, e.status, e.error, e.duration_s) ORDER BY e.test_index) AS outcomes "
        "FROM {table} e JOIN solutions s USING (run_id, task_id) JOIN runs r USING (run_id) "
        "WHERE {where} AND list_contains(?, e.task_id) GROUP BY ALL ORDER BY e.run_id")
    for table, where in (("suite_evaluations", "e.suite = ?"),
                         ("evaluations", "json_extract_string(r.config, '$.benchmark') = ?")):
        for task, code, timeout, run, outcomes in con.execute(
                per_test.format(table=table, where=where), [suite, tids]).fetchall():
            tests.setdefault((task, code, float(timeout)), {}).setdefault(
                run, [tuple(o.values()) if isinstance(o, dict) else tuple(o) for o in outcomes])
    for task, code, timeout, run, *row in con.execute(
            f"SELECT e.task_id, a.code, {_timeout_sql('r')}, e.run_id, e.passed, e.n_tests, e.n_passed, "
            "e.error, e.duration_s FROM attempt_evaluations e JOIN attempts a USING (run_id, task_id, agent_index) "
            "JOIN runs r USING (run_id) WHERE e.suite = ? AND list_contains(?, e.task_id) "
            "ORDER BY e.run_id, e.agent_index", [suite, tids]).fetchall():
        summaries.setdefault((task, code, float(timeout)), {}).setdefault(run, tuple(row))
    return tests, summaries
