"""`evalsuite score`: judge a folder of images rendered elsewhere (named <case_id>_s<seed>.png)."""

from __future__ import annotations

import argparse

from evalsuite.cli import options
from evalsuite.cli.run import run_evaluation


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="score a folder of pre-rendered images",
                       description="Score images rendered elsewhere. Files are named "
                       "<case_id>_s<seed>.png (or <case_id>/<seed>.png); see docs/renderers.md.")
    p.add_argument("--pack", required=True, help="pack name or folder")
    p.add_argument("--images", required=True, help="folder of the model's images")
    p.add_argument("--teacher-images", help="folder of the teacher's images, same naming")
    options.add_judge_arguments(p)
    options.add_selection_arguments(p)
    options.add_executor_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    teacher = f"images:{args.teacher_images}" if args.teacher_images else None
    return run_evaluation(args, f"images:{args.images}", teacher, {}, {})
