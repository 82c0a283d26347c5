"""`vlm-edit`: VIEScore for edits: SC from source and result, PQ from the result alone.

SC (`prompts/edit_sc_v2.txt`) shows the source first and the result second and asks two scores,
editing success and the degree of over-editing oriented as VIEScore orients it (`minimal_edit`:
10 = a minimal yet effective edit); SC = their minimum. PQ (`prompts/pq_v2.txt`, the same
question as vlm-t2i's) shows the result alone: the source in view would let the judge rate the
edit instead of the image. overall = sqrt(SC * PQ). See judges/vlm/viescore.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from evalsuite.judge import Scores
from evalsuite.types import Case, JudgeInput, MetricSpec
from judges.vlm.common import Field, VLMJudge, render_prompt
from judges.vlm.t2i import PQ_METRICS, PQ_PROMPT, rubric_scores
from judges.vlm.viescore import EDIT_SC_FIELDS, PQ_FIELDS, edit_metrics

logger = logging.getLogger(__name__)

PARTS: tuple[tuple[str, tuple[Field, ...]], ...] = (("sc", EDIT_SC_FIELDS), ("pq", PQ_FIELDS))


class VLMEditJudge(VLMJudge):
    """VIEScore judge for edit cases; needs the case's source image (config in VLMJudge)."""

    name = "vlm-edit"
    version = 2
    prompt_name = "edit_sc_v2"
    prompt_names = ("edit_sc_v2", PQ_PROMPT)
    default_max_tokens = 512
    metrics = {
        "edit_success": MetricSpec(True, (0.0, 10.0), "the instruction was carried out (VIEScore SC part)"),
        "minimal_edit": MetricSpec(True, (0.0, 10.0), "VIEScore over-editing score: 10 = minimal yet effective edit"),
        "semantic_consistency": MetricSpec(True, (0.0, 10.0), "VIEScore SC = min(edit_success, minimal_edit)"),
        **PQ_METRICS,
        "overall": MetricSpec(True, (0.0, 10.0), "VIEScore O = sqrt(SC * PQ)"),
    }

    def applies_to(self, case: Case) -> bool:
        return case.kind == "edit"

    def score(self, items: Sequence[JudgeInput]) -> list[Scores | None]:
        reps = self.config["repeats"]
        sc_c, pq_c = self.constraint(EDIT_SC_FIELDS), self.constraint(PQ_FIELDS)
        pq_prompt = render_prompt(PQ_PROMPT)
        todo = [it for it in items if it.source_image is not None]
        reqs = []
        for it in todo:
            sc_prompt = render_prompt(self.prompt_name, prompt=it.case.prompt)
            for r in range(reps):
                tag = f"{it.case.id}/{it.seed}#{r}"
                reqs += [self.request(sc_prompt, [it.source_image, it.image], r, sc_c, tag=tag + "/sc"),
                         self.request(pq_prompt, [it.image], r, pq_c, tag=tag + "/pq")]
        resps = self.ask(reqs) if reqs else []
        per = len(PARTS) * reps
        by_id = {id(it): resps[k * per:(k + 1) * per] for k, it in enumerate(todo)}
        return [self.failures(it, f"case {it.case.id} has no source image to compare with", "missing_image", {})
                if it.source_image is None else rubric_scores(self, it, by_id[id(it)], PARTS, edit_metrics)
                for it in items]
