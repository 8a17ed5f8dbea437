"""egcfg storage: one DuckDB file per writing process, Arrow inserts, Parquet export.

    from storage import Store, config_hash
    run_id = config_hash(config)
    with Store("runs/egcfg.duckdb") as store:
        store.ensure_run(run_id, config, model, code_version)
        todo = [p for p in problems if p.task_id not in store.done_task_ids(run_id)]
        ...
        store.write_problem(run_id, solve, evaluation, wall_s=wall_s)  # one transaction
        store.record_failure(run_id, task_id, benchmark, error)        # retried next time

Schema: storage/schema.sql.  Example queries: docs/QUERIES.md.
"""
from storage.export import export_connection, open_for_query, open_parquet, open_shards
from storage.rows import RecordError
from storage.store import (
    ALL_TABLES,
    SCHEMA_VERSION,
    TABLES,
    RunConfigMismatch,
    RunInfo,
    RunStatus,
    Store,
    StoreError,
    StoreLockedError,
    StoreReadOnlyError,
    canonical_json,
    config_hash,
)

__all__ = [
    "ALL_TABLES", "SCHEMA_VERSION", "TABLES", "RecordError", "RunConfigMismatch", "RunInfo", "RunStatus",
    "Store", "StoreError", "StoreLockedError", "StoreReadOnlyError", "canonical_json",
    "config_hash", "export_connection", "open_for_query", "open_parquet", "open_shards",
]
