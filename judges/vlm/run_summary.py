"""What a run adds to summary.json for its VLM judges: outcome counts and calibration accuracy.

`breakdown(store, judges)` counts, per VLM judge and role, the judged items, the failures by
`error_kind`, and for `vlm-pairwise` the win/tie/loss counts and where the loser failed (the
category histogram). `calibrate_run(...)` judges the pack's fixed calibration pairs with each
selected judge (same backend and settings) and caches the reports in the run directory's
`calibration.json`, so re-running the same command asks nothing again (`retry_failed`
re-asks a judge whose report had failures). `evalsuite run` writes both into summary.json
(`summary["vlm"]`, `summary["calibration"]`).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalsuite.judge import Judge
from evalsuite.types import EvalsuiteError
from judges.vlm import VLM_JUDGES

logger = logging.getLogger(__name__)

CALIBRATED = ("vlm-t2i", "vlm-edit", "vlm-pairwise")
CALIBRATION_FILE = "calibration.json"


def breakdown(store: Any, judges: Sequence[Judge]) -> dict[str, Any]:
    """{judge: {role: {items, failures, error_kinds[, win, tie, loss, categories]}}} for VLM judges."""
    out: dict[str, Any] = {}
    for judge in judges:
        if judge.name not in VLM_JUDGES:
            continue
        metric = getattr(judge, "primary_metric", next(iter(judge.metrics)))
        per_role: dict[str, Any] = {}
        for role in store.roles():
            rows = [v for v in store.verdicts_for(role, [judge.judge_id()]) if v["metric"] == metric]
            if not rows:
                continue
            kinds = Counter(v["detail"].get("error_kind") or "backend" for v in rows if not v["ok"])
            entry: dict[str, Any] = {"items": len(rows), "failures": sum(kinds.values()),
                                     "error_kinds": dict(kinds.most_common())}
            if judge.name == "vlm-pairwise":
                ok = [v for v in rows if v["ok"]]
                outcomes = Counter(v["detail"].get("outcome") for v in ok)
                entry.update({o: outcomes.get(o, 0) for o in ("win", "tie", "loss")})
                n_ok = len(ok)
                # a tie counts half; the tie rate is reported beside it (None: nothing judged)
                entry["win_rate"] = (entry["win"] + 0.5 * entry["tie"]) / n_ok if n_ok else None
                entry["tie_rate"] = entry["tie"] / n_ok if n_ok else None
                # where the loser failed: the student's failure on a loss, the teacher's on a win
                entry["categories"] = {o: dict(Counter(v["detail"].get("category", "none") for v in ok
                                                       if v["detail"].get("outcome") == o).most_common())
                                       for o in ("loss", "win")}
            per_role[role] = entry
        if per_role:
            out[judge.name] = per_role
    return out


def _cache_key(judge: Judge, pack: Any, n: int, seed: int) -> str:
    return f"{judge.judge_id()}|pack={pack.name}@{pack.hash}|n={n}|seed={seed}"


def calibrate_run(run_dir: Path, pack: Any, judges: Sequence[Judge], n: int, seed: int = 0,
                  retry_failed: bool = False) -> dict[str, Any]:
    """{judge: {accuracy, n, per_defect, failures, ...}} for each VLM judge among `judges`.

    `pack` is the whole pack (not a --limit/--tags selection): every run of it measures the judge
    on the same pairs. A judge with no calibration (vlm-yesno) or no applicable pair gets
    `accuracy: None, n: 0` and a `skipped` reason.
    """
    from judges.vlm.calibration import calibrate

    path = Path(run_dir) / CALIBRATION_FILE
    cache: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    out: dict[str, Any] = {}
    for judge in judges:
        if judge.name not in VLM_JUDGES:
            continue
        if judge.name not in CALIBRATED:
            out[judge.name] = {"accuracy": None, "n": 0, "failures": 0, "per_defect": {},
                               "skipped": f"{judge.name} has no calibration pairs (only {', '.join(CALIBRATED)})"}
            continue
        key = _cache_key(judge, pack, n, seed)
        hit = cache.get(key)
        if hit is not None and not (retry_failed and hit.get("failures")):
            out[judge.name] = {**hit, "cached": True}
            continue
        try:
            report = calibrate(judge, pack, n=n, seed=seed)
        except EvalsuiteError as e:
            if "no pair applies" not in str(e):
                raise
            report = {"judge": judge.name, "judge_id": judge.judge_id(), "accuracy": None, "n": 0, "correct": 0,
                      "failures": 0, "per_defect": {}, "skipped": str(e)}
        report["pack"] = {"name": pack.name, "hash": pack.hash}
        report["pairs_requested"] = n
        report["seed"] = seed
        cache[key] = report
        out[judge.name] = {**report, "cached": False}
    if cache:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache, indent=2), encoding="utf-8")
        tmp.replace(path)
    return out


def calibration_failures(calibration: dict[str, Any]) -> int:
    return sum(int(r.get("failures") or 0) for r in calibration.values())
