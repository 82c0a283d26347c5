"""VLM judge throughput against a loopback server with fixed latency and capacity (target >= 90%).

The server (tests.fixtures.scripted_server, in its own process) serves at most CAPACITY requests
at once, each taking LATENCY seconds, so the best any client can do is CAPACITY / LATENCY
requests/s. The `vlm-t2i` judge scores N distinct grainy images of 512-1024 px (what a
distilled model renders; each one PNG-encoded, the rubric replies parsed) through the `openai`
backend with concurrency 2 x CAPACITY (the server queues the excess, as vLLM does), in batches of
the judge's own `batch_size`, one `score()` call per batch as the runner makes them. It prints
achieved requests/s as a fraction of that ideal, the ratio to the same judge sending one request
at a time, and the client's encoding cost: PNG encoding is CPU work, so on a small machine the
client's ceiling is about (free cores) / (encode seconds per image), whatever the server.

    python benchmarks/perf/vlm_throughput.py [--requests 512] [--latency 1.0] [--capacity 16]
        [--sizes 512,768,1024] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np
from PIL import Image

from evalsuite.runner import judge_verdicts
from evalsuite.types import Case, JudgeInput, image_sha256
from judges.vlm.backends.base import image_data_url
from judges.vlm.t2i import PARTS as T2I_PARTS
from judges.vlm.t2i import VLMT2IJudge

# one reply that reads as both of vlm-t2i's questions (SC and PQ: the parser ignores extra fields)
REPLY = json.dumps({"reasoning": "clean", "prompt_following": 7, "naturalness": 6, "artifacts": 6,
                    "grain_on_flat_areas": False, "malformed_letters": False, "grid_pattern": False,
                    "oversaturation": False})
CASE = Case("bench", "t2i", "a red square on a white background", (0,))


class Images:
    """Distinct grainy images: a flat background with a square, plus gaussian grain (sigma 6).

    One grain field per size is shifted per image, so every image has its own pixels (no
    encoding-cache hit) and costs what a real grainy render costs to encode.
    """

    def __init__(self, sizes: list[int], seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.sizes = sizes
        self.grain = {s: rng.normal(0, 6, (s, s, 3)) for s in sizes}

    def __call__(self, i: int) -> Image.Image:
        s = self.sizes[i % len(self.sizes)]
        a = np.roll(self.grain[s], (7 * i) % s, axis=1) + (200 + i % 40, 190, 180)
        a[s // 4:s // 2, s // 4:s // 2] -= 120
        return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def inputs(images: Images, start: int, n: int) -> list[JudgeInput]:
    out = []
    for i in range(start, start + n):
        im = images(i)
        out.append(JudgeInput(case=CASE, seed=i, image=im, image_hash=image_sha256(im)))
    return out


def timed(url: str, images: Images, n: int, concurrency: int) -> tuple[float, int]:
    """(requests/s, batch size) for n requests through the vlm-t2i judge in runner-sized batches
    (n / 2 images: the judge asks two questions per image, SC and PQ, each image encoded once).

    Only score() is timed: building the next batch's images stands in for the runner loading
    them from the run directory, which is the runner's cost, not the judge's.
    """
    judge = VLMT2IJudge(url=url, model="bench", concurrency=concurrency, timeout=120)
    bs = judge.batch_size
    wall = 0.0
    per = len(T2I_PARTS)
    n_images = max(1, n // per)
    for start in range(0, n_images, bs):
        batch = inputs(images, start, min(bs, n_images - start))
        t0 = time.perf_counter()
        verdicts = judge_verdicts(judge, batch)
        wall += time.perf_counter() - t0
        bad = [v.error for v in verdicts if not v.ok]
        if bad:
            raise SystemExit(f"{len(bad)} failed verdicts, e.g. {bad[0]}")
        del batch, verdicts
    return n_images * per / wall, bs


def encode_ms(images: Images) -> dict[int, float]:
    """Single-thread PNG data-URL encoding time per image size (ms)."""
    out = {}
    for k, s in enumerate(images.sizes):
        ims = [images(k + j * len(images.sizes)) for j in range(3)]
        t0 = time.perf_counter()
        for im in ims:
            image_data_url(im)
        out[s] = 1000 * (time.perf_counter() - t0) / len(ims)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=512)
    ap.add_argument("--latency", type=float, default=1.0, help="seconds per request at the server")
    ap.add_argument("--capacity", type=int, default=16, help="requests the server serves at once")
    ap.add_argument("--concurrency", type=int, help="client concurrency (default 2 x capacity: requests "
                    "wait in the server's queue, so no slot idles while the client turns a reply around)")
    ap.add_argument("--sizes", default="512,768,1024", help="square image sides, cycled (default 512,768,1024)")
    ap.add_argument("--sequential-requests", type=int, default=12)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    ideal = args.capacity / args.latency
    conc = args.concurrency or 2 * args.capacity
    images = Images([int(x) for x in args.sizes.split(",")])
    enc = encode_ms(images)
    mean_enc_s = sum(enc.values()) / len(enc) / 1000
    # the server runs in its own process: the client under test must not share its GIL
    proc = subprocess.Popen([sys.executable, "-m", "tests.fixtures.scripted_server", "--latency", str(args.latency),
                             "--capacity", str(args.capacity), "--reply", REPLY, "--no-record"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        timed(url, images, args.capacity, conc)                       # warm-up
        concurrent, batch = timed(url, images, args.requests, conc)
        sequential, _ = timed(url, images, args.sequential_requests, 1)
    finally:
        out, _ = proc.communicate(input="", timeout=60)
    in_flight = json.loads(out.strip().splitlines()[-1])["max_in_flight"]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    result = {"ideal_rps": ideal, "achieved_rps": concurrent, "fraction_of_ideal": concurrent / ideal,
              "sequential_rps": sequential, "speedup_vs_sequential": concurrent / sequential,
              "requests": args.requests, "latency_s": args.latency, "capacity": args.capacity, "concurrency": conc,
              "batch_size": batch, "sizes": images.sizes, "encode_ms_per_image": {str(k): round(v, 1)
                                                                                   for k, v in enc.items()},
              "cores": cores, "encode_ceiling_rps": cores / mean_enc_s,
              "max_in_flight": in_flight, "target_met": concurrent / ideal >= 0.9}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        from rich.console import Console

        Console().print(
            f"ideal {ideal:.1f} req/s (capacity {args.capacity} / latency {args.latency:g} s) · achieved "
            f"{concurrent:.1f} req/s = [bold]{100 * concurrent / ideal:.1f}%[/] of ideal "
            f"({'meets' if result['target_met'] else 'misses'} the 90% target; concurrency {conc}, batches of "
            f"{batch}, images {args.sizes} px) · sequential {sequential:.2f} req/s · speed-up "
            f"{concurrent / sequential:.1f}x · max in flight {in_flight} · PNG encode "
            + ", ".join(f"{k}px {v:.0f} ms" for k, v in enc.items())
            + f" (client ceiling ~{result['encode_ceiling_rps']:.0f} req/s on {cores} cores)",
            highlight=False)


if __name__ == "__main__":
    main()
