"""`parity-text`: the OCR judge's reading scored with the official text metrics of LongText-Bench,
OneIG-Bench and CVTG-2K (judges/parity/text.py), per image.

It is the `ocr` judge with another scoring step: same backends and options (use
`--judge-opt parity-text.backend=vlm parity-text.url=...` for the VLM reading LongText and OneIG
prescribe). Per image it reports the benchmark's per-image quantities; the benchmark-level
numbers that are not plain means (LongText's and OneIG's word accuracy are sum(matched) /
sum(GT count); OneIG's text score combines ED, CR and WAC) are computed from `detail`
(matched, gt_count, edit_distance) with the pure functions in judges/parity/text.py.
Language: a case whose expected text contains CJK is scored in ZH mode.
"""

from __future__ import annotations

from typing import Any

from evalsuite.judge import Scores
from evalsuite.types import JudgeInput, MetricSpec
from judges.ocr import OCRJudge
from judges.ocr_backends import OCRResult, reading_order
from judges.parity.text import cvtg_image, longtext_counts, oneig_image


def parity_values(expected: tuple[str, ...], text: str) -> tuple[dict[str, float], dict[str, Any]]:
    """Per-image parity metrics and the counts the benchmark-level aggregates need."""
    zh = any(0x4E00 <= ord(ch) <= 0x9FFF for t in expected for ch in t)
    matched, total = longtext_counts(expected, text, "zh" if zh else "en")
    one = oneig_image(expected, text)
    acc, ned = cvtg_image(expected, text)
    values = {"longtext.text_accuracy": matched / total if total else 0.0,
              "oneig.edit_distance": one.edit_distance, "oneig.completion": float(one.completion),
              "oneig.word_accuracy": one.matched / one.gt_count if one.gt_count else 0.0,
              "cvtg.word_accuracy": acc, "cvtg.ned": ned}
    detail = {"mode": "zh" if zh else "en", "longtext": {"matched": matched, "gt_count": total},
              "oneig": {"matched": one.matched, "gt_count": one.gt_count, "edit_distance": one.edit_distance,
                        "completion": one.completion}}
    return values, detail


class ParityTextJudge(OCRJudge):
    name = "parity-text"
    version = 1
    metrics = {
        "longtext.text_accuracy": MetricSpec(True, (0.0, 1.0), "LongText-Bench: share of GT words (ZH: characters) read"),
        "oneig.edit_distance": MetricSpec(False, (0.0, None), "OneIG-Bench: edit distance to the GT text"),
        "oneig.completion": MetricSpec(True, (0.0, 1.0), "OneIG-Bench: 1 when the reading equals the GT"),
        "oneig.word_accuracy": MetricSpec(True, (0.0, 1.0), "OneIG-Bench: share of GT words read (case-sensitive)"),
        "cvtg.word_accuracy": MetricSpec(True, (0.0, 1.0), "CVTG-2K: share of GT words read"),
        "cvtg.ned": MetricSpec(True, (0.0, 1.0), "CVTG-2K: 1 - normalised edit distance"),
    }

    def _scores(self, it: JudgeInput, res: OCRResult, cross: Any = None) -> Scores:
        """The official per-image quantities (a second-engine cross-check does not apply)."""
        text = "\n".join(ln.text for ln in reading_order(res.lines))
        values, detail = parity_values(it.case.expected_text, text)
        detail["text"] = text
        return Scores({m: float(v) for m, v in values.items()}, detail)
