"""What a run adds to summary.json for its VLM judges: outcome counts and calibration accuracy.

`breakdown(store, judges)` counts, per VLM judge and role, the judged items, the failures by
`error_kind`, and for a judge with outcomes (vlm-pairwise) the win/tie/loss counts, the win rate (a tie
counts half) with a case-clustered CI, the tie rate, and where the loser failed (the category
histogram). `calibrate_run(...)` judges the pack's fixed calibration
pairs with each selected judge (same backend and settings) and caches the reports in the run's
store (RunStore records, kind "calibration"; runs written before read their calibration.json),
so re-running the same command asks nothing again (`retry_failed` re-asks a judge whose report
had failures). The VLM family (judges.vlm.family) files both into summary.json.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from evalsuite.judge import Judge

logger = logging.getLogger(__name__)

FAMILY = "vlm"


def breakdown(store: Any, judges: Sequence[Judge]) -> dict[str, Any]:
    """{judge: {role: {items, failures, error_kinds[, win, tie, loss, win_rate, win_rate_ci, tie_rate,
    n_cases, categories]}}} for VLM judges."""
    out: dict[str, Any] = {}
    for judge in judges:
        if judge.family != FAMILY:
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
            if getattr(judge, "has_outcomes", False):
                ok = [v for v in rows if v["ok"]]
                outcomes = Counter(v["detail"].get("outcome") for v in ok)
                entry.update({o: outcomes.get(o, 0) for o in ("win", "tie", "loss")})
                entry.update(win_rate_summary(ok))
                # where the loser failed: the student's failure on a loss, the teacher's on a win
                entry["categories"] = {o: dict(Counter(v["detail"].get("category", "none") for v in ok
                                                       if v["detail"].get("outcome") == o).most_common())
                                       for o in ("loss", "win")}
            per_role[role] = entry
        if per_role:
            out[judge.name] = per_role
    return out


_OUTCOME = {"win": 1, "tie": 0, "loss": -1}


def win_rate_summary(ok: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The student's win rate over the judged items (a tie counts half) with its 95% CI resampling
    cases (a case's seeds are not independent), the tie rate beside it, and the case count.
    None where nothing was judged."""
    from evalsuite.stats import clustered_win_rate
    from judges.vlm.viescore import win_score

    rows = [v for v in ok if v["detail"].get("outcome") in _OUTCOME]
    if not rows:
        return {"win_rate": None, "win_rate_ci": None, "tie_rate": None, "n_cases": 0}
    # outcome score vs 0.5: above is a win, equal a tie, below a loss
    wr = clustered_win_rate([win_score(_OUTCOME[v["detail"]["outcome"]]) for v in rows], [0.5] * len(rows),
                            [v["case_id"] for v in rows])
    return {"win_rate": wr.rate, "win_rate_ci": [wr.ci[0], wr.ci[1]], "tie_rate": wr.ties / wr.n,
            "n_cases": len({v["case_id"] for v in rows})}


def _cache_key(judge: Judge, pack: Any, n: int, seed: int) -> str:
    return f"{judge.judge_id()}|pack={pack.name}@{pack.hash}|n={n}|seed={seed}"


def calibrate_run(store: Any, pack: Any, judges: Sequence[Judge], n: int, seed: int = 0,
                  retry_failed: bool = False) -> dict[str, Any]:
    """{judge: {accuracy, n, per_defect, failures, ...}} for each VLM judge among `judges`.

    `pack` is the whole pack (not a --limit/--tags selection): every run of it measures the judge
    on the same pairs. A judge with no calibration (vlm-yesno) or no applicable pair gets
    `accuracy: None, n: 0` and a `skipped` reason. Reports are cached in `store` (a RunStore).
    """
    from judges.vlm.calibration import NoCalibrationPairs, calibrate

    out: dict[str, Any] = {}
    for judge in judges:
        if judge.family != FAMILY:
            continue
        if not getattr(judge, "calibrated", False):
            out[judge.name] = {"accuracy": None, "n": 0, "failures": 0, "per_defect": {},
                               "skipped": f"{judge.name} has no calibration pairs"}
            continue
        key = _cache_key(judge, pack, n, seed)
        hit = store.get_record("calibration", key)
        if hit is not None and not (retry_failed and hit.get("failures")):
            out[judge.name] = {**hit, "cached": True}
            continue
        try:
            report = calibrate(judge, pack, n=n, seed=seed)
        except NoCalibrationPairs as e:
            report = {"judge": judge.name, "judge_id": judge.judge_id(), "accuracy": None, "n": 0, "correct": 0,
                      "failures": 0, "per_defect": {}, "skipped": str(e)}
        report["pack"] = {"name": pack.name, "hash": pack.hash}
        report["pairs_requested"] = n
        report["seed"] = seed
        store.put_record("calibration", key, report)
        out[judge.name] = {**report, "cached": False}
    return out


def calibration_failures(calibration: dict[str, Any]) -> int:
    return sum(int(r.get("failures") or 0) for r in calibration.values())
