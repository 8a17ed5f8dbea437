"""`egcfg sweep | status | query | export`: the pipeline side of the CLI."""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .common import DATA_DIR_HELP, console, default_data_dir, fail, floats, ints

DB_HELP = "DuckDB store file (one per worker/shard)"


@contextmanager
def quiet_prefect():
    """Quiet, offline Prefect with the flow heartbeat off (it costs ~1 s per sync flow), talking
    to the user's API server or to a private one out of reach of the terminal's Ctrl-C.  The
    terminal shows Prefect's warnings only; the flow runs' INFO logs still reach the API."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from .prefect_server import api_server

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}), api_server(), \
            _run_logs_to_api_only():
        yield


class _RunLogsBelow(logging.Filter):
    """Drops flow and task run records below ``level`` (for the terminal's handlers), and, once
    Ctrl-C has set ``decoding.SHUTDOWN``, every Prefect record: its account of our own interrupt
    (a "Crash detected" report and traceback when the SIGINT lands inside its task bookkeeping)
    is noise; the CLI says what happened and how to resume."""

    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        from egcfg_core.decoding import SHUTDOWN

        if SHUTDOWN.is_set() and record.name.startswith("prefect"):
            return False
        return record.levelno >= self.level or not record.name.startswith(("prefect.flow_runs", "prefect.task_runs"))


@contextmanager
def _run_logs_to_api_only():
    """Flow and task runs log at INFO (a sweep: one line per problem, for the UI's flow-run page)
    to the API, while the terminal keeps to PREFECT_LOGGING_LEVEL (WARNING unless the user sets
    it): the CLI prints its own progress.  Prefect's run loggers otherwise inherit that level and
    would drop those records before any handler sees them."""
    import prefect.main  # noqa: F401 - Prefect's SDK entry point sets up its logging (first import
    # only; done here, so that it cannot reset the levels set below when a flow module imports it)
    from prefect.settings import get_current_settings

    terminal = logging.getLevelName(str(get_current_settings().logging.level).upper())
    terminal = terminal if isinstance(terminal, int) else logging.WARNING
    loggers = [logging.getLogger(n) for n in ("prefect.flow_runs", "prefect.task_runs")]
    before = [lg.level for lg in loggers]
    quiet = _RunLogsBelow(terminal)
    consoles = [h for h in logging.getLogger().handlers if type(h).__name__ != "APILogHandler"]
    for lg in loggers:
        if lg.getEffectiveLevel() > logging.INFO:
            lg.setLevel(logging.INFO)
    for h in consoles:
        h.addFilter(quiet)
    try:
        yield
    finally:
        for lg, level in zip(loggers, before):
            lg.setLevel(level)
        for h in consoles:
            h.removeFilter(quiet)


@contextmanager
def _ctrl_c_stops_attempts():
    """Ctrl-C sets ``decoding.SHUTDOWN`` before it raises KeyboardInterrupt. The interrupt can land
    inside Prefect's own task bookkeeping, which may turn it into an ordinary error (seen: a
    ValueError 'Task run is not set' from its crash handler); the flag still stops every attempt
    and the sweep's commits, so the sweep ends either way.  A SIGINT the shell set to be ignored
    (a background job) stays ignored."""
    import signal

    from egcfg_core.decoding import SHUTDOWN

    def on_sigint(signum, frame):
        SHUTDOWN.set()
        raise KeyboardInterrupt

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def interrupted(what: str) -> typer.Exit:
    """Ctrl-C: say what is kept and how to go on, exit 130 (the shell's code for SIGINT)."""
    console.print(f"[yellow]interrupted[/]: {what}")
    return typer.Exit(130)


class _DropErrors(logging.Filter):
    """Drops log records that carry one of the given exception types."""

    def __init__(self, types: tuple[type[BaseException], ...]):
        super().__init__()
        self.types = types

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, self.types)


@contextmanager
def _unlogged(*types: type[BaseException]):
    """Keep these errors' tracebacks off the console: Prefect logs every exception that ends a
    flow run, with its traceback, and the CLI reports these ones itself as one clear line."""
    drop = _DropErrors(types)
    handlers = [h for name in ("", "prefect", "prefect.flow_runs") for h in logging.getLogger(name).handlers
                if type(h).__name__ != "APILogHandler"]
    for h in handlers:
        h.addFilter(drop)
    try:
        yield
    finally:
        for h in handlers:
            h.removeFilter(drop)


def sweep_cmd(
    config: Path = typer.Option(None, "--config", "-c", help="sweep config (TOML or YAML)"),
    preset: str = typer.Option(None, help="a named configuration under the config and the options: paper "
                               "(the EG-CFG authors' settings, docs/PAPER_PRESET.md)"),
    db: Path = typer.Option(Path("runs/egcfg.duckdb"), help=DB_HELP),
    benchmark: str = typer.Option(None, help="override data.benchmark"),
    tasks: str = typer.Option(None, help="override data.tasks, e.g. 0-9, 11,12, first:20, all"),
    model: str = typer.Option(None, help="override model.spec"),
    engine: str = typer.Option(None, help="override model.engine: transformers | llama.cpp | openai"),
    data_dir: Path = typer.Option(None, help=DATA_DIR_HELP),
    t: str = typer.Option(None, help="override grid.t (comma-separated)"),
    gamma: str = typer.Option(None, help="override grid.gamma"),
    s: str = typer.Option(None, help="override grid.s"),
    d: str = typer.Option(None, help="override grid.d"),
    prompt: str = typer.Option(None, help="override grid.prompt (comma-separated: default, long-code)"),
    max_new_tokens: int = typer.Option(None, help="override decode.max_new_tokens"),
    agent_workers: int = typer.Option(None, help="agents of one problem run concurrently"),
    problem_workers: int = typer.Option(None, help="problems solved concurrently (thread task runner)"),
    dask_address: str = typer.Option(None, help="Dask scheduler address: spread problems over its workers"),
    line_tasks: bool = typer.Option(None, "--line-tasks/--no-line-tasks",
                                    help="each line's exploration and execution as Prefect tasks"),
    seed: int = typer.Option(None, help="override decode.seed"),
    decode: list[str] = typer.Option(None, "--decode", metavar="KEY=VALUE",
                                     help="override any field of the config's decode section, e.g. --decode skip_certain= "
                                          "--decode signal_format=v1 (repeatable)"),
    resume_from: Path = typer.Option(None, help="a results export (e.g. results/EXP, see `egcfg results "
                                     "export`): its done problems of this run are copied into --db first "
                                     "and not solved again"),
):
    """Run or resume a sweep (same config -> same run id -> finished problems are skipped)."""
    from egcfg_core.config import ConfigError, decode_overrides, load_config
    from egcfg_core.engines import EngineError
    from egcfg_core.model import INSTALL_COMMAND, ModelUnavailableError
    from egcfg_core.problems import DataUnavailableError
    from storage.store import StoreError

    dd = data_dir or default_data_dir()
    overrides = {"benchmark": benchmark, "tasks": tasks, "model": model, "engine": engine,
                 "data_dir": str(dd) if dd else None,
                 "t": floats(t, "t") if t else None, "gamma": floats(gamma, "gamma") if gamma else None,
                 "s": ints(s, "s") if s else None, "d": ints(d, "d") if d else None,
                 "prompt": [p.strip() for p in prompt.split(",") if p.strip()] if prompt else None,
                 "max_new_tokens": max_new_tokens, "agent_workers": agent_workers, "seed": seed,
                 "problem_workers": problem_workers, "dask_address": dask_address, "line_tasks": line_tasks}
    try:
        cfg = load_config(config, {**overrides, **decode_overrides(decode)}, preset=preset)
    except ConfigError as e:
        raise fail(f"bad config: {e}")
    with quiet_prefect():
        from flows import progress
        from flows.sweep import sweep_flow

        state = {"passed": 0, "n": 0, "failed": 0}
        bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                       console=console, transient=False)
        job = {}

        def on(event, info):
            if event == "start":
                seeded = f" ({info['seeded']} of them from {resume_from})" if info.get("seeded") else ""
                console.print(f"run [bold]{info['run_id']}[/]: {info['total']} problems, {info['done']} already done{seeded}")
                if info.get("reused"):
                    console.print(f"  {info['reused']} of the problems to solve start from the greedy attempt of "
                                  f"run {', '.join(info['reused_from'])} (copied, not decoded again)")
                if info.get("resume_note"):
                    from rich.markup import escape

                    console.print(f"[yellow]--resume-from: {escape(info['resume_note'])}[/]", highlight=False)
                job["id"] = bar.add_task(cfg.benchmark, total=info["total"], completed=info["done"], rate="")
            elif event in ("done", "failed"):
                state["n"] += 1
                if event == "done":
                    state["passed"] += info["passed"]
                    mark = "[green]pass[/]" if info["passed"] else "[red]fail[/]"
                    bar.console.print(f"  {info['task_id']}: hidden {mark}  ({info['wall_s']:.0f}s)")
                else:
                    state["failed"] += 1
                    bar.console.print(f"  {info['task_id']}: [yellow]error[/] {info['error'][:120]}")
                rate = f"pass {state['passed']}/{state['n']} this session"
                bar.update(job["id"], advance=1, rate=rate)

        resume = (f"every problem finished before it is stored in {db}; run the same command "
                  f"again to resume (finished problems are skipped)")
        stop = progress.listen(on)
        try:
            with bar, _unlogged(ModelUnavailableError, DataUnavailableError, StoreError, EngineError,
                                KeyboardInterrupt), \
                    _ctrl_c_stops_attempts():
                result = sweep_flow(config=cfg, db=str(db), **({"resume_from": str(resume_from)} if resume_from else {}))
        except ModelUnavailableError as e:
            hint = "" if "--model" in str(e) else (
                f"\n--model takes a saved transformers model folder, a hub id 'org/name', or 'default' "
                f"(the offline default model: {INSTALL_COMMAND})")
            raise fail(f"{e}{hint}")
        except (DataUnavailableError, StoreError, EngineError) as e:
            raise fail(str(e))
        except Exception:
            from egcfg_core.decoding import SHUTDOWN

            if not SHUTDOWN.is_set():
                raise
            raise interrupted(resume)  # Prefect turned the interrupt into another error
        except KeyboardInterrupt:
            raise interrupted(resume)
        finally:
            stop()
    rate = f"{result['pass_rate']:.1%}" if result["pass_rate"] is not None else "n/a"
    console.print(f"run {result['run_id']}: {result['done']} done, {result['failed']} failed, "
                  f"hidden pass@1 {result['passed']}/{result['evaluated']} = {rate}  (store: {db})")


