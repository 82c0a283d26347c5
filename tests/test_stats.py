"""evalsuite.stats against independent references: scipy.stats.bootstrap, binomtest, normal theory."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as ss

from evalsuite.stats import (bca_ci, bootstrap_means, delta_status, mean_ci, paired_delta_ci, sign_test,
                             wilson_interval, win_rate)


def _scipy_ci(data, method, paired=False, n=20000):
    res = ss.bootstrap(data, lambda *a, axis=-1: np.mean(a[0] - a[1], axis=axis) if paired else np.mean(a[0], axis=axis),
                       method=method, n_resamples=n, paired=paired, random_state=0, vectorized=True)
    return res.confidence_interval.low, res.confidence_interval.high


@pytest.mark.parametrize("dist", ["normal", "exponential", "bernoulli"])
def test_mean_ci_matches_scipy_percentile_bootstrap(dist):
    rng = np.random.default_rng(3)
    x = {"normal": rng.normal(0.6, 0.2, 60), "exponential": rng.exponential(1.0, 60),
         "bernoulli": (rng.random(60) < 0.7).astype(float)}[dist]
    m, lo, hi = mean_ci(x, n_boot=20000)
    slo, shi = _scipy_ci((x,), "percentile")
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert m == pytest.approx(x.mean())
    # Monte-Carlo error of a 2.5% quantile with 20k resamples is ~1% of the SE; Bernoulli means
    # are discrete (steps of 1/n), so their quantiles may differ by one step.
    tol = max(0.05 * se, 1.01 / x.size if dist == "bernoulli" else 0.0)
    assert lo == pytest.approx(slo, abs=tol) and hi == pytest.approx(shi, abs=tol)


def test_default_mean_ci_is_close_to_normal_theory_for_large_n():
    x = np.random.default_rng(5).normal(2.0, 1.0, 2000)
    m, lo, hi = mean_ci(x)
    se = x.std(ddof=0) / math.sqrt(x.size)
    assert (lo, hi) == pytest.approx((m - 1.96 * se, m + 1.96 * se), abs=0.25 * se)


def test_bca_matches_scipy_bca_on_skewed_data():
    x = np.random.default_rng(1).exponential(size=40)
    m, lo, hi = bca_ci(x, n_boot=20000)
    slo, shi = _scipy_ci((x,), "BCa")
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert lo == pytest.approx(slo, abs=0.06 * se) and hi == pytest.approx(shi, abs=0.06 * se)
    # BCa shifts right of the percentile CI for right-skewed data
    _, plo, phi = mean_ci(x, n_boot=20000)
    assert lo > plo and hi > phi


def test_paired_delta_matches_scipy_paired_bootstrap():
    rng = np.random.default_rng(7)
    a = rng.normal(0.7, 0.2, 80)
    b = a - 0.05 + rng.normal(0, 0.05, 80)
    m, lo, hi = paired_delta_ci(a, b, n_boot=20000)
    slo, shi = _scipy_ci((a, b), "percentile", paired=True)
    se = (a - b).std(ddof=1) / math.sqrt(a.size)
    assert m == pytest.approx(np.mean(a - b))
    assert lo == pytest.approx(slo, abs=0.05 * se) and hi == pytest.approx(shi, abs=0.05 * se)
    assert lo > 0   # a is better by 0.05 with small paired noise: significant


def test_bootstrap_is_deterministic_by_seed_and_degenerate_cases():
    x = [0.1, 0.5, 0.9, 0.3]
    assert mean_ci(x, seed=4) == mean_ci(x, seed=4)
    assert mean_ci(x, seed=4) != mean_ci(x, seed=5)
    assert np.allclose(bootstrap_means(x, 50, 2), bootstrap_means(x, 50, 2))
    assert mean_ci([0.4]) == (0.4, 0.4, 0.4)
    assert all(math.isnan(v) for v in mean_ci([]))
    assert bca_ci([1.0, 1.0, 1.0]) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("k,n", [(0, 10), (3, 20), (17, 20), (50, 50), (120, 1000)])
def test_wilson_matches_scipy(k, n):
    ref = ss.binomtest(k, n).proportion_ci(method="wilson")
    assert wilson_interval(k, n) == pytest.approx((ref.low, ref.high), abs=1e-9)


@pytest.mark.parametrize("w,l", [(14, 4), (4, 14), (10, 10), (0, 7), (30, 12)])
def test_sign_test_matches_scipy_binomtest(w, l):
    assert sign_test(w, l) == pytest.approx(ss.binomtest(w, w + l).pvalue, rel=1e-9)


def test_win_rate_counts_and_direction():
    a = [1.0, 0.5, 0.2, 0.7, 0.7]
    b = [0.5, 0.5, 0.4, 0.1, 0.6]
    w = win_rate(a, b)
    assert (w.wins, w.ties, w.losses) == (3, 1, 1) and w.rate == pytest.approx(3.5 / 5)
    lower = win_rate(a, b, higher_is_better=False)
    assert (lower.wins, lower.losses) == (1, 3)
    wide = win_rate(a, b, eps=0.15)   # |d| = .5, 0, .2, .6, .1
    assert (wide.wins, wide.ties, wide.losses) == (2, 2, 1)
    assert w.ci[0] <= w.rate <= w.ci[1]


def test_delta_status_decisions():
    # significant regression beyond tolerance
    assert delta_status(-0.1, -0.15, -0.05, 100, True, tolerance=0.02) == "fail"
    # same numbers for a lower-is-better metric are an improvement
    assert delta_status(-0.1, -0.15, -0.05, 100, False, tolerance=0.02) == "pass"
    # significant but within tolerance
    assert delta_status(-0.01, -0.015, -0.005, 100, True, tolerance=0.02) == "pass"
    # beyond tolerance but not significant
    assert delta_status(-0.1, -0.3, 0.1, 100, True, tolerance=0.02) == "inconclusive"
    # too few pairs
    assert delta_status(-0.5, -0.6, -0.4, 5, True, min_n=10) == "inconclusive"
    assert delta_status(0.0, 0.0, 0.0, 50, True) == "pass"


def test_win_rate_ci_matches_scipy_bootstrap_and_the_binomial_interval():
    rng = np.random.default_rng(11)
    a = np.round(rng.normal(0.56, 0.2, 150), 1)        # rounded: some ties
    b = np.round(rng.normal(0.50, 0.2, 150), 1)
    w = win_rate(a, b, n_boot=20000)
    score = np.where(a > b, 1.0, np.where(a < b, 0.0, 0.5))
    assert w.ties == int((a == b).sum()) > 0 and w.rate == pytest.approx(score.mean())
    # the CI is the percentile bootstrap of the per-pair score (wins 1, ties 1/2, losses 0)
    slo, shi = _scipy_ci((score,), "percentile")
    assert w.ci == pytest.approx((slo, shi), abs=1.01 / 150)      # bootstrap means move in steps of 1/(2n)
    # without ties the win rate is a binomial proportion: the CI agrees with binomtest's Wilson interval
    a2, b2 = rng.normal(0.6, 0.2, 200), rng.normal(0.5, 0.2, 200)
    w2 = win_rate(a2, b2, n_boot=20000)
    assert w2.ties == 0
    ref = ss.binomtest(w2.wins, w2.n).proportion_ci(method="wilson")
    se = math.sqrt(w2.rate * (1 - w2.rate) / w2.n)
    assert w2.ci[0] == pytest.approx(ref.low, abs=0.25 * se) and w2.ci[1] == pytest.approx(ref.high, abs=0.25 * se)
    assert sign_test(w2.wins, w2.losses) < 0.05 and w2.ci[0] > 0.5   # a is better: both agree it is significant
