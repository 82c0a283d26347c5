"""Difficulty ladders: a metric per bucket for teacher and student, and where the student breaks.

A pack declares ladders in pack.yaml (`ladders: {length: [len:1, len:2-3, ...]}`, easy to hard);
each case carries one bucket tag per ladder. `ladder_curve` takes {(case, seed): value} maps for
teacher and student (the summary's keyed form) and returns, per bucket, both means and the
student-minus-teacher difference, paired per (case, seed), each with a case-clustered CI from
evalsuite.stats (cases resampled, seeds nested). Only pairs scored for both models enter a bucket,
so student - teacher of the two means is the delta. The *first break* is the first bucket, in
ladder order, whose difference CI lies entirely on the worse side of zero; a bucket whose point
estimate is worse but whose CI includes zero is not a break (`worse_point` only). Pure; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalsuite.stats import CI, N_BOOT, keyed_mean_ci, paired_keyed_delta

Key = tuple[str, int]


@dataclass(frozen=True)
class Bucket:
    """One bucket of a ladder: means and CIs over the (case, seed) pairs both models scored."""

    tag: str
    teacher: CI
    student: CI
    delta: CI                                  # student - teacher, paired per (case, seed)
    below: bool                                # CI of delta entirely on the worse side of 0
    worse_point: bool                          # point estimate worse (CI may include 0)

    @property
    def n(self) -> int:
        """Cases in the bucket (the resampled unit)."""
        return self.delta.n_cases


@dataclass(frozen=True)
class LadderCurve:
    ladder: str
    buckets: tuple[Bucket, ...]
    first_break: str | None                    # first bucket (ladder order) where the student is below
    higher_is_better: bool = True


def ladder_curve(ladder: str, order: Sequence[str], buckets: Mapping[str, str],
                 teacher: Mapping[Key, float], student: Mapping[Key, float],
                 higher_is_better: bool = True, method: str = "percentile", n_boot: int = N_BOOT,
                 seed: int = 0, alpha: float = 0.05) -> LadderCurve:
    """Per-bucket means and case-clustered CIs along one ladder.

    order: the ladder's bucket tags, easy to hard; buckets: case id -> its bucket tag on this
    ladder; teacher/student: (case, seed) -> the metric's value (failures absent or NaN, left
    out). A bucket with no shared pair has n = 0 and NaN CIs.
    """
    shared = sorted(k for k in set(teacher) & set(student)
                    if not (math.isnan(teacher[k]) or math.isnan(student[k])))
    out: list[Bucket] = []
    first: str | None = None
    for i, tag in enumerate(order):
        keys = [k for k in shared if buckets.get(k[0]) == tag]
        kw: dict[str, Any] = {"method": method, "n_boot": n_boot, "seed": seed + i, "alpha": alpha}
        t = keyed_mean_ci({k: teacher[k] for k in keys}, **kw)
        s = keyed_mean_ci({k: student[k] for k in keys}, **kw)
        d = paired_keyed_delta(student, teacher, keys, **kw)
        worse = bool(keys) and (d.mean < 0 if higher_is_better else d.mean > 0)
        below = worse and d.excludes_zero          # one case: degenerate CI, never a break
        out.append(Bucket(tag, t, s, d, below, worse))
        if below and first is None:
            first = tag
    return LadderCurve(ladder, tuple(out), first, higher_is_better)


def pack_ladder_curves(ladders: Mapping[str, Sequence[str]], case_tags: Mapping[str, Sequence[str]],
                       teacher: Mapping[Key, float], student: Mapping[Key, float],
                       **kw: Any) -> list[LadderCurve]:
    """One curve per ladder of a pack (`Pack.ladders`), bucketing cases by their tags."""
    curves = []
    for name, order in ladders.items():
        members = set(order)
        buckets = {c: next(t for t in tags if t in members) for c, tags in case_tags.items()
                   if any(t in members for t in tags)}
        curves.append(ladder_curve(name, order, buckets, teacher, student, **kw))
    return curves


def _r(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 6)


def _ci(ci: CI) -> dict[str, Any]:
    return {"mean": _r(ci.mean), "ci": [_r(ci.lo), _r(ci.hi)]}


def curve_dict(curve: LadderCurve) -> dict[str, Any]:
    """The summary.json form of one metric's curve (docs/run-format.md, `ladders`)."""
    return {"higher_is_better": curve.higher_is_better, "first_break": curve.first_break,
            "buckets": [{"tag": b.tag, "n_cases": b.delta.n_cases, "n_images": b.delta.n_images,
                         "teacher": _ci(b.teacher), "student": _ci(b.student),
                         "delta": {**_ci(b.delta), "p_value": _r(b.delta.p_value)},
                         "below": b.below, "worse_point": b.worse_point} for b in curve.buckets]}


def ladder_section(ladders: Mapping[str, Sequence[str]], case_tags: Mapping[str, Sequence[str]],
                   teacher: Mapping[str, Mapping[Key, float]], student: Mapping[str, Mapping[Key, float]],
                   higher_is_better: Mapping[str, bool], method: str = "percentile") -> dict[str, Any]:
    """summary['ladders']: per ladder, its buckets and, per metric scored for both models, the curve
    and its first break. teacher/student: metric key -> {(case, seed): value}."""
    out: dict[str, Any] = {}
    metrics = sorted(set(teacher) & set(student))
    for name, order in ladders.items():
        per_metric = {}
        for m in metrics:
            (curve,) = pack_ladder_curves({name: order}, case_tags, teacher[m], student[m],
                                          higher_is_better=higher_is_better.get(m, True), method=method)
            if any(b.n for b in curve.buckets):
                per_metric[m] = curve_dict(curve)
        out[name] = {"buckets": list(order), "metrics": per_metric,
                     "first_break": {m: c["first_break"] for m, c in per_metric.items()}}
    return out


def ladder_lines(section: Mapping[str, Any]) -> list[str]:
    """One console line per ladder naming the first break (per bucket, the metrics that break there)."""
    lines = []
    for name, lad in section.items():
        at: dict[str, list[str]] = {}
        for m, b in lad["first_break"].items():
            if b is not None:
                at.setdefault(b, []).append(m)
        path = " > ".join(lad["buckets"])
        if not at:
            lines.append(f"ladder {name} ({path}): the student is not below the teacher in any bucket "
                         f"({len(lad['first_break'])} metrics)")
            continue
        first = next(b for b in lad["buckets"] if b in at)
        rest = "; ".join(f"{b}: {', '.join(at[b])}" for b in lad["buckets"] if b in at and b != first)
        lines.append(f"ladder {name} ({path}): first break at {first} ({', '.join(at[first])})"
                     + (f"; later {rest}" if rest else "")
                     + f"; no break for {sum(b is None for b in lad['first_break'].values())} metrics")
    return lines
