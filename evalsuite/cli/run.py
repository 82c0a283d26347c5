"""`evalsuite run`: render a pack with a model (and optionally its teacher), judge, summarise."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from rich.markup import escape

from evalsuite.cli import options
from evalsuite.runner import DEFAULT_PACK, RunConfig, run_eval
from evalsuite.types import EvalsuiteError

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
    options.add_judge_arguments(p)
    options.add_vlm_run_arguments(p)
    options.add_selection_arguments(p)
    p.set_defaults(func=run)


def execute(args: argparse.Namespace, model: str | None, teacher: str | None,
            student_opts: dict, teacher_opts: dict) -> int:
    from evalsuite.cli.tables import summary_table, total_failures
    from evalsuite.console import console, err_console

    run_dir = Path(args.run_dir) if args.run_dir else options.default_run_dir(
        args.runs_root, args.pack, model, teacher)
    calibrate_n = options.vlm_calibrate(args)
    cfg = RunConfig(run_dir=run_dir, pack=args.pack, model=model, teacher=teacher,
                    model_opts=student_opts, teacher_opts=teacher_opts,
                    judges=options.split_list(args.judges), judge_opts=options.judge_options(args),
                    explicit_judge_opts=frozenset(options.parse_judge_opts(args.judge_opt)),
                    limit=args.limit, tags=options.split_list(args.tags),
                    progress=not (args.json or args.no_progress) and err_console.is_terminal,
                    command="evalsuite " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
                    retry_failed=args.retry_failed, calibrate=calibrate_n)
    if calibrate_n and not _vlm_judges(cfg):
        raise EvalsuiteError("--vlm-calibrate needs a VLM judge: add --judges vlm-t2i (or vlm-edit, vlm-pairwise)")
    summary = run_eval(cfg)      # summary["vlm"] and ["calibration"] come from the judges' hooks
    if args.json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        console.print(summary_table(summary))
        _print_vlm(console, summary)
        t = summary.get("timing", {})
        console.print(f"run directory: {escape(str(run_dir))}  ·  rendered {t.get('rendered', 0)} "
                      f"(cached {t.get('render_cached', 0)}), judged {t.get('judged', 0)} "
                      f"(cached {t.get('judge_cached', 0)}) in {t.get('wall_s', 0):.1f} s", highlight=False)
    fails = total_failures(summary)
    if "calibration" in summary:
        from judges.vlm.run_summary import calibration_failures

        fails += calibration_failures(summary["calibration"])
    if fails:
        err_console.print(f"[yellow]{fails} judge failure(s) recorded[/] (not scored as zero; see "
                          f"{escape(str(run_dir / 'summary.json'))}); re-run with --retry-failed to retry them")
        return EXIT_JUDGE_FAILURES
    return 0


def _vlm_judges(cfg: RunConfig) -> list[str]:
    """The run's VLM judges (none where judges.vlm is not installed)."""
    try:
        from judges.vlm import VLM_JUDGES
    except ImportError:
        return []
    from evalsuite.packs import load_pack

    names = cfg.judges if cfg.judges is not None else list(load_pack(cfg.pack).judges)
    return [n for n in names if n in VLM_JUDGES]


def _print_vlm(console: Any, summary: dict[str, Any]) -> None:
    from rich.table import Table

    for role, e in summary.get("vlm", {}).get("vlm-pairwise", {}).items():
        cats = ", ".join(f"{c} {k}" for c, k in e["categories"]["loss"].items()) or "—"
        rates = (f" (win rate {e['win_rate']:.0%} with ties as half, tie rate {e['tie_rate']:.0%})"
                 if e.get("win_rate") is not None else "")
        console.print(escape(f"vlm-pairwise ({role} vs teacher): {e['win']} win · {e['tie']} tie · "
                             f"{e['loss']} loss · {e['failures']} failed{rates}; where the {role} lost: {cats}"),
                      highlight=False)
    cal = summary.get("calibration")
    if not cal:
        return
    t = Table(title="VLM judge calibration (known good/bad pairs)", title_justify="left")
    for col in ("judge", "accuracy", "n", "failures", "per defect (correct/n)"):
        t.add_column(col, justify="left" if col in ("judge", "per defect (correct/n)") else "right")
    for name, r in cal.items():
        acc = "—" if r.get("accuracy") is None else f"{r['accuracy']:.2f}"
        per = ", ".join(f"{d} {x['correct']}/{x['n']}" for d, x in r.get("per_defect", {}).items())
        f = int(r.get("failures") or 0)
        t.add_row(name, acc, str(r.get("n", 0)), f"[red]{f}[/]" if f else "0", per or r.get("skipped", ""))
    console.print(t)


def run(args: argparse.Namespace) -> int:
    student_opts, teacher_opts = options.model_opts(args)
    teacher = args.teacher
    if args.model is None and args.teacher is None and args.no_teacher:
        teacher = ""
    return execute(args, args.model, teacher, student_opts, teacher_opts)
