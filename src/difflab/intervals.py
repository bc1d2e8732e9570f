"""95 % intervals for the headline numbers, and what they say about a goal or a difference between two runs.

- a rate (judged accuracy, a part A success rate) of k successes in n trials: Wilson's score interval, which stays
  inside [0, 1] and is sound at k = 0 or k = n where the normal one collapses;
- a mean over n values (the denoiser's per-digit squared error, behind its PSNR): mean +- z * sd / sqrt(n);
- the judge Frechet distance: a seeded bootstrap over the samples (models/judge.py: frechet_interval).

Pure Python (no torch), so that the summary and the comparisons can use it without loading a model.
"""

import math
from collections.abc import Sequence

LEVEL = 0.95
Z = 1.959963984540054  # the standard normal's 97.5 % quantile: two-sided 95 %


def wilson(k: int, n: int, z: float = Z) -> tuple[float, float]:
    """Wilson's score interval for a binomial proportion k / n."""
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"a rate needs 0 <= k <= n and n >= 1; got k={k}, n={n}")
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(values: Sequence[float], z: float = Z) -> tuple[float, float, float]:
    """(mean, lo, hi): the mean of n >= 2 values +- z standard errors (the sample standard deviation over sqrt(n))."""
    n = len(values)
    if n < 2:
        raise ValueError(f"a standard error needs at least 2 values; got {n}")
    mean = math.fsum(values) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, mean - z * sd / math.sqrt(n), mean + z * sd / math.sqrt(n)


def verdict(lo: float | None, hi: float | None, value: float, op: str, limit: float) -> str:
    """A goal `value op limit` (op ">=" or "<=") read through the value's interval: "met" or "missed" where the whole
    interval is on one side of the limit, "within noise" where it straddles it (no interval: the value decides)."""
    if op not in (">=", "<="):
        raise ValueError(f"goal comparison {op!r}; allowed: >=, <=")
    if lo is None or hi is None:
        lo = hi = value
    good_side = (lo >= limit) if op == ">=" else (hi <= limit)
    bad_side = (hi < limit) if op == ">=" else (lo > limit)
    return "met" if good_side else "missed" if bad_side else "within noise"


def differs(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether two 95 % intervals (lo, hi) do not overlap: the difference between their runs is more than noise.
    (A conservative test: two overlapping intervals can still hide a real difference.)"""
    return a[1] < b[0] or b[1] < a[0]
