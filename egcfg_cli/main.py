"""The `egcfg` command line."""
from __future__ import annotations

import logging
import os

import typer

from .evaluate import evaluate_cmd
from .explore import explore_cmd
from .ingest import ingest_cmd
from .models import models_cmd
from .store_cmds import export_cmd, query_cmd, status_cmd
from .sweep import sweep_cmd
from .report import report_cmd
from .results import app as results_app
from .solve import solve_cmd

os.environ.setdefault("DO_NOT_TRACK", "1")
logging.basicConfig(level=os.environ.get("EGCFG_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s")

try:  # the weight-loading progress bar is noise in a CLI that has its own
    from transformers.utils import logging as _hf_logging

    _hf_logging.disable_progress_bar()
except ImportError:  # pragma: no cover
    pass

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="EG-CFG: execution-guided line-by-line code generation, as a resumable pipeline.")
app.command("solve")(solve_cmd)
app.command("sweep")(sweep_cmd)
app.command("status")(status_cmd)
app.command("query")(query_cmd)
app.command("export")(export_cmd)
app.command("report")(report_cmd)
app.command("ingest")(ingest_cmd)
app.command("evaluate")(evaluate_cmd)
app.add_typer(results_app, name="results")
app.command("explore")(explore_cmd)
app.command("models")(models_cmd)

if __name__ == "__main__":
    app()