def status_cmd(db: Path = typer.Option(Path("runs/egcfg.duckdb"), help=DB_HELP),
               as_json: bool = typer.Option(False, "--json", help="one JSON document on stdout: the runs "
                                            "with their counts, pass rates, suites, sandbox isolation and "
                                            "compute totals")):
    """Runs in a store, with done/failed counts, pass rates, the sandbox isolation that ran them and
    what their attempts cost (tokens, forward passes, sandbox runs, CPU and wall seconds)."""
    from storage.store import Store, StoreError

    if not db.exists():
        raise fail(f"no store at {db}")
    try:
        with Store(db, read_only=True) as store:
            runs = [_run_summary(store, r) for r in store.list_runs()]
    except StoreError as e:
        raise fail(str(e))
    if as_json:
        print(json.dumps({"db": str(db), "runs": runs}, indent=2))
        return
    # Fits 80 columns (a pipe or a narrow terminal): short columns in the table, the long
    # texts (model, isolation, other suites) on a line of their own under it, folded.
    table = Table(title=str(db), box=None, header_style="bold", pad_edge=False)
    for col, justify in (("run", "left"), ("benchmark", "left"), ("done", "right"), ("failed", "right"),
                         ("hidden pass@1", "left"), ("updated (UTC)", "left")):
        table.add_column(col, justify=justify, no_wrap=True)
    for r in runs:
        rate = f"{r['passed']}/{r['evaluated']} = {r['pass_rate']:.1%}" if r["pass_rate"] is not None else "-"
        table.add_row(r["run_id"], r["benchmark"], str(r["done"]), str(r["failed"]), rate,
                      r["updated_at"][:16].replace("T", " "))
    console.print(table)
    for r in runs:
        suites = ", ".join(f"{name} {v['passed']}/{v['evaluated']}" for name, v in r["suites"].items())
        isolation = "; ".join(r["isolation"]) if r["isolation"] else "not recorded"
        console.print(f"{r['run_id']}: model {r['model']}; sandbox {isolation}"
                      + (f"; other suites: {suites}" if suites else ""), overflow="fold", soft_wrap=False)
        console.print(f"{r['run_id']}: compute {_compute_text(r['compute'])}", overflow="fold", soft_wrap=False)


