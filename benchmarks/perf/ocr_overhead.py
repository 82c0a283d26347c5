"""OCR judge throughput vs the bare rapidocr engine on the same images (suite overhead, target < 10%).

Both sides use the same engine settings (judges.ocr_backends.build_rapidocr: PP-OCRv6 small,
Det.limit_type=max, limit_side_len=736). Engine and judge alternate image by image in ABBA order
(the judge is called with one image at a time, its least favourable batch), so that load on a
shared machine hits both alike; the best round of each is reported, with the median beside it.
A last line times the judge on the whole batch at once. Because wall-clock ratios on a busy
machine swing by +-20%, the script also times the engine call inside the judge and prints the
judge's own work (conversion, padding check, box mapping, scoring) as a share of engine time:
that share is insensitive to load.

    python benchmarks/perf/ocr_overhead.py [--n 24] [--rounds 3] [--threads 0]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from evalsuite.runner import judge_verdicts
from evalsuite.types import Case, JudgeInput, image_sha256
from judges.ocr import OCRJudge
from judges.ocr_backends import build_rapidocr

WORDS = ["HELLO", "Garden Party", "OPEN 24 HOURS", "Fresh Bread", "SALE 50%", "November",
         "Quick brown fox", "Coffee & Tea", "WELCOME HOME", "Library", "2026 Edition", "Night Market"]
SIZES = [(512, 256), (384, 384), (768, 256), (512, 512)]


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "LiberationSans-Regular.ttf", "Arial.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def make_images(n: int) -> list[tuple[Image.Image, str]]:
    """Text images: varied words, sizes and colours, text centred (no border contact)."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        text = WORDS[i % len(WORDS)]
        size = SIZES[i % len(SIZES)]
        bg = tuple(int(v) for v in rng.integers(150, 256, 3))
        fg = tuple(int(v) for v in rng.integers(0, 90, 3))
        im = Image.new("RGB", size, bg)
        d = ImageDraw.Draw(im)
        f = _font(int(size[1] * 0.14) + 12)
        x0, y0, x1, y1 = d.textbbox((0, 0), text, font=f)
        d.text(((size[0] - (x1 - x0)) / 2 - x0, (size[1] - (y1 - y0)) / 2 - y0), text, font=f, fill=fg)
        out.append((im, text))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=24, help="images per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0 = library default)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    data = make_images(args.n)
    images = [im for im, _ in data]
    items = [JudgeInput(case=Case(id=f"c{i}", kind="t2i", prompt="p", seeds=(0,), expected_text=(t,)),
                        seed=0, image=im, image_hash=image_sha256(im)) for i, (im, t) in enumerate(data)]
    engine = build_rapidocr(threads=args.threads or None)
    judge = OCRJudge(backend_options={"threads": args.threads} if args.threads else None)
    engine(images[0])                      # warm both (model load, first-call allocations)
    judge_verdicts(judge, items[:1])

    t_engine, t_judge, recall = [], [], []
    for r in range(args.rounds):
        te = tj = 0.0
        rec: list[float] = []
        for i, (im, it) in enumerate(zip(images, items)):
            order = ("e", "j") if (i + r) % 2 == 0 else ("j", "e")
            for side in order:
                t0 = time.perf_counter()
                if side == "e":
                    engine(im)
                    te += time.perf_counter() - t0
                else:
                    v = judge_verdicts(judge, [it])
                    tj += time.perf_counter() - t0
                    rec += [x.value for x in v if x.metric == "word_recall" and x.ok]
        t_engine.append(te)
        t_judge.append(tj)
        recall.append(float(np.mean(rec)))
    t0 = time.perf_counter()
    judge_verdicts(judge, items)
    t_batch = time.perf_counter() - t0

    # The judge's own work: total score() time minus the time spent inside its engine call.
    inner = judge.backend.engine
    spent = [0.0]

    class _Timed:
        def __call__(self, *a, **k):
            t = time.perf_counter()
            try:
                return inner(*a, **k)
            finally:
                spent[0] += time.perf_counter() - t

    judge.backend._engine = _Timed()
    shares = []
    for _ in range(args.rounds):
        spent[0] = 0.0
        t0 = time.perf_counter()
        judge_verdicts(judge, items)
        shares.append((time.perf_counter() - t0 - spent[0]) / spent[0])
    judge.backend._engine = inner
    n = len(images)
    be, bj = min(t_engine), min(t_judge)
    me, mj = statistics.median(t_engine), statistics.median(t_judge)
    print(f"images: {n} per round x {args.rounds} rounds, sizes {sorted(set(im.size for im in images))}")
    print(f"{'':24s}{'best img/s':>12s}{'median img/s':>14s}{'ms/img':>9s}")
    print(f"{'rapidocr engine direct':24s}{n / be:12.2f}{n / me:14.2f}{1000 * be / n:9.1f}")
    print(f"{'ocr judge (score)':24s}{n / bj:12.2f}{n / mj:14.2f}{1000 * bj / n:9.1f}")
    print(f"{'ocr judge, one batch':24s}{n / t_batch:12.2f}{'':14s}{1000 * t_batch / n:9.1f}")
    print(f"overhead (wall clock): best {bj / be - 1:+.1%}, median {mj / me - 1:+.1%}  (target < 10%)")
    print(f"overhead (judge work outside the engine call / engine time): {statistics.median(shares):.2%}")
    print(f"judge word_recall on these images: {np.mean(recall):.3f}")


if __name__ == "__main__":
    main()
