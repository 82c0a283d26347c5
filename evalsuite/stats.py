"""Statistics used by summaries, gates and comparisons. Pure numpy; deterministic by seed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

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


def bootstrap_means(values: Sequence[float], n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """The n_boot bootstrap means of `values` (the same resamples `mean_ci` uses for this seed)."""
    x = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    return x[idx].mean(axis=1)


def bca_ci(values: Sequence[float], n_boot: int = N_BOOT, seed: int = 0,
           alpha: float = 0.05) -> tuple[float, float, float]:
    """Mean and bias-corrected accelerated (BCa) bootstrap CI, as scipy.stats.bootstrap(method='BCa').

    Better coverage than the percentile CI for skewed metrics (rates near 0 or 1) at small n.
    """
    from statistics import NormalDist

    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return (float("nan"), float("nan"), float("nan"))
    m = float(x.mean())
    if x.size == 1 or np.all(x == x[0]):
        return (m, m, m)
    boots = bootstrap_means(x, n_boot, seed)
    nd = NormalDist()
    prop = float(np.clip((boots < m).mean() + 0.5 * (boots == m).mean(), 1 / (2 * n_boot), 1 - 1 / (2 * n_boot)))
    z0 = nd.inv_cdf(prop)
    jack = (x.sum() - x) / (x.size - 1)
    d = jack.mean() - jack
    denom = 6.0 * (np.sum(d ** 2) ** 1.5)
    a = float(np.sum(d ** 3) / denom) if denom > 0 else 0.0
    qs = []
    for z in (nd.inv_cdf(alpha / 2), nd.inv_cdf(1 - alpha / 2)):
        qs.append(nd.cdf(z0 + (z0 + z) / (1 - a * (z0 + z))))
    lo, hi = np.quantile(boots, qs)
    return (m, float(lo), float(hi))


@dataclass(frozen=True)
class WinRate:
    """Paired wins/ties/losses of A over B and the win rate (wins + ties/2) / n with its CI."""

    wins: int
    ties: int
    losses: int
    rate: float
    ci: tuple[float, float]

    @property
    def n(self) -> int:
        return self.wins + self.ties + self.losses


def win_rate(a: Sequence[float], b: Sequence[float], higher_is_better: bool = True, eps: float = 0.0,
             n_boot: int = N_BOOT, seed: int = 0, alpha: float = 0.05) -> WinRate:
    """How often A beats B on paired items (|a-b| <= eps is a tie), with a bootstrap CI."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if not higher_is_better:
        d = -d
    if d.size == 0:
        return WinRate(0, 0, 0, float("nan"), (float("nan"), float("nan")))
    score = np.where(d > eps, 1.0, np.where(d < -eps, 0.0, 0.5))
    rate, lo, hi = mean_ci(score, n_boot=n_boot, seed=seed, alpha=alpha)
    return WinRate(int((d > eps).sum()), int((np.abs(d) <= eps).sum()), int((d < -eps).sum()), rate, (lo, hi))


def wilson_interval(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n (failure rates, win rates); (nan, nan) for n=0."""
    from statistics import NormalDist

    if n <= 0:
        return (float("nan"), float("nan"))
    z = NormalDist().inv_cdf(1 - alpha / 2)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign-test p-value for wins vs losses (ties dropped), as scipy's binomtest."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k + 1)]
    p = 2.0 * sum(math.exp(v) for v in logs)
    return min(1.0, p)


def delta_status(mean: float, lo: float, hi: float, n: int, higher_is_better: bool, tolerance: float = 0.0,
                 min_n: int = 10) -> str:
    """Regression decision on a paired candidate − baseline delta and its CI.

    'fail'          the candidate is significantly worse (the CI lies wholly on the worse side of 0)
                    and the estimated regression exceeds `tolerance`;
    'inconclusive'  fewer than `min_n` pairs, or a regression beyond tolerance that is not
                    significant at this n;
    'pass'          otherwise (no regression, or one within tolerance).
    """
    if n < min_n or math.isnan(mean):
        return "inconclusive"
    g, glo, ghi = (mean, lo, hi) if higher_is_better else (-mean, -hi, -lo)
    if g < -tolerance:
        return "fail" if ghi < 0 else "inconclusive"
    return "pass"
