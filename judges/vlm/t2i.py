"""`vlm-t2i`: semantic consistency and perceptual quality, 0-10 each, overall sqrt(SC*PQ).

The VIEScore convention used by GEdit-Bench, with an artefact rubric naming the distilled models'
known failures (grain on flat areas, malformed letters, grid patterns, oversaturation), which the
public rubrics do not mention. The prompt is `prompts/t2i_v1.txt`; its hash keys the cache.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from evalsuite.judge import Scores
from evalsuite.types import Case, JudgeInput, MetricSpec
from judges.vlm.common import (
    Field,
    VLMJudge,
    geometric_mean,
    read_rubric,
    render_prompt,
    spread,
)

logger = logging.getLogger(__name__)

ARTEFACTS = ("grain_on_flat_areas", "malformed_letters", "grid_pattern", "oversaturation")
FIELDS = (Field("semantic_consistency", "score"), Field("perceptual_quality", "score"),
          *(Field(a, "bool") for a in ARTEFACTS))


def t2i_prompt(case: Case, template: str = "t2i_v1") -> str:
    """The judge prompt for one case (expected text, where the case has some, is spelled out)."""
    expected = ""
    if case.expected_text:
        expected = "Text that must appear exactly: " + "; ".join(f'"{t}"' for t in case.expected_text) + "\n"
    return render_prompt(template, prompt=case.prompt, expected_text=expected)


def score_rubric(values: dict[str, Any]) -> dict[str, float]:
    """Metric values from one parsed reply."""
    sc, pq = float(values["semantic_consistency"]), float(values["perceptual_quality"])
    return {"semantic_consistency": sc, "perceptual_quality": pq, "overall": geometric_mean(sc, pq),
            "artefacts": float(sum(bool(values[a]) for a in ARTEFACTS))}


class VLMT2IJudge(VLMJudge):
    """Rubric judge for text-to-image outputs (see module docstring; config in VLMJudge)."""

    name = "vlm-t2i"
    version = 1
    prompt_name = "t2i_v1"
    default_max_tokens = 160
    metrics = {
        "semantic_consistency": MetricSpec(True, (0.0, 10.0), "follows the prompt (VIEScore SC)"),
        "perceptual_quality": MetricSpec(True, (0.0, 10.0), "clean, natural image (VIEScore PQ)"),
        "overall": MetricSpec(True, (0.0, 10.0), "sqrt(SC * PQ)"),
        "artefacts": MetricSpec(False, (0.0, 4.0), "distillation artefacts flagged (grain, letters, grid, saturation)"),
    }

    def applies_to(self, case: Case) -> bool:
        return case.kind == "t2i"

    def score(self, items: Sequence[JudgeInput]) -> list[Scores | None]:
        reps = self.config["repeats"]
        constraint = self.constraint(FIELDS)
        reqs = [self.request(t2i_prompt(it.case, self.prompt_name), [it.image], r, constraint,
                             tag=f"{it.case.id}/{it.seed}#{r}")
                for it in items for r in range(reps)]
        resps = self.ask(reqs)
        return [rubric_scores(self, it, resps[i * reps:(i + 1) * reps], FIELDS, score_rubric)
                for i, it in enumerate(items)]


def rubric_scores(judge: VLMJudge, item: JudgeInput, resps: Sequence[Any], fields: Sequence[Field],
                  scorer: Any) -> Scores:
    """Scores from the repeats of one rubric question (shared by vlm-t2i and vlm-edit).

    Every repeat must be readable: one failed repeat fails the item (a mean over the surviving
    repeats would hide a flaky judge). Values are means over repeats; the spread is in detail.
    """
    replies = [r.summary() for r in resps]
    parsed: list[dict[str, float]] = []
    raw_values: list[dict[str, Any]] = []
    for k, resp in enumerate(resps):
        values, kind, err = read_rubric(resp, fields)
        if values is None:
            where = f" (repeat {k + 1}/{len(resps)})" if len(resps) > 1 else ""
            return judge.failures(item, f"{err}{where}", kind or "backend", {"replies": replies})
        raw_values.append(values)
        parsed.append(scorer(values))
    detail_common = {**judge.provenance(), "replies": replies, "answers": raw_values}
    values: dict[str, float] = {}
    per_metric: dict[str, dict[str, Any]] = {}
    for m in type(judge).metrics:
        s = spread([p[m] for p in parsed])
        values[m] = s["mean"]
        per_metric[m] = {"repeat_values": [p[m] for p in parsed], "repeat_std": s["std"]}
    values.update(judge.repeat_metric([p[judge.primary_metric] for p in parsed]))
    return Scores(values, detail_common, per_metric)
