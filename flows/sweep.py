"""Flow: sweep a benchmark selection with one config; resumable, every decision stored.

Reading top to bottom: load the config and the problems, open the store, skip what is done,
solve each remaining problem (a task; flows/solve.py has the same as a flow of its own), commit
it atomically with its done-marker.

What a Prefect UI shows of it: each committed problem as an INFO line of the flow run's log
("Mbpp/12: hidden pass, visible pass (6 s) [3/10]", through Prefect's run logger) and, at the
end, one table artifact with the run's pass@1, its greedy baseline and the counts (keyed by run
id, so the UI lists every session of a run as versions of one artifact).
"""
from __future__ import annotations

import dataclasses
import re
import subprocess
import time
import traceback
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from egcfg_core.config import SweepConfig, attempt_key, load_config, parse_shard
from egcfg_core.decoding import SHUTDOWN
from egcfg_core.problems import load_problems, mbpp_fewshot, parse_task_selection, resolve_data_dir
from egcfg_core.records import AttemptRecord, SolveRecord
from storage.export import resume_note
from storage.rows import attempt_from_row
from storage.store import Store

from . import progress
from .runtime import get_engine, stop_all_on_interrupt
from .solve import solve_problem_flow, solve_problem_task


def code_version() -> str:
    here = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        if sha:
            return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    from importlib.metadata import version

    return "egcfg-" + version("egcfg")


def _solve_with_runner(todo, config: SweepConfig, fewshot, commit, reuse: dict | None = None) -> None:
    """Problems as tasks on a thread pool, or on a Dask cluster (prefect-dask); results come back
    here and are committed by this process's single writer as they complete."""
    from prefect.futures import as_completed

    if config.dask_address:
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError as e:
            raise RuntimeError("run.dask_address needs prefect-dask: pip install 'egcfg[dask]'") from e
        runner = DaskTaskRunner(address=config.dask_address)
    else:
        runner = ThreadPoolTaskRunner(max_workers=config.problem_workers)
    task = solve_problem_task.with_options(retries=config.problem_retries)
    with runner, stop_all_on_interrupt():  # Prefect cancels the queued ones; these stop the running
        started = {}
        for problem in todo:
            fut = runner.submit(task, parameters=dict(problem=problem, config=config, fewshot=fewshot,
                                                      reuse=(reuse or {}).get(problem.task_id)))
            started[fut] = (problem, time.perf_counter())
        for fut in as_completed(list(started)):
            problem, t0 = started[fut]
            try:
                result = fut.result()
            except Exception as e:  # recorded, not fatal
                result = e
            commit(problem, result, t0)


def attempt_reuse(store: Store, config: SweepConfig, run_id: str, fingerprint: str,
                  todo) -> dict[str, list[AttemptRecord]]:
    """For each problem in ``todo``, the attempts at the start of its grid that stored runs of the
    same model already made: the unguided agents (the greedy one, samplers) up to the first guided
    one, each copied when a done problem of a run with the same ``attempt_key`` has it (the
    protocol's greedy, sampling and EG-CFG runs share the greedy attempt; a sampling run with more
    samplers shares the first ones with a run with fewer), and no further than the first that
    passed the visible tests (no agent after it runs).  The records to copy instead of decoding
    them again (``[run] reuse_greedy``); a problem with none is left out."""
    grid, keys = config.grid(), config.attempt_keys()
    prefix = next((i for i, k in enumerate(keys) if k is None), len(keys))
    if not prefix or not todo:
        return {}
    # a stored run with the same key for our first agent has the same key for each of them
    # (the keys differ only by the agent): its attempt of an agent of the same name is ours
    sources = [r.run_id for r in store.list_runs() if r.run_id != run_id and r.model == fingerprint
               and attempt_key(r.config, grid[0]) == keys[0]]
    found = store.unguided_attempts(sources, [p.task_id for p in todo], [a.name for a in grid[:prefix]])
    out: dict[str, list[AttemptRecord]] = {}
    for task_id, by_name in found.items():
        copied: list[AttemptRecord] = []
        for i, agent in enumerate(grid[:prefix]):
            if agent.name not in by_name:
                break
            source, row = by_name[agent.name]
            copied.append(dataclasses.replace(attempt_from_row(row, agent, source), agent_index=i))
            if copied[-1].passed_visible:
                break
        if copied:
            out[task_id] = copied
    return out


