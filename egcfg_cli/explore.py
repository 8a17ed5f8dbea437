"""`egcfg explore`: the guidance explorer page of a run (see reports/explorer.py)."""
from __future__ import annotations

from pathlib import Path

import typer

from .common import console, fail


def explore_cmd(
    run: str = typer.Argument(..., help="run id, or a unique prefix of one"),
    task: str = typer.Argument(None, help="only this problem (e.g. Mbpp/12), opened at once"),
    db: list[Path] = typer.Option([Path("runs/egcfg.duckdb")], help="store file(s), or one Parquet export folder"),
    vs: str = typer.Option(None, "--vs", help="another run shown side by side"),
    out: Path = typer.Option(Path("explore"), "--out", "-o", help="folder for index.html and data/"),
):
    """Write a page to click through a run's problems, attempts, lines, candidates and tokens."""
    import duckdb

    from reports.explorer import write_explorer
    from storage.store import StoreError

    try:
        res = write_explorer(db, run, task=task, vs=vs, out=out)
    except (StoreError, duckdb.Error, OSError) as e:
        raise fail(str(e))
    console.print(f"explorer written to {res['path']} ({res['problems']} problems, "
                  f"{res['total_bytes'] / 1e6:.1f} MB, {res['seconds']:.1f} s); open it in a browser")
