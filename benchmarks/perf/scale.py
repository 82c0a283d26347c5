"""Scale-out figures, measured side by side in one run (docs/scale.md):

1. Ray executor overhead vs the local executor at one render worker (goal < 10%);
2. render throughput at 2 Ray workers vs 1, one torch thread each (goal >= 1.7x for a CPU-bound
   model on 2 cores);
3. pipelining: wall time of a pipelined local run vs max(render-only, judge-only) (goal <= 1.15x),
   with the sequential (inline) run beside it;
4. peak RSS of `evalsuite score` on an images folder of --big cases vs --small cases (goal within
   1.2x: memory flat in the pack size).

Every timed run renders into a fresh run directory (nothing cached) except judge-only, which
re-judges renders cached by the render-only run. Defaults: the bundled teacher (16 steps + CFG,
CPU-bound: about a second per image at one thread, so a render task is seconds, not the
milliseconds of Ray's per-task overhead) on the first --cases cases of typography-mini, render
batches of 4 (several tasks per worker); pipelining on --pipeline-cases cases with the pack's
judges, which are CPU-bound on this machine.

    python benchmarks/perf/scale.py [--model CKPT] [--pack P] [--cases N] [--pipeline-cases N]
                                    [--big 5000] [--small 500] [--parts threads,pipeline,ray,rss]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from evalsuite.executors import ExecOptions  # noqa: E402
from evalsuite.runner import RunConfig, run_eval  # noqa: E402


def timed(root: Path, name: str, args: argparse.Namespace, run_dir: Path | None = None,
          judges: list[str] | None = None, model: str | None = None, **exec_kw: Any) -> float:
    """Wall seconds of one run_eval (no teacher), fresh run directory unless `run_dir` is given."""
    cfg = RunConfig(run_dir=run_dir or root / name, pack=args.pack, model=model or args.model, teacher="",
                    limit=args.cases, judges=judges, progress=False,
                    model_opts={"__shared__": {"batch_size": args.batch_size}} if args.batch_size else {},
                    exec=ExecOptions(**exec_kw))
    t0 = time.perf_counter()
    s = run_eval(cfg)
    wall = time.perf_counter() - t0
    print(f"  {name:<34} {wall:7.2f} s  (rendered {s['timing']['rendered']}, judged {s['timing']['judged']})",
          flush=True)
    return wall


def write_folder_pack(root: Path, n: int) -> tuple[Path, Path]:
    """A pack of n one-seed cases and a folder of their images (small, varied), for `score`."""
    import numpy as np
    from PIL import Image

    pack, images = root / f"pack-{n}", root / f"images-{n}"
    pack.mkdir(parents=True)
    images.mkdir()
    (pack / "pack.yaml").write_text(f"name: rss-{n}\nversion: 1\ndescription: peak RSS\njudges: [colorfulness]\n"
                                    "defaults:\n  width: 32\n  height: 32\n  seeds: [0]\n")
    rng = np.random.default_rng(0)
    with (pack / "cases.jsonl").open("w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"c{i:05d}", "kind": "t2i", "prompt": f"case {i}"}) + "\n")
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(images / f"c{i:05d}_s0.png")
    return pack, images


# Runs a command and prints the peak RSS (KB) of its process tree. A small process of its own: a
# child forked straight from this benchmark (torch and Ray loaded) would count our pages until exec.
_RSS_WRAPPER = ("import resource, subprocess, sys; rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")


def peak_rss_mb(pack: Path, images: Path, run_dir: Path) -> tuple[float, float]:
    """(peak RSS in MB of the `evalsuite score` process tree's largest process, wall seconds)."""
    argv = [sys.executable, "-m", "evalsuite.cli.main", "score", "--pack", str(pack), "--images", str(images),
            "--run-dir", str(run_dir), "--json"]
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _RSS_WRAPPER, *argv], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"evalsuite score failed: {out.stderr[-2000:]}")
    return int(out.stdout.split()[-1]) / 1024, wall