def shard_of(problems: list, shard: str) -> list:
    """The problems of ``run.shard`` "K/N": those at positions K, K+N, ... of the run's selection
    (interleaved, so each shard gets its share of the hard ones); all of them for ""."""
    if not shard:
        return list(problems)
    k, n = parse_shard(shard)
    return [p for i, p in enumerate(problems) if i % n == k]


def load_selection(config: SweepConfig):
    """(the selected problems, MBPP's few-shot examples when the run's prompt has them, else None:
    ``config.prompting()``)."""
    data_dir = resolve_data_dir(config.data_dir or None)
    sel = parse_task_selection(config.tasks)
    loaded = load_problems(config.benchmark, data_dir=data_dir, task_ids=sel.task_ids, limit=sel.limit)
    return loaded, (mbpp_fewshot() if config.prompting()[0] else None)


def sweep(config: SweepConfig | None = None, db: str = "runs/egcfg.duckdb", config_path: str | None = None,
          overrides: dict | None = None, resume_from: str | None = None) -> dict:
    """Run (or resume) a sweep; returns the run's status counts.  ``resume_from``: a results
    export (e.g. the committed ``results/EXP``) whose done problems of this run are copied into
    the store first, so they are not solved again (a run carried on on a new machine)."""
    t_start = time.perf_counter()
    SHUTDOWN.clear()  # an earlier sweep of this process may have been interrupted
    logger = get_run_logger()
    config = config or load_config(config_path, overrides)
    run_id = config.run_id()
    loaded, fewshot = load_selection(config)
    lm, fingerprint, load_s = get_engine(config)
    with Store(db) as store:
        store.ensure_run(run_id, config.semantic(), fingerprint, code_version())
        store.record_skipped(run_id, loaded.skipped)
        seeded = store.seed_from_export(resume_from, run_id) if resume_from else 0
        # a resume that copied nothing says why (e.g. the export's run has another id)
        note = resume_note(resume_from, run_id, config.semantic()) if resume_from and not seeded else ""
        done = store.done_task_ids(run_id)
        mine = shard_of(loaded.problems, config.shard)
        todo = [p for p in mine if p.task_id not in done]
        reuse = attempt_reuse(store, config, run_id, fingerprint, todo) if config.reuse_greedy else {}
        sources = sorted({a.reused_from for copied in reuse.values() for a in copied})
        if reuse:
            logger.info("run %s: %d of the problems to solve start from %d attempts (greedy, samplers) "
                        "of run %s (the same attempt_key: copied, not decoded again)", run_id, len(reuse),
                        sum(map(len, reuse.values())), ", ".join(sources))
        counts = {"selected": len(loaded.problems), "already_done": len(done), "seeded": seeded,
                  "done": 0, "failed": 0}  # done / failed: this session
        progress.emit("start", run_id=run_id, total=len(loaded.problems), done=len(done), todo=len(todo),
                      shard=config.shard, shard_total=len(mine),
                      seeded=seeded, resume_note=note, reused=len(reuse),
                      reused_attempts=sum(map(len, reuse.values())), reused_from=sources)
        logger.info("run %s (%s, %s): %d problems selected, %d already done%s, %d to solve%s", run_id,
                    config.benchmark, fingerprint, len(loaded.problems), len(done),
                    f" ({seeded} of them from {resume_from})" if seeded else "", len(todo),
                    f" (shard {config.shard}: the others are another process's)" if config.shard else "")
        isolations: set[str] = set()

        def commit(problem, result, t0):
            """The single writer: one problem, atomically with its done-marker (or its failure)."""
            if SHUTDOWN.is_set():  # interrupted: whatever came back was cut short (or is an error
                # the interrupt caused inside Prefect), so nothing more is stored
                raise KeyboardInterrupt("sweep interrupted; nothing more is committed")
            wall_s = time.perf_counter() - t0
            if isinstance(result, BaseException):
                err = f"{type(result).__name__}: {result}\n" + "".join(traceback.format_exception(result, limit=8))
                store.record_failure(run_id, problem.task_id, problem.benchmark, err, problem=problem)
                counts["failed"] += 1
                progress.emit("failed", task_id=problem.task_id, error=str(result))
                logger.info("%s: failed, %s: %s (%.0f s) [%d/%d]", problem.task_id, type(result).__name__,
                            str(result).splitlines()[0][:200] if str(result) else "", wall_s,
                            counts["done"] + counts["failed"], len(todo))
                return
            solve, evaluation = result
            store.write_problem(run_id, solve, evaluation, wall_s=wall_s)
            _note_isolation(store, run_id, solve, isolations)
            counts["done"] += 1
            progress.emit("done", task_id=problem.task_id, passed=evaluation.passed,
                          passed_visible=solve.final.passed_visible, wall_s=wall_s)
            logger.info("%s: hidden %s, visible %s (%.0f s) [%d/%d]", problem.task_id,
                        "pass" if evaluation.passed else "fail",
                        "pass" if solve.final.passed_visible else "fail", wall_s,
                        counts["done"] + counts["failed"], len(todo))

        if config.problem_workers > 1 or config.dask_address:
            _solve_with_runner(todo, config, fewshot, commit, reuse)
        else:
            for problem in todo:
                t0 = time.perf_counter()
                for attempt_no in range(config.problem_retries + 1):
                    try:
                        result = solve_problem_task(problem, config, fewshot, reuse.get(problem.task_id))
                    except Exception as e:  # a failing problem is recorded, not fatal
                        result = e
                        if attempt_no < config.problem_retries:
                            continue
                    break
                commit(problem, result, t0)
        store.set_run_timings(run_id, {"model_load_s": load_s, "last_session_s": time.perf_counter() - t_start})
        status = store.run_status(run_id)
        publish_summary(store, run_id, counts, isolations, db, logger)
    progress.emit("end", run_id=run_id)
    return dataclasses.asdict(status)


