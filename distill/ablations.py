"""Summarise the ablation sweeps: per-checkpoint curves and, per recipe factor, paired deltas of the
final checkpoints against the default recipe (95% bootstrap CIs over the same cases and seeds).

Command: python -m distill.ablations [--sweeps distill/results/sweeps] [--prefix typo]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from distill.evaluate_bundled import KEY_METRICS, paired

FACTORS = {
    "data (clean-only vs mixed)": "ablate-clean",
    "teachers (single vs step-wise multi-teacher)": "ablate-single",
    "tasks (T2I-only vs 50:50)": "ablate-t2i",
    "tasks (edit-only vs 50:50)": "ablate-edit",
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sweeps", default="distill/results/sweeps")
    p.add_argument("--prefix", default="typo")
    args = p.parse_args(argv)
    root = Path(args.sweeps)
    out: dict = {"curves": {}, "factors": {}}
    finals: dict[str, Path] = {}
    for d in sorted(root.glob(f"{args.prefix}-*")):
        f = d / "sweep.json"
        if not f.is_file():
            continue
        sweep = json.loads(f.read_text())
        recipe = d.name.removeprefix(f"{args.prefix}-")
        out["curves"][recipe] = [
            {"step": c["step"], **{m: c["metrics"].get(m, {}).get("mean") for m in KEY_METRICS}}
            for c in sweep["checkpoints"]]
        if sweep["checkpoints"]:
            finals[recipe] = d / sweep["checkpoints"][-1]["run_dir"]
    lines = []
    for factor, recipe in FACTORS.items():
        if recipe not in finals or "default" not in finals:
            continue
        res = {}
        for metric, hib in KEY_METRICS.items():
            d = _paired_dirs(finals[recipe], finals["default"], metric)
            if d is None:
                continue
            outside = d["ci"][0] > 0 or d["ci"][1] < 0
            res[metric] = {**d, "higher_is_better": hib, "significant": outside,
                           "ablation_better": outside and ((d["mean"] > 0) == hib)}
            lines.append(f"| {factor} | {metric} | {d['mean']:+.4g} [{d['ci'][0]:+.4g}, {d['ci'][1]:+.4g}] "
                         f"| {d['n']} | {'yes' if outside else 'no'} |")
        out["factors"][factor] = {"ablation": recipe, "vs": "default", "deltas": res}
    (root / f"{args.prefix}-ablations.json").write_text(json.dumps(out, indent=2) + "\n")
    table = ["| factor | metric | ablation − default (95% CI) | n | outside CI |", "|---|---|---|---|---|"] + lines
    (root / f"{args.prefix}-ablations.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))
    for recipe, pts in out["curves"].items():
        print(recipe, [(pt["step"], pt.get("fidelity.psnr"), pt.get("flatbg.color_error")) for pt in pts])
    return 0


def _paired_dirs(a: Path, b: Path, metric: str) -> dict | None:
    """paired() over two run directories that live in different parents."""
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(a.resolve(), Path(tmp) / "a")
        os.symlink(b.resolve(), Path(tmp) / "b")
        return paired(Path(tmp), "a", "b", metric)


if __name__ == "__main__":
    raise SystemExit(main())
