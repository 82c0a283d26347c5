"""`evalsuite sweep DIR`: evaluate every checkpoint in DIR into one sweep (optionally watching)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape

if TYPE_CHECKING:
    from rich.table import Table

from evalsuite.cli import options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="evaluate every checkpoint in a training directory into one sweep",
                       description="Evaluate each checkpoint under DIR on one pack, teacher rendered "
                       "once beside them, and append the results to <sweep-dir>/sweep.json. A checkpoint "
                       "is a pipeline folder (model_index.json), or with --base a LoRA file "
                       "(step-1000.safetensors) or an accelerate checkpoint-N/ folder (a LoRA, "
                       "transformer/ or model.safetensors inside); the step number orders them. Each "
                       "checkpoint is tested against the best one before it (chosen on half the cases, "
                       "tested on the other half), and the means go to TensorBoard event files. With "
                       "--watch, keep polling DIR for checkpoints that a training process writes, until "
                       "it writes done.json. See docs/sweeps.md.")
    p.add_argument("dir", help="directory of checkpoints (e.g. distill/runs/student-default, or a trainer's output dir)")
    p.add_argument("--base", help="pipeline folder that LoRA files / checkpoint-N weights apply to")
    p.add_argument("--tensorboard", metavar="DIR",
                   help="TensorBoard log dir for the eval curves (default: <sweep-dir>/tensorboard); "
                   "point it beside the trainer's logs to see both")
    p.add_argument("--no-tensorboard", action="store_true", help="write no TensorBoard event files")
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
                      explicit_judge_opts=frozenset(options.parse_judge_opts(args.judge_opt)),
                      model_opts=student_opts, teacher_opts=teacher_opts, watch=args.watch,
                      poll_s=args.poll, idle_timeout_s=args.idle_timeout,
                      exec=options.exec_options(args),

                      base=Path(args.base) if args.base else None,
                      tensorboard=Path(args.tensorboard) if args.tensorboard else None,
                      write_tensorboard=not args.no_tensorboard)
    data = run_sweep(cfg, log=lambda m: console.print(escape(m), highlight=False))
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        console.print(summary_table(data))
        reg = data.get("regressions")
        if reg:
            console.print(f"worse-than-best-so-far flags: best chosen on {reg['selection_cases']} cases, "
                          f"tested on the other {reg['test_cases']} (95% CI resampling cases)", highlight=False)
        if cfg.write_tensorboard:
            tb = cfg.tensorboard or sweep_dir / "tensorboard"
            console.print(f"curves: tensorboard --logdir {escape(str(tb))}", highlight=False)
        console.print(f"sweep {escape(str(sweep_dir / 'sweep.json'))}: {len(data['checkpoints'])} checkpoint(s)",
                      highlight=False)
    return 0


WIDE = 6   # more metrics than this: one row per metric, one column per checkpoint


def summary_table(data: dict[str, Any]) -> Table:
    """The means of each metric at each checkpoint, and the metrics flagged worse than the best so
    far. Up to WIDE metrics: one row per checkpoint (by step); more (OCR alone writes 16): one row
    per metric and one column per checkpoint, so every metric's name stays readable in a log."""
    from rich.table import Table

    keys = sorted({k for c in data["checkpoints"] for k in c.get("metrics", {})})
    cks = data["checkpoints"]
    t = Table(title=f"sweep {escape(str(data.get('name')))}", title_justify="left")

    def cell(c: dict[str, Any], k: str) -> str:
        m = c.get("metrics", {}).get(k, {}).get("mean")
        text = f"{m:.4g}" if m is not None else "—"
        return f"[red]{text}[/]" if k in (c.get("worse_than_best") or []) else text

    if len(keys) <= WIDE:
        t.add_column("checkpoint")
        t.add_column("step", justify="right")
        for k in keys:
            t.add_column(escape(k), justify="right")
        t.add_column("worse than best so far")
        for c in cks:
            flagged = c.get("worse_than_best") or []
            t.add_row(escape(c["name"]), str(c["step"]), *[cell(c, k) for k in keys],
                      f"[red]{escape(', '.join(flagged))}[/]" if flagged else "")
        return t
    t.add_column("metric \\ step")
    for c in cks:
        t.add_column(str(c["step"]), justify="right")
    for k in keys:
        t.add_row(escape(k), *[cell(c, k) for c in cks])
    t.add_row("worse than best so far", *[f"[red]{len(c.get('worse_than_best') or [])}[/]"
                                           if c.get("worse_than_best") else "0" for c in cks])
    t.caption = "red: significantly worse than the best checkpoint so far (sweep.json names the metrics)"
    return t


def main(argv: list[str] | None = None) -> int:
    """`python -m evalsuite.cli.sweep DIR ...` = `evalsuite sweep DIR ...` (same errors and exit codes)."""
    from evalsuite.cli.main import main as evalsuite_main

    return evalsuite_main(["sweep", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
