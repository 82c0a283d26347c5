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


# --- the case as the unit: planted clustered data ------------------------------------------------
from evalsuite.stats import (CI, cases_needed, clustered_mean_ci, clustered_win_rate, holm, keyed_mean_ci,  # noqa: E402
                             min_detectable_effect, paired_keyed_delta, variance_components)


def _identical_seeds(n_cases=20, seeds=4, seed=3):
    """20 cases x 4 seeds where each case's seeds show the same value (the same image)."""
    case_vals = np.random.default_rng(seed).integers(0, 2, n_cases).astype(float)
    vals = np.repeat(case_vals, seeds)
    cases = [f"c{i:02d}" for i in np.repeat(np.arange(n_cases), seeds)]
    return case_vals, vals, cases


def test_identical_seeds_give_the_20_case_bootstrap_about_twice_the_naive_width():
    case_vals, vals, cases = _identical_seeds()
    ci = clustered_mean_ci(vals, cases)
    assert (ci.n_cases, ci.n_images) == (20, 80)
    # independent computation: the percentile bootstrap of the 20 case values (scipy)
    slo, shi = _scipy_ci((case_vals,), "percentile")
    assert ci.mean == pytest.approx(case_vals.mean())
    assert (ci.lo, ci.hi) == pytest.approx((slo, shi), abs=0.051)      # one case = 0.05 on a 0/1 metric
    # the same draws as a bootstrap over case values: identical numbers
    assert tuple(ci) == pytest.approx(mean_ci(case_vals), abs=1e-12)
    naive = mean_ci(vals)
    width, naive_w = ci.hi - ci.lo, naive[2] - naive[1]
    assert 0.35 <= width <= 0.5 and 1.7 <= width / naive_w <= 2.3     # sqrt(4 seeds) = 2


def test_bca_clustered_equals_bca_on_case_means_and_matches_scipy_unclustered():
    case_vals, vals, cases = _identical_seeds(seed=5)
    assert tuple(clustered_mean_ci(vals, cases, "bca")) == pytest.approx(bca_ci(case_vals), abs=1e-12)
    # unclustered (one value per case): scipy.stats.bootstrap(method='BCa')
    for x in (np.random.default_rng(2).exponential(size=30), np.random.default_rng(3).beta(0.5, 4, size=25)):
        ci = clustered_mean_ci(x, range(x.size), "bca", n_boot=100000)   # Monte Carlo error << tolerance
        slo, shi = _scipy_ci((x,), "BCa", n=100000)
        se = x.std(ddof=1) / math.sqrt(x.size)
        assert (ci.lo, ci.hi) == pytest.approx((slo, shi), abs=0.06 * se)
    with pytest.raises(ValueError, match="CI method 'normal'"):
        clustered_mean_ci(x, range(x.size), "normal")


def test_bca_acceleration_uses_the_case_jackknife():
    """Unequal seeds per case: the BCa interval equals the formula worked out directly from the
    bootstrap distribution and the leave-one-case-out ratio estimates."""
    from statistics import NormalDist

    rng = np.random.default_rng(9)
    sizes = rng.integers(1, 5, 15)
    vals = np.concatenate([rng.exponential(2.0) + rng.normal(0, 0.3, k) for k in sizes])
    cases = np.repeat(np.arange(15), sizes)
    ci = clustered_mean_ci(vals, cases, "bca", n_boot=4000, seed=1)
    sums = np.array([vals[cases == c].sum() for c in range(15)])
    cnts = sizes.astype(float)
    idx = np.random.default_rng(1).integers(0, 15, size=(4000, 15))
    boots = sums[idx].sum(1) / cnts[idx].sum(1)
    theta = vals.mean()
    nd = NormalDist()
    z0 = nd.inv_cdf((boots < theta).mean() + 0.5 * (boots == theta).mean())
    jack = np.array([(sums.sum() - sums[i]) / (cnts.sum() - cnts[i]) for i in range(15)])
    d = jack.mean() - jack
    acc = (d ** 3).sum() / (6 * ((d ** 2).sum()) ** 1.5)
    lv = [nd.cdf(z0 + (z0 + z) / (1 - acc * (z0 + z))) for z in (nd.inv_cdf(0.025), nd.inv_cdf(0.975))]
    assert (ci.lo, ci.hi) == pytest.approx(tuple(np.quantile(boots, lv)), rel=1e-12)
    assert acc != 0 and ci.method == "bca"


