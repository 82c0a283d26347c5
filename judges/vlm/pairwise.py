"""`vlm-pairwise`: teacher vs student for the same case and seed, both orders to cancel position bias.

Each repeat asks twice: (teacher, student) and (student, teacher), and each reply writes its
reasoning before its answer. Each order gives +1 / 0 / -1 from the student's view; a round is a
win only when both orders prefer the student, a loss only when both prefer the teacher, and a
tie otherwise: a tie in either order, or orders that disagree (a win plus a tie is a tie, not a
win). `win_rate` counts a win 1, a tie 0.5 and a loss 0 (its mean is the win rate with ties as
half); `tie_rate` is 1 for a tie (its mean is the tie rate). `swap_agreement` is 1 when both
orders gave the same student-view answer: a low mean flags a position-biased judge. The failure
category is the one named where the student lost (else where the teacher lost).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from evalsuite.judge import Scores
from evalsuite.types import JudgeInput, MetricSpec
from judges.vlm.common import Field, VLMJudge, read_rubric, render_prompt, spread
from judges.vlm.viescore import REASONING, round_outcome, win_score

logger = logging.getLogger(__name__)

CATEGORIES = ("none", "text", "noise", "grid", "color", "detail", "structure", "adherence", "other")
FIELDS = (REASONING, Field("better", "enum", ("first", "second", "tie")), Field("category", "enum", CATEGORIES))
ORDERS = ("teacher_first", "student_first")


def student_view(order: str, better: str) -> int:
    """+1 when the student's image was preferred in this order, -1 when the teacher's, 0 for a tie."""
    if better == "tie":
        return 0
    student_pos = "second" if order == "teacher_first" else "first"
    return 1 if better == student_pos else -1


class VLMPairwiseJudge(VLMJudge):
    """Teacher-vs-student preference with ties as ties (config in VLMJudge)."""

    name = "vlm-pairwise"
    version = 2
    has_outcomes = True     # summary["vlm"]: win/tie/loss counts and the loser's failure categories
    prompt_name = "pairwise_v2"
    default_max_tokens = 448
    reference = "required"
    primary_metric = "win_rate"
    metrics = {
        "win_rate": MetricSpec(True, (0.0, 1.0), "student vs teacher: 1 win, 0.5 tie, 0 loss (both orders must agree)"),
        "tie_rate": MetricSpec(False, (0.0, 1.0), "1 when the round is a tie (no preference both orders agree on)"),
        "swap_agreement": MetricSpec(True, (0.0, 1.0), "both orders gave the same answer"),
    }

    def score(self, items: Sequence[JudgeInput]) -> list[Scores | None]:
        reps = self.config["repeats"]
        constraint = self.constraint(FIELDS)
        reqs = []
        for it in items:
            prompt = render_prompt(self.prompt_name, prompt=it.case.prompt)
            for r in range(reps):
                for order in ORDERS:
                    imgs = [it.teacher_image, it.image] if order == "teacher_first" else [it.image, it.teacher_image]
                    reqs.append(self.request(prompt, imgs, r, constraint, tag=f"{it.case.id}/{it.seed}#{r}/{order}"))
        todo = [it for it in items if it.teacher_image is not None]
        resps = self.ask([q for q in reqs if None not in q.images]) if todo else []
        per = 2 * reps
        by_id = {id(it): resps[k * per:(k + 1) * per] for k, it in enumerate(todo)}
        return [self.failures(it, "no teacher image for this case and seed", "missing_image", {})
                if it.teacher_image is None else self._scores(it, by_id[id(it)]) for it in items]

    def _scores(self, item: JudgeInput, resps: Sequence[Any]) -> Scores:
        replies = [{"order": ORDERS[k % 2], **r.summary()} for k, r in enumerate(resps)]
        rounds: list[dict[str, Any]] = []
        for r in range(len(resps) // 2):
            views, cats, reasons = {}, {}, {}
            for k, order in enumerate(ORDERS):
                resp = resps[2 * r + k]
                values, kind, err = read_rubric(resp, FIELDS)
                if values is None:
                    return self.failures(item, f"{order} (repeat {r + 1}): {err}", kind or "backend",
                                         {"replies": replies})
                views[order] = student_view(order, values["better"])
                cats[order] = values["category"]
                reasons[order] = values["reasoning"]
            a, b = views["teacher_first"], views["student_first"]
            result = round_outcome(a, b)
            if result < 0:
                cat = next((cats[o] for o in ORDERS if views[o] < 0), "none")
            elif result > 0:
                cat = next((cats[o] for o in ORDERS if views[o] > 0), "none")
            else:
                cat = "none"
            rounds.append({"views": views, "categories": cats, "result": result, "agree": a == b,
                           "category": cat, "reasoning": reasons})
        wins = spread([win_score(x["result"]) for x in rounds])
        ties = spread([float(x["result"] == 0) for x in rounds])
        agree = spread([float(x["agree"]) for x in rounds])
        cats = Counter(x["category"] for x in rounds if x["result"] != 0)
        outcome = "win" if wins["mean"] > 0.5 else "loss" if wins["mean"] < 0.5 else "tie"
        detail = {**self.provenance(), "replies": replies, "rounds": rounds, "outcome": outcome,
                  "category": cats.most_common(1)[0][0] if cats and outcome != "tie" else "none",
                  "position_swap_agreement": agree["mean"], "repeat_std": wins["std"]}
        return Scores({"win_rate": wins["mean"], "tie_rate": ties["mean"], "swap_agreement": agree["mean"],
                       **self.repeat_metric([win_score(x["result"]) for x in rounds])}, detail)
