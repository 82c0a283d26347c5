"""Time of a fully cached re-run as a fraction of the first run (target < 5%).

Runs the same `evalsuite run` configuration into a fresh run directory: a first run and a cached
re-run side by side in this process (the runner's own cost), then the same re-run as a CLI
subprocess, `python -m evalsuite.cli.main run ... --json` (what a user waits for, including
interpreter start-up and imports), and prints all three wall times and both ratios. Defaults:
the bundled student and teacher on typography-mini with the pack's judges.

    python benchmarks/perf/cached_rerun.py [--model CKPT] [--teacher CKPT] [--pack P] [--limit N]
                                           [--judges a,b] [--no-cli]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evalsuite.runner import RunConfig, run_eval


def cli_argv(args: argparse.Namespace, run_dir: Path) -> list[str]:
    """The `evalsuite run` command line equivalent to the in-process RunConfig."""
    argv = [sys.executable, "-m", "evalsuite.cli.main", "run", "--pack", args.pack, "--run-dir", str(run_dir),
            "--json", "--no-progress"]
    for flag, val in (("--model", args.model), ("--teacher", args.teacher), ("--judges", args.judges),
                      ("--limit", args.limit)):
        if val is not None:
            argv += [flag, str(val)]
    return argv


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--teacher")
    ap.add_argument("--pack", default="typography-mini")
    ap.add_argument("--judges", help="comma-separated (default: the pack's)")
    ap.add_argument("--limit", type=int, default=16)
    ap.add_argument("--no-cli", action="store_true", help="skip the CLI subprocess re-run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        cfg = RunConfig(run_dir=run_dir, pack=args.pack, model=args.model, teacher=args.teacher,
                        judges=args.judges.split(",") if args.judges else None, limit=args.limit,
                        progress=False)
        t0 = time.perf_counter()
        first = run_eval(cfg)
        t1 = time.perf_counter()
        second = run_eval(cfg)
        t2 = time.perf_counter()
        cli = None
        if not args.no_cli:
            t3 = time.perf_counter()
            out = subprocess.run(cli_argv(args, run_dir), capture_output=True, text=True, check=False)
            t_cli = time.perf_counter() - t3
            if out.returncode not in (0, 3):     # 3: finished with recorded judge failures
                raise SystemExit(f"cached_rerun: the CLI re-run failed ({out.returncode}): "
                                 f"{out.stderr.strip().splitlines()[-1:]}")
            cli = (t_cli, json.loads(out.stdout)["timing"])
    a, b = t1 - t0, t2 - t1
    print(f"pack={args.pack} limit={args.limit} metrics={list(first['metrics'].get('student', {}))[:6]}...")
    f, c = first["timing"], second["timing"]
    print(f"first run:          {a:8.2f} s  (rendered {f['rendered']}, judged {f['judged']})")
    print(f"cached run:         {b:8.2f} s  (rendered {c['rendered']}, judged {c['judged']}; in process)")
    if cli is not None:
        t_cli, timing = cli
        print(f"cached run via CLI: {t_cli:8.2f} s  (rendered {timing['rendered']}, judged {timing['judged']}; "
              f"subprocess, runner {timing['wall_s']:.2f} s + start-up and imports)")
    print(f"cached / first = {b / a:.3%}  (target < 5%)")
    if cli is not None:
        print(f"cached via CLI / first = {cli[0] / a:.3%}")


if __name__ == "__main__":
    main()
