"""VIEScore as published (Ku et al., 2024), as GEdit-Bench scores it: reply fields and aggregation.

Pure functions, no client: the VLM judges call them, and the tests check them on known replies.

- Semantic consistency (SC) is the minimum of the SC sub-scores. Text-to-image: one score, how
  well the image follows the prompt. Editing: [editing success, degree of over-editing], where
  the over-editing score is oriented as VIEScore orients it (10 = a minimal yet effective edit,
  0 = a completely different scene), so SC = min(success, minimal_edit).
- Perceptual quality (PQ) = min(naturalness, artifacts), both asked about the output image alone
  (no prompt, no source image in view; for editing too: VIEScore's PQ request holds only the
  edited image). `artifacts` is 10 for an image with no artefacts, so higher is better.
- Overall O = sqrt(SC * PQ), per image (before any averaging). All scores are integers 0-10.

Two deliberate departures, both documented in docs/vlm.md: every reply writes its `reasoning`
first and its scores after (VIEScore asks for {"score": [...], "reasoning": ...}, scores first;
reasoning first lets the scores condition on it under guided decoding), and an unreadable reply
is a failure (VIEScore's code substitutes a random integer).

Pairwise (our extension, not VIEScore): each order gives the student +1 / 0 / -1; a round is a
win only when both orders prefer the student, a loss only when both prefer the teacher, and a
tie otherwise (a win plus a tie is a tie). Win rate counts a tie as half.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from judges.vlm.common import Field

REASONING_MAX_CHARS = 300      # the reasoning string's cap (regex/JSON-schema maxLength)
REASONING = Field("reasoning", "text", max_len=REASONING_MAX_CHARS)

# distilled-model defects flagged (true/false) in the PQ reply after the two published scores
DEFECT_FLAGS = ("grain_on_flat_areas", "malformed_letters", "grid_pattern", "oversaturation")

T2I_SC_FIELDS = (REASONING, Field("prompt_following", "score"))
EDIT_SC_FIELDS = (REASONING, Field("editing_success", "score"), Field("minimal_edit", "score"))
PQ_FIELDS = (REASONING, Field("naturalness", "score"), Field("artifacts", "score"),
             *(Field(f, "bool") for f in DEFECT_FLAGS))


def semantic_consistency(scores: Sequence[float]) -> float:
    """VIEScore SC: the minimum of the SC sub-scores (one for t2i, two for editing)."""
    if not scores:
        raise ValueError("semantic_consistency needs at least one sub-score")
    return float(min(scores))


def perceptual_quality(naturalness: float, artifacts: float) -> float:
    """VIEScore PQ = min(naturalness, artifacts) (artifacts: 10 = no artefacts)."""
    return float(min(naturalness, artifacts))


def overall(sc: float, pq: float) -> float:
    """VIEScore O = sqrt(SC * PQ) on the 0-10 scale."""
    return math.sqrt(max(sc, 0.0) * max(pq, 0.0))


def pq_metrics(reply: dict[str, Any]) -> dict[str, float]:
    """naturalness, artifact_free, perceptual_quality and defect_flags from one parsed PQ reply."""
    nat, art = float(reply["naturalness"]), float(reply["artifacts"])
    return {"naturalness": nat, "artifact_free": art, "perceptual_quality": perceptual_quality(nat, art),
            "defect_flags": float(sum(bool(reply[f]) for f in DEFECT_FLAGS))}


def t2i_metrics(sc_reply: dict[str, Any], pq_reply: dict[str, Any]) -> dict[str, float]:
    """vlm-t2i metric values from its SC and PQ replies."""
    pq = pq_metrics(pq_reply)
    sc = semantic_consistency([float(sc_reply["prompt_following"])])
    return {"semantic_consistency": sc, **pq, "overall": overall(sc, pq["perceptual_quality"])}


def edit_metrics(sc_reply: dict[str, Any], pq_reply: dict[str, Any]) -> dict[str, float]:
    """vlm-edit metric values from its SC (source + result) and PQ (result alone) replies."""
    pq = pq_metrics(pq_reply)
    es, me = float(sc_reply["editing_success"]), float(sc_reply["minimal_edit"])
    sc = semantic_consistency([es, me])
    return {"edit_success": es, "minimal_edit": me, "semantic_consistency": sc, **pq,
            "overall": overall(sc, pq["perceptual_quality"])}


# --- pairwise --------------------------------------------------------------------------------------
def round_outcome(a: int, b: int) -> int:
    """Student-view answers of the two orders -> +1 win (both prefer the student), -1 loss (both
    prefer the teacher), 0 tie (anything else: a tie, a tie and a win, or orders that disagree)."""
    if a > 0 and b > 0:
        return 1
    if a < 0 and b < 0:
        return -1
    return 0


def win_score(outcome: int) -> float:
    """A round's contribution to the win rate: 1 win, 0.5 tie, 0 loss."""
    return {1: 1.0, 0: 0.5, -1: 0.0}[outcome]
