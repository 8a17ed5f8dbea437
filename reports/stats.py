"""Paired statistics over problems: the exact sign test and the paired bootstrap interval of a
difference in pass rate, both from the discordant counts alone (so the same counts give the same
figures on every machine).  Used by the results (reports/results.py) and the report's equal-compute
section (reports/report.py)."""
from __future__ import annotations

CONFIDENCE = 0.95


def sign_test(a: int, b: int) -> float:
    """Two-sided exact sign test of a vs b discordant problems (H0: each equally likely)."""
    from math import comb

    n, k = a + b, min(a, b)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(comb(n, i) for i in range(k + 1)) / 2 ** n)


def bootstrap_interval(a: int, b: int, n: int, level: float = CONFIDENCE) -> tuple[float, float]:
    """Paired bootstrap percentile interval, in points, of the difference in pass rate of two
    runs on the same n problems, a of them solved by the first only and b by the second only.

    Resampling n problems with replacement, the difference depends only on how many drawn
    problems are first-only and second-only: (X, Y) ~ Multinomial(n; a/n, b/n), difference
    100 (X - Y) / n.  Its distribution is computed exactly (no Monte-Carlo draws, so no seed and
    no sampling error: the limit of the seeded bootstrap as the draws grow), element-wise in
    float64 in a fixed order, so the same counts give the same interval on every machine.
    """
    if n <= 0:
        raise ValueError("n must be > 0")
    if not (0 <= a and 0 <= b and a + b <= n):
        raise ValueError(f"need 0 <= a, b and a + b <= n, got a={a}, b={b}, n={n}")
    import numpy as np

    p, q = a / n, b / n
    r = 1.0 - p - q
    dist = np.zeros(2 * n + 1)  # dist[n + k] = P(X - Y = k)
    dist[n] = 1.0
    for _ in range(n):
        nxt = dist * r
        nxt[1:] += dist[:-1] * p
        nxt[:-1] += dist[1:] * q
        dist = nxt
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    cdf, lo, hi = 0.0, None, None
    for i, mass in enumerate(dist.tolist()):
        cdf += mass
        if lo is None and cdf >= lo_q - 1e-12:
            lo = i - n
        if hi is None and cdf >= hi_q - 1e-12:
            hi = i - n
            break
    return 100 * lo / n, 100 * (n if hi is None else hi) / n


def interval_text(a: int, b: int, n: int) -> str:
    lo, hi = bootstrap_interval(a, b, n)
    return f"{100 * (a - b) / n:+.1f} points, {CONFIDENCE:.0%} bootstrap interval [{lo:+.1f}, {hi:+.1f}]"
