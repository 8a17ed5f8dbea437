"""The DuckDB store: the single writer, and the queries that resume a run.

One process owns one DuckDB file (``Store(path)``); Prefect tasks running in threads of that
process hand it finished records, and every public method holds one lock, so calls from several
threads are serialised on one connection.  Other processes write their own shard files
(see ``storage.export.open_shards``).

A problem is stored by ``write_problem`` in ONE transaction together with its done-marker
(``problems.status = 'done'``), so a crash or SIGKILL leaves complete problems or nothing:
resuming is ``done_task_ids(run_id)`` and skipping those.

Reading while a sweep writes.  DuckDB lets one process write a file and nobody else open it
meanwhile.  So readers and the writer take turns: a reader that finds the file locked leaves a
request file in ``<store>.readers/`` (see ``connect_read_only``); the writer's watcher thread sees
it within ``YIELD_POLL_S`` and, between transactions, closes its connection; the reader opens the
file read-only and removes its request; the writer reopens the file when it next writes (waiting,
up to ``WRITER_WAIT_S``, while readers still have it open).  The writer holds ``<store>.writer``
(its pid) so that a second writing process is refused even while the first has yielded.
"""
from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import duckdb
import pyarrow as pa

from egcfg_core.compute import ATTEMPT_FIELDS
from egcfg_core.records import (AttemptScore, EvaluationRecord, Problem, SkippedRow, SolveRecord,  # noqa: F401
                                 canonical_json, config_hash)
from storage import rows
from storage.export import export_connection, open_parquet
from storage.readers import scores_of_code
from storage.connection import (  # noqa: F401  (first, sql_to_arrow, connect_read_only: also read from here)
    connect_read_only,
    first,
    is_interrupt,
    is_lock_error,
    live_read_requests,
    sql_to_arrow,
    translate_open_error,
    writer_file,
    writer_pid,
)
from storage.schema import (  # noqa: F401  (the schema's names, also read from here)
    ALL_TABLES,
    EXTRA_TABLES,
    PROBLEM_TABLES,
    RUN_ID_RE,
    SCHEMA_SQL,
    SCHEMA_VERSION,
    SUITE_RE,
    TABLES,
    WRITER_WAIT_S,
    YIELD_POLL_S,
    RunConfigMismatch,
    StoreError,
    StoreLockedError,
    StoreReadOnlyError,
)

