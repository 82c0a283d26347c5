"""`vlm-edit`: edit success and over-editing (source and result both shown), plus quality.

overall = sqrt(min(edit_success, 10 - over_editing) * perceptual_quality): VIEScore's edit SC is
the minimum of success and "no over-editing", combined with PQ by the geometric mean.
The prompt is `prompts/edit_v1.txt`; the source image is sent first, the result second.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from evalsuite.judge import Scores
from evalsuite.types import Case, JudgeInput, MetricSpec
from judges.vlm.common import Field, VLMJudge, geometric_mean, render_prompt
from judges.vlm.t2i import rubric_scores

logger = logging.getLogger(__name__)

FIELDS = (Field("edit_success", "score"), Field("over_editing", "score"), Field("perceptual_quality", "score"))


def score_edit(values: dict[str, Any]) -> dict[str, float]:
    es, oe, pq = float(values["edit_success"]), float(values["over_editing"]), float(values["perceptual_quality"])
    return {"edit_success": es, "over_editing": oe, "perceptual_quality": pq,
            "overall": geometric_mean(min(es, 10.0 - oe), pq)}


class VLMEditJudge(VLMJudge):
    """Rubric judge for edit cases; needs the case's source image (config in VLMJudge)."""

    name = "vlm-edit"
    version = 1
    prompt_name = "edit_v1"
    default_max_tokens = 96
    metrics = {
        "edit_success": MetricSpec(True, (0.0, 10.0), "the instruction was carried out"),
        "over_editing": MetricSpec(False, (0.0, 10.0), "things changed that were not asked for"),
        "perceptual_quality": MetricSpec(True, (0.0, 10.0), "clean, natural result"),
        "overall": MetricSpec(True, (0.0, 10.0), "sqrt(min(success, 10 - over_editing) * PQ)"),
    }

    def applies_to(self, case: Case) -> bool:
        return case.kind == "edit"

    def score(self, items: Sequence[JudgeInput]) -> list[Scores | None]:
        reps = self.config["repeats"]
        constraint = self.constraint(FIELDS)
        todo = [it for it in items if it.source_image is not None]
        reqs = [self.request(render_prompt(self.prompt_name, prompt=it.case.prompt), [it.source_image, it.image],
                             r, constraint, tag=f"{it.case.id}/{it.seed}#{r}")
                for it in todo for r in range(reps)]
        resps = self.ask(reqs) if reqs else []
        by_id = {id(it): resps[k * reps:(k + 1) * reps] for k, it in enumerate(todo)}
        return [self.failures(it, f"case {it.case.id} has no source image to compare with", "missing_image", {})
                if it.source_image is None else rubric_scores(self, it, by_id[id(it)], FIELDS, score_edit)
                for it in items]
