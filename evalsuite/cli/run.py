"""`evalsuite run`: render a pack with a model (and optionally its teacher), judge, summarise."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from rich.markup import escape

from evalsuite.cli import options
from evalsuite.family import families
from evalsuite.ladder import ladder_lines
from evalsuite.runner import DEFAULT_PACK, RunConfig, run_eval

EXIT_JUDGE_FAILURES = 3


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="render a pack with --model (and --teacher), judge and summarise",
                       description="Render every case and seed of a pack with the model under test "
                       "(and its teacher), score with the pack's judges, store everything in a "
                       "resumable run directory. With no --model, the bundled tiny student and its "
                       "teacher are used.")
    p.add_argument("--model", help="checkpoint: a diffusers pipeline folder, or images:DIR (default: bundled student)")
    p.add_argument("--teacher", help="reference checkpoint rendered with the same cases and seeds")
    p.add_argument("--no-teacher", action="store_true", help="with no --model: skip the bundled teacher")
    p.add_argument("--pack", default=DEFAULT_PACK, help=f"pack name or folder (default: {DEFAULT_PACK})")
    options.add_model_arguments(p)
    options.add_judge_arguments(p, run=True)
    options.add_selection_arguments(p)
    p.add_argument("--full", action="store_true",
                   help="with no --model: every case of the pack (default: its 'quick' subset, about a minute)")
    options.add_executor_arguments(p)
    p.set_defaults(func=run)


def run_evaluation(args: argparse.Namespace, model: str | None, teacher: str | None,
                   student_opts: dict, teacher_opts: dict) -> int:
    from evalsuite.cli.tables import summary_table, total_failures
    from evalsuite.console import console, err_console

    run_dir = Path(args.run_dir) if args.run_dir else options.default_run_dir(
        args.runs_root, args.pack, model, teacher)
    cfg = RunConfig(run_dir=run_dir, pack=args.pack, model=model, teacher=teacher,
                    model_opts=student_opts, teacher_opts=teacher_opts,
                    judges=options.split_list(args.judges), judge_opts=options.judge_options(args),
                    explicit_judge_opts=frozenset(options.parse_judge_opts(args.judge_opt)),
                    limit=args.limit, tags=options.split_list(args.tags), exec=options.exec_options(args),
                    progress=not (args.json or args.no_progress) and err_console.is_terminal,
                    command="evalsuite " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
                    retry_failed=args.retry_failed,
                    ci_method=getattr(args, "ci_method", "percentile"))
    cfg.calibrate = options.family_calibrate(args, _judge_names(cfg))
    summary = run_eval(cfg)      # family sections and ["calibration"] come from the judge families
    fams = families()
    if args.json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        console.print(summary_table(summary))
        for fam in fams:
            for line in fam.console(summary):
                console.print(line, highlight=False)
        for line in ladder_lines(summary.get("ladders", {})):   # where the student first breaks
            console.print(escape(line), highlight=False)
        t = summary.get("timing", {})
        console.print(f"run directory: {escape(str(run_dir))}  ·  rendered {t.get('rendered', 0)} "
                      f"(cached {t.get('render_cached', 0)}), judged {t.get('judged', 0)} "
                      f"(cached {t.get('judge_cached', 0)}) in {t.get('wall_s', 0):.1f} s", highlight=False)
        if getattr(args, "quick_default", False):
            console.print("evaluated the pack's 'quick' subset; add --full for every case", highlight=False)
    fails = total_failures(summary)
    fails += sum(fam.extra_failures(summary) for fam in fams)
    if fails:
        err_console.print(f"[yellow]{fails} judge failure(s) recorded[/] (not scored as zero; see "
                          f"{escape(str(run_dir / 'summary.json'))}); re-run with --retry-failed to retry them")
    if not args.json:      # the last line: what to do next
        report = "evalsuite report " + shlex.quote(str(run_dir)) + " -o " + shlex.quote(str(run_dir / "report.html"))
        console.print(f"next: [bold]{escape(report)}[/]", highlight=False)
    return EXIT_JUDGE_FAILURES if fails else 0


def _judge_names(cfg: RunConfig) -> list[str]:
    """The run's judges: --judges, else the pack's."""
    from evalsuite.packs import load_pack

    return cfg.judges if cfg.judges is not None else list(load_pack(cfg.pack).judges)


def run(args: argparse.Namespace) -> int:
    student_opts, teacher_opts = options.model_opts(args)
    teacher = args.teacher
    if args.model is None and args.teacher is None and args.no_teacher:
        teacher = ""
    if args.full and (args.model is not None or args.tags or args.limit is not None):
        raise options.EvalsuiteError("--full: only with the bundled default (no --model, --tags or --limit)")
    # a newcomer's first `evalsuite run` (bundled models, no selection) takes the pack's quick subset
    args.quick_default = (args.model is None and not args.full and args.tags is None
                          and args.limit is None and _has_quick(args.pack))
    if args.quick_default:
        args.tags = "quick"
    return run_evaluation(args, args.model, teacher, student_opts, teacher_opts)


def _has_quick(pack: str) -> bool:
    from evalsuite.packs import load_pack

    return any("quick" in c.tags for c in load_pack(pack).cases)
