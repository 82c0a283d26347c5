"""Text-rendering parity metrics: LongText-Bench, OneIG-Bench text, CVTG-2K.

LongText-Bench (X-Omni textbench/summary_scores.py): keep CJK (U+4E00-U+9FA5), ASCII letters,
digits, whitespace and the French accented letters àâäéèêëîïôöùûüç (both cases); EN mode
collapses whitespace and lower-cases, ZH mode keeps only those characters (no spaces). A record's
match is the multiset intersection of GT and OCR words (EN) or characters (ZH); the benchmark
score is sum(matched) / sum(GT count) over all images (a micro average).

OneIG-Bench text (scripts/text/text_score.py, text_utils.py): the same character filter but
case-sensitive; Chinese-containing text drops all spaces. The GT string is the CSV's list literal
(e.g. "['A', 'B']"), filtered like the OCR text. Per image: edit distance ED (Levenshtein), CR =
1 if ED == 0, word (or character) matches; model level: ED and CR means, WAC = sum(matched) /
sum(GT count), text score = 1 - min(M, ED) * (1 - CR) * (1 - WAC) / M with M = 100 (EN) or 50 (ZH).

CVTG-2K: the repository publishes no scoring script; these follow the TextCrafter paper's
definitions (word accuracy and normalised edit distance against the regions' text), see
docs/parity.md for what may differ.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_ACCENTS = "àâäéèêëîïôöùûüçÀÂÄÉÈÊËÎÏÔÖÙÛÜÇ"
_DROP = re.compile(rf"[^\u4e00-\u9fa5a-zA-Z0-9\s{_ACCENTS}]")
_KEEP = re.compile(rf"[\u4e00-\u9fa5a-zA-Z0-9{_ACCENTS}]")
_CJK = re.compile("[\u4e00-\u9fff]")
NO_TEXT = "No text recognized."

# the OCR prompt both LongText-Bench and OneIG-Bench send to Qwen2.5-VL-7B-Instruct
OFFICIAL_OCR_PROMPT = ("Recognize the text in the image, only reply with the text content, "
                       "but avoid repeating previously mentioned content. "
                       "If no text is recognized, please reply with 'No text recognized'.")


def levenshtein(a: str, b: str) -> int:
    """Edit distance with unit insert/delete/substitute costs."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def remove_no_text(ocr: str) -> str:
    """Strip the VLM's 'No text recognized.' reply. (LongText's cleaner loops over two keywords but
    keeps only the last replacement, so 'addCriterion' survives there; OneIG removes both.)"""
    return ocr.replace(NO_TEXT, "")


def _multiset_match(gt: Sequence[str], ocr: Sequence[str]) -> int:
    return sum((Counter(gt) & Counter(ocr)).values())


# --- LongText-Bench --------------------------------------------------------------------------

def longtext_preprocess(s: str, mode: str = "en") -> str:
    if mode == "en":
        return re.sub(r"\s+", " ", _DROP.sub("", s)).strip().lower()
    return "".join(_KEEP.findall(s)).strip()


def longtext_counts(gt_lines: Sequence[str], ocr: str, mode: str = "en") -> tuple[int, int]:
    """(matched, GT count) for one image: words (EN) or characters (ZH)."""
    gt = longtext_preprocess(" ".join(gt_lines), mode)
    got = longtext_preprocess(remove_no_text(ocr), mode)
    gt_units, ocr_units = (gt.split(), got.split()) if mode == "en" else (list(gt), list(got))
    return _multiset_match(gt_units, ocr_units), len(gt_units)


def longtext_text_accuracy(records: Sequence[tuple[Sequence[str], str]], mode: str = "en") -> float:
    """Benchmark score over (GT lines, OCR text) records: sum(matched) / sum(GT count)."""
    counts = [longtext_counts(gt, ocr, mode) for gt, ocr in records]
    return sum(m for m, _ in counts) / sum(n for _, n in counts)


# --- OneIG-Bench text ------------------------------------------------------------------------

def oneig_preprocess(s: str) -> str:
    cleaned = _DROP.sub("", s)
    if _CJK.search(cleaned):
        return "".join(_KEEP.findall(s)).strip()
    return re.sub(r"\s+", " ", cleaned).strip()


@dataclass(frozen=True)
class OneIGImage:
    """Per-image OneIG text statistics."""

    edit_distance: float
    completion: int
    matched: int
    gt_count: int


def oneig_image(gt_lines: Sequence[str], ocr: str) -> OneIGImage:
    """One image (one cell of OneIG's grid): GT is the CSV's list literal, as the official code reads it."""
    gt = oneig_preprocess(repr(list(gt_lines)))
    got = oneig_preprocess(remove_no_text(ocr.replace("addCriterion", "")))
    ed = levenshtein(got, gt)
    if _CJK.search(gt):
        matched, n = _multiset_match(list(gt), list(got)), len(gt)
    else:
        matched, n = _multiset_match(gt.split(), got.split()), len(gt.split())
    return OneIGImage(float(ed), int(ed == 0), matched, n)


def oneig_text_score(images: Sequence[OneIGImage], lang: str = "en") -> dict[str, float]:
    """Model-level ED, CR, WAC and text score over all images (all cells of all prompts)."""
    m = 100.0 if lang == "en" else 50.0
    ed = sum(i.edit_distance for i in images) / len(images)
    cr = sum(i.completion for i in images) / len(images)
    wac = sum(i.matched for i in images) / sum(i.gt_count for i in images)
    return {"ED": ed, "CR": cr, "WAC": wac, "text": 1 - min(m, ed) * (1 - cr) * (1 - wac) / m}


# --- CVTG-2K ---------------------------------------------------------------------------------

def cvtg_normalise(s: str) -> str:
    """Lower-case, punctuation dropped, whitespace collapsed (the paper's case-insensitive words)."""
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", "", s.lower())).strip()


def cvtg_image(gt_regions: Sequence[str], ocr: str) -> tuple[float, float]:
    """(word accuracy, NED) of one image: share of GT words read (multiset), and
    1 - Levenshtein(GT, OCR) / max(len) on the normalised texts joined by spaces."""
    gt = cvtg_normalise(" ".join(gt_regions))
    got = cvtg_normalise(ocr)
    words = gt.split()
    acc = _multiset_match(words, got.split()) / len(words) if words else 0.0
    denom = max(len(gt), len(got))
    ned = 1.0 - levenshtein(gt, got) / denom if denom else 1.0
    return acc, ned


def cvtg_scores(records: Sequence[tuple[Sequence[str], str]]) -> dict[str, float]:
    """Benchmark means over images of word accuracy and NED."""
    per = [cvtg_image(gt, ocr) for gt, ocr in records]
    return {"word_accuracy": sum(a for a, _ in per) / len(per), "ned": sum(n for _, n in per) / len(per)}
