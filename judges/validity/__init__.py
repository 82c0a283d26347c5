"""Judge meta-evaluation: each judge measured on a known-truth suite built on the fly.

A suite draws images whose truth is known by construction (text drawn in given fonts and sizes,
typography errors planted on purpose, flat-background defects planted at given strengths, image
pairs whose PSNR/SSIM a reference implementation gives, edits with a known preserved region) and
reports how well the judge recovers that truth: accuracy or AUC for detections, recovery error for
measured quantities. Each check has a documented floor (docs/validity.md); `evalsuite validate`
exits 1 when a judge falls below one.

Suites are pure functions of their seed: the same seed draws the same images, so a floor that is
passed once is passed again unless the judge changed. Fonts, sizes, words, colours and strengths
are drawn from ranges, never taken from the shipped packs, so a judge tuned to the packs gains
nothing here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


@dataclass
class Check:
    """One measured property of one judge against known truth."""

    judge: str
    check: str                   # e.g. "strict exact match: planted errors detected"
    measure: str                 # "accuracy" | "auc" | "mean_abs_error" | "max_abs_error" | "rate"
    value: float | None          # None: the check could not be measured (see `error`)
    floor: float                 # the documented limit: >= floor when higher_is_better, else <=
    higher_is_better: bool = True
    n: int = 0                   # items the value is computed on
    failures: int = 0            # judge failures (excluded from the value, counted here)
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def __post_init__(self) -> None:
        self.value = None if self.value is None else float(self.value)

    @property
    def passed(self) -> bool:
        if self.value is None or self.error:
            return False
        return bool(self.value >= self.floor if self.higher_is_better else self.value <= self.floor)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Area under the ROC curve: P(score(positive) > score(negative)), ties counted half
    (the Mann-Whitney U statistic over n_pos * n_neg)."""
    p = np.asarray(positives, dtype=float)
    q = np.asarray(negatives, dtype=float)
    if p.size == 0 or q.size == 0:
        raise ValueError("auc needs at least one positive and one negative")
    greater = (p[:, None] > q[None, :]).sum()
    ties = (p[:, None] == q[None, :]).sum()
    return float((greater + 0.5 * ties) / (p.size * q.size))




@dataclass
class Scored:
    """A judge's output for one item, whichever way it failed or not."""

    values: dict[str, float]                       # metrics with a value
    failed: dict[str, str] = field(default_factory=dict)   # metric -> error
    detail: dict[str, Any] = field(default_factory=dict)


def score_items(judge: Any, items: Sequence[Any], batch: int = 16) -> list[Scored]:
    """Score `items` (JudgeInputs) as a run does (evalsuite.runner.score_items: a crashing batch is
    re-scored item by item, a crashing item is a failure, never a zero); one Scored per item."""
    from evalsuite.runner import score_items as run_score

    out: list[Scored] = []
    for i in range(0, len(items), batch):
        out += [_as_scored(s) for s in run_score(judge, items[i:i + batch])]
    return out


def score_case(judge: Any, items: Sequence[Any]) -> Scored:
    """All seeds of one case in one call (case-granularity judges), as a run does."""
    from evalsuite.runner import score_case as run_case

    return _as_scored(run_case(judge, items))


def _as_scored(r: Any) -> Scored:
    """A Scores (values + detail) -> Scored; None (an abstention) -> no values."""
    if r is None:
        return Scored({})
    vals, failed = {}, {}
    for m, v in r.values.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            vals[m] = float(v)
        else:
            failed[m] = getattr(v, "error", str(v))
    return Scored(vals, failed, dict(r.detail))
