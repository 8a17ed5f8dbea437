"""The store's schema: its tables, their file (schema.sql, the one SQL file), and the errors the
storage layer raises.  No DuckDB connection here (see storage/connection.py)."""
from __future__ import annotations

import re
from pathlib import Path

SCHEMA_VERSION = 1
SCHEMA_SQL = Path(__file__).with_name("schema.sql")
TABLES = (
    "runs", "problems", "attempts", "lines", "candidates", "executions",
    "token_decisions", "solutions", "evaluations", "skipped_rows",
)
# Tables added after schema version 1 without a version bump (CREATE TABLE IF NOT EXISTS): a
# store last opened for writing by older code, or an older export/shard, may lack them, and
# readers treat a missing one as empty.  Exports, shards and Parquet views include them.
EXTRA_TABLES = ("suite_evaluations", "attempt_evaluations")
ALL_TABLES = TABLES + EXTRA_TABLES
# Tables holding rows of one problem, keyed by (run_id, task_id, ...).  Redoing a problem
# deletes its suite evaluations too: they scored a solution that is being replaced.
PROBLEM_TABLES = (
    "attempts", "lines", "candidates", "executions", "token_decisions", "solutions",
    "evaluations", "suite_evaluations", "attempt_evaluations", "problems",
)
# Reading while a sweep writes (storage/store.py's docstring).
YIELD_POLL_S = 0.2  # how often a writer looks for read requests
READ_WAIT_S = 60.0  # how long a reader waits for the writer to yield
WRITER_WAIT_S = 600.0  # how long a writer waits for readers to close before it gives up
SUITE_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class StoreError(RuntimeError):
    """Anything the store refuses or cannot do; the message says what and why."""


class StoreReadOnlyError(StoreError):
    """A write was attempted on a store opened read-only or on a read-only file."""


class StoreLockedError(StoreError):
    """Another process holds the DuckDB file (DuckDB allows one writing process per file)."""


class RunConfigMismatch(StoreError):
    """ensure_run was given a run_id that is already stored with a different config."""
