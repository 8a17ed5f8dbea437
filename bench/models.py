"""The registered offline models side by side, per engine, in one run, printed as ratios.

For each model (``egcfg models``) on each engine that loads it:

    prefill tok/s   one fresh stream of a ~N-token prompt (the HumanEval prompt of the first task,
                    repeated to --prefill-tokens), best of --repeat
    decode tok/s    greedy steps on that stream (--decode-tokens), best of --repeat
    greedy attempt  wall seconds of the greedy attempt per task (a sweep's first agent)
    guided attempt  wall seconds of one EG-CFG attempt per task (t 0.7, γ 1, s 3, d 2, the
                    protocol's decode settings), written whatever the greedy attempt did
    pass@1          hidden tests of the greedy attempts

Models are interleaved task by task (a load spike on this shared machine hits both), and the last
columns divide by the first model's figure on the same engine.  Dev split only.

    EGCFG_THREADS=2 .venv/bin/python bench/models.py --tasks 0-4 [--engine transformers
        --engine llama.cpp] [--model default --model qwen2.5-coder-1.5b]
"""
from __future__ import annotations

import argparse
import sys
import time


from egcfg_core.agents import agent_grid, solve
from egcfg_core.decoding import DecodeSettings
from egcfg_core.engines import EngineError, load_engine
from egcfg_core.evaluation import evaluate
from egcfg_core.problems import load_problems, mbpp_fewshot, parse_task_selection
from egcfg_core.prompts import build_prompt, prompting


def speed(lm, ids: list[int], n_decode: int) -> tuple[float, float]:
    """(prefill tok/s, decode tok/s) of one fresh stream of ``ids`` and ``n_decode`` greedy steps."""
    t0 = time.perf_counter()
    stream = lm.start(ids[:-1])
    logits = lm.extend(stream, ids[-1:])
    t1 = time.perf_counter()
    for _ in range(n_decode):
        logits = lm.step(stream, int(logits.argmax()))
    t2 = time.perf_counter()
    lm.release(stream)
    return len(ids) / (t1 - t0), n_decode / (t2 - t1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", help="registered names (default: default, qwen2.5-coder-1.5b)")
    ap.add_argument("--engine", action="append", help="default: transformers and llama.cpp")
    ap.add_argument("--benchmark", default="humaneval")
    ap.add_argument("--tasks", default="0-2", help="dev split only (MBPP 11-110, HumanEval 0-49)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--prefill-tokens", type=int, default=512)
    ap.add_argument("--decode-tokens", type=int, default=48)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-guided", action="store_true", help="skip the guided attempts")
    args = ap.parse_args()
    models = args.model or ["default", "qwen2.5-coder-1.5b"]
    engines = args.engine or ["transformers", "llama.cpp"]

    sel = parse_task_selection(args.tasks)
    problems = load_problems(args.benchmark, data_dir=args.data_dir, task_ids=sel.task_ids,
                             limit=sel.limit).problems
    use_fewshot, style = prompting(args.benchmark)
    fewshot = mbpp_fewshot() if use_fewshot else None
    settings = DecodeSettings(max_new_tokens=384)
    greedy = agent_grid((), (), (), (), baseline=True)
    guided = agent_grid((0.7,), (1.0,), (3,), (2,), baseline=False)

    loaded: dict[tuple[str, str], object] = {}
    for e in engines:
        for m in models:
            try:
                t0 = time.perf_counter()
                loaded[(e, m)], fp = load_engine(e, m)
                print(f"{e} {m}: {fp}, loaded in {time.perf_counter() - t0:.1f} s", flush=True)
            except (EngineError, ImportError, ValueError, OSError) as exc:
                print(f"{e} {m}: skipped ({str(exc).splitlines()[0]})", flush=True)
    if not loaded:
        sys.exit("nothing could be loaded")

    acc = {k: {"prefill": 0.0, "decode": 0.0, "greedy_s": 0.0, "guided_s": 0.0, "n": 0, "passed": 0}
           for k in loaded}
    prompt_ids = {}
    for key, lm in loaded.items():
        ids = lm.encode(build_prompt(problems[0], lm.tokenizer, fewshot=fewshot, style=style).p_sol())
        prompt_ids[key] = (ids * (args.prefill_tokens // len(ids) + 1))[: args.prefill_tokens]
    for r in range(args.repeat):  # rounds interleave the models: best of the rounds per model
        for key, lm in loaded.items():
            p, d = speed(lm, prompt_ids[key], args.decode_tokens)
            acc[key]["prefill"], acc[key]["decode"] = max(acc[key]["prefill"], p), max(acc[key]["decode"], d)
            print(f"  round {r + 1} {key[0]} {key[1]}: prefill {p:.0f} tok/s, decode {d:.1f} tok/s", flush=True)
    for p in problems:
        for key, lm in loaded.items():  # interleaved: the same load hits every model
            rec = solve(p, lm, greedy, settings=settings, fewshot=fewshot, prompt_style=style)
            ok = evaluate(p, rec.solution).passed if rec.solution else False
            acc[key]["greedy_s"] += rec.wall_s
            acc[key]["passed"] += int(ok)
            acc[key]["n"] += 1
            line = f"  {p.task_id} {key[0]} {key[1]}: greedy {rec.wall_s:.1f} s ({'pass' if ok else 'fail'})"
            if not args.no_guided:
                g = solve(p, lm, guided, settings=settings, fewshot=fewshot, prompt_style=style)
                acc[key]["guided_s"] += g.wall_s
                line += f", guided {g.wall_s:.1f} s"
            print(line, flush=True)

    print(f"\n{len(problems)} {args.benchmark} tasks ({args.tasks}); ratios against {models[0]} on the same engine")
    print(f"{'engine':<13}{'model':<22}{'prefill tok/s':>14}{'decode tok/s':>13}{'greedy s':>9}{'guided s':>9}"
          f"{'pass':>6}{'prefill x':>10}{'decode x':>9}{'greedy x':>9}{'guided x':>9}")
    for (e, m), a in acc.items():
        n = max(a["n"], 1)
        ref = acc.get((e, models[0]), a)
        rn = max(ref["n"], 1)

        def ratio(k: str, per_task: bool = False) -> str:
            num = a[k] / n if per_task else a[k]
            den = ref[k] / rn if per_task else ref[k]
            return f"{num / den:.2f}" if den else "-"

        print(f"{e:<13}{m:<22}{a['prefill']:>14.0f}{a['decode']:>13.1f}{a['greedy_s'] / n:>9.1f}"
              f"{a['guided_s'] / n:>9.1f}{a['passed']:>4}/{a['n']:<1}{ratio('prefill'):>10}{ratio('decode'):>9}"
              f"{ratio('greedy_s', True):>9}{ratio('guided_s', True):>9}")


if __name__ == "__main__":
    main()
