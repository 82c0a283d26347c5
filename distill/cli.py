"""`distill` command line: `distill teacher --config C.yaml`, `distill train --recipe R.yaml`,
`distill bank --recipe R.yaml [--teacher NAME]` (precompute teacher trajectories).

Run as `python -m distill ...` (or the `distill` console script where installed).
"""

from __future__ import annotations

import argparse
import logging
import sys

from evalsuite.types import EvalsuiteError

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="distill", description=__doc__)
    sub = parser.add_subparsers(dest="verb", required=True)
    t = sub.add_parser("teacher", help="train a teacher from a config")
    t.add_argument("--config", required=True)
    t.add_argument("--max-minutes", type=float, default=None, help="override the time budget")
    s = sub.add_parser("train", help="distil a student from a recipe")
    s.add_argument("--recipe", required=True)
    s.add_argument("--steps", type=int, default=None, help="override the recipe's step count")
    b = sub.add_parser("bank", help="precompute a recipe's teacher trajectories (cached on disk)")
    b.add_argument("--recipe", required=True)
    b.add_argument("--teacher", default=None, help="only this teacher of the recipe")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        import dataclasses

        from distill import config, train
        if args.verb == "teacher":
            cfg = config.load_teacher_config(args.config)
            if args.max_minutes is not None:
                cfg = dataclasses.replace(cfg, max_minutes=args.max_minutes)
            path = train.train_teacher(cfg)
        elif args.verb == "bank":
            train.precompute_banks(config.load_recipe(args.recipe), args.teacher)
            return 0
        else:
            recipe = config.load_recipe(args.recipe)
            if args.steps is not None:
                recipe = dataclasses.replace(recipe, steps=args.steps)
            path = train.train_student(recipe)
        print(f"last checkpoint: {path}", flush=True)
        return 0
    except EvalsuiteError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
