"""Known-truth suite for the seed-diversity judge.

Cases of four seeds that are either collapsed (the same image, optionally with fresh grain per
seed, or with a small shift: what a mode-collapsed student draws) or diverse (independent random
scenes on the same background). Measured: AUC of each metric separating diverse from collapsed,
and that grain alone does not read as diversity (collapsed+grain below every diverse case's
median).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from judges.validity import Check, auc, score_case
from judges.validity.draw import item
from judges.validity.fidelity import distort, random_scene
from evalsuite.types import Case


def suite(judge_factory: Any, quick: bool = True, seed: int = 0) -> list[Check]:
    rng = random.Random(seed)
    n = 8 if quick else 24
    items, labels, kinds = [], [], []
    for i in range(n * 2):
        c = Case(id=f"d{i}", kind="t2i", prompt="known-truth set", seeds=(0, 1, 2, 3))
        diverse = i % 2 == 0
        if diverse:
            imgs = [random_scene(random.Random(rng.random())) for _ in range(4)]
            kind = "diverse"
        else:
            base = random_scene(rng)
            kind = rng.choice(["identical", "grain", "shift"])
            imgs = [base if kind == "identical" else distort(base, "noise:6" if kind == "grain" else "shift", rng)
                    for _ in range(4)]
        items.append([item(c, im, seed=s) for s, im in enumerate(imgs)])
        labels.append(diverse)
        kinds.append(kind)
    judge = judge_factory()
    name = judge.name
    try:
        # case granularity: all seeds of a case in one call
        scored = [score_case(judge, its) for its in items]
    finally:
        judge.close()
    checks = []
    for metric in ("ssim_distance", "pixel_distance"):
        pos = [s.values[metric] for s, lab in zip(scored, labels) if lab and metric in s.values]
        neg = [s.values[metric] for s, lab in zip(scored, labels) if not lab and metric in s.values]
        checks.append(Check(name, f"{metric} separates diverse from collapsed seeds", "auc",
                            auc(pos, neg) if pos and neg else None, 0.95, n=len(pos) + len(neg),
                            failures=len(scored) - len(pos) - len(neg)))
    grain = [s.values.get("ssim_distance") for s, k in zip(scored, kinds) if k == "grain"]
    div = [s.values.get("ssim_distance") for s, k in zip(scored, kinds) if k == "diverse"]
    grain, div = [g for g in grain if g is not None], [d for d in div if d is not None]
    if grain and div:
        med = float(np.median(div))
        checks.append(Check(name, "grain alone is not diversity (collapsed+grain < diverse median)",
                            "rate", float(np.mean([g < med for g in grain])), 1.0, n=len(grain)))
    return checks
