"""Evaluation overhead on training: student steps/s in windows while a sweep evaluated a
checkpoint vs windows while it was idle (from train_log.jsonl and sweep.json timestamps).

Command: python -m distill.overhead distill/runs/student-default runs/sweep-student-default
"""

from __future__ import annotations

import json
import statistics
import sys
from datetime import datetime
from pathlib import Path


def overhead(train_dir: Path, sweep_dir: Path) -> dict[str, float | int]:
    log = [json.loads(line) for line in (train_dir / "train_log.jsonl").read_text().splitlines()]
    start = (train_dir / "train_log.jsonl").stat().st_mtime - log[-1]["time"]
    sweep = json.loads((sweep_dir / "sweep.json").read_text())
    busy = []
    for c in sweep["checkpoints"]:
        end = datetime.fromisoformat(c["evaluated"]).timestamp()
        busy.append((end - c["eval_s"], end))
    on, off = [], []
    prev_t = 0.0
    for rec in log[1:]:
        t0, t1 = start + prev_t, start + rec["time"]
        prev_t = rec["time"]
        overlap = sum(max(0.0, min(t1, b1) - max(t0, b0)) for b0, b1 in busy)
        (on if overlap > 0.5 * (t1 - t0) else off).append(rec["steps_per_s"])
    res: dict[str, float | int] = {"windows_with_eval": len(on), "windows_without": len(off)}
    if on and off:
        res["steps_per_s_with_eval"] = round(statistics.median(on), 4)
        res["steps_per_s_without"] = round(statistics.median(off), 4)
        res["slowdown"] = round(1 - res["steps_per_s_with_eval"] / res["steps_per_s_without"], 3)
    return res


if __name__ == "__main__":
    print(json.dumps(overhead(Path(sys.argv[1]), Path(sys.argv[2])), indent=2))
