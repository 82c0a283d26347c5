"""Measure the bundled student beside its same-cost baselines, on the same cases and seeds:
the teacher at full steps, the teacher at the student's NFE without CFG (the same cost: the
baseline every conclusion is drawn against), the teacher at the student's steps with CFG (twice
the NFE), and the student's step-0 checkpoint (before any distillation), plus latency.

Runs go through the ordinary evalsuite runner (one run directory per role under --out) with the
strict OCR judge (case and punctuation count); the teacher's full-step images are exported once
and every other role is compared with them (fidelity = distance to the teacher). Paired deltas
(student - each baseline) come with 95% case-clustered bootstrap CIs (evalsuite.stats.two_stage_keyed_delta: cases
resampled, seeds nested). Roles can run in parallel processes (`--only ROLE`); `--report` then
only aggregates.

Command (what docs/distill.md reports):
  python -m distill.evaluate_bundled --only teacher-full &   # then, once it has exported:
  python -m distill.evaluate_bundled --only teacher-4 & python -m distill.evaluate_bundled --only student & ...
  python -m distill.evaluate_bundled --report --latency
(scripts/distill_all.sh evaluate runs exactly this.)
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
TEACHER = REPO / "distill" / "models" / "teacher-base"
STUDENT = REPO / "distill" / "models" / "student"
STRICT_OCR = {"casefold": False, "punctuation": "keep"}   # "Sale" != "SALE", "SALE!" != "SALE"
KEY_METRICS = {  # metric -> higher is better
    "ocr.exact_match": True, "ocr.word_recall": True, "flatbg.color_error": False,
    "ocr.ned": True, "flatbg.sigma": False, "fidelity.psnr": True, "fidelity.ssim": True,
    "fidelity.preservation": True,
}


def roles(teacher: Path, student: Path, nfe: int,
          step0: tuple[Path, dict[str, Any]] | None) -> dict[str, tuple[Path, dict[str, Any]]]:
    out = {
        "teacher-full": (teacher, {}),                                       # sampler.json defaults
        f"teacher-{nfe}-nocfg": (teacher, {"num_inference_steps": nfe, "guidance_scale": 1.0}),
        f"teacher-{nfe}": (teacher, {"num_inference_steps": nfe}),           # + CFG: 2*nfe NFE
        "student": (student, {}),                                            # nfe steps, no CFG
    }
    if step0 is not None:
        out["student-step0"] = step0
    return out


def step0_of(student: Path) -> tuple[Path, dict[str, Any]] | None:
    """The student's step-0 checkpoint: the EMA at step 0 is its recipe's init, so it is that
    folder at the student's sampler settings (for an init of teacher-base, the same images as the
    same-cost teacher: a determinism check as well as a baseline)."""
    meta_f, sampler_f = student / "train_config.json", student / "sampler.json"
    if not (meta_f.is_file() and sampler_f.is_file()):
        return None
    init = json.loads(meta_f.read_text()).get("config", {}).get("init")
    if not init:
        return None
    p = Path(init) if Path(init).is_absolute() else REPO / init
    return p, json.loads(sampler_f.read_text())


def run_role(name: str, ckpt: Path, opts: dict[str, Any], out: Path, pack: str,
             limit: int | None, only_judges: list[str] | None = None) -> dict[str, Any]:
    from evalsuite.runner import RunConfig, run_eval
    from evalsuite.sweep import export_images

    export = out / "teacher-full" / "by-case"
    if name == "teacher-full":
        judges, teacher = ["ocr", "flatbg", "diversity"], None
    else:
        while not (export / "DONE").is_file():
            logger.info("waiting for the teacher's full-step images in %s", export)
            time.sleep(15)
        judges, teacher = ["ocr", "flatbg", "fidelity", "diversity"], f"images:{export}"
    if only_judges:
        judges = [j for j in judges if j in only_judges]
    t0 = time.time()
    summary = run_eval(RunConfig(run_dir=out / name, pack=pack, model=str(ckpt), teacher=teacher,
                                 model_opts={**opts, "batch_size": 16}, judges=judges, limit=limit, progress=False,
                                 judge_opts={"ocr": dict(STRICT_OCR)},
                                 command=f"python -m distill.evaluate_bundled --only {name}"))
    if name == "teacher-full":
        n = export_images(out / name, "student", export)
        (export / "DONE").write_text(str(n))
    logger.info("%s evaluated in %.0fs", name, time.time() - t0)
    return summary


def role_values(out: Path, role: str, metric: str) -> dict[tuple[str, int], float]:
    """(case, seed) -> value of one metric in one role's run (current verdicts, failures left out)."""
    from evalsuite.store import RunStore

    store = RunStore(out / role)
    try:
        return {(v["case_id"], v["seed"]): v["value"] for v in store.verdicts_for("student")
                if f"{v['judge']}.{v['metric']}" == metric and v["ok"] and v["value"] is not None}
    finally:
        store.close()


