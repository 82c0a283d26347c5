"""`vlm-t2i`: VIEScore semantic consistency (SC) and perceptual quality (PQ), 0-10, overall sqrt(SC*PQ).

VIEScore as published (judges/vlm/viescore.py): two questions per image, as VIEScore asks them.
SC (`prompts/t2i_sc_v2.txt`) shows the image with the prompt (and the text it must spell); PQ
(`prompts/pq_v2.txt`) shows the image alone and asks naturalness and artifacts, PQ = their
minimum. Each reply writes its reasoning before its scores. The PQ reply also flags the distilled
models' known failures (grain on flat areas, malformed letters, grid patterns, oversaturation),
which the public rubric does not name; they are counted in `defect_flags` and do not enter PQ.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from evalsuite.judge import Scores
from evalsuite.types import Case, JudgeInput, MetricSpec
from judges.vlm.backends.base import VLMResponse
from judges.vlm.common import Field, VLMJudge, read_rubric, render_prompt, spread
from judges.vlm.viescore import PQ_FIELDS, T2I_SC_FIELDS, t2i_metrics

logger = logging.getLogger(__name__)

PQ_PROMPT = "pq_v2"
# (part, reply fields) of one judgement, in the order the requests are sent
PARTS: tuple[tuple[str, tuple[Field, ...]], ...] = (("sc", T2I_SC_FIELDS), ("pq", PQ_FIELDS))
PQ_METRICS = {
    "naturalness": MetricSpec(True, (0.0, 10.0), "looks natural: lighting, shadows, distance (VIEScore PQ part)"),
    "artifact_free": MetricSpec(True, (0.0, 10.0), "VIEScore 'artifacts' score: 10 = no artifacts (PQ part)"),
    "perceptual_quality": MetricSpec(True, (0.0, 10.0), "VIEScore PQ = min(naturalness, artifact_free), output alone"),
    "defect_flags": MetricSpec(False, (0.0, 4.0), "distillation defects flagged (grain, letters, grid, saturation)"),
}


def t2i_prompt(case: Case, template: str = "t2i_sc_v2") -> str:
    """The SC prompt for one case (expected text, where the case has some, is spelled out)."""
    expected = ""
    if case.expected_text:
        expected = "Text that must appear exactly: " + "; ".join(f'"{t}"' for t in case.expected_text) + "\n"
    return render_prompt(template, prompt=case.prompt, expected_text=expected)


class VLMT2IJudge(VLMJudge):
    """VIEScore judge for text-to-image outputs (see module docstring; config in VLMJudge)."""

    name = "vlm-t2i"
    version = 2
    prompt_name = "t2i_sc_v2"
    prompt_names = ("t2i_sc_v2", PQ_PROMPT)
    default_max_tokens = 512
    metrics = {
        "semantic_consistency": MetricSpec(True, (0.0, 10.0), "follows the prompt (VIEScore SC)"),
        **PQ_METRICS,
        "overall": MetricSpec(True, (0.0, 10.0), "VIEScore O = sqrt(SC * PQ)"),
    }

    def applies_to(self, case: Case) -> bool:
        return case.kind == "t2i"

    def score(self, items: Sequence[JudgeInput]) -> list[Scores | None]:
        reps = self.config["repeats"]
        sc_c, pq_c = self.constraint(T2I_SC_FIELDS), self.constraint(PQ_FIELDS)
        pq_prompt = render_prompt(PQ_PROMPT)
        reqs = []
        for it in items:
            sc_prompt = t2i_prompt(it.case, self.prompt_name)
            for r in range(reps):
                tag = f"{it.case.id}/{it.seed}#{r}"
                reqs += [self.request(sc_prompt, [it.image], r, sc_c, tag=tag + "/sc"),
                         self.request(pq_prompt, [it.image], r, pq_c, tag=tag + "/pq")]
        resps = self.ask(reqs)
        per = len(PARTS) * reps
        return [rubric_scores(self, it, resps[i * per:(i + 1) * per], PARTS, t2i_metrics)
                for i, it in enumerate(items)]


def rubric_scores(judge: VLMJudge, item: JudgeInput, resps: Sequence[VLMResponse],
                  parts: Sequence[tuple[str, Sequence[Field]]],
                  scorer: Callable[..., dict[str, float]]) -> Scores:
    """Scores from the repeats of one VIEScore judgement (shared by vlm-t2i and vlm-edit).

    `resps` holds, per repeat, one reply per part (SC, PQ) in `parts` order; `scorer` takes the
    parsed replies in that order. Every reply must be readable: one failed reply fails the item (a
    mean over the surviving repeats would hide a flaky judge). Values are means over repeats; the
    spread, the replies and the parsed answers (with their reasoning) are in detail.
    """
    k = len(parts)
    reps = len(resps) // k
    replies = [{"part": parts[j % k][0], **r.summary()} for j, r in enumerate(resps)]
    parsed: list[dict[str, float]] = []
    raw_values: list[dict[str, Any]] = []
    for r in range(reps):
        answers: dict[str, Any] = {}
        for j, (part, fields) in enumerate(parts):
            values, kind, err = read_rubric(resps[r * k + j], fields)
            if values is None:
                where = f" ({part} reply" + (f", repeat {r + 1}/{reps})" if reps > 1 else ")")
                return judge.failures(item, f"{err}{where}", kind or "backend", {"replies": replies})
            answers[part] = values
        raw_values.append(answers)
        parsed.append(scorer(*(answers[p] for p, _ in parts)))
    detail_common = {**judge.provenance(), "replies": replies, "answers": raw_values}
    values: dict[str, float] = {}
    per_metric: dict[str, dict[str, Any]] = {}
    for m in type(judge).metrics:
        s = spread([p[m] for p in parsed])
        values[m] = s["mean"]
        per_metric[m] = {"repeat_values": [p[m] for p in parsed], "repeat_std": s["std"]}
    values.update(judge.repeat_metric([p[judge.primary_metric] for p in parsed]))
    return Scores(values, detail_common, per_metric)
