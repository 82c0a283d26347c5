"""Case-clustered bootstrap for paired differences: resample cases, then seeds within each case.

An image's score is not independent of its case's other seeds (same prompt), so resampling
(case, seed) pairs as if independent understates the CI. This tiny local helper resamples cases
with replacement and, nested inside each drawn case, its seeds with replacement (two-stage
bootstrap). evalsuite/stats.py is getting a general clustered bootstrap on another branch; this
stays small and local to the distill measurements.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping

import numpy as np

N_BOOT = 2000


def clustered_delta_ci(a: Mapping[tuple[Hashable, int], float], b: Mapping[tuple[Hashable, int], float],
                       n_boot: int = N_BOOT, seed: int = 0,
                       alpha: float = 0.05) -> tuple[float, float, float, int, int]:
    """Mean of a - b over the (case, seed) keys both have, its (1 - alpha) percentile CI from the
    two-stage bootstrap, and the numbers of cases and pairs. Deterministic by `seed`."""
    by_case: dict[Hashable, list[float]] = defaultdict(list)
    for key in sorted(set(a) & set(b), key=str):
        by_case[key[0]].append(float(a[key]) - float(b[key]))
    if not by_case:
        nan = float("nan")
        return nan, nan, nan, 0, 0
    groups = [np.asarray(v) for v in by_case.values()]
    n_pairs = sum(g.size for g in groups)
    mean = float(np.concatenate(groups).mean())
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for i in range(n_boot):
        picked = rng.integers(0, len(groups), size=len(groups))
        tot = cnt = 0.0
        for c in picked:
            g = groups[c]
            s = g[rng.integers(0, g.size, size=g.size)]
            tot += s.sum()
            cnt += s.size
        boots[i] = tot / cnt
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return mean, float(lo), float(hi), len(groups), n_pairs
