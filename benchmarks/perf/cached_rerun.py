"""Time of a fully cached re-run as a fraction of the first run (target < 5%).

Runs the same `evalsuite run` configuration twice into a fresh run directory, side by side in one
process, and prints both wall times and their ratio. Defaults: the bundled student and teacher on
typography-mini with the pack's judges.

    python benchmarks/perf/cached_rerun.py [--model CKPT] [--teacher CKPT] [--pack P] [--limit N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from evalsuite.runner import RunConfig, run_eval


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--teacher")
    ap.add_argument("--pack", default="typography-mini")
    ap.add_argument("--judges", help="comma-separated (default: the pack's)")
    ap.add_argument("--limit", type=int, default=16)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = RunConfig(run_dir=Path(tmp) / "run", pack=args.pack, model=args.model, teacher=args.teacher,
                        judges=args.judges.split(",") if args.judges else None, limit=args.limit,
                        progress=False)
        t0 = time.perf_counter()
        first = run_eval(cfg)
        t1 = time.perf_counter()
        second = run_eval(cfg)
        t2 = time.perf_counter()
    a, b = t1 - t0, t2 - t1
    print(f"pack={args.pack} limit={args.limit} judges={[k for k in first['metrics'].get('student', {})][:6]}...")
    print(f"first run:  {a:8.2f} s  (rendered {first['timing']['rendered']}, judged {first['timing']['judged']})")
    print(f"cached run: {b:8.2f} s  (rendered {second['timing']['rendered']}, judged {second['timing']['judged']})")
    print(f"cached / first = {b / a:.3%}  (target < 5%)")


if __name__ == "__main__":
    main()
