"""The students' sweeps beside their same-cost baselines, the recipe-factor table, and the choice
of the bundled student on the selection seeds.

  baselines  render, on the selection pack, the teacher at full steps (the sweeps' --teacher),
             at 4 NFE without CFG (the same cost as a 4-NFE student) and at 4 steps with CFG:
             folders with the teacher's weights and their own sampler.json, swept like checkpoints
  report     every checkpoint of every recipe against the same-cost teacher, each factor's final
             checkpoint against default's (case-clustered 95% CIs), and with --select the
             checkpoint with the best strict OCR exact match (then the lowest flat-background
             sigma) bundled as the student; typography-mini (other seeds) then reports it

Command: python -m distill.sweeps baselines --pack typography-mini-select --out distill/results/sweeps/baselines
         python -m distill.sweeps report --sweeps distill/results/sweeps [--select distill/models/student]
(scripts/distill_all.sh students runs both.)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from distill.evaluate_bundled import KEY_METRICS, STRICT_OCR, TEACHER, paired

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
BASELINES = {"teacher-4-nocfg": {"num_inference_steps": 4, "guidance_scale": 1.0},
             "teacher-4": {"num_inference_steps": 4, "guidance_scale": 3.0}}
SAME_COST = "teacher-4-nocfg"
FACTORS = {  # factor -> (recipe, what it changes against default)
    "objective (score vs trajectory)": "score",
    "data (clean-only vs mixed, equal budget)": "ablate-clean",
    "budget (64 vs 256 samples, mixed)": "ablate-budget",
}
SELECT_METRICS = ("ocr.exact_match", "flatbg.sigma")


def baselines(pack: str, out: Path, teacher: Path = TEACHER, tags: list[str] | None = None) -> None:
    """Sweep the teacher's same-cost and CFG baselines (folders with its weights and their own
    sampler.json) beside the teacher at full steps."""
    from evalsuite.sweep import SweepConfig, run_sweep

    folders = REPO / "distill" / "runs" / "baselines"
    for name, sampler in BASELINES.items():
        d = folders / name
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(teacher, d)
        (d / "sampler.json").write_text(json.dumps(sampler, indent=2) + "\n")
        (d / "train_config.json").unlink(missing_ok=True)
    run_sweep(SweepConfig(checkpoints=folders, sweep_dir=out, pack=pack, teacher=str(teacher),
                          tags=tags or ["quick"], judge_opts={"ocr": dict(STRICT_OCR)},
                          model_opts={"batch_size": 16}))


def _pair(a: Path, b: Path, metric: str) -> dict[str, Any] | None:
    """evaluate_bundled.paired() over two run directories that live in different parents."""
    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(a.resolve(), Path(tmp) / "a")
        os.symlink(b.resolve(), Path(tmp) / "b")
        return paired(Path(tmp), "a", "b", metric)


def _line(label: str, metric: str, d: dict[str, Any], hib: bool) -> str:
    outside = d["ci"][0] > 0 or d["ci"][1] < 0
    verdict = "no difference shown" if not outside else (
        "better" if (d["mean"] > 0) == hib else "worse")
    return (f"| {label} | {metric} | {d['mean']:+.4g} [{d['ci'][0]:+.4g}, {d['ci'][1]:+.4g}] "
            f"| {d['cases']} / {d['n']} | {verdict} |")


def report(root: Path, select: Path | None) -> dict[str, Any]:
    base_dir = root / "baselines"
    same_cost = base_dir / SAME_COST
    out: dict[str, Any] = {"checkpoints": {}, "factors": {}, "selected": None}
    lines = ["| checkpoint | metric | − same-cost teacher (95% CI, clustered) | cases / images | |",
             "|---|---|---|---|---|"]
    finals: dict[str, Path] = {}
    candidates: list[tuple[tuple[float, float], str, dict[str, Any]]] = []
    for recipe in ["default", *FACTORS.values()]:
        f = root / recipe / "sweep.json"
        if not f.is_file():
            continue
        sweep = json.loads(f.read_text())
        for c in sweep["checkpoints"]:
            run = root / recipe / c["run_dir"]
            deltas = {}
            for metric, hib in KEY_METRICS.items():
                d = _pair(run, same_cost, metric) if same_cost.is_dir() else None
                if d is not None:
                    deltas[metric] = d
                    if metric in SELECT_METRICS:
                        lines.append(_line(f"{recipe} step {c['step']}", metric, d, hib))
            out["checkpoints"][f"{recipe}/{c['name']}"] = {
                "step": c["step"], "checkpoint": c["checkpoint"], "vs_same_cost": deltas,
                "means": {m: c["metrics"].get(m, {}).get("mean") for m in KEY_METRICS}}
            ocr = c["metrics"].get("ocr.exact_match", {}).get("mean")
            sigma = c["metrics"].get("flatbg.sigma", {}).get("mean")
            if ocr is not None and sigma is not None and c["step"] > 0:
                candidates.append(((ocr, -sigma), f"{recipe}/{c['name']}", c))
        if sweep["checkpoints"]:
            finals[recipe] = root / recipe / sweep["checkpoints"][-1]["run_dir"]
    flines = ["| factor | metric | recipe − default, final checkpoints (95% CI, clustered) | cases / images | |",
              "|---|---|---|---|---|"]
    for factor, recipe in FACTORS.items():
        if recipe not in finals or "default" not in finals:
            continue
        res = {}
        for metric, hib in KEY_METRICS.items():
            d = _pair(finals[recipe], finals["default"], metric)
            if d is not None:
                res[metric] = d
                flines.append(_line(factor, metric, d, hib))
        out["factors"][factor] = {"recipe": recipe, "vs": "default", "deltas": res}
    if select is not None and candidates:
        from distill.bundle import bundle

        candidates.sort(key=lambda t: t[0], reverse=True)
        (ocr, neg_sigma), name, c = candidates[0]
        bundle(Path(c["checkpoint"]), select)
        meta = json.loads((select / "train_config.json").read_text())
        meta["selected_on"] = {"sweeps": str(root), "pack": "typography-mini-select",
                               "rule": "highest strict OCR exact match, then lowest flatbg.sigma, "
                                       "over every checkpoint after step 0",
                               "ocr.exact_match": ocr, "flatbg.sigma": -neg_sigma, "name": name}
        (select / "train_config.json").write_text(json.dumps(meta, indent=2) + "\n")
        out["selected"] = meta["selected_on"]
    (root / "report.json").write_text(json.dumps(out, indent=2) + "\n")
    text = "\n".join(lines) + "\n\n" + "\n".join(flines) + "\n"
    if out["selected"]:
        text += f"\nselected: {out['selected']['name']} (on the selection seeds)\n"
    (root / "report.md").write_text(text)
    from rich.console import Console
    Console(soft_wrap=True).print(text, markup=False)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="verb", required=True)
    b = sub.add_parser("baselines")
    b.add_argument("--pack", default="typography-mini-select")
    b.add_argument("--out", default="distill/results/sweeps/baselines")
    b.add_argument("--tags", default="quick", help="comma-separated case tags (default: quick)")
    r = sub.add_parser("report")
    r.add_argument("--sweeps", default="distill/results/sweeps")
    r.add_argument("--select", default=None, help="bundle the chosen checkpoint here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import torch
    torch.set_num_threads(1)
    if args.verb == "baselines":
        baselines(args.pack, Path(args.out), tags=args.tags.split(","))
    else:
        report(Path(args.sweeps), Path(args.select) if args.select else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
