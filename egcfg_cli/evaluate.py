"""`egcfg evaluate`: score a finished run's stored final solutions on another suite's hidden
tests (an MBPP run on MBPP-ET, a HumanEval run on HumanEval-ET) without re-generating."""
from __future__ import annotations

from pathlib import Path

import typer

from .common import DATA_DIR_HELP, DB_HELP, console, default_data_dir, fail
from .prefect_plumbing import interrupted, quiet_prefect


def evaluate_cmd(
    run: str = typer.Argument(..., help="run id, or a unique prefix of one (see `egcfg status`)"),
    suite: str = typer.Argument(..., help="suite to score on: mbpp-et, humaneval-et, mbpp, humaneval, codecontests"),
    db: Path = typer.Option(Path("runs/egcfg.duckdb"), help=DB_HELP),
    data_dir: Path = typer.Option(None, help=DATA_DIR_HELP),
    workers: int = typer.Option(1, min=1, help="problems scored concurrently"),
    all_attempts: bool = typer.Option(False, "--all-attempts", help="score EVERY attempt's code, not only the "
                                      "final solution (the paper-protocol figure: a task counts when any attempt "
                                      "passes; SUITE may be the run's own benchmark); never chooses anything"),
    reuse_from: list[Path] = typer.Option(None, "--reuse-from", help="other stores or results folders whose "
                                          "scores on SUITE are copied for identical code of the same task "
                                          "(same per-test timeout) instead of running it again; this store's "
                                          "own runs always are (repeatable)"),
):
    """Score the run's final solutions on SUITE's hidden tests (resumable; tests never choose)."""
    import duckdb

    from egcfg_core.problems import DataUnavailableError
    from flows.evaluate import SuiteError, suite_family
    from reports.report import ReportError
    from storage.readers import open_stores, resolve_run
    from storage.store import StoreError

    try:
        suite_family(suite)
    except SuiteError as e:
        raise fail(str(e))
    if not db.exists():
        raise fail(f"no store at {db}")
    for path in reuse_from or []:
        if not path.exists():
            raise fail(f"--reuse-from {path}: no store or results folder there")
    try:
        con = open_stores([db])
        try:
            run_id = resolve_run(con, run)
        finally:
            con.close()
    except (ReportError, StoreError, duckdb.Error) as e:
        raise fail(str(e))
    dd = data_dir or default_data_dir()
    with quiet_prefect():
        from flows.evaluate import evaluate_flow

        try:
            res = evaluate_flow(db=str(db), run_id=run_id, suite=suite,
                                data_dir=str(dd) if dd else None, workers=workers, attempts=all_attempts,
                                reuse_from=[str(p) for p in reuse_from or []])
        except (SuiteError, StoreError, DataUnavailableError, duckdb.Error) as e:
            raise fail(str(e))
        except KeyboardInterrupt:
            raise interrupted(f"the solutions scored before it are stored in {db}; run the same "
                              f"command again to score the rest")
    skipped = (f", {res['skipped']} skipped (not in {res['suite']}: "
               f"{', '.join(res['skipped_task_ids'][:6])}{' ...' if res['skipped'] > 6 else ''})"
               if res["skipped"] else "")
    if all_attempts:
        n, k = res["tasks_scored"], res["tasks_any_passed"]
        console.print(f"run {run_id} on {res['suite']}: {res['attempts_scored']} attempts scored now "
                      f"({res['reused']} of them copied from identical code scored before){skipped}")
        console.print(f"paper protocol (any attempt passes the hidden tests; not pass@1) on {res['suite']}: "
                      f"{k}/{n} = {f'{k / n:.1%}' if n else 'n/a'}  (store: {db})")
        return
    n, k = res["total_evaluated"], res["total_passed"]
    rate = f"{k / n:.1%}" if n else "n/a"
    console.print(f"run {run_id} on {res['suite']}: {res['evaluated']} evaluated now "
                  f"({res['passed']} passed; {res['reused']} copied from identical code scored before), "
                  f"{res['already_done']} already done{skipped}")
    console.print(f"hidden pass@1 on {res['suite']}: {k}/{n} = {rate}  (store: {db})")
