"""`egcfg ingest`: commit records made by scripts/remote_sweep.py (e.g. on a GPU box) to a store."""
from __future__ import annotations

from pathlib import Path

import typer

from .common import console, fail


def read_records(folder: Path):
    """The records in ``folder`` (egcfg_core.records.read_remote_records), a truncated file said."""
    from egcfg_core.records import read_remote_records

    return read_remote_records(folder, on_truncated=lambda path, e: console.print(
        f"[yellow]{path.name}: truncated after the last whole record ({e})[/]"))


def ingest_cmd(
    folder: Path = typer.Argument(..., help="the --out folder of scripts/remote_sweep.py"),
    config: Path = typer.Option(None, "--config", "-c", help="the sweep config the records were made with"),
    preset: str = typer.Option(None, help="the --preset used remotely, if any (e.g. paper)"),
    benchmark: str = typer.Option(None, help="the --benchmark override used remotely, if any"),
    tasks: str = typer.Option(None, help="the --tasks override used remotely, if any"),
    model: str = typer.Option(None, help="the --model override used remotely, if any"),
    decode: list[str] = typer.Option(None, "--decode", metavar="KEY=VALUE",
                                     help="the --decode overrides used remotely, if any (repeatable)"),
    tag: str = typer.Option(..., help="where they were made, e.g. h100 (part of the run's config and id)"),
    db: Path = typer.Option(Path("runs/egcfg.duckdb"), help="DuckDB store file"),
    baseline_only: bool = typer.Option(False, help="store only each problem's γ = 0 greedy attempt, as the "
                                       "baseline-only run of the same config (greedy does not depend on the "
                                       "other agents); its code is scored on the hidden tests here, sandboxed"),
):
    """Store remote records as a run (trusted input: pickles this project wrote)."""
    import dataclasses

    from egcfg_core.config import ConfigError, decode_overrides, load_config
    from egcfg_core.evaluation import evaluate
    from egcfg_core.records import SolveRecord
    from flows.sweep import code_version
    from storage.store import Store, StoreError, config_hash

    if not (config or preset):
        raise fail("give -c CONFIG, --preset NAME or both: the options the records were made with")
    overrides = {k: v for k, v in {"benchmark": benchmark, "tasks": tasks, "model": model}.items() if v}
    try:
        cfg = load_config(config, {**overrides, **decode_overrides(decode)}, preset=preset)
    except ConfigError as e:
        raise fail(f"bad config: {e}")
    if baseline_only:
        if not cfg.baseline:
            raise fail("--baseline-only needs a config whose grid starts with the γ = 0 baseline")
        cfg = dataclasses.replace(cfg, gamma=())
    run_config = {**cfg.semantic(), "made_on": tag}
    run_id = config_hash(run_config)
    n_new = n_seen = 0
    try:
        with Store(db) as store:
            store.ensure_run(run_id, run_config, f"{cfg.model} ({tag})", code_version())
            done = store.done_task_ids(run_id)
            for solve, evaluation, wall_s in read_records(folder):
                if solve.problem.task_id in done:
                    n_seen += 1
                    continue
                if baseline_only:
                    base = solve.attempts[0]
                    solve = SolveRecord(problem=solve.problem, attempts=[base],
                                        winner=0 if base.passed_visible else None, final_index=0,
                                        solution=base.code, wall_s=base.timings.get("wall_s", 0.0))
                    evaluation = evaluate(solve.problem, base.code, timeout_s=cfg.eval_timeout_s)
                    wall_s = solve.wall_s
                store.write_problem(run_id, solve, evaluation, wall_s=wall_s)
                done.add(solve.problem.task_id)
                n_new += 1
            st = store.run_status(run_id)
    except StoreError as e:
        raise fail(str(e))
    rate = f"{st.pass_rate:.1%}" if st.pass_rate is not None else "n/a"
    console.print(f"run {run_id} ({tag}): {n_new} problems stored, {n_seen} already there; "
                  f"hidden pass@1 {st.passed}/{st.evaluated} = {rate}")