def paired(out: Path, a: str, b: str, metric: str) -> dict[str, Any] | None:
    """Paired mean difference a - b over (case, seed) with its 95% case-clustered bootstrap CI."""
    from evalsuite.stats import two_stage_keyed_delta

    d = two_stage_keyed_delta(role_values(out, a, metric), role_values(out, b, metric))
    if d.n_images == 0:
        return None
    return {"mean": round(d.mean, 5), "ci": [round(d.lo, 5), round(d.hi, 5)], "n": d.n_images, "cases": d.n_cases}


def latency(ckpt: Path, opts: dict[str, Any], n: int = 10) -> dict[str, float]:
    """Median ms per image at batch 1 (one thread), after one warm-up call."""
    import torch

    from distill.pipeline import TinyFlowPipeline

    torch.set_num_threads(1)
    pipe = TinyFlowPipeline.from_pretrained(ckpt)
    sampler = json.loads((ckpt / "sampler.json").read_text())
    sampler.update({k: v for k, v in opts.items() if k in ("num_inference_steps", "guidance_scale")})
    prompt = ['"SALE" in large red bold letters on a white background, center']
    times = []
    for i in range(n + 1):
        t0 = time.perf_counter()
        pipe(prompt, generator=[torch.Generator().manual_seed(i)], **sampler)
        if i:
            times.append((time.perf_counter() - t0) * 1000)
    nfe = sampler["num_inference_steps"] * (2 if sampler["guidance_scale"] > 1 else 1)
    return {"ms_median": round(statistics.median(times), 2), "ms_min": round(min(times), 2),
            "nfe": nfe, "n": n}


def report(out: Path, names: list[str], nfe: int, lat: dict[str, Any] | None) -> dict[str, Any]:
    res: dict[str, Any] = {"roles": {}, "deltas": {}, "latency": lat}
    for name in names:
        f = out / name / "summary.json"
        if not f.is_file():
            continue
        s = json.loads(f.read_text())
        res["roles"][name] = {k: {kk: m.get(kk) for kk in ("mean", "ci", "n", "failures")}
                              for k, m in s["metrics"].get("student", {}).items()}
    base = f"teacher-{nfe}"
    # the same-cost teacher (no CFG) first: conclusions are drawn against it
    for other in (f"{base}-nocfg", base, "teacher-full", *[n for n in names if n.startswith("student-")]):
        if "student" in res["roles"] and other in res["roles"]:
            for metric, hib in KEY_METRICS.items():
                d = paired(out, "student", other, metric)
                if d is None:
                    continue
                better = d["ci"][0] > 0 if hib else d["ci"][1] < 0
                res["deltas"].setdefault(f"student-vs-{other}", {})[metric] = {
                    **d, "higher_is_better": hib, "student_better_outside_ci": better}
    (out / "results.json").write_text(json.dumps(res, indent=2) + "\n")
    lines = ["| metric | " + " | ".join(res["roles"]) + " |",
             "|---|" + "---|" * len(res["roles"])]
    for metric in KEY_METRICS:
        row = []
        for name in res["roles"]:
            m = res["roles"][name].get(metric)
            row.append(f"{m['mean']:.4g} [{m['ci'][0]:.4g}, {m['ci'][1]:.4g}] n={m['n']}" if m else "—")
        lines.append(f"| {metric} | " + " | ".join(row) + " |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps(res["deltas"], indent=1))
    if lat:
        print(json.dumps(lat, indent=1))
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", default=str(TEACHER))
    p.add_argument("--student", default=str(STUDENT))

    p.add_argument("--pack", default="typography-mini")
    p.add_argument("--out", default=str(REPO / "distill" / "results" / "bundled"))
    p.add_argument("--nfe", type=int, default=4)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--judges", default=None, help="comma-separated subset of the roles' judges")
    p.add_argument("--only", help="evaluate only this role (run roles in parallel processes)")
    p.add_argument("--report", action="store_true", help="only aggregate existing runs")
    p.add_argument("--latency", action="store_true", help="also time batch-1 renders")
    p.add_argument("--extra", action="append", default=[], metavar="NAME=CKPT",
                   help="another student-like role at its own sampler defaults (repeatable)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import torch
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rs = roles(Path(args.teacher), Path(args.student), args.nfe, step0_of(Path(args.student)))
    for spec in args.extra:
        name, _, ckpt = spec.partition("=")
        rs[name] = (Path(ckpt), {})
    if not args.report:
        todo = [args.only] if args.only else list(rs)
        for name in todo:
            ckpt, opts = rs[name]
            run_role(name, ckpt, opts, out, args.pack, args.limit,
                     args.judges.split(",") if args.judges else None)
    lat = None
    if args.latency:
        lat = {name: latency(ckpt, opts) for name, (ckpt, opts) in rs.items()}
        full, stu = lat["teacher-full"], lat["student"]
        lat["speedup_teacher_full_over_student"] = round(full["ms_median"] / stu["ms_median"], 2)
        lat["ideal_nfe_ratio"] = round(full["nfe"] / stu["nfe"], 2)
    if args.report or not args.only:
        report(out, list(rs), args.nfe, lat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
