"""DPG-Bench score (ELLA dpg_bench/compute_dpg_bench.py).

Per image (per crop when a grid of pic_num images is scored): each question's score is 1.0 when the
VQA model answers exactly "yes", else 0; a question whose parent (dependency id != 0) scored 0 is
zeroed; the image score is the mean over its questions, averaged over crops. DPG-Bench = 100 x the
mean image score. Category scores (L2 = the tuple's text before "(", L1 = its part before "-")
are 100 x the mean of the *un-zeroed* question scores of the last crop, as the official script
collects them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def dpg_crop_score(answers: Mapping[int, str], dependency: Mapping[int, Sequence[int]]) -> tuple[float, dict[int, float]]:
    """(score of one crop, raw per-question scores) from the VQA answers."""
    raw = {q: float(a == "yes") for q, a in answers.items()}
    scores = dict(raw)
    for q, parents in dependency.items():
        if any(p != 0 and scores[p] == 0 for p in parents):
            scores[q] = 0.0
    return sum(scores.values()) / len(scores), raw


@dataclass(frozen=True)
class DPGImage:
    answers: Sequence[Mapping[int, str]]      # one answers dict per crop
    dependency: Mapping[int, Sequence[int]]
    tuples: Mapping[int, str]


def dpg_aggregate(images: Sequence[DPGImage]) -> dict[str, object]:
    """{"score": 100 x mean image score, "l1": {cat: 100 x mean}, "l2": {...}}."""
    img_scores = []
    l2: dict[str, list[float]] = defaultdict(list)
    for im in images:
        crops = [dpg_crop_score(a, im.dependency) for a in im.answers]
        img_scores.append(sum(s for s, _ in crops) / len(crops))
        raw = crops[-1][1]
        for q, t in im.tuples.items():
            l2[t.split("(")[0].strip()].append(raw[q])
    l1: dict[str, list[float]] = defaultdict(list)
    for cat, xs in l2.items():
        l1[cat.split("-")[0].strip()].extend(xs)
    mean = lambda xs: 100.0 * sum(xs) / len(xs)  # noqa: E731
    return {"score": mean(img_scores), "l1": {k: mean(v) for k, v in l1.items()},
            "l2": {k: mean(v) for k, v in l2.items()}}
