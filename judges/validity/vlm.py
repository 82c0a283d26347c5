"""Known-truth suite for the VLM judges: pairs whose answer is known.

The pairs are the calibration set (judges/vlm/calibration.py): a clean image for a pack case and
the same image with one planted defect (grain, blurred or garbled text, a faint grid, blur).
vlm-t2i and vlm-edit must score the clean image higher; vlm-pairwise must prefer it in both
orders. Measured: accuracy (ties are misses; judge failures are counted apart). Needs a served
VLM (--vlm-url, --vlm-model); no package ships a small real-weight VLM, so CI validates the
plumbing against a random-weight model, which must FAIL the floor.
"""

from __future__ import annotations

from typing import Any

from judges.validity import Check

FLOOR = 0.75          # a useful judge tells a clean image from a visibly damaged one 3 times in 4
PACK = "typography"


def suite(judge_factory: Any, quick: bool = True, seed: int = 0, pack: str = PACK) -> list[Check]:
    from judges.vlm.calibration import calibrate

    judge = judge_factory()
    try:
        r = calibrate(judge, pack, n=8 if quick else 32, seed=seed)
    finally:
        judge.close()
    return [Check(judge.name, f"clean image preferred to its planted-defect twin ({pack})", "accuracy",
                  r["accuracy"], FLOOR, n=r["n"], failures=r["failures"],
                  detail={"per_defect": r["per_defect"]},
                  error=None if r["n"] else "every trial failed")]
