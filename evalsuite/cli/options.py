"""Shared CLI option parsing: key=value options, judge options, default run directories."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from evalsuite.types import EvalsuiteError


def parse_value(v: str) -> Any:
    """'4' -> 4, '1.5' -> 1.5, 'true' -> True, '[1,2]' -> [1, 2], otherwise the string."""
    try:
        return json.loads(v)
    except json.JSONDecodeError:
        return v


def parse_kv(pairs: list[str] | None, flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in pairs or []:
        if "=" not in p:
            raise EvalsuiteError(f"{flag} '{p}': expected KEY=VALUE")
        k, v = p.split("=", 1)
        out[k.strip()] = parse_value(v)
    return out


def parse_judge_opts(pairs: list[str] | None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for k, v in parse_kv(pairs, "--judge-opt").items():
        if "." not in k:
            raise EvalsuiteError(f"--judge-opt '{k}': expected JUDGE.KEY=VALUE, e.g. ocr.backend=tesseract")
        judge, key = k.split(".", 1)
        out.setdefault(judge, {})[key] = v
    return out


def split_list(s: str | None) -> list[str] | None:
    if s is None:
        return None
    items = [x.strip() for x in s.split(",") if x.strip()]
    return items or None


def slug(s: str) -> str:
    name = Path(s.rstrip("/")).name if ("/" in s or Path(s).exists()) else s
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "model"


def default_run_dir(runs_root: str, pack: str, model: str | None, teacher: str | None) -> Path:
    """Deterministic, so re-running the same command resumes the same run."""
    name = f"{slug(pack)}__{slug(model) if model else 'bundled-student'}"
    if teacher:
        name += f"__vs__{slug(teacher)}"
    return Path(runs_root) / name


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("sampler (student = --model, teacher = --teacher)")
    g.add_argument("--steps", type=int, help="student num_inference_steps (default: the checkpoint's sampler.json)")
    g.add_argument("--teacher-steps", type=int, help="teacher num_inference_steps")
    g.add_argument("--guidance", type=float, help="student guidance (true_cfg_scale for Qwen-Image)")
    g.add_argument("--teacher-guidance", type=float)
    g.add_argument("--shift", type=float, help="flow-matching scheduler shift (both models)")
    g.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], help="both models")
    g.add_argument("--device", help="cpu, cuda, cuda:1 ... (both models)")
    g.add_argument("--batch-size", type=int, help="render batch size (both models)")
    g.add_argument("--lora", help="LoRA weights applied to the student (e.g. a Lightning LoRA on a base)")
    g.add_argument("--lora-scale", type=float)
    g.add_argument("--model-opt", action="append", metavar="KEY=VALUE", help="any other student renderer option")
    g.add_argument("--teacher-opt", action="append", metavar="KEY=VALUE", help="any other teacher renderer option")


def model_opts(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    common: dict[str, Any] = {}
    for key, val in (("shift", args.shift), ("dtype", args.dtype), ("device", args.device),
                     ("batch_size", args.batch_size)):
        if val is not None:
            common[key] = val
    common.update(placement_model_opts(args))
    # options for both models go under SHARED: each renderer takes those it declares (an image
    # folder has no --device); the per-model ones below are checked strictly by their renderer
    from evalsuite.renderers.base import SHARED

    student: dict[str, Any] = {SHARED: dict(common)} if common else {}
    teacher: dict[str, Any] = {SHARED: dict(common)} if common else {}
    if args.steps is not None:
        student["num_inference_steps"] = args.steps
    if args.teacher_steps is not None:
        teacher["num_inference_steps"] = args.teacher_steps
    if args.guidance is not None:
        student["guidance_scale"] = args.guidance
    if args.teacher_guidance is not None:
        teacher["guidance_scale"] = args.teacher_guidance
    if args.lora:
        student["lora"] = args.lora
    if args.lora_scale is not None:
        student["lora_scale"] = args.lora_scale
    student.update(parse_kv(args.model_opt, "--model-opt"))
    teacher.update(parse_kv(args.teacher_opt, "--teacher-opt"))
    return student, teacher


def add_judge_arguments(p: argparse.ArgumentParser, run: bool = False) -> None:
    """--judges, --judge-opt and every judge family's flags (run=True: also the run-only ones)."""
    from evalsuite.family import families

    p.add_argument("--judges", help="comma-separated judge names (default: the pack's judges)")
    p.add_argument("--judge-opt", action="append", metavar="JUDGE.KEY=VALUE",
                   help="judge option, e.g. ocr.backend=tesseract, flatbg.grid_min_amp=1")
    for fam in families():
        fam.add_arguments(p, run=run)


