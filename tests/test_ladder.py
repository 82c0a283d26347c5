"""Ladder curves: per-bucket means with case-clustered CIs; the first break is named only where the
CI of student - teacher lies on the worse side of zero."""

from __future__ import annotations

import math

import pytest

from evalsuite.ladder import ladder_curve, pack_ladder_curves

ORDER = ["len:1", "len:2-3", "len:4-8"]


def data(deltas: dict[str, list[float]], seeds: int = 2) -> tuple[dict, dict, dict]:
    buckets, teacher, student = {}, {}, {}
    for tag, ds in deltas.items():
        for i, d in enumerate(ds):
            cid = f"{tag}-{i}"
            buckets[cid] = tag
            base = 0.5 + 0.02 * i
            teacher[cid] = [base] * seeds
            student[cid] = [base + d] * seeds
    return buckets, teacher, student


def test_first_break_is_first_bucket_whose_ci_is_below_zero() -> None:
    b, t, s = data({"len:1": [0.1, -0.1] * 5,            # mean 0: CI straddles 0
                    "len:2-3": [-0.5, 0.3] * 5,           # mean -0.1, CI includes 0: worse point, no break
                    "len:4-8": [-0.3] * 10})              # every case 0.3 worse: CI [-0.3, -0.3]
    curve = ladder_curve("length", ORDER, b, t, s)
    assert [x.n for x in curve.buckets] == [10, 10, 10]
    first, second, third = curve.buckets
    assert first.delta[0] == pytest.approx(0.0) and not first.below
    assert second.delta[0] == pytest.approx(-0.1) and second.worse_point and not second.below
    assert second.delta[1] < 0 < second.delta[2]
    assert third.delta == pytest.approx((-0.3, -0.3, -0.3)) and third.below
    assert curve.first_break == "len:4-8"
    # teacher means per bucket: 0.5 + 0.02 * mean(0..9) = 0.59
    assert third.teacher[0] == pytest.approx(0.59) and third.student[0] == pytest.approx(0.29)


def test_seeds_are_nested_in_cases() -> None:
    """More (identical) seeds per case do not narrow the CI: cases, not images, are resampled."""
    deltas = {"len:1": [-0.2, 0.1, -0.3, 0.0, -0.1, 0.05]}
    one = ladder_curve("length", ["len:1"], *data(deltas, seeds=1))
    eight = ladder_curve("length", ["len:1"], *data(deltas, seeds=8))
    assert one.buckets[0].delta == pytest.approx(eight.buckets[0].delta)


def test_failures_are_left_out_and_lower_is_better_flips() -> None:
    b, t, s = data({"len:1": [0.4] * 6, "len:2-3": [0.0] * 6})
    s["len:1-0"] = [float("nan"), float("nan")]      # both seeds failed: the case is dropped
    curve = ladder_curve("length", ORDER, b, t, s, higher_is_better=False)
    assert curve.buckets[0].n == 5 and curve.buckets[0].below and curve.first_break == "len:1"
    assert curve.buckets[2].n == 0 and math.isnan(curve.buckets[2].delta[0])
    # higher is better: +0.4 is an improvement, no break anywhere
    assert ladder_curve("length", ORDER, b, t, s).first_break is None


def test_single_case_bucket_is_never_a_break() -> None:
    b, t, s = data({"len:1": [-0.9]})
    assert ladder_curve("length", ORDER, b, t, s).first_break is None


def test_pack_ladder_curves_buckets_cases_by_tags() -> None:
    ladders = {"length": ORDER, "size": ["size:large", "size:small"]}
    tags = {"a": ["len:1", "size:large", "numbers"], "b": ["len:1", "size:small"], "c": ["len:4-8", "size:small"]}
    t = {"a": [1.0], "b": [1.0], "c": [1.0]}
    s = {"a": [1.0], "b": [0.0], "c": [0.0]}
    length, size = pack_ladder_curves(ladders, tags, t, s)
    assert [x.n for x in length.buckets] == [2, 0, 1]
    assert [x.n for x in size.buckets] == [1, 2]
    assert size.buckets[1].delta == pytest.approx((-1.0, -1.0, -1.0)) and size.first_break == "size:small"
