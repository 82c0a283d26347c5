"""Flat-background judge throughput, beside a plain numpy residual-std baseline and skimage's
estimate_sigma on the same images.

    python benchmarks/perf/flatbg_speed.py [--size 1024] [--n 8] [--rounds 3] [--workers 1]

--workers N > 1 also times the judge in a process pool of N workers (one judge per process).
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from evalsuite.runner import judge_verdicts
from evalsuite.types import BackgroundSpec, Case, JudgeInput, image_sha256
from judges import noise
from judges.flatbg import FlatBackgroundJudge


def make_images(n: int, size: int) -> list[tuple[Image.Image, tuple[int, int, int], float]]:
    """Flat colour + Gaussian noise (sigma 1..20) + a line of text."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        color = tuple(int(v) for v in rng.integers(40, 215, 3))
        sigma = float(np.linspace(1, 20, n)[i])
        im = Image.new("RGB", (size, size), color)
        d = ImageDraw.Draw(im)
        try:
            f = ImageFont.truetype("DejaVuSans-Bold.ttf", size // 8)
        except OSError:
            f = ImageFont.load_default(size // 8)
        d.text((size // 10, size // 3), f"Sample {i}", font=f, fill=(255 - color[0], 255 - color[1], 255 - color[2]))
        a = np.asarray(im, np.float64) + rng.normal(0, sigma, (size, size, 3))
        out.append((Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8)), color, sigma))
    return out


def _judge_one(args: tuple[bytes, tuple[int, int], tuple[int, int, int]]) -> float:
    raw, size, color = args
    im = Image.frombytes("RGB", size, raw)
    case = Case(id="c", kind="t2i", prompt="p", seeds=(0,), background=BackgroundSpec(color=color))
    v = judge_verdicts(FlatBackgroundJudge(), [JudgeInput(case=case, seed=0, image=im, image_hash="x")])
    return next(x.value for x in v if x.metric == "sigma")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    from skimage.restoration import estimate_sigma

    data = make_images(args.n, args.size)
    items = [JudgeInput(case=Case(id=f"c{i}", kind="t2i", prompt="p", seeds=(0,),
                                  background=BackgroundSpec(color=c)), seed=0, image=im, image_hash=image_sha256(im))
             for i, (im, c, _) in enumerate(data)]
    judge = FlatBackgroundJudge()
    judge_verdicts(judge, items[:1])
    runs: dict[str, list[float]] = {"flatbg judge": [], "numpy residual std": [], "skimage estimate_sigma": []}
    sig_judge: list[float] = []
    sig_base: list[float] = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        v = judge_verdicts(judge, items)
        runs["flatbg judge"].append(time.perf_counter() - t0)
        sig_judge = [x.value for x in v if x.metric == "sigma"]
        t0 = time.perf_counter()
        sig_base = [noise.residual_std(np.asarray(im, np.float32)) for im, _, _ in data]
        runs["numpy residual std"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for im, _, _ in data:
            estimate_sigma(np.asarray(im, np.float64), channel_axis=-1, average_sigmas=True)
        runs["skimage estimate_sigma"].append(time.perf_counter() - t0)
    if args.workers > 1:
        payload = [(im.tobytes(), im.size, c) for im, c, _ in data]
        with ProcessPoolExecutor(args.workers) as pool:
            list(pool.map(_judge_one, payload[: args.workers]))   # warm the workers
            runs[f"flatbg judge, {args.workers} processes"] = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                list(pool.map(_judge_one, payload))
                runs[f"flatbg judge, {args.workers} processes"].append(time.perf_counter() - t0)
    n = len(data)
    print(f"images: {n} x {args.size}x{args.size} RGB (flat colour + noise sigma 1..20 + text), {args.rounds} rounds")
    print(f"{'':34s}{'best img/s':>12s}{'median img/s':>14s}{'ms/img':>9s}")
    for name, ts in runs.items():
        print(f"{name:34s}{n / min(ts):12.2f}{n / statistics.median(ts):14.2f}{1000 * min(ts) / n:9.1f}")
    ratio = min(runs["flatbg judge"]) / min(runs["numpy residual std"])
    print(f"flatbg judge time / numpy baseline time: {ratio:.1f}x")
    true = [s for _, _, s in data]
    err_j = np.mean([abs(a / b - 1) for a, b in zip(sig_judge, true)])
    err_b = np.mean([abs(a / b - 1) for a, b in zip(sig_base, true)])
    print(f"mean |relative sigma error| vs the true noise: judge {err_j:.1%}, numpy baseline {err_b:.1%} "
          f"(the baseline has no text mask)")


if __name__ == "__main__":
    main()
