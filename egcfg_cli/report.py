"""`egcfg report`: a Markdown or HTML report of a run (optionally against another), with PNG plots."""
from __future__ import annotations

from pathlib import Path

import typer

from .common import console, fail


def report_cmd(
    run: str = typer.Argument(..., help="run id, or a unique prefix of one (see `egcfg status`)"),
    vs: list[str] = typer.Option(None, "--vs", help="another run (id or prefix) to compare against; "
                                 "repeat for several (e.g. the greedy baseline and a sampling ablation)"),
    db: list[Path] = typer.Option([Path("runs/egcfg.duckdb")], help="store file(s); several = shards, unioned"),
    out: Path = typer.Option(Path("report.md"), "--out", "-o", help="report file: .md (Markdown) or .html"),
    fmt: str = typer.Option(None, "--format", help="md or html (default: from the --out suffix)"),
    figures_dir: Path = typer.Option(None, help="folder for the PNG plots (default: beside the report)"),
    papers: bool = typer.Option(True, "--papers/--no-papers",
                                help="print the paper's reference figures beside ours when the benchmark matches"),
):
    """Write a report of a run from the store: pass@1 (hidden and visible), baseline, agents, γ, timings, plots."""
    import duckdb

    from reports.report import PAPERS, ReportError, infer_format, write_report
    from storage.store import StoreError

    if fmt is None:
        if out.suffix.lower() not in (".md", ".markdown", ".html", ".htm"):
            raise fail(f"--out {out}: expected a .md or .html file (or give --format md|html)")
        fmt = infer_format(out)
    fmt = fmt.lower()
    if fmt not in ("md", "html"):
        raise fail(f"--format must be md or html, got {fmt!r}")
    try:
        path = write_report(db, run, vs=vs, out=out, fmt=fmt, figures_dir=figures_dir,
                            papers=PAPERS if papers else None)
    except (ReportError, StoreError, duckdb.Error, OSError) as e:
        raise fail(str(e))
    console.print(f"report written to {path}")