def _compute_text(c: dict) -> str:
    """A run's compute totals (Store.compute_totals) in one line."""
    if not c["attempts"]:
        return "no attempts stored yet"
    if not c.get("measured"):
        return f"not measured ({c['attempts']} attempts stored before compute was counted)"
    n = lambda k: f"{c.get(k, 0):,.0f}"  # noqa: E731
    text = (f"{c['measured']} of {c['attempts']} attempts"
            + (f" ({c['copied']} copied from another run, at what they cost there)" if c.get("copied") else "")
            + f": prefill {n('prefill_tokens')} + head {n('head_prefill_tokens')} tokens, decoded "
            f"{n('decoded_tokens_sol')} p_sol + {n('decoded_tokens_dyn')} p_dyn, sampled {n('sampled_tokens')}, "
            f"{n('forward_passes')} forward passes")
    if c.get("server_requests"):
        text += (f", {n('server_requests')} server requests ({n('server_prompt_tokens')} prompt tokens sent, "
                 f"{n('server_completion_tokens')} returned)")
    return (text + f"; {n('sandbox_runs')} sandbox runs ({c.get('sandbox_cpu_s', 0):.2f} s CPU); process CPU "
            f"{c.get('process_cpu_s', 0):.1f} s (process-wide); wall {c.get('wall_s', 0):.1f} s")


