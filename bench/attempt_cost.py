"""What an EG-CFG attempt costs against a plain sampled attempt (issue 10 part 6), in one run.

On a fixed dev selection (default: MBPP 13 and 14, two tasks greedy fails, so EG-CFG has lines to
guide), every problem gets the same agents, each run to the end (no agent stops another):
one EG-CFG agent per ``--gamma`` (default γ = 1; t = 0.7, s = 3, d = 2) and ``--samplers`` sampler agents (γ = 0,
t = 0.7: the no-guidance ablation's attempt).  Printed: the mean seconds per attempt of each kind
by stage (sample = candidate sampling, execute = sandboxed traced runs, prefill = the prompt and
p_dyn prefills, decode = the tokens of the solution, test = the visible-test run of the finished
code), then the ratio of the mean attempt wall times as the last line:

    eg-cfg/sampler attempt = X.XX

The goal of issue 10 is <= 2.0.  Decode settings (``[decode]`` fields of a sweep config: the
signal format, verified candidates, skipping certain lines, ...) are set with ``--set key=value``
for both kinds, so one command measures a variant:

    .venv/bin/python bench/attempt_cost.py                          # ~3 minutes on 2 free cores
    .venv/bin/python bench/attempt_cost.py --set signal_format=v2
    .venv/bin/python bench/attempt_cost.py --tasks 11-20 --gamma 0.5,1 --samplers 2   # more

Before and after in one run: ``--variant`` (repeatable; a comma list of key=value, "" = the
defaults) runs the EG-CFG agents once per variant, interleaved problem by problem (a load spike
hits all of them), beside the same sampler attempts; each variant prints its own ratio and the
last line is the LAST variant's:

    .venv/bin/python bench/attempt_cost.py --variant "" \
        --variant signal_format=v2,accept_verified=true,skip_certain=header,fence,agree,ahead
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path


from egcfg_core.config import build_config
from egcfg_core.decoding import Attempt, Head
from egcfg_core.prompts import build_prompt
from egcfg_core.records import AgentConfig

STAGES = ("sample_s", "execute_s", "prefill_s", "decode_s", "test_s")


def parse_variant(text: str) -> dict:
    """``key=value,key=value`` (a value may hold commas: ``skip_certain=header,fence``)."""
    items: list[str] = []
    for part in text.split(","):
        if "=" in part or not items:
            items.append(part)
        else:
            items[-1] += "," + part
    return parse_sets([i for i in items if i.strip()])


def parse_sets(items: list[str]) -> dict:
    """``key=value`` strings typed by their DecodeSettings field (the CLI's ``--decode`` parser)."""
    from egcfg_core.config import ConfigError, decode_overrides

    try:
        return decode_overrides(items)
    except ConfigError as e:
        raise SystemExit(str(e)) from None


def agents(gammas: list[float], n_samplers: int, t: float, s: int, d: int) -> list[AgentConfig]:
    """One EG-CFG agent per γ, then ``n_samplers`` samplers (their own seeds by replicate)."""
    return ([AgentConfig(t=t, gamma=g, s=s, d=d) for g in gammas]
            + [AgentConfig(t=t, gamma=0.0, s=0, d=0, replicate=r) for r in range(n_samplers)])


def summarise(kind: str, records: list[dict]) -> float:
    wall = statistics.mean(r["wall_s"] for r in records)
    parts = "  ".join(f"{st[:-2]} {statistics.mean(r.get(st, 0.0) for r in records):6.2f}" for st in STAGES)
    lines = statistics.mean(r["lines"] for r in records)
    explored = statistics.mean(r["explored"] for r in records)
    print(f"{kind:<8} {len(records):>2} attempts  wall {wall:6.2f} s  {parts}  ({lines:.1f} lines, {explored:.1f} explored)")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--benchmark", default="mbpp")
    ap.add_argument("--tasks", default="13,14", help="task selection (dev split only), e.g. 13,14 or 11-20")
    ap.add_argument("--samplers", type=int, default=1, help="sampler attempts per problem")
    ap.add_argument("--t", type=float, default=0.7)
    ap.add_argument("--gamma", default="1.0", help="γ of the EG-CFG agents, one attempt each (e.g. 0.5,1)")
    ap.add_argument("--s", type=int, default=3)
    ap.add_argument("--d", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a DecodeSettings field")
    ap.add_argument("--variant", action="append", default=[], metavar="K=V,K=V",
                    help="decode settings of the EG-CFG agents, on top of --set (repeat: before/after)")
    args = ap.parse_args()
    gammas = [float(g) for g in args.gamma.split(",") if g.strip()]
    if not gammas or min(gammas) <= 0 or args.samplers < 1:
        raise SystemExit("--gamma needs values > 0 and --samplers must be >= 1")

    from egcfg_core.engines import load_engine
    from egcfg_core.problems import load_problems, mbpp_fewshot, parse_task_selection, resolve_data_dir
    from egcfg_core.sandbox import SandboxPool

    base = {"max_new_tokens": args.max_new_tokens, **parse_sets(args.set)}
    variants = {v or "defaults": build_config({"data": {"benchmark": args.benchmark, "tasks": args.tasks},
                                              "decode": {**base, **parse_variant(v)}})
                for v in (args.variant or [""])}
    cfg = next(iter(variants.values()))
    data_dir = resolve_data_dir() or Path(__file__).resolve().parents[2] / "shared" / "data"
    sel = parse_task_selection(cfg.tasks)
    problems = load_problems(cfg.benchmark, data_dir=data_dir, task_ids=sel.task_ids, limit=sel.limit).problems
    use_fewshot, style = cfg.prompting()  # as the sweep
    fewshot = mbpp_fewshot() if use_fewshot else None
    lm, _ = load_engine(cfg.engine, args.model, cfg.engine_options)
    grid = agents(gammas, args.samplers, args.t, args.s, args.d)
    print(f"model {lm.name}; {len(problems)} problems ({cfg.tasks}); per problem {len(gammas)} EG-CFG "
          f"(t={args.t:g}, γ={args.gamma}, s={args.s}, d={args.d}) per variant + {args.samplers} sampler "
          f"attempts; decode {base}; variants: {', '.join(variants)}")
    kinds: dict[str, list[dict]] = {**{v: [] for v in variants}, "sampler": []}
    with SandboxPool(2) as pool:
        for problem in problems:
            t0 = time.perf_counter()
            head = Head.build(lm, build_prompt(problem, lm.tokenizer, fewshot, style=style))
            head_s = time.perf_counter() - t0
            runs = [("sampler", a, cfg) for a in grid if a.is_sampler]
            runs += [(v, a, c) for v, c in variants.items() for a in grid if not a.is_sampler]
            for i, (kind, agent, c) in enumerate(runs):
                rec = Attempt(lm, problem, head, agent, i, c.decode, pool=pool).run()
                kinds[kind].append({**rec.timings, "lines": len(rec.lines),
                                    "explored": sum(1 for ln in rec.lines if ln.candidates)})
                print(f"  {problem.task_id} {agent.name:<22} {rec.timings['wall_s']:6.1f} s  {len(rec.lines):>2} lines"
                      f"  {rec.stop_reason:<9} visible {'pass' if rec.passed_visible else 'fail'}  [{kind}]",
                      flush=True)
            print(f"  {problem.task_id} shared prompt head: {head_s:.2f} s (not counted in either)")
    sampler = summarise("sampler", kinds["sampler"])
    ratios = {v: summarise(f"eg-cfg ({v})", kinds[v]) / sampler for v in variants}
    for v, r in ratios.items():
        print(f"  variant {v}: eg-cfg/sampler = {r:.2f}")
    print(f"eg-cfg/sampler attempt = {ratios[list(variants)[-1]]:.2f}")


if __name__ == "__main__":
    main()
