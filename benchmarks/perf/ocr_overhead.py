"""OCR judge throughput vs the bare rapidocr engine on the same images (suite overhead, target < 10%).

Both sides use the same engine settings (judges.ocr_backends.build_rapidocr: PP-OCRv6 small,
Det.limit_type=max, limit_side_len=736). Rounds alternate engine / judge so that load on a
shared machine hits both alike; the best round of each is reported, with the median beside it.

    python benchmarks/perf/ocr_overhead.py [--n 24] [--rounds 3] [--threads 0]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFont

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
    judge.score(items[:1])

    t_engine, t_judge, recall = [], [], []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        for im in images:
            engine(im)
        t_engine.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        verdicts = judge.score(items)
        t_judge.append(time.perf_counter() - t0)
        recall.append(np.mean([v.value for v in verdicts if v.metric == "word_recall" and v.ok]))
    n = len(images)
    be, bj = min(t_engine), min(t_judge)
    me, mj = statistics.median(t_engine), statistics.median(t_judge)
    print(f"images: {n} per round x {args.rounds} rounds, sizes {sorted(set(im.size for im in images))}")
    print(f"{'':24s}{'best img/s':>12s}{'median img/s':>14s}{'ms/img':>9s}")
    print(f"{'rapidocr engine direct':24s}{n / be:12.2f}{n / me:14.2f}{1000 * be / n:9.1f}")
    print(f"{'ocr judge (score)':24s}{n / bj:12.2f}{n / mj:14.2f}{1000 * bj / n:9.1f}")
    print(f"overhead: best {bj / be - 1:+.1%}, median {mj / me - 1:+.1%}  (target < 10%)")
    print(f"judge word_recall on these images: {np.mean(recall):.3f}")


if __name__ == "__main__":
    main()
