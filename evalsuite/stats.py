"""Statistics used by summaries, gates and comparisons. Pure numpy; deterministic by seed.

The unit of resampling is the case (seeds nested inside): see `clustered_mean_ci` and docs/reports.md."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

N_BOOT = 2000


def mean_ci(values: Sequence[float], n_boot: int = N_BOOT, seed: int = 0,
            alpha: float = 0.05) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap (1-alpha) CI of the mean of i.i.d. values (each its own case;
    `clustered_mean_ci` for seeds nested in cases). n=1 gives a degenerate CI."""
    return tuple(clustered_mean_ci(values, range(len(values)), "percentile", n_boot, seed, alpha))  # type: ignore[return-value]


def paired_delta_ci(a: Sequence[float], b: Sequence[float], n_boot: int = N_BOOT, seed: int = 0,
                    alpha: float = 0.05) -> tuple[float, float, float]:
    """Mean of paired differences a-b with its bootstrap CI (resampling pairs)."""
    x = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return mean_ci(x, n_boot=n_boot, seed=seed, alpha=alpha)


def bootstrap_means(values: Sequence[float], n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """The n_boot bootstrap means of `values` (the same resamples `mean_ci` uses for this seed)."""
    return cluster_bootstrap_means(values, range(len(values)), n_boot, seed)


def bca_ci(values: Sequence[float], n_boot: int = N_BOOT, seed: int = 0,
           alpha: float = 0.05) -> tuple[float, float, float]:
    """Mean and bias-corrected accelerated (BCa) bootstrap CI of i.i.d. values, as
    scipy.stats.bootstrap(method='BCa'). Better coverage than the percentile CI for skewed metrics
    (rates near 0 or 1) at small n."""
    return tuple(clustered_mean_ci(values, range(len(values)), "bca", n_boot, seed, alpha))  # type: ignore[return-value]


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
    """How often A beats B on i.i.d. paired items (|a-b| <= eps is a tie), with a bootstrap CI
    (`clustered_win_rate` for seeds nested in cases)."""
    return clustered_win_rate(a, b, range(len(a)), higher_is_better, eps, n_boot, seed, alpha)


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


# --- the case as the unit -------------------------------------------------------------------------
# Seeds of one case are correlated (same prompt, same expected text), so every CI, paired delta,
# win rate, gate and comparison resamples CASES with all their seeds inside (a cluster bootstrap).
# The point estimate stays the mean over images; with one image per case everything reduces to the
# i.i.d. functions above (same random draws for the same seed).

CI_METHODS = ("percentile", "bca")


@dataclass(frozen=True)
class CI:
    """A mean with its (1-alpha) case-clustered bootstrap CI; unpacks as (mean, lo, hi)."""

    mean: float
    lo: float
    hi: float
    n_cases: int
    n_images: int
    method: str = "percentile"
    p_value: float = float("nan")   # two-sided bootstrap p-value for mean = 0 (meaningful for deltas)

    def __iter__(self):  # noqa: ANN204 - tuple-style unpacking: m, lo, hi = ci
        return iter((self.mean, self.lo, self.hi))

    @property
    def excludes_zero(self) -> bool:
        return self.n_cases > 1 and not (self.lo <= 0.0 <= self.hi)


def _cluster_sums(values: Sequence[float], clusters: Sequence[Hashable]) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster sum and count of `values`, clusters in sorted order (deterministic)."""
    x = np.asarray(values, dtype=np.float64)
    if len(clusters) != x.size:
        raise ValueError(f"{x.size} values but {len(clusters)} cluster labels")
    order = sorted(set(clusters), key=lambda c: (str(type(c)), c))
    pos = {c: i for i, c in enumerate(order)}
    idx = np.fromiter((pos[c] for c in clusters), dtype=np.int64, count=x.size)
    sums = np.bincount(idx, weights=x, minlength=len(order))
    counts = np.bincount(idx, minlength=len(order)).astype(np.float64)
    return sums, counts


def cluster_bootstrap_means(values: Sequence[float], clusters: Sequence[Hashable], n_boot: int = N_BOOT,
                            seed: int = 0) -> np.ndarray:
    """The n_boot bootstrap means of `values` resampling whole clusters (cases) with replacement."""
    sums, counts = _cluster_sums(values, clusters)
    return _resampled_means(sums, counts, n_boot, seed)


def _resampled_means(sums: np.ndarray, counts: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap means from per-cluster sums and counts, drawn in row chunks so that memory stays
    flat in the number of cases (a (n_boot, k) index matrix is 80 MB at k = 5,000). The chunks
    draw the same integers in the same order as one (n_boot, k) draw, so the values are identical."""
    rng = np.random.default_rng(seed)
    k = sums.size
    rows = max(1, (1 << 18) // max(1, k))
    out = np.empty(n_boot, dtype=np.float64)
    for i in range(0, n_boot, rows):
        idx = rng.integers(0, k, size=(min(rows, n_boot - i), k))
        out[i:i + idx.shape[0]] = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    return out


def _bca_quantiles(theta: float, boots: np.ndarray, jack: np.ndarray, alpha: float) -> list[float]:
    """BCa quantile levels (Efron 1987; the formula of scipy.stats.bootstrap(method='BCa')).

    z0 from the share of bootstrap estimates below the estimate (ties count half); the
    acceleration from the leave-one-cluster-out jackknife estimates `jack`.
    """
    from statistics import NormalDist

    nd = NormalDist()
    b = boots.size
    prop = float(np.clip((boots < theta).mean() + 0.5 * (boots == theta).mean(), 1 / (2 * b), 1 - 1 / (2 * b)))
    z0 = nd.inv_cdf(prop)
    d = jack.mean() - jack
    denom = 6.0 * float(np.sum(d ** 2)) ** 1.5
    a = float(np.sum(d ** 3) / denom) if denom > 0 else 0.0
    out = []
    for z in (nd.inv_cdf(alpha / 2), nd.inv_cdf(1 - alpha / 2)):
        out.append(nd.cdf(z0 + (z0 + z) / (1 - a * (z0 + z))))
    return out


def _pvalue(boots: np.ndarray, null: float = 0.0) -> float:
    """Two-sided percentile-bootstrap p-value for H0: mean = null (smallest alpha whose CI excludes it)."""
    if boots.size == 0:
        return float("nan")
    p = 2.0 * min(float((boots <= null).mean()), float((boots >= null).mean()))
    return min(1.0, max(p, 1.0 / boots.size))


def clustered_mean_ci(values: Sequence[float], clusters: Sequence[Hashable], method: str = "percentile",
                      n_boot: int = N_BOOT, seed: int = 0, alpha: float = 0.05) -> CI:
    """Mean of `values` and its (1-alpha) bootstrap CI resampling clusters (cases), seeds nested.

    method 'percentile' (default) or 'bca' (bias-corrected and accelerated, jackknife over clusters).
    One cluster gives a degenerate CI; no values gives NaNs.
    """
    if method not in CI_METHODS:
        raise ValueError(f"CI method {method!r}: expected one of {', '.join(CI_METHODS)}")
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return CI(math.nan, math.nan, math.nan, 0, 0, method)
    sums, counts = _cluster_sums(x, clusters)
    k = sums.size
    m = float(sums.sum() / counts.sum())
    if k == 1:
        return CI(m, m, m, k, int(x.size), method)          # one case: no inference
    if np.all(x == x[0]):                                     # a degenerate bootstrap distribution at m
        return CI(m, m, m, k, int(x.size), method, 1.0 if m == 0 else 1.0 / n_boot)
    boots = _resampled_means(sums, counts, n_boot, seed)
    if method == "bca":
        jack = (sums.sum() - sums) / (counts.sum() - counts)
        qs = _bca_quantiles(m, boots, jack, alpha)
    else:
        qs = [alpha / 2, 1 - alpha / 2]
    lo, hi = np.quantile(boots, qs)
    return CI(m, float(lo), float(hi), k, int(x.size), method, _pvalue(boots))


def keyed_mean_ci(values: Mapping[tuple[str, int], float], method: str = "percentile", n_boot: int = N_BOOT,
                  seed: int = 0, alpha: float = 0.05) -> CI:
    """`clustered_mean_ci` of a {(case, seed): value} map, clustered by case."""
    keys = sorted(values)
    return clustered_mean_ci([values[k] for k in keys], [k[0] for k in keys], method, n_boot, seed, alpha)


def paired_keyed_delta(x: Mapping[tuple[str, int], float], y: Mapping[tuple[str, int], float],
                       keys: Iterable[tuple[str, int]] | None = None, method: str = "percentile",
                       n_boot: int = N_BOOT, seed: int = 0, alpha: float = 0.05) -> CI:
    """Mean paired difference x − y over shared (case, seed) keys (or `keys`), CI resampling cases."""
    ks = sorted(keys if keys is not None else set(x) & set(y))
    return clustered_mean_ci([x[k] - y[k] for k in ks], [k[0] for k in ks], method, n_boot, seed, alpha)


def two_stage_keyed_delta(x: Mapping[tuple[Hashable, int], float], y: Mapping[tuple[Hashable, int], float],
                          n_boot: int = N_BOOT, seed: int = 0, alpha: float = 0.05) -> CI:
    """Mean paired difference x − y over shared (case, seed) keys, with a two-stage percentile
    bootstrap: cases resampled with replacement, then, inside each drawn case, its seeds with
    replacement. Wider than `paired_keyed_delta` (which keeps a drawn case's seeds whole) when
    seeds vary within cases; the distill measurements (docs/distill.md) use it. Keys are taken in
    string order, cases in order of first appearance; deterministic by `seed`."""
    by_case: dict[Hashable, list[float]] = {}
    for key in sorted(set(x) & set(y), key=str):
        by_case.setdefault(key[0], []).append(float(x[key]) - float(y[key]))
    if not by_case:
        return CI(math.nan, math.nan, math.nan, 0, 0, "two-stage")
    groups = [np.asarray(v) for v in by_case.values()]
    n_pairs = sum(g.size for g in groups)
    mean = float(np.concatenate(groups).mean())
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for i in range(n_boot):
        tot = cnt = 0.0
        for c in rng.integers(0, len(groups), size=len(groups)):
            g = groups[c]
            picked = g[rng.integers(0, g.size, size=g.size)]
            tot += picked.sum()
            cnt += picked.size
        boots[i] = tot / cnt
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return CI(mean, float(lo), float(hi), len(groups), n_pairs, "two-stage", _pvalue(boots))


def clustered_win_rate(a: Sequence[float], b: Sequence[float], clusters: Sequence[Hashable],
                       higher_is_better: bool = True, eps: float = 0.0, n_boot: int = N_BOOT, seed: int = 0,
                       alpha: float = 0.05) -> WinRate:
    """Paired wins/ties/losses of A over B (a tie counts half) with a CI resampling clusters (cases)."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if not higher_is_better:
        d = -d
    if d.size == 0:
        return WinRate(0, 0, 0, float("nan"), (float("nan"), float("nan")))
    score = np.where(d > eps, 1.0, np.where(d < -eps, 0.0, 0.5))
    ci = clustered_mean_ci(score, clusters, n_boot=n_boot, seed=seed, alpha=alpha)
    return WinRate(int((d > eps).sum()), int((np.abs(d) <= eps).sum()), int((d < -eps).sum()), ci.mean,
                   (ci.lo, ci.hi))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (family-wise error control), in the input order.

    Reject rule i at level alpha when its adjusted p-value is <= alpha. NaN p-values stay NaN and do
    not count towards the family size.
    """
    p = [(v, i) for i, v in enumerate(pvalues) if not math.isnan(v)]
    p.sort()
    m = len(p)
    out = [float("nan")] * len(pvalues)
    running = 0.0
    for rank, (v, i) in enumerate(p):
        running = max(running, min(1.0, (m - rank) * v))
        out[i] = running
    return out


# --- variance components, power and the minimal detectable effect ----------------------------------
@dataclass(frozen=True)
class VarianceComponents:
    """One-way random-effects decomposition of values nested in cases (method of moments).

    sd_case: SD of the true case means (between cases); sd_within: SD of seeds inside a case;
    seeds: mean images per case. Var(case mean over s seeds) = sd_case² + sd_within² / s.
    """

    sd_case: float
    sd_within: float
    n_cases: int
    seeds: float
    mean: float

    def case_mean_var(self, seeds: float | None = None) -> float:
        s = self.seeds if seeds is None else seeds
        return self.sd_case ** 2 + self.sd_within ** 2 / max(s, 1.0)


def variance_components(values: Sequence[float], clusters: Sequence[Hashable]) -> VarianceComponents:
    """Between-case and within-case SDs of `values` grouped by `clusters` (ANOVA estimates; the
    between-case variance is clamped at 0)."""
    x = np.asarray(values, dtype=np.float64)
    sums, counts = _cluster_sums(x, clusters)
    k, n = sums.size, x.size
    if k == 0:
        return VarianceComponents(math.nan, math.nan, 0, 0.0, math.nan)
    order = sorted(set(clusters), key=lambda c: (str(type(c)), c))
    pos = {c: i for i, c in enumerate(order)}
    means = sums / counts
    resid = x - means[np.fromiter((pos[c] for c in clusters), dtype=np.int64, count=n)]
    var_w = float(np.sum(resid ** 2) / (n - k)) if n > k else 0.0
    # harmonic mean of seeds per case: the average within-noise a case mean carries
    s_h = float(k / np.sum(1.0 / counts))
    var_means = float(np.var(means, ddof=1)) if k > 1 else 0.0
    var_c = max(0.0, var_means - var_w / s_h)
    return VarianceComponents(math.sqrt(var_c), math.sqrt(var_w), k, float(n / k), float(x.mean()))


def _z_sum(alpha: float, power: float) -> float:
    from statistics import NormalDist

    nd = NormalDist()
    return nd.inv_cdf(1 - alpha / 2) + nd.inv_cdf(power)


def min_detectable_effect(sd_case: float, sd_within: float, n_cases: int, seeds: float,
                          alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true mean difference a two-sided level-alpha test detects with `power` on n_cases
    cases x `seeds` seeds (normal approximation): (z_{1-α/2} + z_power) · sqrt(sd_case² + sd_within²/seeds) / sqrt(n).

    For a paired teacher-vs-student comparison pass the SDs of the per-image differences."""
    if n_cases <= 0:
        return math.nan
    return _z_sum(alpha, power) * math.sqrt(sd_case ** 2 + sd_within ** 2 / max(seeds, 1.0)) / math.sqrt(n_cases)


def cases_needed(delta: float, sd_case: float, sd_within: float, seeds: int, alpha: float = 0.05,
                 power: float = 0.8) -> int:
    """Cases needed so `min_detectable_effect` <= |delta| with `seeds` seeds per case (at least 2)."""
    if delta == 0:
        raise ValueError("delta must be non-zero")
    var = sd_case ** 2 + sd_within ** 2 / max(seeds, 1)
    return max(2, math.ceil(_z_sum(alpha, power) ** 2 * var / delta ** 2 - 1e-9))


def case_mde(values: Mapping[tuple[str, int], float], alpha: float = 0.05, power: float = 0.8) -> float:
    """`min_detectable_effect` of a {(case, seed): value} map at its own numbers of cases and seeds
    (pass per-image paired differences for a paired comparison)."""
    keys = sorted(values)
    vc = variance_components([values[k] for k in keys], [k[0] for k in keys])
    return min_detectable_effect(vc.sd_case, vc.sd_within, vc.n_cases, vc.seeds, alpha, power)
