"""`egcfg results export | build`: add a store's finished problems to the committed results data
(``results/<experiment>/``, compact Parquet), and build RESULTS.md from it."""
from __future__ import annotations

import re
from pathlib import Path

import typer

from .common import console, fail

app = typer.Typer(no_args_is_help=True, help="The committed results data (results/<experiment>/).")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@app.command("export")
def export_cmd(
    experiment: str = typer.Argument(..., help="experiment name: the folder under --root, e.g. humaneval-full"),
    db: list[Path] = typer.Option([Path("runs/egcfg.duckdb")], help="store file(s); several = shards, unioned"),
    run: str = typer.Option(None, help="only this run id (default: every run of the store with a done problem)"),
    root: Path = typer.Option(Path("results"), help="the results folder of the checkout"),
):
    """Write (or add to) results/EXPERIMENT from the store: done problems only, no per-line detail.

    Idempotent and additive: a problem the store has done replaces its exported rows; every
    other exported problem is kept, so exports of one run from several sessions or machines
    add up.  Commit the folder; resume on another machine with
    `egcfg sweep ... --resume-from results/EXPERIMENT`."""
    import duckdb

    from storage.export import export_results
    from storage.readers import open_stores
    from storage.store import StoreError

    if not _NAME.match(experiment):
        raise fail(f"experiment {experiment!r}: use lower-case letters, digits, '.', '_' or '-'")
    out = root / experiment
    try:
        con = open_stores(db)
        try:
            written = export_results(con, out, run_id=run)
        finally:
            con.close()
    except (StoreError, duckdb.Error) as e:
        raise fail(str(e))
    if not written:
        raise fail(f"nothing to export: {'run ' + run if run else 'the store'} has no done problem")
    for rid, counts in written.items():
        console.print(f"run {rid}: " + ", ".join(f"{t} {n}" for t, n in counts.items() if n))
    size = sum(p.stat().st_size for p in out.rglob("*.parquet"))
    console.print(f"results of {len(written)} run(s) in {out} ({size / 1e6:.2f} MB); commit that folder")


@app.command("build")
def build_cmd():
    """Rebuild docs/RESULTS.md and the README's results block from results/ (every figure by SQL;
    a fresh clone rebuilds both byte for byte; scripts/make_results.py does the same)."""
    from reports.results import main

    main()
