"""Reading many stores at once, and Parquet export.

- ``export_connection(con, out_dir, run_id=None)``: every table to
  ``out_dir/<table>/run_id=<id>/data_0.parquet`` (hive partitioning by run id).
- ``export_results(con, out_dir, run_id=None)``: the compact results export that is committed
  under ``results/<experiment>/`` (RESULT_TABLES only, done problems only, merged with what the
  folder already holds: re-exporting replaces a problem's rows, never drops another's).
- ``open_parquet(dir)``: an in-memory DuckDB connection with one view per table over an export
  (either kind; a store path that is a folder is read this way by ``open_for_query``).
- ``open_shards(paths_or_glob)``: an in-memory DuckDB connection that ATTACHes every shard file
  read-only and unions each table across them.
- ``open_for_query(path, parquet_dir=None)``: what ``egcfg query`` uses; falls back to the
  Parquet export when a running sweep holds the DuckDB file.

All views have the table names of schema.sql, so the same SQL runs on a store, on shards and
on an export.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterable

import duckdb

from storage.connection import connect_read_only, first
from storage.schema import ALL_TABLES, SCHEMA_SQL, SCHEMA_VERSION, TABLES, StoreError, StoreLockedError


def _sql_str(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def export_connection(
    con: duckdb.DuckDBPyConnection, out_dir: str | Path, run_id: str | None = None
) -> dict[str, int]:
    """Write each table of ``con`` (a store, or open_shards) as hive-partitioned Parquet.

    Files are written to a temporary folder inside ``out_dir`` first and then moved over the
    partitions of the exported runs, so other runs' partitions are untouched and a reader
    never sees a half-written partition.  Returns the number of rows written per table.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create export folder {out}: {exc}") from exc
    tmp = out / f".tmp-{uuid.uuid4().hex[:8]}"
    where = "" if run_id is None else f" WHERE run_id = {_sql_str(run_id)}"
    counts: dict[str, int] = {}
    try:
        tmp.mkdir()
        for table in ALL_TABLES:
            if table not in TABLES and not _has_relation(con, table):
                counts[table] = 0  # an older store without this later-added table
                continue
            (n,) = first(con.execute(f"SELECT count(*) FROM {table}{where}"))
            counts[table] = n
            if n:
                con.execute(
                    f"COPY (SELECT * FROM {table}{where}) TO {_sql_str(tmp / table)} "
                    f"(FORMAT PARQUET, PARTITION_BY (run_id), COMPRESSION ZSTD)")
        for table in ALL_TABLES:
            # Runs being exported: drop their old partitions, then move the new ones in.
            if run_id is not None:
                stale = [out / table / f"run_id={run_id}"]
            else:
                stale = [out / table / f"run_id={r}" for (r,) in
                         con.execute("SELECT DISTINCT run_id FROM runs").fetchall()]
            for part in stale:
                if part.exists():
                    shutil.rmtree(part)
            src = tmp / table
            (out / table).mkdir(exist_ok=True)  # present even when empty
            if src.exists():
                for part in src.iterdir():
                    os.replace(part, out / table / part.name)
    except (OSError, duckdb.Error) as exc:
        raise StoreError(f"Parquet export to {out} failed: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return counts


# What the committed results need: no per-line detail (lines, candidates, executions and
# token_decisions stay in the stores, which are not committed).
RESULT_TABLES = ("runs", "problems", "attempts", "solutions", "evaluations", "suite_evaluations",
                 "attempt_evaluations", "skipped_rows")
# Rows of one problem are keyed by (run_id, task_id); the others by these columns.
_RESULT_KEYS = {"runs": (), "skipped_rows": ("benchmark", "row_id")}
_RESULT_ORDER = {"runs": "created_at", "problems": "task_id", "attempts": "task_id, agent_index",
                 "solutions": "task_id", "evaluations": "task_id, test_index",
                 "suite_evaluations": "task_id, suite, test_index",
                 "attempt_evaluations": "task_id, agent_index, suite", "skipped_rows": "benchmark, row_id"}


def export_results(
    con: duckdb.DuckDBPyConnection, out_dir: str | Path, run_id: str | None = None
) -> dict[str, dict[str, int]]:
    """Write the compact results of ``con``'s runs (or of ``run_id``) to ``out_dir`` as
    ``<table>/run_id=<id>/data_0.parquet`` (zstd), the layout ``open_parquet`` reads.

    Only done problems are written (a failure is retried, not a result).  What ``out_dir``
    already holds for a run is merged, not replaced: a problem the store has done replaces its
    exported rows, every other exported problem is kept (so exports of one run from several
    machines or sessions add up), and the runs row is the one first made (its code version and
    creation time), with the latest ``updated_at``.  Each run's files
    are written to a temporary folder and moved in.  Returns {run_id: {table: rows}} written.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create export folder {out}: {exc}") from exc
    runs = [r[0] for r in con.execute(
        "SELECT run_id FROM runs r WHERE (? IS NULL OR run_id = ?) AND EXISTS (SELECT 1 FROM problems p "
        "WHERE p.run_id = r.run_id AND p.status = 'done') ORDER BY run_id", [run_id, run_id]).fetchall()]
    written: dict[str, dict[str, int]] = {}
    for rid in runs:
        tmp = out / f".tmp-{uuid.uuid4().hex[:8]}"
        try:
            tmp.mkdir()
            counts = {}
            for table in RESULT_TABLES:
                if table not in TABLES and not _has_relation(con, table):
                    new = None  # an older store without this later-added table
                elif table == "runs":
                    new = f"SELECT * EXCLUDE (run_id) FROM runs WHERE run_id = {_sql_str(rid)}"
                elif table == "skipped_rows":
                    new = f"SELECT * EXCLUDE (run_id) FROM skipped_rows WHERE run_id = {_sql_str(rid)}"
                else:
                    new = (f"SELECT * EXCLUDE (run_id) FROM {table} WHERE run_id = {_sql_str(rid)} "
                           f"AND task_id IN (SELECT task_id FROM problems WHERE run_id = {_sql_str(rid)} "
                           f"AND status = 'done')")
                old_files = sorted(glob.glob(str(out / table / f"run_id={rid}" / "*.parquet")))
                old = (f"SELECT * FROM read_parquet([{', '.join(map(_sql_str, old_files))}], "
                       f"hive_partitioning = false, union_by_name = true)") if old_files else None
                if old and new:
                    key = _RESULT_KEYS.get(table, ("task_id",))
                    if not key:  # the runs row: as the run was first made (as Store.ensure_run
                        # keeps it on resume), last updated when either copy was
                        both = f"(({old}) UNION ALL BY NAME ({new}))"
                        sql = (f"SELECT * REPLACE ((SELECT max(updated_at) FROM {both}) AS updated_at) "
                               f"FROM (SELECT * FROM {both} ORDER BY created_at LIMIT 1)")
                    else:
                        cols = ", ".join(key)
                        sql = (f"SELECT * FROM ({old}) WHERE ({cols}) NOT IN (SELECT ({cols}) FROM ({new})) "
                               f"UNION ALL BY NAME {new}")
                else:
                    sql = old or new
                if sql is None:
                    continue
                (n,) = first(con.execute(f"SELECT count(*) FROM ({sql})"))
                counts[table] = n
                if n:
                    (tmp / table).mkdir()
                    new_file = tmp / table / "data_0.parquet"
                    con.execute(f"COPY (SELECT * FROM ({sql}) ORDER BY {_RESULT_ORDER[table]}) TO "
                                f"{_sql_str(new_file)} (FORMAT PARQUET, COMPRESSION ZSTD)")
                    if old and _same_rows(con, old, new_file):
                        shutil.rmtree(tmp / table)  # unchanged: keep the committed file as it is
            for table in RESULT_TABLES:
                part = out / table / f"run_id={rid}"
                if (tmp / table).exists():
                    part.parent.mkdir(exist_ok=True)
                    if part.exists():
                        shutil.rmtree(part)
                    os.replace(tmp / table, part)
            written[rid] = counts
        except (OSError, duckdb.Error) as exc:
            raise StoreError(f"results export of run {rid} to {out} failed: {exc}") from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return written


def _same_rows(con: duckdb.DuckDBPyConnection, old_sql: str, new_file: Path) -> bool:
    """Whether a freshly written file holds exactly the rows of ``old_sql`` (a re-export that
    changed nothing leaves the committed file byte for byte as it was)."""
    new_sql = f"SELECT * FROM read_parquet({_sql_str(new_file)})"
    cols = [[d[0] for d in con.execute(f"SELECT * FROM ({q}) LIMIT 0").description] for q in (old_sql, new_sql)]
    if cols[0] != cols[1]:  # a column added to the schema since (e.g. runs.isolation): rewritten
        return False
    (n,) = first(con.execute(f"SELECT count(*) FROM (({old_sql}) EXCEPT ALL ({new_sql}) "
                             f"UNION ALL (({new_sql}) EXCEPT ALL ({old_sql})))"))
    return n == 0


def _has_relation(con: duckdb.DuckDBPyConnection, name: str, database: str | None = None) -> bool:
    """Whether a table or view ``name`` exists (in ``database``, default the current one)."""
    db = "current_database()" if database is None else _sql_str(database)
    sql = (f"SELECT 1 FROM duckdb_tables() WHERE database_name = {db} AND schema_name = 'main' "
           f"AND table_name = ? UNION ALL SELECT 1 FROM duckdb_views() WHERE database_name = {db} "
           f"AND schema_name = 'main' AND view_name = ?")
    return first(con.execute(sql, [name, name])) is not None


def _empty_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the schema's tables, empty, so that every table name exists."""
    con.execute(SCHEMA_SQL.read_text(encoding="utf-8"))


def resume_note(export_dir: str | Path, run_id: str, config: dict[str, Any]) -> str:
    """Why a resume from ``export_dir`` copies nothing for ``run_id`` (``config``: its
    semantic config), or "" when the export holds that run (its done problems are here already).
    A run id differs when anything in the config (the problem parser's version included) does:
    the export's runs of the same benchmark are listed with the fields that differ."""
    root = Path(export_dir)
    if not root.exists():
        return f"{root} does not exist yet: nothing is skipped from it"
    con = open_parquet(root)
    try:
        theirs = [(r[0], json.loads(r[1])) for r in con.execute(
            "SELECT run_id, config::VARCHAR FROM runs ORDER BY run_id").fetchall()]
    finally:
        con.close()
    if any(rid == run_id for rid, _ in theirs):
        return ""
    config = json.loads(json.dumps(config))  # tuples as lists, as stored
    near = []
    for rid, cfg in theirs:
        if cfg.get("benchmark") != config.get("benchmark"):
            continue
        diff = sorted(k for k in set(cfg) | set(config) if cfg.get(k) != config.get(k))
        near.append((len(diff), f"{rid} (differs in {', '.join(diff)})"))
    near = [text for _, text in sorted(near)[:3]]  # the closest three
    held = "; ".join(near) if near else (f"{len(theirs)} run(s), none of benchmark {config.get('benchmark')!r}"
                                         if theirs else "no runs")
    return (f"{root} holds no run {run_id} (it has: {held}); nothing is skipped from it, every "
            f"problem of this run is solved here")


def open_parquet(export_dir: str | Path | Iterable[str | Path]) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with one view per table over a Parquet export, or over several
    (e.g. two committed ``results/`` folders: their rows together, as shards are).

    Tables that the export lacks (no rows) are present and empty.
    """
    roots = [Path(export_dir)] if isinstance(export_dir, (str, Path)) else [Path(p) for p in export_dir]
    for root in roots:
        runs = root / "runs"
        if not runs.is_dir() or any(not (p.name.startswith("run_id=") and p.is_dir()) and p.suffix != ".parquet"
                                    for p in runs.iterdir()):
            raise StoreError(f"{root} is not an egcfg Parquet export (it needs a folder per table, "
                             f"runs/ at least); create one with `egcfg export` or `egcfg results export`")
    con = duckdb.connect()
    _empty_tables(con)
    for table in ALL_TABLES:  # a later-added table missing from an older export stays empty
        having = [root for root in roots if glob.glob(str(root / table / "**" / "*.parquet"), recursive=True)]
        if not having:
            continue
        pattern = "[" + ", ".join(_sql_str(root / table / "**" / "*.parquet") for root in having) + "]"
        cols = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position", [table]).fetchall()
        con.execute(f"DROP TABLE {table}")
        source = (f"read_parquet({pattern}, hive_partitioning = true, hive_types = {{'run_id': VARCHAR}}, "
                  f"union_by_name = true)")
        present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        # Keep the store's column order (the partition column comes last in the files); a column
        # added to the schema after the export was written (e.g. attempts.verified_line) reads NULL.
        select = [c if c in present else f"CAST(NULL AS {t}) AS {c}" for c, t in cols]
        con.execute(f"CREATE VIEW {table} AS SELECT {', '.join(select)} FROM {source}")
    return con


def _expand(paths_or_glob: str | Path | Iterable[str | Path]) -> list[Path]:
    items = [paths_or_glob] if isinstance(paths_or_glob, (str, Path)) else list(paths_or_glob)
    found: list[Path] = []
    for item in items:
        text = str(item)
        if glob.has_magic(text):
            found.extend(Path(p) for p in sorted(glob.glob(text)))
        else:
            found.append(Path(text))
    if not found:
        raise StoreError(f"no shard files match {paths_or_glob!r}")
    missing = [str(p) for p in found if not p.is_file()]
    if missing:
        raise StoreError(f"shard file(s) not found: {', '.join(missing)}")
    return list(dict.fromkeys(found))


def open_shards(paths_or_glob: str | Path | Iterable[str | Path]) -> duckdb.DuckDBPyConnection:
    """An in-memory connection that reads every shard: one view per table, UNION ALL of shards.

    Every shard is ATTACHed read-only; a shard that a sweep is writing is yielded by its writer
    for the read (see ``storage.store.connect_read_only``).  If two shards hold the same
    problem of the same run, the views show both copies.
    """
    shards = _expand(paths_or_glob)
    con = duckdb.connect()
    for i, path in enumerate(shards):
        try:  # a shard a sweep is writing: its writer yields it to us (see storage.store)
            connect_read_only(path, connect=lambda: con.execute(
                f"ATTACH {_sql_str(path)} AS shard{i} (READ_ONLY)"))
        except StoreError:
            con.close()
            raise
        try:
            (version,) = first(con.execute(f"SELECT max(version) FROM shard{i}.schema_version"))
        except duckdb.CatalogException as exc:
            con.close()
            raise StoreError(f"{path} is not an egcfg store (no schema_version table)") from exc
        if version != SCHEMA_VERSION:
            con.close()
            raise StoreError(f"shard {path} has schema version {version}, expected {SCHEMA_VERSION}")
    for table in ALL_TABLES:
        have = [i for i in range(len(shards))
                if table in TABLES or _has_relation(con, table, f"shard{i}")]
        if not have:  # a later-added table that no (older) shard has yet: present and empty
            _create_empty(con, table)
            continue
        # BY NAME: a shard written before a column was added (e.g. attempts.verified_line) reads NULL there
        union = " UNION ALL BY NAME ".join(f"SELECT * FROM shard{i}.main.{table}" for i in have)
        con.execute(f"CREATE VIEW {table} AS {union}")
    return con


def _create_empty(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """An empty table ``table`` with the schema's columns (built in a scratch database)."""
    scratch = duckdb.connect()
    try:
        _empty_tables(scratch)
        cols = scratch.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position", [table]).fetchall()
    finally:
        scratch.close()
    con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t in cols)})")


def open_for_query(
    path: str | Path, parquet_dir: str | Path | None = None
) -> duckdb.DuckDBPyConnection:
    """A read-only connection for ad-hoc SQL over a store.

    DuckDB lets one process write a file and no other process read it meanwhile: a sweep's
    writer yields the file to readers between problems (``connect_read_only``).  If the file
    stays locked (a writer that does not yield), this reads ``parquet_dir`` (the latest export)
    if given, else raises StoreLockedError saying what to do.
    """
    path = Path(path)
    if not path.exists():
        raise StoreError(f"no store at {path}")
    if path.is_dir():  # a Parquet export (e.g. a committed results/<experiment> folder)
        return open_parquet(path)
    try:
        return connect_read_only(path)
    except StoreLockedError:
        if parquet_dir is not None:
            return open_parquet(parquet_dir)
        raise
