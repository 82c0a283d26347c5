"""`evalsuite sweep DIR`: evaluate every checkpoint folder in DIR into one sweep (optionally watching)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.markup import escape

from evalsuite.cli import options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="evaluate every checkpoint in a training directory into one sweep",
                       description="Evaluate each checkpoint folder (with model_index.json) under DIR "
                       "on one pack, teacher rendered once beside them, and append the results to "
                       "<sweep-dir>/sweep.json. With --watch, keep polling DIR for checkpoints that a "
                       "training process writes, until it writes done.json.")
    p.add_argument("dir", help="directory of checkpoint folders (e.g. distill/runs/student-default)")
    p.add_argument("--pack", default="typography-mini", help="pack name or folder (default: typography-mini)")
    p.add_argument("--teacher", help="teacher checkpoint rendered once and compared with every checkpoint")
    p.add_argument("--sweep-dir", help="where the sweep goes (default: <runs-root>/sweep-<DIR name>)")
    p.add_argument("--name", help="sweep name (default: the sweep directory's name)")
    p.add_argument("--watch", action="store_true", help="poll DIR for new checkpoints until done.json")
    p.add_argument("--poll", type=float, default=10.0, help="seconds between polls (default: 10)")
    p.add_argument("--idle-timeout", type=float, default=1800.0,
                   help="with --watch: stop after this many seconds without a new checkpoint")
    options.add_model_arguments(p)
    options.add_judge_arguments(p)
    options.add_selection_arguments(p)
    options.add_executor_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from evalsuite.console import console
    from evalsuite.sweep import SweepConfig, run_sweep

    ckpts = Path(args.dir)
    sweep_dir = Path(args.sweep_dir) if args.sweep_dir else Path(args.runs_root) / f"sweep-{options.slug(args.dir)}"
    student_opts, teacher_opts = options.model_opts(args)
    cfg = SweepConfig(checkpoints=ckpts, sweep_dir=sweep_dir, pack=args.pack, teacher=args.teacher,
                      name=args.name, tags=options.split_list(args.tags), limit=args.limit,
                      judges=options.split_list(args.judges), judge_opts=options.judge_options(args),
                      model_opts=student_opts, teacher_opts=teacher_opts, watch=args.watch,
                      poll_s=args.poll, idle_timeout_s=args.idle_timeout,
                      exec=options.exec_options(args))
    data = run_sweep(cfg, log=lambda m: console.print(escape(m), highlight=False))
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        console.print(f"sweep {escape(str(sweep_dir / 'sweep.json'))}: {len(data['checkpoints'])} checkpoint(s)",
                      highlight=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (`python -m evalsuite.cli.sweep DIR ...`) until the verb is wired in main."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(prog="evalsuite")
    add_parser(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(["sweep", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