def test_paired_delta_and_win_rate_resample_cases():
    rng = np.random.default_rng(4)
    case_effect = rng.normal(0.05, 0.2, 20)
    a = {(f"c{i:02d}", s): 0.5 for i in range(20) for s in range(4)}    # case order = index order
    b = {(f"c{i:02d}", s): 0.5 + case_effect[i] for i in range(20) for s in range(4)}
    ci = paired_keyed_delta(b, a)
    assert (ci.n_cases, ci.n_images) == (20, 80)
    assert tuple(ci) == pytest.approx(mean_ci(case_effect), abs=1e-12)   # per-case differences, same draws
    assert 0 < ci.p_value <= 1
    keys = sorted(a)
    wr = clustered_win_rate([b[k] for k in keys], [a[k] for k in keys], [k[0] for k in keys])
    per_case = (case_effect > 0).astype(float)
    assert wr.wins == 4 * int(per_case.sum()) and wr.n == 80
    assert wr.ci == pytest.approx(mean_ci(per_case)[1:], abs=1e-12)
    assert keyed_mean_ci(b).n_cases == 20


def test_bootstrap_p_value_is_small_for_a_clear_effect_and_large_for_none():
    x = np.random.default_rng(0).normal(1.0, 1.0, 50)
    assert clustered_mean_ci(x, range(50)).p_value < 0.01
    y = x - x.mean()
    assert clustered_mean_ci(y, range(50)).p_value > 0.5


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, max(0.03, 2*0.03), max(0.06, 1*0.04)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.2]) == pytest.approx([0.5, 0.4])
    out = holm([0.02, float("nan")])
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1])


def test_variance_components_recover_planted_sds():
    rng = np.random.default_rng(7)
    n, s = 3000, 4
    vals = (rng.normal(0, 0.5, n)[:, None] + rng.normal(0, 0.3, (n, s))).ravel()
    vc = variance_components(vals, np.repeat(np.arange(n), s))
    assert vc.sd_case == pytest.approx(0.5, rel=0.05) and vc.sd_within == pytest.approx(0.3, rel=0.03)
    assert (vc.n_cases, vc.seeds) == (n, 4.0)
    # identical seeds: no within-case variance
    _, v2, c2 = _identical_seeds()
    assert variance_components(v2, c2).sd_within == 0.0


def test_mde_and_cases_needed_match_the_closed_form():
    z = ss.norm.ppf(0.975) + ss.norm.ppf(0.8)          # 2.8016
    assert min_detectable_effect(0.3, 0.0, 71, 1) == pytest.approx(z * 0.3 / math.sqrt(71))
    assert cases_needed(0.1, 0.3, 0.0, 1) == 71          # 7.849 * 0.09 / 0.01 = 70.6
    assert cases_needed(0.1, 0.3, 0.4, 4) == 103         # 7.849 * (0.09 + 0.16/4) / 0.01 = 102.0
    assert cases_needed(-0.1, 0.3, 0.4, 4) == 103
    assert min_detectable_effect(0.3, 0.4, 103, 4) <= 0.1 < min_detectable_effect(0.3, 0.4, 102, 4)


def test_cases_needed_reaches_80_percent_power_in_simulation():
    """Simulate the planned design (paired differences with a case effect and seed noise) and test
    each replicate with a t-test on the case means: the rejection rate is ~0.8."""
    n = cases_needed(0.1, 0.3, 0.4, 4)
    rng = np.random.default_rng(11)
    reps = 4000
    d = 0.1 + rng.normal(0, 0.3, (reps, n, 1)) + rng.normal(0, 0.4, (reps, n, 4))
    p = ss.ttest_1samp(d.mean(axis=2), 0.0, axis=1).pvalue
    assert 0.77 <= (p < 0.05).mean() <= 0.84


def test_ci_unpacks_like_the_old_tuples():
    m, lo, hi = CI(0.5, 0.4, 0.6, 10, 20)
    assert (m, lo, hi) == (0.5, 0.4, 0.6) and CI(0.5, 0.4, 0.6, 10, 20).excludes_zero


def test_degenerate_cis():
    one = clustered_mean_ci([0.3, 0.3, 0.5], ["a", "a", "a"])
    assert tuple(one) == pytest.approx((1.1 / 3,) * 3) and one.n_cases == 1 and math.isnan(one.p_value)
    const = clustered_mean_ci([0.2] * 6, list("aabbcc"), n_boot=1000)
    assert tuple(const) == pytest.approx((0.2, 0.2, 0.2)) and const.p_value == 1 / 1000 and const.excludes_zero
    assert clustered_mean_ci([0.0] * 4, list("abcd")).p_value == 1.0
    empty = clustered_mean_ci([], [])
    assert math.isnan(empty.mean) and (empty.n_cases, empty.n_images) == (0, 0)