def _run_summary(store, run) -> dict:
    """One run of ``egcfg status``, as plain JSON values."""
    st = store.run_status(run.run_id)
    return {"run_id": run.run_id, "benchmark": str(run.config.get("benchmark", "?")), "model": run.model,
            "code_version": run.code_version, "done": run.done, "failed": run.failed,
            "evaluated": st.evaluated, "passed": st.passed, "pass_rate": st.pass_rate,
            "suites": {name: {"evaluated": n, "passed": p} for name, (n, p) in store.suite_status(run.run_id).items()},
            "isolation": list(run.isolation) or None, "compute": store.compute_totals(run.run_id),
            "created_at": run.created_at.isoformat(), "updated_at": run.updated_at.isoformat()}


def query_cmd(
    sql: str = typer.Argument(..., help="SQL over the store's tables (see docs/QUERIES.md)"),
    db: list[Path] = typer.Option([Path("runs/egcfg.duckdb")], help="store file(s); several = shards, unioned"),
    parquet: Path = typer.Option(None, help="query an `egcfg export` folder instead of a store"),
    csv: bool = typer.Option(False, "--csv", help="CSV on stdout"),
    as_json: bool = typer.Option(False, "--json", help="JSON lines on stdout"),
    limit: int = typer.Option(200, help="rows shown in the table view"),
):
    """Run SQL over a store (or several shards, or a Parquet export)."""
    import duckdb

    from storage.export import open_for_query, open_parquet, open_shards
    from storage.store import StoreError, sql_to_arrow

    try:
        if parquet:
            con = open_parquet(parquet)
        elif len(db) > 1:
            con = open_shards(db)
        else:
            con = open_for_query(db[0])
        table = sql_to_arrow(con, sql)
    except (duckdb.Error, StoreError, ValueError, FileNotFoundError) as e:
        raise fail(str(e))
    if csv:
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, sys.stdout.buffer)
        return
    if as_json:
        for row in table.to_pylist():
            print(json.dumps(row, default=str))
        return
    out = Table(show_lines=False)
    for name in table.column_names:
        out.add_column(name)
    for row in table.slice(0, limit).to_pylist():
        out.add_row(*(_cell(v) for v in row.values()))
    console.print(out)
    if table.num_rows > limit:
        console.print(f"[dim]{table.num_rows - limit} more rows (use --csv or --json for all)[/]")


def _cell(v) -> str:
    s = str(v) if v is not None else ""
    return s if len(s) <= 120 else s[:117] + "..."


def export_cmd(
    out: Path = typer.Argument(..., help="output folder: one subfolder per table, hive-partitioned by run_id"),
    db: Path = typer.Option(Path("runs/egcfg.duckdb"), help=DB_HELP),
    run: str = typer.Option(None, help="only this run id"),
):
    """Write the store to Parquet, partitioned by run."""
    from storage.store import Store, StoreError

    try:
        with Store(db, read_only=True) as store:
            counts = store.export_parquet(out, run_id=run)
    except StoreError as e:
        raise fail(str(e))
    for table, n in counts.items():
        console.print(f"{table:>18}: {n} rows")
    console.print(f"exported to {out}")
