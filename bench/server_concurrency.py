"""What the OpenAI engine costs per guided token, and what many problems in flight buy.

Against one OpenAI-compatible server (``--base-url``; e.g. llama-server ``-np 8``):

  1. alone: requests and seconds per plain token (p_sol alone, ``step``) and per guided token
     (p_sol + p_dyn, ``pair_step``) on a real MBPP prompt with a real-sized signal;
  2. the same sweep (MBPP tasks, one guided agent, short attempts) with 1 and with N problems in
     flight (``sweep_flow`` with ``problem_workers``, i.e. ``egcfg sweep --engine openai
     --problem-workers N``): problems/hour and the ratio.

    python bench/server_concurrency.py --base-url http://127.0.0.1:8080/v1 --tasks 11-18 --workers 8

Goals (issue 9): N = 8 in flight >= 2x problems/hour of one in flight; guided/plain step <= 1.3.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path



def per_token(base_url: str, data_dir: str, tokens: int) -> dict:
    from egcfg_core.engines import load_engine
    from egcfg_core.problems import load_problems
    from egcfg_core.prompts import build_prompt

    lm, _ = load_engine("openai", "default", {"base_url": base_url})
    prob = load_problems("mbpp", data_dir=Path(data_dir), task_ids=["Mbpp/11"]).problems[0]
    parts = build_prompt(prob, lm.tokenizer, None)
    head, tail = lm.encode(parts.head), lm.encode(parts.tail)
    signal = lm.encode("\n\nExecution feedback:\n" + "    x = 3   # line 2: s = 'hello', ch = 'l'\n" * 40)
    sol, dyn = lm.start(head + tail), lm.start(head + signal + tail)
    code = lm.encode("def remove_Occ(s, ch):\n    for i in range(len(s)):\n        if s[i] == ch:\n" * 3)
    for t in code[:2]:  # warm both caches
        lm.step(sol, t)
        lm.step(dyn, t)
    r0, t0 = lm.client.requests, time.perf_counter()
    for t in code[2:2 + tokens]:
        lm.step(sol, t)
    plain_s, plain_r = (time.perf_counter() - t0) / tokens, (lm.client.requests - r0) / tokens
    pair = lm.pair(sol, dyn)
    r0, t0 = lm.client.requests, time.perf_counter()
    for t in code[2 + tokens:2 + 2 * tokens]:
        lm.pair_step(pair, t)
    guided_s, guided_r = (time.perf_counter() - t0) / tokens, (lm.client.requests - r0) / tokens
    return dict(plain_s=plain_s, plain_r=plain_r, guided_s=guided_s, guided_r=guided_r,
                prompt_tokens=len(head + tail), signal_tokens=len(signal), batch_prompts=lm.batch_prompts)


def sweep_rate(base_url: str, data_dir: str, tasks: str, workers: int, max_new_tokens: int) -> dict:
    from egcfg_core.config import load_config
    from flows.sweep import sweep_flow

    cfg = load_config(None, dict(model="default", engine="openai", benchmark="mbpp", tasks=tasks, data_dir=data_dir,
                                 fewshot=False, t=[0.7], gamma=[1.0], s=[2], d=[1], baseline=False,
                                 max_new_tokens=max_new_tokens, problem_workers=workers,
                                 engine_options={"base_url": base_url, "max_concurrency": 32}))
    import duckdb

    from flows.runtime import get_engine

    client = get_engine(cfg)[0].client  # the process's engine: its request counter spans the sweep
    with tempfile.TemporaryDirectory() as tmp:
        r0, t0 = client.requests, time.perf_counter()
        st = sweep_flow(config=cfg, db=str(Path(tmp) / "b.duckdb"))
        wall, requests = time.perf_counter() - t0, client.requests - r0
        con = duckdb.connect(str(Path(tmp) / "b.duckdb"), read_only=True)
        tokens, guided = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE l.signal_text <> '') FROM token_decisions t "
            "JOIN lines l USING (run_id, task_id, agent_index, line_index)").fetchone()
        con.close()
    return dict(wall_s=wall, done=st["done"], failed=st["failed"], per_hour=st["done"] / wall * 3600,
                requests=requests, tokens=tokens, guided=guided)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--data-dir", default=os.environ.get("EGCFG_DATA_DIR", "../shared/data"))
    ap.add_argument("--tasks", default="11-18")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=20)
    ap.add_argument("--max-new-tokens", type=int, default=24)
    a = ap.parse_args()
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    pt = per_token(a.base_url, a.data_dir, a.tokens)
    print(f"prompt {pt['prompt_tokens']} tokens, signal {pt['signal_tokens']} tokens, "
          f"prompt lists: {pt['batch_prompts']}")
    print(f"plain token   {pt['plain_s'] * 1000:7.1f} ms  {pt['plain_r']:.2f} requests")
    print(f"guided token  {pt['guided_s'] * 1000:7.1f} ms  {pt['guided_r']:.2f} requests")
    print(f"guided/plain  {pt['guided_s'] / pt['plain_s']:.2f}x   (goal <= 1.3)")
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        sweep_rate(a.base_url, a.data_dir, a.tasks.split("-")[0], 1, 4)  # warm Prefect and the engine
        # many first: whatever prompt cache it leaves behind helps the one-in-flight run, not it
        many = sweep_rate(a.base_url, a.data_dir, a.tasks, a.workers, a.max_new_tokens)
        one = sweep_rate(a.base_url, a.data_dir, a.tasks, 1, a.max_new_tokens)
    for name, r in (("1 in flight", one), (f"{a.workers} in flight", many)):
        print(f"{name:13s} {r['done']} done {r['failed']} failed  {r['wall_s']:7.1f} s  {r['per_hour']:7.0f} problems/hour  "
              f"{r['requests']} requests for {r['tokens']} tokens ({r['guided']} guided): "
              f"{r['requests'] / max(r['tokens'], 1):.2f} requests and {r['wall_s'] / max(r['tokens'], 1):.3f} s per token")
    print(f"{a.workers} vs 1 in flight: {many['per_hour'] / one['per_hour']:.2f}x problems/hour   (goal >= 2)")


if __name__ == "__main__":
    main()
