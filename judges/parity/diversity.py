"""OneIG-Bench diversity (scripts/diversity/diversity_score.py).

For each prompt, the mean over all pairs (i < j) of its images of a perceptual distance
(DreamSim in the official code; any callable here, e.g. a local DreamSim or LPIPS); prompts with
fewer than two images are skipped. Per class: the mean over its prompts; "total average": the mean
over all prompts of every class (not the mean of the class means).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import combinations
from typing import Any


def prompt_diversity(images: Sequence[Any], distance: Callable[[Any, Any], float]) -> float | None:
    if len(images) <= 1:
        return None
    d = [float(distance(a, b)) for a, b in combinations(images, 2)]
    return sum(d) / len(d)


def oneig_diversity(prompts: Mapping[str, tuple[str, Sequence[Any]]],
                    distance: Callable[[Any, Any], float]) -> dict[str, float]:
    """prompts: {prompt id: (class, images)} -> {class: mean, ..., "total": mean over prompts}."""
    per_class: dict[str, list[float]] = {}
    every: list[float] = []
    for cls, images in prompts.values():
        s = prompt_diversity(images, distance)
        if s is not None:
            per_class.setdefault(cls, []).append(s)
            every.append(s)
    out = {c: sum(v) / len(v) for c, v in per_class.items()}
    out["total"] = sum(every) / len(every)
    return out
