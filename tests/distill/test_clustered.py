"""The case-clustered bootstrap: wider than pair resampling when seeds share their case's effect."""

from __future__ import annotations

import numpy as np

from distill.clustered import clustered_delta_ci
from evalsuite.stats import paired_delta_ci


def test_clustered_ci_covers_case_effects_pair_resampling_misses() -> None:
    rng = np.random.default_rng(0)
    cases = rng.normal(0.0, 1.0, size=20)                 # a per-case effect shared by its seeds
    a = {(f"c{c}", s): cases[c] + rng.normal(0, 0.05) for c in range(20) for s in range(8)}
    b = {k: 0.0 for k in a}
    mean, lo, hi, n_cases, n_pairs = clustered_delta_ci(a, b)
    assert (n_cases, n_pairs) == (20, 160)
    assert abs(mean - np.mean(list(a.values()))) < 1e-12 and lo < mean < hi
    _, plo, phi = paired_delta_ci([a[k] for k in sorted(a)], [0.0] * len(a))
    assert (hi - lo) > 2 * (phi - plo)                   # ~sqrt(8) wider: 20 cases, not 160 draws
    assert clustered_delta_ci(a, b) == clustered_delta_ci(a, b)   # deterministic by seed


def test_only_shared_keys_and_empty() -> None:
    a = {("x", 0): 1.0, ("x", 1): 3.0, ("y", 0): 5.0}
    b = {("x", 0): 0.0, ("x", 1): 1.0}
    mean, lo, hi, n_cases, n_pairs = clustered_delta_ci(a, b)
    assert (mean, n_cases, n_pairs) == (1.5, 1, 2) and 1.0 <= lo <= hi <= 2.0
    assert clustered_delta_ci({}, b)[3:] == (0, 0)
