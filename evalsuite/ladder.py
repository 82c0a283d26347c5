"""Difficulty ladders: a metric per bucket for teacher and student, and where the student breaks.

A pack declares ladders in pack.yaml (`ladders: {length: [len:1, len:2-3, ...]}`, easy to hard);
each case carries one bucket tag per ladder. `ladder_curve` takes per-case, per-seed values for
teacher and student and returns, per bucket, both means and the student-minus-teacher difference
with case-clustered bootstrap CIs: seeds are averaged within a case first (they are nested in the
case), then cases are resampled. The *first break* is the first bucket, in ladder order, whose
difference CI lies entirely on the worse side of zero; a bucket whose point estimate is worse but
whose CI includes zero is not a break (it is reported as `worse_point` only). Pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from evalsuite.stats import N_BOOT, mean_ci


@dataclass(frozen=True)
class Bucket:
    """One bucket of a ladder: n cases shared by both models, means and CIs."""

    tag: str
    n: int
    teacher: tuple[float, float, float]        # mean, lo, hi
    student: tuple[float, float, float]
    delta: tuple[float, float, float]          # student - teacher (paired per case)
    below: bool                                # CI of delta entirely on the worse side of 0
    worse_point: bool                          # point estimate worse (CI may include 0)


@dataclass(frozen=True)
class LadderCurve:
    ladder: str
    buckets: tuple[Bucket, ...]
    first_break: str | None                    # first bucket (ladder order) where the student is below

    def to_dict(self) -> dict[str, object]:
        return {"ladder": self.ladder, "first_break": self.first_break,
                "buckets": [b.__dict__ for b in self.buckets]}


def _case_means(values: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """Average each case's seeds (NaNs, i.e. failures, are left out; a case with none is dropped)."""
    out = {}
    for case, vals in values.items():
        x = np.asarray(vals, dtype=np.float64)
        x = x[~np.isnan(x)]
        if x.size:
            out[case] = float(x.mean())
    return out


def ladder_curve(ladder: str, order: Sequence[str], buckets: Mapping[str, str],
                 teacher: Mapping[str, Sequence[float]], student: Mapping[str, Sequence[float]],
                 higher_is_better: bool = True, n_boot: int = N_BOOT, seed: int = 0,
                 alpha: float = 0.05) -> LadderCurve:
    """Per-bucket means and case-clustered CIs along one ladder.

    order: the ladder's bucket tags, easy to hard; buckets: case id -> its bucket tag on this
    ladder; teacher/student: case id -> the metric's values over seeds. Only cases present for
    both models are used (paired). Buckets with no shared case are reported with n=0 and NaNs.
    """
    t, s = _case_means(teacher), _case_means(student)
    out: list[Bucket] = []
    first: str | None = None
    nan3 = (float("nan"),) * 3
    for i, tag in enumerate(order):
        ids = sorted(c for c, b in buckets.items() if b == tag and c in t and c in s)
        if not ids:
            out.append(Bucket(tag, 0, nan3, nan3, nan3, False, False))
            continue
        tv = [t[c] for c in ids]
        sv = [s[c] for c in ids]
        d = [b - a for a, b in zip(tv, sv)]
        delta = mean_ci(d, n_boot=n_boot, seed=seed + i, alpha=alpha)
        # n = 1 gives a degenerate CI, never a break
        below = len(ids) > 1 and (delta[2] < 0 if higher_is_better else delta[1] > 0)
        worse = delta[0] < 0 if higher_is_better else delta[0] > 0
        out.append(Bucket(tag, len(ids), mean_ci(tv, n_boot=n_boot, seed=seed + i, alpha=alpha),
                          mean_ci(sv, n_boot=n_boot, seed=seed + i, alpha=alpha), delta, bool(below), bool(worse)))
        if below and first is None:
            first = tag
    return LadderCurve(ladder, tuple(out), first)


def pack_ladder_curves(ladders: Mapping[str, Sequence[str]], case_tags: Mapping[str, Sequence[str]],
                       teacher: Mapping[str, Sequence[float]], student: Mapping[str, Sequence[float]],
                       **kw: object) -> list[LadderCurve]:
    """One curve per ladder of a pack (`Pack.ladders`), bucketing cases by their tags."""
    curves = []
    for name, order in ladders.items():
        members = set(order)
        buckets = {c: next(t for t in tags if t in members) for c, tags in case_tags.items()
                   if any(t in members for t in tags)}
        curves.append(ladder_curve(name, order, buckets, teacher, student, **kw))  # type: ignore[arg-type]
    return curves
