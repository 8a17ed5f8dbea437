"""The same problems and agent grid on each engine, in one run, printed as ratios.

For every engine (by registry name; engines that cannot load are listed and skipped) it solves
the selection with the grid (agents in order, stopping at the first that passes the visible
tests, as a sweep does) and reads the records' own timings:

    plain step   decode seconds per token on lines without a signal (p_sol alone; the greedy
                 baseline agent's lines, so keep the baseline for this ratio)
    guided step  decode seconds per token on guided lines (p_sol + p_dyn, CFG)
    sample/line  candidate sampling seconds per guided line (s rows of d lines)
    prefill/line p_dyn prefill seconds per guided line
    attempt      wall seconds per attempt (sampling, execution, prefill, decoding, visible tests)
    pass@1       hidden tests of the final solutions on this selection

Engines are interleaved problem by problem (the machine is shared: a load spike hits all of
them) and ``--repeat`` solves everything again to show whether the ratios hold.  Goals (issue
9): llama.cpp attempt <= 0.35x transformers; guided/plain <= 1.3 on every engine.

    EGCFG_THREADS=1 .venv/bin/python bench/engines.py --tasks 11-14 [--engine transformers
        --engine llama.cpp] [--engine openai --engine-config FILE] [--t 0.7 --gamma 1 --s 2 --d 1]
"""
from __future__ import annotations

import argparse
import sys
import time


from egcfg_core.agents import agent_grid, solve
from egcfg_core.decoding import DecodeSettings
from egcfg_core.engines import ENGINES, EngineError, load_engine
from egcfg_core.evaluation import evaluate
from egcfg_core.problems import load_problems, mbpp_fewshot, parse_task_selection
from egcfg_core.prompts import prompting


def engine_options_from(path: str | None) -> dict:
    if not path:
        return {}
    from egcfg_core.config import load_config

    return dict(load_config(path, {}).engine_options)


def tally(acc: dict, rec, passed: bool) -> None:
    for a in rec.attempts:
        acc["attempts"] += 1
        acc["attempt_s"] += a.timings.get("wall_s", 0.0)
        for ln in a.lines:
            key = "guided" if ln.signal_text else "plain"
            acc[f"{key}_tok"] += len(ln.tokens)
            acc[f"{key}_s"] += ln.timings.get("decode_s", 0.0)
            if ln.signal_text:
                acc["guided_lines"] += 1
                acc["sample_s"] += ln.timings.get("sample_s", 0.0)
                acc["prefill_s"] += ln.timings.get("prefill_s", 0.0)
    acc["problems"] += 1
    acc["passed"] += int(passed)


def per(a: dict, num: str, den: str) -> float:
    return a[num] / a[den] if a[den] else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", action="append", help=f"engines to compare (default: all of {', '.join(ENGINES)} "
                                                      "that load)")
    ap.add_argument("--engine-config", action="append", default=[],
                    help="ENGINE=FILE: a config file whose [engine] section configures that engine")
    ap.add_argument("--model", default="default")
    ap.add_argument("--benchmark", default="mbpp")
    ap.add_argument("--tasks", default="11-13", help="dev split only (MBPP 11-110, HumanEval 0-49)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--t", type=float, nargs="+", default=[0.7])
    ap.add_argument("--gamma", type=float, nargs="+", default=[1.0])
    ap.add_argument("--s", type=int, nargs="+", default=[2])
    ap.add_argument("--d", type=int, nargs="+", default=[1])
    ap.add_argument("--no-baseline", action="store_true", help="no greedy agent first")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()

    configs = dict(item.split("=", 1) for item in args.engine_config)
    engines = {}
    for name in args.engine or list(ENGINES):
        try:
            t0 = time.perf_counter()
            lm, _ = load_engine(name, args.model, engine_options_from(configs.get(name)))
            engines[name] = lm
            print(f"{name}: loaded in {time.perf_counter() - t0:.1f} s")
        except (EngineError, ImportError, ValueError, OSError) as e:
            print(f"{name}: skipped ({e})")
    if not engines:
        sys.exit("no engine could be loaded")

    sel = parse_task_selection(args.tasks)
    problems = load_problems(args.benchmark, data_dir=args.data_dir, task_ids=sel.task_ids, limit=sel.limit).problems
    use_fewshot, style = prompting(args.benchmark)  # as a sweep's prompt ("auto")
    fewshot = mbpp_fewshot() if use_fewshot else None
    grid = agent_grid(tuple(args.t), tuple(args.gamma), tuple(args.s), tuple(args.d), baseline=not args.no_baseline)
    settings = DecodeSettings(max_new_tokens=args.max_new_tokens)
    keys = ("attempts", "attempt_s", "plain_tok", "plain_s", "guided_tok", "guided_s", "guided_lines",
            "sample_s", "prefill_s", "problems", "passed")
    rounds = []
    for r in range(args.repeat):
        acc = {name: dict.fromkeys(keys, 0.0) for name in engines}
        for p in problems:
            for name, lm in engines.items():  # interleaved: the same load hits every engine
                rec = solve(p, lm, grid, settings=settings, fewshot=fewshot, prompt_style=style)
                ok = evaluate(p, rec.solution).passed if rec.solution else False
                tally(acc[name], rec, ok)
                print(f"  round {r + 1} {p.task_id} {name}: {rec.wall_s:.1f} s, hidden {'pass' if ok else 'fail'}",
                      flush=True)
        rounds.append(acc)

    ref = next(iter(engines))
    for r, acc in enumerate(rounds, 1):
        print(f"\nround {r}: {len(problems)} problems x {len(grid)} agents ({args.benchmark} {args.tasks})")
        print(f"{'engine':<14}{'plain ms/tok':>13}{'guided ms/tok':>14}{'guided/plain':>13}{'sample s/line':>14}{'prefill s/line':>15}"
              f"{'attempt s':>10}{'vs ' + ref:>16}{'pass@1':>8}")
        base = per(acc[ref], "attempt_s", "attempts")
        for name, a in acc.items():
            plain, guided = per(a, "plain_s", "plain_tok"), per(a, "guided_s", "guided_tok")
            att = per(a, "attempt_s", "attempts")
            print(f"{name:<14}{plain * 1000:>13.1f}{guided * 1000:>14.1f}{guided / plain:>13.2f}{per(a, 'sample_s', 'guided_lines'):>14.2f}"
                  f"{per(a, 'prefill_s', 'guided_lines'):>15.2f}{att:>10.1f}{att / base:>15.2f}x"
                  f"{a['passed'] / a['problems']:>8.2f}")


if __name__ == "__main__":
    main()
