"""The two-stage (cases, then seeds within them) bootstrap of the distill measurements: wider than
pair resampling when seeds share their case's effect, at least as wide as case-only resampling."""

from __future__ import annotations

import numpy as np

from evalsuite.stats import paired_delta_ci, paired_keyed_delta, two_stage_keyed_delta


def _t(a, b):
    d = two_stage_keyed_delta(a, b)
    return d.mean, d.lo, d.hi, d.n_cases, d.n_images


def test_clustered_ci_covers_case_effects_pair_resampling_misses() -> None:
    rng = np.random.default_rng(0)
    cases = rng.normal(0.0, 1.0, size=20)                 # a per-case effect shared by its seeds
    a = {(f"c{c}", s): cases[c] + rng.normal(0, 0.05) for c in range(20) for s in range(8)}
    b = {k: 0.0 for k in a}
    mean, lo, hi, n_cases, n_pairs = _t(a, b)
    assert (n_cases, n_pairs) == (20, 160)
    assert abs(mean - np.mean(list(a.values()))) < 1e-12 and lo < mean < hi
    _, plo, phi = paired_delta_ci([a[k] for k in sorted(a)], [0.0] * len(a))
    assert (hi - lo) > 2 * (phi - plo)                   # ~sqrt(8) wider: 20 cases, not 160 draws
    assert _t(a, b) == _t(a, b)   # deterministic by seed


def test_only_shared_keys_and_empty() -> None:
    a = {("x", 0): 1.0, ("x", 1): 3.0, ("y", 0): 5.0}
    b = {("x", 0): 0.0, ("x", 1): 1.0}
    mean, lo, hi, n_cases, n_pairs = _t(a, b)
    assert (mean, n_cases, n_pairs) == (1.5, 1, 2) and 1.0 <= lo <= hi <= 2.0
    assert _t({}, b)[3:] == (0, 0)


def test_seed_noise_widens_two_stage_beyond_case_only() -> None:
    rng = np.random.default_rng(1)
    case = rng.normal(0, 0.3, size=30)                    # small case effects, large seed noise
    a = {(f"c{c}", s): case[c] + rng.normal(0, 1.0) for c in range(30) for s in range(4)}
    b = {k: 0.0 for k in a}
    two, one = two_stage_keyed_delta(a, b), paired_keyed_delta(a, b)
    assert abs(two.mean - one.mean) < 1e-12 and (two.n_cases, two.n_images) == (30, 120)
    assert (two.hi - two.lo) > (one.hi - one.lo)       # within-case noise counted twice, conservatively
