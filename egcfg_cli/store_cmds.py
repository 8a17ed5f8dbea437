"""`egcfg status | query | export`: the store side of the CLI."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from .common import DB_HELP, console, fail


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