@dataclass(frozen=True)
class RunStatus:
    run_id: str
    total: int  # problems recorded (done + failed)
    done: int
    failed: int
    evaluated: int  # done problems whose final solution was scored on hidden tests
    passed: int  # of those, passed
    pass_rate: float | None  # passed / evaluated, None before any evaluation


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    model: str
    code_version: str
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    done: int
    failed: int
    isolation: tuple[str, ...] = ()  # sandbox isolation kinds that ran its code; () = not recorded

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Store:
    """One DuckDB file of egcfg results. ``Store(path)`` creates it (and its folder) if needed.

    ``read_only=True`` opens an existing store for queries; every write then raises
    StoreReadOnlyError.  Use as a context manager or call ``close()``.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        self._lock = threading.RLock()
        self._registered: list[str] = []  # Arrow tables registered in the open transaction
        self._known_runs: set[str] = set()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.yields = 0  # how often this writer closed the file for readers
        if read_only:
            if not self.path.exists():
                raise StoreError(f"no store at {self.path} (nothing to open read-only)")
            self._con = connect_read_only(self.path)
            try:
                self._apply_schema()
            except BaseException:
                self._con.close()
                raise
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreReadOnlyError(f"cannot create the folder of {self.path}: {exc}") from exc
        other = writer_pid(self.path)
        if other is not None:
            raise StoreLockedError(
                f"{self.path} is being written by another process (pid {other}); one process "
                f"writes a store at a time: give each worker its own shard file, or wait until "
                f"that process ends (readers are fine: `egcfg status/query/report` take turns "
                f"with it).")
        try:
            self._con = duckdb.connect(str(self.path))
        except duckdb.Error as exc:
            raise translate_open_error(self.path, exc, read_only) from exc
        try:
            self._apply_schema()
            writer_file(self.path).write_text(str(os.getpid()))
        except BaseException:
            self._con.close()
            raise
        self._watcher = threading.Thread(target=self._yield_to_readers, daemon=True,
                                         name=f"egcfg-store-yield:{self.path.name}")
        self._watcher.start()

    # ---------------------------------------------------------------- lifecycle
    def _apply_schema(self) -> None:
        if not self.read_only:
            try:
                self._con.execute(SCHEMA_SQL.read_text(encoding="utf-8"))
            except duckdb.Error as exc:
                raise StoreError(f"cannot apply {SCHEMA_SQL.name} to {self.path}: {exc}") from exc
        try:
            (version,) = first(self._con.execute("SELECT max(version) FROM schema_version"))
        except duckdb.CatalogException as exc:
            raise StoreError(f"{self.path} is not an egcfg store (no schema_version table)") from exc
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}; this code reads version "
                f"{SCHEMA_VERSION}. Use a matching egcfg version or a new store file.")

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join()
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
            if not self.read_only:
                try:
                    if writer_file(self.path).read_text().strip() == str(os.getpid()):
                        writer_file(self.path).unlink()
                except OSError:
                    pass

    # ---------------------------------------------------------------- taking turns with readers
    def _yield_to_readers(self) -> None:
        """Watcher thread of a writer: close the file between transactions when readers ask."""
        while not self._stop.wait(YIELD_POLL_S):
            if self._con is None or not live_read_requests(self.path):
                continue
            if not self._lock.acquire(blocking=False):
                continue  # a write is under way; look again shortly
            try:
                if self._con is not None and not self._stop.is_set():
                    self._con.close()
                    self._con = None
                    self.yields += 1
            finally:
                self._lock.release()

    @contextmanager
    def _use(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Hold the store's lock with the file open (reopening it after a yield to readers)."""
        with self._lock:
            if self._con is None:
                if self._stop.is_set():
                    raise StoreError(f"{self.path}: this Store is closed")
                self._reopen()
            yield self._con

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The open connection, under the store's lock, for read queries of other modules (e.g.
        ``reports.report.collect`` at the end of a sweep); hold it briefly: writes wait."""
        with self._use() as con:
            yield con

    def _reopen(self) -> None:
        deadline = time.monotonic() + WRITER_WAIT_S
        warned = False
        while True:
            try:
                self._con = duckdb.connect(str(self.path))
                return
            except duckdb.Error as exc:
                if not is_lock_error(exc) or time.monotonic() >= deadline:
                    raise StoreError(
                        f"cannot reopen {self.path} after letting readers in: {exc}. Problems "
                        f"committed earlier are intact; rerun to resume.") from exc
                if not warned and deadline - time.monotonic() < WRITER_WAIT_S - 5:
                    log.warning("waiting for readers of %s to close it (up to %.0f s)",
                                self.path, WRITER_WAIT_S)
                    warned = True
                time.sleep(0.05)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}, read_only={self.read_only})"

    # ---------------------------------------------------------------- write plumbing
    @contextmanager
    def _transaction(self, what: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """BEGIN ... COMMIT under the lock; on any error ROLLBACK and raise a StoreError."""
        if self.read_only:
            raise StoreReadOnlyError(f"cannot write {what}: {self.path} was opened read-only")
        with self._use():
            self._con.execute("BEGIN TRANSACTION")
            try:
                yield self._con
                self._con.execute("COMMIT")
            except BaseException as exc:
                try:
                    self._con.execute("ROLLBACK")
                    self._unregister(self._con)
                except duckdb.Error:
                    pass  # the transaction is already gone (e.g. a failed COMMIT)
                self._registered.clear()
                if isinstance(exc, (KeyboardInterrupt, SystemExit, StoreError)):
                    raise
                if is_interrupt(exc):  # Ctrl-C inside the query: DuckDB stopped it, rolled back
                    raise KeyboardInterrupt(f"{what} was not written (interrupted)") from exc
                raise self._write_error(what, exc) from exc

    def _write_error(self, what: str, exc: BaseException) -> StoreError:
        base = f"writing {what} to {self.path} failed and was rolled back (nothing of it is stored)"
        msg = f"{type(exc).__name__}: {exc}"
        low = msg.lower()
        if isinstance(exc, duckdb.ConstraintException):
            return StoreError(f"{base}: duplicate or invalid key: {msg}")
        if "read-only" in low or "read only" in low or "permission denied" in low:
            return StoreReadOnlyError(f"{base}: the store is read-only: {msg}")
        if isinstance(exc, (duckdb.IOException, duckdb.FatalException, OSError)) or "space" in low:
            return StoreError(
                f"{base}: I/O error (disk full? file removed?): {msg}. Problems committed "
                f"earlier are intact; free space, reopen the store and rerun to resume.")
        return StoreError(f"{base}: {msg}")

    def _insert(self, con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
        """INSERT an Arrow table (zero-copy scan of the registered table, no executemany)."""
        if data.num_rows == 0:
            return
        self._register(con, f"_egcfg_in_{table}", data)
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _egcfg_in_{table}")
        self._unregister(con)

    def _register(self, con: duckdb.DuckDBPyConnection, name: str, data: pa.Table) -> None:
        con.register(name, data)
        self._registered.append(name)

    def _unregister(self, con: duckdb.DuckDBPyConnection) -> None:
        # An aborted transaction refuses even this: _transaction retries after ROLLBACK.
        while self._registered:
            con.unregister(self._registered[-1])
            self._registered.pop()

    def _require_run(self, con: duckdb.DuckDBPyConnection, run_id: str) -> None:
        if run_id in self._known_runs:  # runs are never deleted through the store
            return
        if first(con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id])) is None:
            raise StoreError(f"unknown run_id {run_id!r} in {self.path}: call ensure_run first")
        self._known_runs.add(run_id)

    def _touch_run(self, con: duckdb.DuckDBPyConnection, run_id: str, now: datetime) -> None:
        con.execute("UPDATE runs SET updated_at = ? WHERE run_id = ?", [now, run_id])

    # ---------------------------------------------------------------- writes
    def ensure_run(
        self, run_id: str, config: dict[str, Any], model: str, code_version: str
    ) -> str:
        """Create the run if new; if it exists its config must be the same. Returns run_id.

        A different ``code_version`` on resume is allowed (the first one is kept).
        """
        if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
            raise ValueError(
                f"run_id {run_id!r} must be 1-128 characters of letters, digits, '_', '.', '-' "
                f"(it names a Parquet partition folder); config_hash(config) gives one")
        cfg = canonical_json(config)
        with self._use():
            row = first(self._con.execute(
                "SELECT config::VARCHAR FROM runs WHERE run_id = ?", [run_id]))
            if row is not None:
                if canonical_json(json.loads(row[0])) != cfg:
                    raise RunConfigMismatch(
                        f"run {run_id!r} already exists in {self.path} with a different config "
                        f"(stored {row[0]}, given {cfg}); use config_hash(config) as the run id "
                        f"or a new run id")
                return run_id
            now = _utcnow()
            with self._transaction(f"run {run_id}") as con:
                con.execute(
                    "INSERT INTO runs (run_id, config, model, code_version, created_at, updated_at, "
                    "timings) VALUES (?, ?, ?, ?, ?, ?, MAP {})",
                    [run_id, cfg, str(model), str(code_version), now, now])
        return run_id

    def set_run_timings(self, run_id: str, timings: dict[str, float]) -> None:
        """Merge run-level timings (e.g. model_load_s, total_s) into runs.timings."""
        items = rows._timings(timings, f"run {run_id}")
        with self._transaction(f"timings of run {run_id}") as con:
            self._require_run(con, run_id)
            (old,) = first(con.execute(
                "SELECT timings FROM runs WHERE run_id = ?", [run_id]))
            merged = dict(old or {})
            merged.update(items)
            con.execute(
                "UPDATE runs SET timings = map_from_entries(?::STRUCT(k VARCHAR, v DOUBLE)[]), "
                "updated_at = ? WHERE run_id = ?",
                [[{"k": k, "v": v} for k, v in merged.items()], _utcnow(), run_id])

    def note_isolation(self, run_id: str, isolation: str) -> None:
        """Add a sandbox isolation kind (``SandboxPool.isolation``) to the run's record, once.
        Not part of the config or the run id: how the code was contained does not change results."""
        if not isolation:
            return
        with self._transaction(f"isolation of run {run_id}") as con:
            self._require_run(con, run_id)
            con.execute(
                "UPDATE runs SET isolation = list_append(coalesce(isolation, []::VARCHAR[]), ?) "
                "WHERE run_id = ? AND NOT list_contains(coalesce(isolation, []::VARCHAR[]), ?)",
                [isolation, run_id, isolation])

    def write_problem(
        self,
        run_id: str,
        solve: SolveRecord,
        evaluation: EvaluationRecord | None = None,
        *,
        wall_s: float,
    ) -> None:
        """Store every row of one solved problem and its done-marker in ONE transaction.

        Rows this run already holds for the problem (a failure, or an earlier result being
        redone) are deleted in the same transaction, so keys are never duplicated.  On any
        error nothing of this problem changes and a StoreError is raised.
        """
        self.write_problems(run_id, [(solve, evaluation, wall_s)])

    def write_problems(
        self,
        run_id: str,
        results: Iterable[tuple[SolveRecord, EvaluationRecord | None, float]],
    ) -> None:
        """``write_problem`` for several problems at once: one transaction, one INSERT per
        table.  All are stored or none.  Faster for bulk imports; a sweep that wants every
        finished problem safe at once calls ``write_problem`` per problem."""
        results = list(results)
        for solve, evaluation, wall_s in results:
            rows.check_solve(solve, evaluation)
            if not isinstance(wall_s, (int, float)) or not (math.isfinite(wall_s) and wall_s >= 0):
                raise rows.RecordError(f"{solve.problem.task_id}: wall_s must be a number >= 0, "
                                       f"got {wall_s!r}")
        task_ids = [solve.problem.task_id for solve, _, _ in results]
        if len(set(task_ids)) != len(task_ids):
            raise rows.RecordError(f"the same task_id twice in one batch: {sorted(task_ids)}")
        if not results:
            return
        what = (f"problem {task_ids[0]}" if len(task_ids) == 1
                else f"{len(task_ids)} problems ({task_ids[0]} ...)") + f" of run {run_id}"
        with self._transaction(what) as con:
            self._require_run(con, run_id)
            self._delete_problems(con, run_id, task_ids)
            now = _utcnow()

            def put(table: str, build) -> None:
                parts = [build(solve, evaluation, wall_s) for solve, evaluation, wall_s in results]
                parts = [p for p in parts if p is not None]
                if parts:
                    self._insert(con, table, parts[0] if len(parts) == 1 else pa.concat_tables(parts))

            # Built and inserted table by table: a failure midway is rolled back.
            put("problems", lambda s, e, w: rows.problems_table(run_id, s, wall_s=w, now=now))
            put("attempts", lambda s, e, w: rows.attempts_table(run_id, s))
            put("lines", lambda s, e, w: rows.lines_table(run_id, s))
            put("candidates", lambda s, e, w: rows.candidates_table(run_id, s))
            put("executions", lambda s, e, w: rows.executions_table(run_id, s))
            put("token_decisions", lambda s, e, w: rows.token_decisions_table(run_id, s))
            for solve, _, _ in results:  # copied attempts (greedy, samplers): their per-line rows come along
                for a in solve.attempts:
                    if a.reused_from:
                        self._copy_attempt_detail(con, a.reused_from, run_id, solve.problem.task_id,
                                                  a.agent_index, a.agent.name)
            put("solutions", lambda s, e, w: rows.solutions_table(run_id, s, e))
            put("evaluations", lambda s, e, w: None if e is None else rows.evaluations_table(run_id, e))
            self._touch_run(con, run_id, now)

    def _copy_attempt_detail(self, con: duckdb.DuckDBPyConnection, source_run: str, run_id: str,
                             task_id: str, agent_index: int, agent_name: str) -> None:
        """The lines, candidates, executions and token decisions of ``source_run``'s attempt of
        agent ``agent_name`` at ``task_id`` (at whatever index its grid had it), copied to this
        run's attempt ``agent_index`` (whose attempts row, just inserted, takes the source's line
        and token counts, and the final-code counts that only its lines tell)."""
        found = first(con.execute("SELECT agent_index FROM attempts WHERE run_id = ? AND task_id = ? "
                                  "AND agent_name = ?", [source_run, task_id, agent_name]))
        if found is None:
            return
        key = [source_run, task_id, found[0]]
        for table in ("lines", "candidates", "executions", "token_decisions"):
            con.execute(f"INSERT INTO {table} BY NAME SELECT * REPLACE (?::VARCHAR AS run_id, "
                        f"?::INTEGER AS agent_index) FROM {table} "
                        "WHERE run_id = ? AND task_id = ? AND agent_index = ?", [run_id, agent_index, *key])
        counts = ("n_lines", "n_tokens", "final_tokens", "final_guided_lines", "final_guided_tokens",
                  "final_flipped_tokens")
        con.execute(f"UPDATE attempts SET {', '.join(f'{c} = coalesce(src.{c}, attempts.{c})' for c in counts)} "
                    f"FROM (SELECT {', '.join(counts)} FROM attempts WHERE run_id = ? AND task_id = ? "
                    "AND agent_index = ?) src "
                    "WHERE attempts.run_id = ? AND attempts.task_id = ? AND attempts.agent_index = ?",
                    [*key, run_id, task_id, agent_index])

    def greedy_attempts(self, source_runs: list[str], task_ids: list[str]) -> dict[str, tuple[str, dict]]:
        """For each of ``task_ids`` a done problem of one of ``source_runs`` holds: (that run, its
        greedy baseline attempt (γ = 0, t = 0) as a row), where it ended without an error.  The
        first of ``source_runs`` that has it wins."""
        found = self.unguided_attempts(source_runs, task_ids, ["greedy"])
        return {task_id: by_name["greedy"] for task_id, by_name in found.items()}

    def unguided_attempts(self, source_runs: list[str], task_ids: list[str],
                          agent_names: list[str]) -> dict[str, dict[str, tuple[str, dict]]]:
        """For each of ``task_ids`` and each of ``agent_names`` (unguided agents: the greedy one,
        samplers) that a done problem of one of ``source_runs`` has an attempt of, ended without
        an error: {task_id: {agent_name: (that run, the attempt as a row)}}.  The first of
        ``source_runs`` that has it wins."""
        if not source_runs or not task_ids or not agent_names:
            return {}
        found = self.query(
            "SELECT a.* FROM attempts a JOIN problems p USING (run_id, task_id) "
            "WHERE p.status = 'done' AND list_contains(?, a.run_id) AND list_contains(?, a.task_id) "
            "AND list_contains(?, a.agent_name) AND a.gamma = 0 AND a.error = ''",
            [source_runs, task_ids, agent_names]).to_pylist()
        rank = {r: k for k, r in enumerate(source_runs)}
        out: dict[str, dict[str, tuple[str, dict]]] = {}
        for row in sorted(found, key=lambda r: rank[r["run_id"]]):
            out.setdefault(row["task_id"], {}).setdefault(row["agent_name"], (row["run_id"], row))
        return out

    def _delete_problems(
        self, con: duckdb.DuckDBPyConnection, run_id: str, task_ids: list[str]
    ) -> None:
        # Child rows are only ever committed together with a problems row, so only problems
        # that have one can have rows to delete (and the primary keys would catch any other).
        present = [r[0] for r in con.execute(
            "SELECT task_id FROM problems WHERE run_id = ? AND list_contains(?, task_id)",
            [run_id, task_ids]).fetchall()]
        for task_id in present:
            self._delete_problem(con, run_id, task_id)

    def _delete_problem(self, con: duckdb.DuckDBPyConnection, run_id: str, task_id: str) -> None:
        for table in PROBLEM_TABLES:
            con.execute(f"DELETE FROM {table} WHERE run_id = ? AND task_id = ?", [run_id, task_id])

    def write_evaluation(self, run_id: str, evaluation: EvaluationRecord) -> None:
        """(Re)score the stored final solution of a done problem on its hidden tests."""
        tid = evaluation.task_id
        with self._transaction(f"evaluation of {tid} in run {run_id}") as con:
            if first(con.execute("SELECT 1 FROM solutions WHERE run_id = ? AND task_id = ?",
                           [run_id, tid])) is None:
                raise StoreError(f"run {run_id!r} has no stored solution for {tid!r} to evaluate")
            con.execute("DELETE FROM evaluations WHERE run_id = ? AND task_id = ?", [run_id, tid])
            self._insert(con, "evaluations", rows.evaluations_table(run_id, evaluation))
            con.execute("UPDATE solutions SET passed_hidden = ? WHERE run_id = ? AND task_id = ?",
                        [bool(evaluation.passed), run_id, tid])
            self._touch_run(con, run_id, _utcnow())

    def write_suite_evaluation(self, run_id: str, suite: str, evaluation: EvaluationRecord) -> None:
        """Store the stored final solution of a done problem scored on another suite's hidden
        tests (``suite``: a benchmark name such as 'mbpp-et').  One transaction: this (run,
        task, suite)'s earlier rows are deleted and the new ones inserted, so a crash leaves the
        old rows or the new ones.  Raises StoreError for an unknown run or a task without a
        stored solution, RecordError for an evaluation without outcomes or an inconsistent one.
        """
        if not isinstance(suite, str) or not SUITE_RE.match(suite):
            raise ValueError(f"suite {suite!r} must be a lower-case benchmark name such as 'mbpp-et'")
        tid = evaluation.task_id
        now = _utcnow()
        data = rows.suite_evaluations_table(run_id, suite, evaluation, now=now)
        with self._transaction(f"{suite} evaluation of {tid} in run {run_id}") as con:
            self._require_run(con, run_id)
            if first(con.execute(
                    "SELECT 1 FROM solutions s JOIN problems p USING (run_id, task_id) "
                    "WHERE s.run_id = ? AND s.task_id = ? AND p.status = 'done'",
                    [run_id, tid])) is None:
                raise StoreError(f"run {run_id!r} has no stored final solution for {tid!r} to "
                                 f"evaluate on {suite!r}")
            con.execute("DELETE FROM suite_evaluations WHERE run_id = ? AND task_id = ? AND suite = ?",
                        [run_id, tid, suite])
            self._insert(con, "suite_evaluations", data)
            self._touch_run(con, run_id, now)

    def write_attempt_evaluations(
        self, run_id: str, suite: str, task_id: str,
        scored: Iterable[tuple[int, EvaluationRecord | AttemptScore]]
    ) -> None:
        """Store every given attempt of one done problem scored on ``suite``'s hidden tests (the
        paper-protocol figure; never used to choose).  One transaction: this (run, task, suite)'s
        earlier rows for those agents are replaced.  StoreError for a task that is not done or an
        agent index the problem has no attempt for."""
        if not isinstance(suite, str) or not SUITE_RE.match(suite):
            raise ValueError(f"suite {suite!r} must be a lower-case benchmark name such as 'mbpp-et'")
        now = _utcnow()
        data = rows.attempt_evaluations_table(run_id, suite, task_id, scored, now=now)
        agents = data.column("agent_index").to_pylist()
        with self._transaction(f"{suite} attempt evaluations of {task_id} in run {run_id}") as con:
            self._require_run(con, run_id)
            have = {r[0] for r in con.execute(
                "SELECT a.agent_index FROM attempts a JOIN problems p USING (run_id, task_id) "
                "WHERE a.run_id = ? AND a.task_id = ? AND p.status = 'done'", [run_id, task_id]).fetchall()}
            if missing := sorted(set(agents) - have):
                raise StoreError(f"run {run_id!r} has no stored attempt {missing} of done problem "
                                 f"{task_id!r} to score on {suite!r}")
            con.execute("DELETE FROM attempt_evaluations WHERE run_id = ? AND task_id = ? AND suite = ? "
                        "AND list_contains(?, agent_index)", [run_id, task_id, suite, agents])
            self._insert(con, "attempt_evaluations", data)
            self._touch_run(con, run_id, now)

    def seed_from_export(self, export_dir: str | Path, run_id: str) -> int:
        """Copy run ``run_id``'s done problems from a results export (``egcfg results export``,
        e.g. a committed ``results/EXP``) into this store, so a sweep resumed on a new machine
        skips them.  Only problems this store has not finished are copied, every table of the
        export (no per-line detail: the export has none), in ONE transaction.  The run must exist
        here (``ensure_run``) with the export's config (RunConfigMismatch otherwise).  Returns
        the number of problems copied; an export without the run, or no folder at all yet (the
        first session of a run), copies nothing."""
        if not Path(export_dir).exists():
            return 0
        src = open_parquet(export_dir)
        try:
            row = first(src.execute("SELECT config::VARCHAR FROM runs WHERE run_id = ?", [run_id]))
            if row is None:
                return 0
            with self._use():
                self._require_run(self._con, run_id)
                (mine,) = first(self._con.execute("SELECT config::VARCHAR FROM runs WHERE run_id = ?", [run_id]))
            if canonical_json(json.loads(row[0])) != canonical_json(json.loads(mine)):
                raise RunConfigMismatch(f"run {run_id!r} in {export_dir} has another config than in {self.path}")
            done = self.done_task_ids(run_id)
            tasks = [r[0] for r in src.execute(
                "SELECT task_id FROM problems WHERE run_id = ? AND status = 'done' ORDER BY task_id",
                [run_id]).fetchall() if r[0] not in done]
            if not tasks:
                return 0
            data = {t: sql_to_arrow(src, f"SELECT * FROM {t} WHERE run_id = ? AND list_contains(?, task_id)",
                                    [run_id, tasks]) for t in PROBLEM_TABLES}
        finally:
            src.close()
        with self._transaction(f"{len(tasks)} problems of run {run_id} from {export_dir}") as con:
            self._delete_problems(con, run_id, tasks)  # their failures, if any
            for table, t in data.items():
                self._insert(con, table, t)
            self._touch_run(con, run_id, _utcnow())
        return len(tasks)

    def record_failure(
        self,
        run_id: str,
        task_id: str,
        benchmark: str,
        error: str,
        problem: Problem | None = None,
    ) -> None:
        """Record that a problem failed (status 'failed'); a later rerun retries it.

        Refuses (StoreError) to overwrite a problem that is already done in this run.
        """
        with self._transaction(f"failure of {task_id} in run {run_id}") as con:
            self._require_run(con, run_id)
            row = first(con.execute("SELECT status, failures FROM problems WHERE run_id = ? AND "
                              "task_id = ?", [run_id, task_id]))
            if row is not None and row[0] == "done":
                raise StoreError(f"{task_id!r} is already done in run {run_id!r}; not marking it "
                                 f"failed (delete or redo it with write_problem instead)")
            failures = (row[1] if row else 0) + 1
            con.execute("DELETE FROM problems WHERE run_id = ? AND task_id = ?", [run_id, task_id])
            now = _utcnow()
            con.execute(
                "INSERT INTO problems (run_id, task_id, benchmark, problem, status, done_at, "
                "wall_s, error, failures, n_attempts, updated_at) "
                "VALUES (?, ?, ?, ?, 'failed', NULL, NULL, ?, ?, NULL, ?)",
                [run_id, task_id, benchmark,
                 None if problem is None else rows._json(problem.to_dict(), f"problem {task_id}"),
                 str(error), failures, now])
            self._touch_run(con, run_id, now)

    def record_skipped(self, run_id: str, skipped: Iterable[SkippedRow]) -> None:
        """Store dataset rows that could not become problems (replacing earlier reasons)."""
        data = rows.skipped_rows_table(run_id, skipped)
        with self._transaction(f"skipped rows of run {run_id}") as con:
            self._require_run(con, run_id)
            self._register(con, "_egcfg_skipped", data)
            con.execute("DELETE FROM skipped_rows WHERE run_id = ? AND (benchmark, row_id) "
                        "IN (SELECT (benchmark, row_id) FROM _egcfg_skipped)", [run_id])
            self._unregister(con)
            self._insert(con, "skipped_rows", data)

    # ---------------------------------------------------------------- reads
    def done_task_ids(self, run_id: str) -> set[str]:
        """Task ids this run has finished (skip these on resume; failed ones are retried)."""
        return self._task_ids(run_id, "done")

    def failed_task_ids(self, run_id: str) -> set[str]:
        return self._task_ids(run_id, "failed")

    def _task_ids(self, run_id: str, status: str) -> set[str]:
        with self._use():
            res = self._con.execute(
                "SELECT task_id FROM problems WHERE run_id = ? AND status = ?", [run_id, status])
            return {r[0] for r in res.fetchall()}

    def final_solutions(self, run_id: str) -> list[tuple[str, str]]:
        """(task_id, code) of the final solution of every done problem of a run, by task id."""
        with self._use():
            self._require_run(self._con, run_id)
            return [(r[0], r[1]) for r in self._con.execute(
                "SELECT s.task_id, s.code FROM solutions s JOIN problems p USING (run_id, task_id) "
                "WHERE s.run_id = ? AND p.status = 'done' ORDER BY s.task_id", [run_id]).fetchall()]

    def _has_table(self, name: str) -> bool:
        return first(self._con.execute(
            "SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = ?", [name])) is not None

    def _has_column(self, table: str, column: str) -> bool:
        return first(self._con.execute(
            "SELECT 1 FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = ? AND column_name = ?", [table, column])) is not None

    def suite_done_task_ids(self, run_id: str, suite: str) -> set[str]:
        """Task ids of this run whose final solution is already scored on ``suite`` (resume)."""
        with self._use():
            if not self._has_table("suite_evaluations"):  # an old store opened read-only
                return set()
            res = self._con.execute(
                "SELECT DISTINCT task_id FROM suite_evaluations WHERE run_id = ? AND suite = ?",
                [run_id, suite])
            return {r[0] for r in res.fetchall()}

    def attempt_codes(self, run_id: str) -> list[tuple[str, int, str]]:
        """(task_id, agent_index, code) of every attempt of every done problem of a run."""
        with self._use():
            self._require_run(self._con, run_id)
            return [tuple(r) for r in self._con.execute(
                "SELECT a.task_id, a.agent_index, a.code FROM attempts a JOIN problems p "
                "USING (run_id, task_id) WHERE a.run_id = ? AND p.status = 'done' "
                "ORDER BY a.task_id, a.agent_index", [run_id]).fetchall()]

    def scores_of_code(self, suite: str, task_ids: Sequence[str]) -> tuple[dict, dict]:
        """``readers.scores_of_code`` over this store: what its runs already scored on ``suite``."""
        with self._use():
            return scores_of_code(self._con, suite, task_ids)

    def attempt_suite_done(self, run_id: str, suite: str) -> set[tuple[str, int]]:
        """(task_id, agent_index) of this run's attempts already scored on ``suite`` (resume)."""
        with self._use():
            if not self._has_table("attempt_evaluations"):  # an old store opened read-only
                return set()
            return {(r[0], r[1]) for r in self._con.execute(
                "SELECT task_id, agent_index FROM attempt_evaluations WHERE run_id = ? AND suite = ?",
                [run_id, suite]).fetchall()}

    def suite_status(self, run_id: str) -> dict[str, tuple[int, int]]:
        """suite -> (problems evaluated, problems passed) for a run's suite evaluations."""
        with self._use():
            if not self._has_table("suite_evaluations"):
                return {}
            res = self._con.execute(
                "SELECT suite, count(*), count(*) FILTER (passed) FROM ("
                "  SELECT suite, task_id, bool_and(passed_problem) AS passed FROM suite_evaluations"
                "  WHERE run_id = ? GROUP BY suite, task_id) GROUP BY suite ORDER BY suite",
                [run_id])
            return {r[0]: (r[1], r[2]) for r in res.fetchall()}

    def compute_totals(self, run_id: str) -> dict[str, float]:
        """What a run's attempts cost, summed over its done problems (compute.ATTEMPT_FIELDS):
        {'attempts': n, 'measured': those with counts, 'copied': those copied from another run
        (``reused_from``: their cost was paid there, it is in the sums), field: sum, ...}; only
        'attempts' and 'measured' = 0 for a store written before the columns, opened read-only."""
        done = "FROM attempts a JOIN problems p USING (run_id, task_id) WHERE a.run_id = ? AND p.status = 'done'"
        with self._use():
            (n,) = first(self._con.execute(f"SELECT count(*) {done}", [run_id]))
            if not self._has_column("attempts", "wall_s"):
                return {"attempts": n, "measured": 0}
            sums = ", ".join(f"sum(a.{k})" for k in ATTEMPT_FIELDS)
            measured, copied, *values = first(self._con.execute(
                f"SELECT count(a.wall_s), count(a.reused_from) FILTER (a.wall_s IS NOT NULL), {sums} {done}",
                [run_id]))
        return {"attempts": n, "measured": measured, "copied": copied,
                **{k: v for k, v in zip(ATTEMPT_FIELDS, values) if v is not None}}

    def run_status(self, run_id: str) -> RunStatus:
        with self._use():
            self._require_run(self._con, run_id)
            total, done, failed = first(self._con.execute(
                "SELECT count(*), count(*) FILTER (status = 'done'), "
                "count(*) FILTER (status = 'failed') FROM problems WHERE run_id = ?",
                [run_id]))
            evaluated, passed = first(self._con.execute(
                "SELECT count(passed_hidden), count(*) FILTER (passed_hidden) FROM solutions "
                "WHERE run_id = ?", [run_id]))
        return RunStatus(run_id, total, done, failed, evaluated, passed,
                         passed / evaluated if evaluated else None)

    def list_runs(self) -> list[RunInfo]:
        with self._use():
            # runs.isolation came later: a store last written by older code, opened read-only, lacks it
            iso = "r.isolation" if self._has_column("runs", "isolation") else "NULL::VARCHAR[]"
            res = self._con.execute(
                "SELECT r.run_id, r.model, r.code_version, r.config::VARCHAR, r.created_at, "
                "r.updated_at, count(p.task_id) FILTER (p.status = 'done'), "
                f"count(p.task_id) FILTER (p.status = 'failed'), {iso} "
                "FROM runs r LEFT JOIN problems p USING (run_id) "
                "GROUP BY ALL ORDER BY r.created_at, r.run_id").fetchall()
        return [RunInfo(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7], tuple(r[8] or ()))
                for r in res]

    def run_config(self, run_id: str) -> dict[str, Any]:
        """The stored config of run ``run_id``; StoreError naming the runs there when it has none."""
        with self._use():
            row = first(self._con.execute("SELECT config::VARCHAR FROM runs WHERE run_id = ?", [run_id]))
        if row is None:
            runs = ", ".join(r.run_id for r in self.list_runs()) or "none"
            raise StoreError(f"no run {run_id!r} in {self.path} (runs: {runs})")
        return json.loads(row[0])

    def suite_tasks_any_passed(self, run_id: str, suite: str) -> tuple[int, int]:
        """(problems with attempts scored on ``suite``, those where any attempt passed it)."""
        with self._use():
            row = first(self._con.execute(
                "SELECT count(*), count(*) FILTER (ok) FROM (SELECT task_id, bool_or(passed) AS ok "
                "FROM attempt_evaluations WHERE run_id = ? AND suite = ? GROUP BY task_id)", [run_id, suite]))
        return int(row[0]), int(row[1])

    def query(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pa.Table:
        """Run a read query and return an Arrow table (``.to_pylist()``, ``.to_pandas()``)."""
        with self._use():
            try:
                return sql_to_arrow(self._con, sql, params)
            except duckdb.Error as exc:
                if self.read_only and "read-only" in str(exc).lower():
                    raise StoreReadOnlyError(f"{self.path} was opened read-only: {exc}") from exc
                raise

    def export_parquet(self, out_dir: str | Path, run_id: str | None = None) -> dict[str, int]:
        """Export every table as ``out_dir/<table>/run_id=<id>/*.parquet``; rows per table.

        Re-exporting a run replaces that run's partitions and leaves other runs' alone.
        """
        with self._use():
            if run_id is not None:
                self._require_run(self._con, run_id)
            return export_connection(self._con, out_dir, run_id=run_id)
