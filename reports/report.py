"""`egcfg report`: a Markdown or HTML report of one run (optionally against a second), with PNG
plots, computed from the DuckDB store by SQL -- never typed by hand.

    from reports.report import write_report
    write_report(["runs/egcfg.duckdb"], "85b00e5e", vs="a1b2c3", out=Path("docs/RESULTS.md"))

Honest evaluation (the project's rule: visible tests guide and stop, hidden tests only score):
- pass@1 is the FINAL solution of each problem scored on its hidden tests.
- The baseline (the gamma = 0 greedy attempt, agent_index 0 when the config has baseline=true)
  is only scored on hidden tests when it was the final solution.  Its hidden pass@1 is reported
  only when it is known for EVERY evaluated problem: either scored (it was the final solution) or
  implied (its code failed a visible test that is also one of the problem's hidden tests, or it
  produced no code, which the evaluator scores as a failure).  Otherwise the baseline's pass@1
  on VISIBLE tests is reported, labelled as such.
- "Any attempt passed the visible tests" is an oracle figure and labelled as one.

The report is a list of blocks (headings, paragraphs, tables, images, code) rendered to Markdown
or HTML by the same code, so both formats hold the same figures.  Its parts: ``data`` (the
figures, by SQL), ``plots``, ``sections`` (the blocks), ``document`` (blocks and rendering); this
module writes the report and is the API (the names below).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from reports.data import (
    FORMATS,
    PAPER_LABEL,
    PAPERS,
    SOURCES,
    ReportError,
    RunData,
    baseline_hidden_cell,
    collect,
    collect_budget,
    pct,
)
from reports.document import render_html, render_markdown
from reports.plots import plot_budget, plot_by_gamma_t, plot_flips, plot_pass_at_1, plot_stages
from reports.sections import build_report, infer_format, regenerate_command, vs_list
from storage.readers import UnknownRunError, list_run_ids, open_stores, resolve_run

__all__ = [
    "PAPERS", "PAPER_LABEL", "SOURCES", "ReportError", "UnknownRunError", "RunData", "open_stores",
    "resolve_run", "list_run_ids", "collect", "baseline_hidden_cell", "build_report", "render_markdown",
    "render_html", "write_report", "regenerate_command", "infer_format", "pct",
]


# ============================================================================= entry point
def write_report(
    db_paths: str | Path | Sequence[str | Path],
    run_id: str,
    vs: str | Sequence[str] | None = None,
    out: Path = Path("report.md"),
    fmt: str = "md",
    *,
    figures_dir: Path | None = None,
    papers: dict[str, dict[str, float]] | None = PAPERS,
    command: str | None = None,
) -> Path:
    """Write the report of ``run_id`` (an id or unique prefix), optionally against ``vs`` (one
    run or several, e.g. its greedy baseline and a sampling ablation), to
    ``out`` in format ``fmt`` ("md" or "html"), with PNG figures in ``figures_dir`` (default:
    beside the report, named ``<out stem>-<figure>.png``).  ``papers=None`` leaves out the
    paper's reference figures.  ``command`` is the line printed at the end (default: the
    ``egcfg report`` command that regenerates it).  Returns ``out``."""
    if fmt not in FORMATS:
        raise ReportError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    paths = [db_paths] if isinstance(db_paths, (str, Path)) else list(db_paths)
    out = Path(out)
    con = open_stores(paths)
    try:
        rid = resolve_run(con, run_id)
        vids = [resolve_run(con, v) for v in vs_list(vs)]
        if len(set([rid, *vids])) < 1 + len(vids):
            raise ReportError(f"a run is named twice among {[rid, *vids]}")
        runs = [collect(con, x) for x in (rid, *vids)]
        budget_data = collect_budget(con, runs)
    finally:
        con.close()
    fig_dir = Path(figures_dir) if figures_dir is not None else out.parent
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create the output folder: {exc}") from exc
    stem = out.stem
    figs: dict[str, str | None] = {}
    makers = {"pass_at_1": lambda p: plot_pass_at_1(runs, papers, p),
              "by_gamma_t": lambda p: plot_by_gamma_t(runs, p),
              "stages": lambda p: plot_stages(runs, p),
              "flips": lambda p: plot_flips(runs, p),
              "budget": lambda p: plot_budget(runs, budget_data, p)}
    for name, make in makers.items():
        path = fig_dir / f"{stem}-{name}.png"
        made = make(path)
        if made is None and path.exists():
            path.unlink()  # a stale figure of an earlier report with data
        figs[name] = (Path(os.path.relpath(made, out.parent)).as_posix() if made else None)
    if command is None:
        command = regenerate_command(rid, vids, paths, out, fmt, figures_dir, bool(papers))
    blocks = build_report(runs, figs, papers, command, budget_data)
    text = render_markdown(blocks) if fmt == "md" else render_html(blocks)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write {out}: {exc}") from exc
    return out