def threads_change_pixels(model: str, pack: str, n: int = 4) -> int:
    """How many of n images differ when the same batch renders at 1 and at 2 torch threads."""
    import torch

    from evalsuite.packs import load_pack
    from evalsuite.runner import load_model
    from evalsuite.types import RenderRequest, image_sha256

    cases = load_pack(pack).cases[:n]
    reqs = [RenderRequest(c.id, c.prompt, c.seeds[0], c.width, c.height, None, c.kind) for c in cases]
    from evalsuite.executors import quiet_diffusers

    quiet_diffusers()
    r = load_model(model, {})
    before = torch.get_num_threads()
    hashes = []
    for t in (1, 2):
        torch.set_num_threads(t)
        hashes.append([image_sha256(o.image) for o in r.render(reqs)])
    torch.set_num_threads(before)
    r.close()
    return sum(a != b for a, b in zip(*hashes))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(REPO / "distill" / "models" / "teacher-base"),
                    help="the CPU-bound model of the Ray measurements (default: the bundled teacher; the "
                    "4-step student renders a batch in about 0.3 s, too short to measure Ray workers with)")
    ap.add_argument("--pipeline-model", default=str(REPO / "distill" / "models" / "teacher-base"),
                    help="the model of the pipelining measurement (default: the bundled teacher, whose "
                    "renders take longer than judging them, as in real runs)")
    ap.add_argument("--pack", default="typography-mini")
    ap.add_argument("--cases", type=int, default=6, help="cases of the pack (x its seeds) of the smaller Ray "
                    "runs (the larger ones: 3x)")
    ap.add_argument("--pipeline-cases", type=int, default=16,
                    help="cases of the pack (x its seeds) of the pipelining runs")
    ap.add_argument("--batch-size", type=int, default=4, help="render batch size")
    ap.add_argument("--big", type=int, default=5000)
    ap.add_argument("--small", type=int, default=500)
    ap.add_argument("--parts", default="threads,pipeline,ray,rss", help="which measurements (comma-separated)")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1/5/15 min) on "
          f"{os.cpu_count()} CPUs", flush=True)
    if "threads" in parts:
        diff = threads_change_pixels(args.model, args.pack)
        print(f"pixels at 1 vs 2 torch threads: {diff} of 4 images differ", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        out: dict[str, float] = {}
        if "pipeline" in parts:
            pm = args.pipeline_model
            pargs = argparse.Namespace(**{**vars(args), "cases": args.pipeline_cases})
            print(f"pipelining (local executor, one render thread, {Path(pm).name}, {pargs.cases} cases):", flush=True)
            # untimed: the first run in a process pays one-time imports and file-cache misses, which
            # would inflate whichever timed run came first (render-only, the denominator)
            timed(root, "warm-up (1 case, untimed)", argparse.Namespace(**{**vars(args), "cases": 1}), model=pm,
                  render_threads=1, judge_workers=0)
            out["render"] = timed(root, "render only", pargs, judges=[], model=pm, render_threads=1, judge_workers=0)
            out["judge"] = timed(root, "judge only (renders cached)", pargs, run_dir=root / "render only",
                                 model=pm, render_threads=1, judge_workers=0)
            out["sequential"] = timed(root, "render then judge (inline)", pargs, model=pm, render_threads=1,
                                      judge_workers=0)
            out["pipelined"] = timed(root, "pipelined (1 judge process)", pargs, model=pm, render_threads=1,
                                     judge_workers=1)
        if "ray" in parts:
            from evalsuite.ray_pool import init_ray

            init_ray(None, num_cpus=os.cpu_count())
            # each configuration at two sizes: the difference is the steady-state cost of the extra
            # images, the rest is the fixed start-up (actors start, import torch, load the model)
            small, big = args.cases, 3 * args.cases
            print(f"Ray executor (render only, one thread per worker; {small} and {big} cases):", flush=True)
            for key, kw in (("local1", {}), ("ray1", {"executor": "ray", "workers": 1}),
                            ("ray2", {"executor": "ray", "workers": 2})):
                for size in (small, big):
                    sub = argparse.Namespace(**{**vars(args), "cases": size})
                    out[f"{key}_{size}"] = timed(root, f"{key} {size} cases", sub, judges=[], render_threads=1, **kw)
                out[key] = out[f"{key}_{big}"] - out[f"{key}_{small}"]
        if "rss" in parts:
            print("peak RSS of `evalsuite score` on an images folder:", flush=True)
            for n in (args.small, args.big):
                pack, images = write_folder_pack(root, n)
                rss, wall = peak_rss_mb(pack, images, root / f"score-{n}")
                out[f"rss{n}"] = rss
                print(f"  {n:>6} cases: peak RSS {rss:7.1f} MB  ({wall:.1f} s)", flush=True)
    print("\nratios (goal in brackets):")
    if "pipeline" in parts:
        top = max(out["render"], out["judge"])
        print(f"  pipelined / max(render-only, judge-only): {out['pipelined'] / top:.3f}x [<= 1.15x]; "
              f"sequential / max: {out['sequential'] / top:.3f}x")
    if "ray" in parts:
        small, big = args.cases, 3 * args.cases
        print(f"  Ray overhead vs local at 1 worker, steady state (the extra {big - small} cases): "
              f"{100 * (out['ray1'] / out['local1'] - 1):+.1f}% [< 10%]; fixed start-up "
              f"{out[f'ray1_{small}'] - out[f'local1_{small}'] - (out['ray1'] - out['local1']) / 2:.1f} s")
        print(f"  throughput 2 Ray workers vs 1, steady state: {out['ray1'] / out['ray2']:.2f}x [>= 1.7x]")
    if "rss" in parts:
        print(f"  peak RSS {args.big} vs {args.small} cases: {out[f'rss{args.big}'] / out[f'rss{args.small}']:.3f}x "
              "[<= 1.2x]")
    print(f"load at the end: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