def family_calibrate(args: argparse.Namespace, judge_names: list[str]) -> int | None:
    """The calibration pairs a family's flags request (at most one family may ask)."""
    from evalsuite.family import families

    counts = [n for fam in families() if (n := fam.calibrate_count(args, judge_names)) is not None]
    return max(counts) if counts else None


def judge_options(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """--judge-opt options, plus the options family flags give each member judge (explicit wins)."""
    from evalsuite.family import families
    from evalsuite.registry import JUDGES

    opts = parse_judge_opts(args.judge_opt)
    for fam in families():
        common = fam.judge_options(args)
        if not common:
            continue
        for name in JUDGES.names():
            if fam.is_member(name):
                opts[name] = {**common, **opts.get(name, {})}
    return opts


def add_selection_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limit", type=int, help="only the first N cases")
    p.add_argument("--tags", help="only cases with any of these comma-separated tags")
    p.add_argument("--runs-root", default="runs", help="parent of default run directories (default: runs)")
    p.add_argument("--run-dir", help="run directory (default: RUNS_ROOT/<pack>__<model>[__vs__<teacher>])")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout, no progress bars")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--retry-failed", action="store_true", help="re-judge verdicts that failed before")
    p.add_argument("--ci", choices=["percentile", "bca"], default="percentile", dest="ci_method",
                   help="summary CIs (both resample cases): percentile (default) or bca")


def add_executor_arguments(p: argparse.ArgumentParser) -> None:
    """Where and how the run executes (docs/scale.md); none of these changes a result."""
    g = p.add_argument_group("execution (docs/scale.md)")
    g.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: this machine, judges pipelined beside the renderer (default); "
                   "ray: render and judge actors on a Ray cluster (pip install 'evalsuite[ray]')")
    g.add_argument("--ray-address", help="Ray cluster: auto, ray://HOST:10001 or HOST:PORT "
                   "(default: start a local cluster with this machine's CPUs)")
    g.add_argument("--workers", type=int, help="ray: render actors per model (default: one per GPU, "
                   "else the CPUs not taken by judge workers)")
    g.add_argument("--judge-workers", type=int, help="judge processes (local) or actors (ray); "
                   "0 judges in the driver after each render batch (default: 1)")
    g.add_argument("--gpus-per-worker", type=float, default=1.0,
                   help="ray: GPUs per render actor; above 1 the pipeline is spread with device_map")
    g.add_argument("--cpus-per-worker", type=float, default=1.0, help="ray: CPUs per render actor without GPUs")
    g.add_argument("--cpu-offload", action="store_true",
                   help="diffusers model CPU offload (a model larger than one GPU's memory)")
    g.add_argument("--shared-dir", help="ray: a folder every node sees; workers write images there "
                   "and only hashes travel back")
    g.add_argument("--render-threads", type=int, help="torch threads per renderer on CPU (default 1, "
                   "on any machine: CPU pixels depend on it, so another number is part of the render key)")


def exec_options(args: argparse.Namespace) -> Any:
    """ExecOptions from the execution flags (one-line errors for impossible values)."""
    from evalsuite.executors import ExecOptions

    for flag in ("workers", "judge_workers", "render_threads"):
        v = getattr(args, flag, None)
        if v is not None and v < (0 if flag == "judge_workers" else 1):
            raise EvalsuiteError(f"--{flag.replace('_', '-')} {v}: must be at least "
                                 f"{0 if flag == 'judge_workers' else 1}")
    if args.gpus_per_worker <= 0 or args.cpus_per_worker <= 0:
        raise EvalsuiteError("--gpus-per-worker and --cpus-per-worker must be > 0")
    if args.executor != "ray":
        for flag in ("ray_address", "workers", "shared_dir"):
            if getattr(args, flag, None) is not None:
                raise EvalsuiteError(f"--{flag.replace('_', '-')} needs --executor ray")
    return ExecOptions(executor=args.executor, judge_workers=args.judge_workers,
                       render_threads=args.render_threads, ray_address=args.ray_address,
                       workers=args.workers, gpus_per_worker=args.gpus_per_worker,
                       cpus_per_worker=args.cpus_per_worker, shared_dir=args.shared_dir)


def placement_model_opts(args: argparse.Namespace) -> dict[str, Any]:
    """Renderer options that place a large model: several GPUs (device_map) or CPU offload."""
    out: dict[str, Any] = {}
    if getattr(args, "gpus_per_worker", 1.0) > 1:
        out["device_map"] = "balanced"
    if getattr(args, "cpu_offload", False):
        out["cpu_offload"] = True
    return out
