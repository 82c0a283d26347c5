"""GEdit-Bench aggregation (Step1X-Edit GEdit-Bench/viescore + calculate_statistics.py).

Per item the VIEScore judge returns lists of 0-10 sub-scores: SC (semantic consistency) = min of
the SC list, PQ (perceptual quality) = min of the PQ list, O = sqrt(SC * PQ). Per language, each
of the 11 groups' SC, PQ and O are the means over its items; the benchmark number is the mean
over the 11 groups (a macro average; a group with no item gives NaN, as np.mean([]) does). The
"intersection" variant keeps only items with Intersection_exist.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

GROUPS = ("background_change", "color_alter", "material_alter", "motion_change", "ps_human", "style_change",
          "subject-add", "subject-remove", "subject-replace", "text_change", "tone_transfer")


def gedit_item(sc: Sequence[float], pq: Sequence[float]) -> tuple[float, float, float]:
    """(SC, PQ, O) of one edit from the judge's sub-score lists."""
    s, q = float(min(sc)), float(min(pq))
    return s, q, math.sqrt(s * q)


@dataclass(frozen=True)
class GEditRow:
    group: str
    language: str          # "en" | "cn" (the official CSV column instruction_language)
    sc: float
    pq: float
    intersection: bool = True


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def gedit_aggregate(rows: Sequence[GEditRow], language: str = "en",
                    intersection_only: bool = False) -> dict[str, dict[str, float]]:
    """{"sc"|"pq"|"o": {group: mean, ..., "avg": mean over the 11 groups}} for one language."""
    out: dict[str, dict[str, float]] = {"sc": {}, "pq": {}, "o": {}}
    for g in GROUPS:
        sel = [r for r in rows if r.group == g and r.language == language and (r.intersection or not intersection_only)]
        out["sc"][g] = _mean([r.sc for r in sel])
        out["pq"][g] = _mean([r.pq for r in sel])
        out["o"][g] = _mean([math.sqrt(r.sc * r.pq) for r in sel])
    for k in out:
        out[k]["avg"] = _mean([out[k][g] for g in GROUPS])
    return out
