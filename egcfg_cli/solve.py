"""`egcfg solve`: watch EG-CFG write one function, line by line."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.syntax import Syntax
from rich.table import Table

from .common import DATA_DIR_HELP, console, default_data_dir, fail, floats, ints


def solve_cmd(
    benchmark: str = typer.Argument(..., help="humaneval | humaneval-et | mbpp | mbpp-et | codecontests"),
    task_id: str = typer.Argument(..., help="e.g. HumanEval/0, Mbpp/11, or the bare number"),
    model: str = typer.Option("default", help="'default' (offline Qwen2.5-Coder-0.5B), a local path or a hub id"),
    engine: str = typer.Option("transformers", help="transformers | llama.cpp | openai (options: use a sweep config)"),
    data_dir: Path = typer.Option(None, help=DATA_DIR_HELP),
    t: str = typer.Option("0.7", help="candidate temperatures (default: the protocol runs' grid)"),
    gamma: str = typer.Option("0.5,1", help="guidance scales (γ = 0 greedy always runs first)"),
    s: str = typer.Option("3", help="candidates per line"),
    d: str = typer.Option("2", help="lines per candidate"),
    prompt: str = typer.Option("default", help="prompt variants, comma-separated: default, long-code"),
    fewshot: str = typer.Option("auto", help="MBPP's 3 few-shot turns first: auto (as a sweep: MBPP yes, "
                                "HumanEval no), true or false"),
    prompt_style: str = typer.Option("auto", help="how the task is asked: auto (as a sweep: MBPP describe, "
                                     "HumanEval evalplus), describe, evalplus or paper"),
    max_new_tokens: int = typer.Option(384, help="token cap per attempt"),
    alpha: float = typer.Option(0.05, help="plausibility mask: keep tokens with p_uncond >= alpha * max"),
    seed: int = typer.Option(0),
):
    """Solve one task with EG-CFG, streaming each line with its candidate counts."""
    from egcfg_core.agents import agent_grid, solve
    from egcfg_core.decoding import DecodeSettings
    from egcfg_core.evaluation import evaluate
    from egcfg_core.model import ModelUnavailableError
    from egcfg_core.problems import load_problems, mbpp_fewshot
    from egcfg_core.prompts import prompting
    from egcfg_core.engines import EngineError
    from flows.runtime import get_lm

    data_dir = data_dir or default_data_dir()
    try:
        loaded = load_problems(benchmark, data_dir=data_dir)
    except Exception as e:  # DataUnavailableError, bad benchmark name
        raise fail(str(e))
    wanted = {task_id, task_id.split("/")[-1]}
    matches = [p for p in loaded.problems if p.task_id in wanted or p.task_id.split("/")[-1] in wanted]
    if not matches:
        raise fail(f"no task {task_id!r} in {benchmark} ({len(loaded.problems)} tasks loaded)")
    problem = matches[0]
    try:
        flag = {"true": True, "false": False}.get(fewshot.strip().lower(), fewshot.strip().lower())
        use_fewshot, style = prompting(problem.benchmark, flag, prompt_style.strip())  # the sweep's rule
        grid = agent_grid(floats(t, "t"), floats(gamma, "gamma"), ints(s, "s"), ints(d, "d"),
                          prompts=[p.strip() for p in prompt.split(",") if p.strip()])
        settings = DecodeSettings(max_new_tokens=max_new_tokens, plausibility_alpha=alpha, seed=seed)
    except ValueError as e:
        raise fail(str(e))
    try:
        with console.status(f"loading model {model!r} ..."):
            lm = get_lm(model, engine)[0]
    except (ModelUnavailableError, EngineError, ValueError) as e:
        raise fail(str(e))
    examples = mbpp_fewshot() if use_fewshot else None

    console.rule(f"[bold]{problem.task_id}[/] ({problem.benchmark}) — {len(problem.visible_tests)} visible tests")
    console.print(problem.description.strip()[:800])
    for tc in problem.visible_tests:
        console.print(f"  [dim]visible:[/] {tc.source.strip() or tc.stdin[:60]}")

    def on_line(i: int, line) -> None:
        agent = grid[i]
        ran = [c for c in line.candidates if c.executable is not None and c.duplicate_of is None]
        failed = sum(1 for c in ran if any(e.status != "passed" for e in c.executions))
        flips = sum(dd.argmax_changed for dd in line.tokens)
        info = f"{len(ran)} ran, {failed} failed, {flips} flipped" if agent.gamma else "greedy"
        console.print(f"[cyan]{agent.name:>18}[/] [dim]{info:>26} |[/] {line.chosen_text.rstrip(chr(10))}")

    def on_attempt(rec) -> None:
        verdict = "[green]passes visible tests[/]" if rec.passed_visible else "[red]fails visible tests[/]"
        console.print(f"[bold]{rec.agent.name}[/]: {verdict} ({rec.stop_reason}, {rec.timings.get('wall_s', 0):.1f}s)")

    result = solve(problem, lm, grid, settings=settings, fewshot=examples, prompt_style=style, on_line=on_line,
                   on_attempt=on_attempt)
    final = result.final
    console.rule("final solution")
    console.print(Syntax(result.solution or "# (empty)", "python"))
    ev = evaluate(problem, result.solution)
    table = Table(title=f"{problem.task_id}: agent {final.agent.name}" + (" (winner)" if result.winner is not None else " (no agent passed; best on visible tests)"))
    table.add_column("tests")
    table.add_column("passed", justify="right")
    table.add_row("visible", f"{sum(o.status == 'passed' for o in final.visible)}/{len(final.visible)}")
    table.add_row("hidden", f"{sum(o.status == 'passed' for o in ev.tests)}/{len(ev.tests)}")
    console.print(table)
    console.print(f"hidden tests: {'[green]PASS[/]' if ev.passed else '[red]FAIL[/]'}   wall {result.wall_s:.1f}s")
