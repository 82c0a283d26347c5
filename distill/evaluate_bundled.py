"""Measure the bundled models for issue 3: teacher at full steps vs teacher at the student's step
count (no distillation) vs the distilled student, on the same cases and seeds, plus latency.

Runs go through the ordinary evalsuite runner (one run directory per role under --out); the
teacher's full-step images are exported once and every other role is compared with them
(fidelity = distance to the teacher). Paired deltas (student - teacher@4) come with 95% bootstrap
CIs (evalsuite.stats). Roles can run in parallel processes (`--only ROLE`); `--report` then only
aggregates.

Command (what docs/distill.md reports):
  python -m distill.evaluate_bundled --only teacher-full &   # then, once it has exported:
  python -m distill.evaluate_bundled --only teacher-4 & python -m distill.evaluate_bundled --only student & ...
  python -m distill.evaluate_bundled --report --latency
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
KEY_METRICS = {  # metric -> higher is better
    "ocr.word_recall": True, "ocr.exact_match": True, "flatbg.color_error": False,
    "ocr.ned": True, "flatbg.sigma": False, "fidelity.psnr": True, "fidelity.ssim": True,
    "fidelity.preservation": True,
}


def roles(teacher: Path, student: Path, nfe: int) -> dict[str, tuple[Path, dict[str, Any]]]:
    return {
        "teacher-full": (teacher, {}),                                       # sampler.json defaults
        f"teacher-{nfe}": (teacher, {"num_inference_steps": nfe}),           # + CFG: 2*nfe NFE
        f"teacher-{nfe}-nocfg": (teacher, {"num_inference_steps": nfe, "guidance_scale": 1.0}),
        "student": (student, {}),                                            # nfe steps, no CFG
    }


def run_role(name: str, ckpt: Path, opts: dict[str, Any], out: Path, pack: str,
             limit: int | None) -> dict[str, Any]:
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
    t0 = time.time()
    summary = run_eval(RunConfig(run_dir=out / name, pack=pack, model=str(ckpt), teacher=teacher,
                                 model_opts={**opts, "batch_size": 16}, judges=judges, limit=limit, progress=False,
                                 command=f"python -m distill.evaluate_bundled --only {name}"))
    if name == "teacher-full":
        n = export_images(out / name, "student", export)
        (export / "DONE").write_text(str(n))
    logger.info("%s evaluated in %.0fs", name, time.time() - t0)
    return summary


def paired(out: Path, a: str, b: str, metric: str) -> dict[str, Any] | None:
    """Paired mean difference a - b over (case, seed) with its 95% bootstrap CI resampling cases."""
    from evalsuite.compare import load_run
    from evalsuite.stats import paired_keyed_delta

    vals = {role: load_run(out / role).values("student", metric) for role in (a, b)}
    keys = sorted(set(vals[a]) & set(vals[b]))
    if not keys:
        return None
    ci = paired_keyed_delta(vals[a], vals[b], keys)
    return {"mean": round(ci.mean, 5), "ci": [round(ci.lo, 5), round(ci.hi, 5)], "n": len(keys),
            "n_cases": ci.n_cases}


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
    for other in (base, f"{base}-nocfg", "teacher-full", *[n for n in names if n.startswith("student-")]):
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
    rs = roles(Path(args.teacher), Path(args.student), args.nfe)
    for spec in args.extra:
        name, _, ckpt = spec.partition("=")
        rs[name] = (Path(ckpt), {})
    if not args.report:
        todo = [args.only] if args.only else list(rs)
        for name in todo:
            ckpt, opts = rs[name]
            run_role(name, ckpt, opts, out, args.pack, args.limit)
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
