"""Opening a store file for reading while a sweep may be writing it, and small result helpers
(shared by the writer, storage/store.py, and the readers, storage/export.py and storage/readers.py)."""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from storage.schema import READ_WAIT_S, StoreError, StoreLockedError, StoreReadOnlyError


def first(result: duckdb.DuckDBPyConnection) -> tuple | None:
    """The first row of a result, or None; reads the result to its end, because DuckDB
    refuses some work on a connection (register) while a result is half-read."""
    fetched = result.fetchall()
    return fetched[0] if fetched else None


def sql_to_arrow(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> pa.Table:
    """Run SQL and return its result as an Arrow table (empty for a statement without one)."""
    rel = con.sql(sql, params=params)
    if rel is None:
        return pa.table({})
    # The method's name changed across DuckDB versions (arrow -> to_arrow_table).
    fetch = getattr(rel, "to_arrow_table", None) or getattr(rel, "arrow")
    return fetch()


def is_interrupt(exc: BaseException) -> bool:
    """DuckDB turns a Ctrl-C during a query into an error: "Query interrupted", or, while it
    scans a registered Arrow table, an InvalidInputException that carries the KeyboardInterrupt."""
    msg = str(exc).lower()
    return isinstance(exc, duckdb.InterruptException) or (
        isinstance(exc, (RuntimeError, duckdb.Error)) and
        ("query interrupted" in msg or "keyboardinterrupt" in msg))


def is_lock_error(exc: Exception) -> bool:
    return "lock" in str(exc).lower()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def readers_dir(path: str | Path) -> Path:
    """Where readers leave their requests for the writer of ``path`` to yield the file."""
    path = Path(path)
    return path.with_name(path.name + ".readers")


def writer_file(path: str | Path) -> Path:
    """The pid of the process writing ``path`` (present while a writable Store is open)."""
    path = Path(path)
    return path.with_name(path.name + ".writer")


def live_read_requests(path: str | Path) -> list[Path]:
    """Read requests of live processes; those of dead ones are removed."""
    live = []
    try:
        entries = list(readers_dir(path).iterdir())
    except OSError:
        return live
    for req in entries:
        try:
            pid = int(req.name.split(".", 1)[0])
        except ValueError:
            continue
        if _pid_alive(pid):
            live.append(req)
        else:
            req.unlink(missing_ok=True)
    return live


def writer_pid(path: Path) -> int | None:
    try:
        pid = int(writer_file(path).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid != os.getpid() and _pid_alive(pid) else None


def connect_read_only(path: str | Path, wait_s: float | None = None,
                      connect: Any = None) -> Any:
    """Open ``path`` read-only; if a sweep is writing it, ask the writer to yield and wait.

    ``connect()`` does the actual opening (default ``duckdb.connect(path, read_only=True)``;
    ``open_shards`` passes an ATTACH).  Without a live writer that yields (e.g. another tool
    holds the file), this gives up after ``wait_s`` (default ``READ_WAIT_S``) with
    StoreLockedError.
    """
    path = Path(path)
    wait_s = READ_WAIT_S if wait_s is None else wait_s
    connect = connect or (lambda: duckdb.connect(str(path), read_only=True))
    req: Path | None = None  # our request to the writer, made at the first lock error
    try:
        while True:
            try:
                return connect()
            except duckdb.Error as exc:
                if not is_lock_error(exc):
                    raise translate_open_error(path, exc, True) from exc
                if req is None:
                    req = readers_dir(path) / f"{os.getpid()}.{uuid.uuid4().hex[:12]}"
                    try:
                        req.parent.mkdir(exist_ok=True)
                        req.touch()
                    except OSError as os_exc:  # a read-only folder: no way to ask
                        req = None
                        raise translate_open_error(path, exc, True) from os_exc
                    deadline = time.monotonic() + wait_s
                elif time.monotonic() >= deadline:
                    writer = writer_pid(path)
                    raise StoreLockedError(
                        f"{path} is held by another process that did not yield it for reading "
                        f"within {wait_s:.0f} s ("
                        + (f"the writer is pid {writer}, busy in one long transaction" if writer
                           else "not an egcfg sweep, or an older egcfg") +
                        "). Query a Parquet export instead (`egcfg export`), or wait until that "
                        f"process ends. [{exc}]") from exc
                time.sleep(0.05)
    finally:
        if req is not None:
            req.unlink(missing_ok=True)


def translate_open_error(path: Path, exc: Exception, read_only: bool) -> StoreError:
    msg = str(exc)
    low = msg.lower()
    if is_lock_error(exc):
        return StoreLockedError(
            f"{path} is open in another process (DuckDB allows one process per file while it "
            f"writes). Query a Parquet export instead (Store.export_parquet / `egcfg export`), "
            f"give each worker its own shard file, or wait until that process ends. [{msg}]")
    if "permission denied" in low or "read-only file system" in low:
        hint = "" if read_only else " Open it with read_only=True to query it."
        return StoreReadOnlyError(f"cannot open {path} for writing: {msg}.{hint}")
    if read_only and not path.exists():
        return StoreError(f"no store at {path} (nothing to open read-only)")
    return StoreError(f"cannot open store {path}: {msg}")