def _note_isolation(store: Store, run_id: str, solve: SolveRecord, seen: set[str]) -> None:
    """Record in the run which sandbox isolation ran this problem's code, once per kind."""
    if solve.isolation and solve.isolation not in seen:
        store.note_isolation(run_id, solve.isolation)
        seen.add(solve.isolation)


def artifact_key(run_id: str) -> str:
    """The key of a run's summary artifact (Prefect keys: lowercase letters, digits, dashes)."""
    return "egcfg-run-" + re.sub(r"[^a-z0-9-]+", "-", run_id.lower())


def publish_summary(store: Store, run_id: str, counts: dict, isolations: set[str], db: str, logger) -> None:
    """One table artifact for this sweep (pass@1, the greedy baseline, counts) and a last log
    line.  Figures come from ``reports.data.collect``, the report's own numbers.  A failure here
    is logged, never fatal: every problem is already committed."""
    try:
        from prefect.artifacts import create_table_artifact

        from reports.data import baseline_hidden_cell, collect, pct

        with store.connection() as con:
            r = collect(con, run_id)
        pass_at_1 = pct(r.passed_hidden, r.evaluated)
        rows = [
            ("hidden pass@1 (final solution)", pass_at_1),
            ("baseline (γ=0 greedy) pass@1, hidden", baseline_hidden_cell(r)),
            ("baseline (γ=0 greedy) pass@1 on VISIBLE tests",
             pct(r.baseline_passed_visible, r.baseline_problems) if r.has_baseline else "no baseline agent"),
            ("problems selected", counts["selected"]),
            ("solved this session", counts["done"]),
            ("failed this session", counts["failed"]),
            ("skipped: already done", counts["already_done"]),
            ("of those, seeded from a results export", counts["seeded"]),
            ("run so far: done / failed", f"{r.done} / {r.failed}"),
            ("sandbox isolation this session", "; ".join(sorted(isolations)) or "no code ran"),
        ]
        create_table_artifact(
            [{"figure": k, "value": str(v)} for k, v in rows], key=artifact_key(run_id),
            description=f"egcfg run `{run_id}`: {r.benchmark}, model `{r.model}`, store `{db}`")
        logger.info("run %s: hidden pass@1 %s (baseline: %s); this session %d solved, %d failed, "
                    "%d skipped as already done", run_id, pass_at_1, baseline_hidden_cell(r),
                    counts["done"], counts["failed"], counts["already_done"])
    except Exception as e:  # noqa: BLE001 - the sweep's results are stored; this is a view
        logger.warning("could not publish the run summary artifact: %s: %s", type(e).__name__, e)


# by reference when pickled (the flow run context travels to Dask workers): see flows/solve.py
sweep_flow = flow(name="egcfg-sweep", validate_parameters=False)(sweep)
