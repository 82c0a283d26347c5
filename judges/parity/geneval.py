"""GenEval summary (djghosh13/geneval evaluation/summary_scores.py).

Input: one row per image with its task tag, its prompt and whether the detector judged it correct.
Overall score = the mean over tasks of the share of correct images in the task (a macro average;
tasks in first-seen order); also the share of correct images and of prompts with any correct image.
"""

from __future__ import annotations

from collections.abc import Sequence


def geneval_aggregate(rows: Sequence[tuple[str, str, bool]]) -> dict[str, object]:
    """rows: (tag, prompt key, correct) -> {"overall", "tasks": {tag: share}, "images", "prompts"}."""
    tasks: dict[str, list[bool]] = {}
    prompts: dict[str, bool] = {}
    for tag, key, ok in rows:
        tasks.setdefault(tag, []).append(bool(ok))
        prompts[key] = prompts.get(key, False) or bool(ok)
    shares = {t: sum(v) / len(v) for t, v in tasks.items()}
    return {"overall": sum(shares.values()) / len(shares), "tasks": shares,
            "images": sum(ok for _, _, ok in rows) / len(rows), "prompts": sum(prompts.values()) / len(prompts)}
