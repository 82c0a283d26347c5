"""VLM judge throughput against a loopback server with fixed latency and capacity (target >= 90%).

The server (tests.fixtures.scripted_server, in its own process) serves at most CAPACITY requests at once, each taking
LATENCY seconds, so the best any client can do is CAPACITY / LATENCY requests/s. The `vlm-t2i`
judge scores N images through the `openai` backend (images PNG-encoded, rubric replies parsed)
with concurrency 2 x CAPACITY (the server queues the excess, as vLLM does); we print achieved requests/s as a fraction of that ideal, and the
ratio to the same judge sending one request at a time.

    python benchmarks/perf/vlm_throughput.py [--requests 400] [--latency 0.2] [--capacity 16] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PIL import Image

from evalsuite.types import Case, JudgeInput, image_sha256
from judges.vlm.t2i import VLMT2IJudge

REPLY = json.dumps({"semantic_consistency": 7, "perceptual_quality": 6, "grain_on_flat_areas": False,
                    "malformed_letters": False, "grid_pattern": False, "oversaturation": False})


def items(n: int) -> list[JudgeInput]:
    case = Case("bench", "t2i", "a red square on a white background", (0,))
    out = []
    for i in range(n):
        im = Image.new("RGB", (64, 64), (i % 256, (7 * i) % 256, 90))
        out.append(JudgeInput(case=case, seed=i, image=im, image_hash=image_sha256(im)))
    return out


def timed(url: str, n: int, concurrency: int) -> float:
    """Requests per second for n images through the vlm-t2i judge; every verdict must be ok."""
    judge = VLMT2IJudge(url=url, model="bench", concurrency=concurrency, timeout=60)
    batch = items(n)
    t0 = time.perf_counter()
    verdicts = judge.score(batch)
    wall = time.perf_counter() - t0
    bad = [v.error for v in verdicts if not v.ok]
    if bad:
        raise SystemExit(f"{len(bad)} failed verdicts, e.g. {bad[0]}")
    return n / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--latency", type=float, default=0.2, help="seconds per request at the server")
    ap.add_argument("--capacity", type=int, default=16, help="requests the server serves at once")
    ap.add_argument("--concurrency", type=int, help="client concurrency (default 2 x capacity: requests "
                    "wait in the server's queue, so no slot idles while the client turns a reply around)")
    ap.add_argument("--sequential-requests", type=int, default=25)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    ideal = args.capacity / args.latency
    conc = args.concurrency or 2 * args.capacity
    # the server runs in its own process: the client under test must not share its GIL
    proc = subprocess.Popen([sys.executable, "-m", "tests.fixtures.scripted_server", "--latency", str(args.latency),
                             "--capacity", str(args.capacity), "--reply", REPLY], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        timed(url, args.capacity, conc)                       # warm-up
        concurrent = timed(url, args.requests, conc)
        sequential = timed(url, args.sequential_requests, 1)
    finally:
        out, _ = proc.communicate(input="", timeout=30)
    in_flight = json.loads(out.strip().splitlines()[-1])["max_in_flight"]
    result = {"ideal_rps": ideal, "achieved_rps": concurrent, "fraction_of_ideal": concurrent / ideal,
              "sequential_rps": sequential, "speedup_vs_sequential": concurrent / sequential,
              "requests": args.requests, "latency_s": args.latency, "capacity": args.capacity, "concurrency": conc,
              "max_in_flight": in_flight, "target_met": concurrent / ideal >= 0.9}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        from rich.console import Console

        Console().print(
            f"ideal {ideal:.1f} req/s (capacity {args.capacity} / latency {args.latency:g} s) · achieved "
            f"{concurrent:.1f} req/s = [bold]{100 * concurrent / ideal:.1f}%[/] of ideal "
            f"({'meets' if result['target_met'] else 'misses'} the 90% target, concurrency {conc}) · sequential "
            f"{sequential:.2f} req/s · speed-up {concurrent / sequential:.1f}x · max in flight {in_flight}",
            highlight=False)


if __name__ == "__main__":
    main()
