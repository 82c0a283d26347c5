"""Statistics used by summaries, gates and comparisons. Pure numpy; deterministic by seed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

N_BOOT = 2000


def mean_ci(values: Sequence[float], n_boot: int = N_BOOT, seed: int = 0,
            alpha: float = 0.05) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap (1-alpha) CI of the mean. n=1 gives a degenerate CI."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return (float("nan"), float("nan"), float("nan"))
    m = float(x.mean())
    if x.size == 1:
        return (m, m, m)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    boots = x[idx].mean(axis=1)
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return (m, float(lo), float(hi))


def paired_delta_ci(a: Sequence[float], b: Sequence[float], n_boot: int = N_BOOT, seed: int = 0,
                    alpha: float = 0.05) -> tuple[float, float, float]:
    """Mean of paired differences a-b with its bootstrap CI (resampling pairs)."""
    x = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return mean_ci(x, n_boot=n_boot, seed=seed, alpha=alpha)
