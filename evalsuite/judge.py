"""The judge contract. A judge scores batches of images and returns one Verdict per metric.

Judges declare their metrics (direction and range) and a version; the runner caches verdicts by
judge id (name + version + config hash), image hash(es) and case hash.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from evalsuite.types import Case, JudgeInput, MetricSpec, Verdict


class Judge(ABC):
    name: ClassVar[str]
    version: ClassVar[int]
    metrics: ClassVar[dict[str, MetricSpec]]
    # "image": one verdict set per (case, seed); "case": one per case across its seeds (seed=-1).
    granularity: ClassVar[Literal["image", "case"]] = "image"
    # Whether the judge needs the teacher's image of the same seed (skipped when there is none,
    # and for the teacher's own images). Per case: override needs_teacher_for.
    needs_teacher: ClassVar[bool] = False
    # Whether the judge uses the teacher's image when there is one (e.g. a noise ratio); such
    # verdicts are cached per (image, teacher image). needs_teacher implies it.
    uses_teacher: ClassVar[bool] = False
    # Whether score() may return no verdict at all for an item that has nothing to measure (e.g.
    # edit preservation on a global edit). The runner then records an abstention, so a re-run
    # does not judge it again; otherwise a missing verdict is recorded as a failure.
    may_abstain: ClassVar[bool] = False
    # Preferred batch size for the runner.
    batch_size: ClassVar[int] = 16

    def __init__(self, **config: Any) -> None:
        self.config: dict[str, Any] = dict(config)

    def applies_to(self, case: Case) -> bool:
        return True

    def needs_teacher_for(self, case: Case) -> bool:
        """Whether `case` can only be judged against the same-seed teacher image; such items are
        skipped without a teacher and for the teacher role (default: the needs_teacher flag)."""
        return self.needs_teacher

    @abstractmethod
    def score(self, items: Sequence[JudgeInput]) -> list[Verdict]:
        """Score a batch. Must return verdicts (possibly failures) for every applicable metric."""

    def cache_config(self) -> dict[str, Any]:
        """The part of the config that changes verdicts (override to drop e.g. concurrency)."""
        return self.config

    def judge_id(self) -> str:
        blob = json.dumps(self.cache_config(), sort_keys=True, default=str).encode()
        return f"{self.name}@v{self.version}:{hashlib.sha256(blob).hexdigest()[:12]}"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "id": self.judge_id(),
                "config": self.cache_config(),
                "metrics": {m: {"higher_is_better": s.higher_is_better, "range": list(s.range),
                                "description": s.description} for m, s in self.metrics.items()}}

    # summary.json hooks (summarise / run_eval call them; the defaults add nothing) --------------
    # The top-level summary.json key under which summary_section() is filed, per judge name.
    summary_group: ClassVar[str | None] = None

    def summary_section(self, store: Any) -> dict[str, Any] | None:
        """Run-level data beyond the metric means (e.g. VLM outcome counts), filed as
        summary[summary_group][name]; `store` is the run's RunStore (verdicts_for(role, ids))."""
        return None

    def calibration(self, run_dir: Any, pack: Any, n: int, retry_failed: bool = False) -> dict[str, Any] | None:
        """Accuracy on `n` known good/bad pairs of the whole `pack` (RunConfig.calibrate), filed as
        summary["calibration"][name]; None: the judge has no calibration."""
        return None

    def close(self) -> None:
        """Release models, pools or clients."""
