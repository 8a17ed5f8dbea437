"""Traced executions per second: pooled fork servers vs one sandbox process per run.

    .venv/bin/python bench/sandbox_throughput.py [--seconds 8] [--threads 2]

Runs MBPP-sized candidate functions against one visible test each with ``run_traced``
(tracing on, as the decoder does), first through a ``SandboxPool`` and then with a fresh
sandbox per run, both from ``--threads`` client threads, and prints both rates and their ratio.
A script, not a test: the figures depend on the machine.
"""
from __future__ import annotations

import argparse
import os
import threading
import time


from egcfg_core.records import TestCase
from egcfg_core.sandbox import SandboxPool
from egcfg_core.tracing import render_trace, run_traced

# MBPP-sized programs (a few lines, a loop or two) with one visible test each
PROGRAMS = [
    ("def similar_elements(a, b):\n    res = tuple(set(a) & set(b))\n    return tuple(sorted(res))\n",
     "assert similar_elements((3, 4, 5, 6), (5, 7, 4, 10)) == (4, 5)"),
    ("import math\ndef is_not_prime(n):\n    result = False\n    for i in range(2, int(math.sqrt(n)) + 1):\n"
     "        if n % i == 0:\n            result = True\n    return result\n",
     "assert is_not_prime(35) == True"),
    ("import heapq as hq\ndef heap_queue_largest(nums, n):\n    largest_nums = hq.nlargest(n, nums)\n"
     "    return largest_nums\n",
     "assert heap_queue_largest([25, 35, 22, 85, 14, 65, 75, 22, 58], 3) == [85, 75, 65]"),
    ("def count_ways(n):\n    A = [0] * (n + 1)\n    B = [0] * (n + 1)\n    A[0] = 1\n    A[1] = 0\n"
     "    B[0] = 0\n    B[1] = 1\n    for i in range(2, n + 1):\n        A[i] = A[i - 2] + 2 * B[i - 1]\n"
     "        B[i] = A[i - 1] + B[i - 2]\n    return A[n]\n",
     "assert count_ways(8) == 153"),
    ("def remove_Occ(s, ch):\n    for i in range(len(s)):\n        if s[i] == ch:\n            s = s[0:i] + s[i + 1:]\n"
     "            break\n    for i in range(len(s) - 1, -1, -1):\n        if s[i] == ch:\n"
     "            s = s[0:i] + s[i + 1:]\n            break\n    return s\n",
     "assert remove_Occ(\"hello\", \"l\") == \"heo\""),
]


def bench(pool, seconds: float, threads: int) -> tuple[int, float, dict[str, int]]:
    stop = time.monotonic() + seconds
    counts = [0] * threads
    statuses: dict[str, int] = {}
    lock = threading.Lock()

    def client(k: int) -> None:
        i = k
        while time.monotonic() < stop:
            code, test = PROGRAMS[i % len(PROGRAMS)]
            name = code.split("def ", 1)[1].split("(", 1)[0]
            r = run_traced(code, TestCase(source=test), function_name=name, pool=pool)
            render_trace(r.trace)
            with lock:
                statuses[r.status] = statuses.get(r.status, 0) + 1
            counts[k] += 1
            i += threads

    t0 = time.monotonic()
    ts = [threading.Thread(target=client, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts), time.monotonic() - t0, statuses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="duration of each measurement")
    ap.add_argument("--threads", type=int, default=2, help="concurrent client threads")
    ap.add_argument("--pool-size", type=int, default=None, help="workers (default: CPU count)")
    a = ap.parse_args()
    print(f"cpus={os.cpu_count()} threads={a.threads} seconds={a.seconds}")
    with SandboxPool(a.pool_size) as pool:
        print(f"pool: size={pool.size} isolated={pool.isolated}")
        bench(pool, 1.0, a.threads)  # warm-up
        n_p, t_p, st_p = bench(pool, a.seconds, a.threads)
    n_f, t_f, st_f = bench(None, a.seconds, a.threads)
    rp, rf = n_p / t_p, n_f / t_f
    print(f"pooled:      {n_p:6d} traced runs in {t_p:5.2f}s = {rp:7.1f}/s  {st_p}")
    print(f"per-process: {n_f:6d} traced runs in {t_f:5.2f}s = {rf:7.1f}/s  {st_f}")
    print(f"ratio pooled/per-process: {rp / rf:.1f}x")


if __name__ == "__main__":
    main()
