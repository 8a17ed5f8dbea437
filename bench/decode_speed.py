"""Per-token cost of plain greedy vs our guided EG-CFG step vs the naive re-encode step.

All three on the same model, prompt and signal length, in one run, printed as ratios
(these machines are noisy: compare ratios, never absolute times across runs):

    plain   one cached forward of p_sol per token (what greedy decoding costs)
    guided  our step: p_sol and p_dyn advanced together (one batched forward, or two cached
            forwards with --no-batch) + the CFG combination and the plausibility mask
    naive   re-encode p_sol and p_dyn from scratch every token (the published code's approach)

Goals: guided/plain <= 1.3, naive/guided >= 30.  Then a per-line breakdown of one real EG-CFG
attempt (candidate sampling, execution, p_dyn prefill, guided tokens).

    .venv/bin/python bench/decode_speed.py [--model default] [--signal-tokens 1500] [--tokens 16]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch


from egcfg_core.decoding import Attempt, DecodeSettings, Head
from egcfg_core.guidance import PlausibilityMask, cfg_logprobs
from egcfg_core.naive import naive_token
from egcfg_core.prompts import build_prompt
from egcfg_core.records import AgentConfig
from egcfg_core.engines.transformers import TransformersEngine


def load(spec: str) -> TransformersEngine:
    return TransformersEngine.load(spec)[0]


def timed(fn, n: int) -> float:
    """Median seconds per call over n calls (after one warm-up)."""
    fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--benchmark", default="mbpp")
    ap.add_argument("--task", default="Mbpp/12")
    ap.add_argument("--signal-tokens", type=int, default=1500)
    ap.add_argument("--tokens", type=int, default=16, help="timed tokens per method")
    ap.add_argument("--naive-tokens", type=int, default=2)
    ap.add_argument("--no-batch", action="store_true", help="advance the two streams with two forwards")
    ap.add_argument("--no-line-breakdown", action="store_true")
    args = ap.parse_args()

    from egcfg_core.problems import load_problems, mbpp_fewshot, resolve_data_dir

    data_dir = resolve_data_dir() or Path(__file__).resolve().parents[2] / "shared" / "data"
    problem = load_problems(args.benchmark, data_dir=data_dir, task_ids=[args.task]).problems[0]
    lm = load(args.model)
    print(f"model {lm.name}, torch threads {torch.get_num_threads()}, dtype {next(lm.model.parameters()).dtype}")
    parts = build_prompt(problem, lm.tokenizer, mbpp_fewshot())
    head = Head.build(lm, parts)
    code_ids = lm.encode("def sort_matrix(M):\n    ")
    filler = "  L3  total = 12, row = [1, 2, 3]\n  -> returned [[1, 1, 1], [1, 2, 3]]\n"
    signal_ids = (lm.encode(filler) * (args.signal_tokens // max(1, len(lm.encode(filler))) + 1))[: args.signal_tokens]
    sol_ids = head.head_ids + head.tail_ids + code_ids
    dyn_ids = head.head_ids + signal_ids + head.tail_ids + code_ids
    print(f"p_sol {len(sol_ids)} tokens, p_dyn {len(dyn_ids)} tokens (signal {len(signal_ids)})")

    tok = lm.encode(" ")[0]
    mask = PlausibilityMask(0.01)

    def fresh():
        sol, dyn = lm.fork(head.stream), lm.fork(head.stream)
        lm.extend(sol, head.tail_ids + code_ids)
        lm.extend(dyn, signal_ids + head.tail_ids + code_ids)
        return sol, dyn

    t0 = time.perf_counter()
    sol, dyn = fresh()
    prefill_s = time.perf_counter() - t0
    # plain: one cached forward per token
    plain_s = timed(lambda: lm.step(sol, tok), args.tokens)
    # guided: both streams + CFG + mask, as two cached forwards and as one batched forward
    sol, dyn = fresh()

    def guided_two():
        u = lm.step(sol, tok)
        c = lm.step(dyn, tok)
        return mask(torch.log_softmax(u, -1), cfg_logprobs(u, c, 1.0)).argmax()
    two_s = timed(guided_two, args.tokens)
    sol, dyn = fresh()
    pair = lm.pair(sol, dyn)

    def guided_batched():
        u, c = lm.pair_step(pair, tok)
        return mask(torch.log_softmax(u, -1), cfg_logprobs(u, c, 1.0)).argmax()
    batched_s = timed(guided_batched, args.tokens)
    guided_s = two_s if args.no_batch else batched_s
    naive_s = timed(lambda: naive_token(lm.model, sol_ids, dyn_ids, 1.0, mask), args.naive_tokens)
    print(f"\nper token: plain {plain_s*1e3:.0f} ms, guided {batched_s*1e3:.0f} ms (one batched forward) / "
          f"{two_s*1e3:.0f} ms (two forwards), naive {naive_s*1e3:.0f} ms")
    print(f"batched/two-forwards = {batched_s/two_s:.2f}  (the decoder uses {'two forwards' if args.no_batch else 'the batched step'})")
    print(f"p_dyn + p_sol prefill from the shared head cache: {prefill_s:.2f} s")
    print(f"guided/plain = {guided_s/plain_s:.2f}   (goal <= 1.3)")
    print(f"naive/guided = {naive_s/guided_s:.1f}   (goal >= 30)")

    if args.no_line_breakdown:
        return
    print("\nper-line breakdown of one EG-CFG attempt (t=0.7, γ=1, s=3, d=2):")
    settings = DecodeSettings(max_new_tokens=160, batch_streams=not args.no_batch)
    rec = Attempt(lm, problem, Head.build(lm, parts), AgentConfig(t=0.7, gamma=1.0, s=3, d=2), 1, settings).run()
    print(f"{'line':>4} {'sample':>7} {'execute':>8} {'prefill':>8} {'decode':>7} {'tokens':>6} {'ms/tok':>6}  text")
    for ln in rec.lines:
        tm = ln.timings
        n = max(1, len(ln.tokens))
        print(f"{ln.line_index:>4} {tm['sample_s']:>7.2f} {tm['execute_s']:>8.2f} {tm['prefill_s']:>8.2f} "
              f"{tm['decode_s']:>7.2f} {len(ln.tokens):>6} {tm['decode_s']/n*1e3:>6.0f}  {ln.chosen_text.rstrip()[:50]}")
    tot = rec.timings
    wall = tot["wall_s"]
    print("share of attempt wall time: " + ", ".join(f"{k[:-2]} {tot[k]/wall:.0%}" for k in
                                                    ("sample_s", "execute_s", "prefill_s", "decode_s", "test_s")))
    print(f"passed visible tests: {rec.passed_visible}; stop: {rec.stop_reason}")


if __name__ == "__main__":
    main()
