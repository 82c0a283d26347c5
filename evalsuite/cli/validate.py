"""`evalsuite validate`: every judge measured on a known-truth suite; exit 1 below a floor."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from rich.markup import escape

from evalsuite.cli import options
from evalsuite.types import EvalsuiteError

EXIT_BELOW_FLOOR = 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="measure each judge on known-truth images; exit 1 below a floor",
                       description="Build a known-truth suite for each judge on the fly (text in "
                       "several fonts and sizes with planted typography errors, flat backgrounds with "
                       "planted defects at several strengths, PSNR/SSIM pairs, edits with known "
                       "preserved regions, image pairs whose preference is known for model-based judges), measure each judge's "
                       "agreement with the truth, print a table, write validity.json, and exit 1 when a "
                       "judge falls below its documented floor (docs/validity.md).")
    p.add_argument("--full", action="store_true", help="the full suites (about 3x the quick ones)")
    p.add_argument("--seed", type=int, default=0, help="suite seed (default 0: the documented table)")
    p.add_argument("-o", "--out", default="validity.json", help="where to write the results (default validity.json)")
    p.add_argument("--json", action="store_true", help="print validity.json on stdout instead of the table")
    p.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown (docs/validity.md "
                   "embeds the one this command writes)")
    options.add_judge_arguments(p)
    p.set_defaults(func=run)


def _selected(args: argparse.Namespace, opts: dict[str, dict[str, Any]]) -> tuple[list[str], dict[str, str]]:
    """The judges to validate, and those left out by default with the reason (a judge that cannot
    be built without settings the user did not give, e.g. an endpoint). An explicitly named judge
    that cannot be built is an error (exit 2)."""
    from evalsuite.registry import JUDGES, VALIDITY

    names = options.split_list(args.judges)
    if names:
        for n in names:
            VALIDITY.get(n)            # unknown name: one line with "did you mean"
        return names, {}
    chosen, left_out = [], {}
    for n in VALIDITY.names():
        try:
            JUDGES.get(n)(**opts.get(n, {})).close()
            chosen.append(n)
        except EvalsuiteError as e:
            left_out[n] = str(e)
    return chosen, left_out


def run(args: argparse.Namespace) -> int:
    from evalsuite.console import console, err_console
    from evalsuite.registry import JUDGES, VALIDITY
    from evalsuite.runner import make_judges

    opts = options.judge_options(args)
    names, left_out = _selected(args, opts)
    make_judges(names, opts, frozenset(options.parse_judge_opts(args.judge_opt)))   # bad options: exit 2 now
    checks: list[Any] = []
    timings: dict[str, float] = {}
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err_console, disable=args.json or not err_console.is_terminal) as progress:
        for name in names:
            task = progress.add_task(f"validate {name}", total=None)
            t0 = time.perf_counter()
            factory = (lambda n=name: JUDGES.get(n)(**opts.get(n, {})))
            try:
                got = VALIDITY.get(name)(factory, quick=not args.full, seed=args.seed)
            except EvalsuiteError:
                raise
            except Exception as e:  # noqa: BLE001 - a suite that crashes is a failed check
                from judges.validity import Check

                got = [Check(name, "suite ran", "rate", None, 1.0,
                             error=f"{type(e).__name__}: {e}".splitlines()[0][:300])]
            timings[name] = round(time.perf_counter() - t0, 2)
            checks += got
            progress.update(task, completed=1, total=1)
    report = {"format_version": 1, "seed": args.seed, "suite": "full" if args.full else "quick",
              "judges": names, "not_validated": left_out, "timing_s": timings, "checks": [c.to_dict() for c in checks],
              "passed": all(c.passed for c in checks)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(markdown_table(report))
    if args.json:
        console.print_json(json.dumps(report))
    else:
        console.print(validity_table(checks))
        for n, why in left_out.items():
            console.print(f"not validated: {escape(n)} ({escape(why)})", highlight=False)
        console.print(f"wrote {escape(str(out))}", highlight=False)
    below = [c for c in checks if not c.passed]
    if below:
        err_console.print(f"[red]{len(below)} check(s) below their floor[/]: "
                          + escape("; ".join(f"{c.judge}: {c.check}" for c in below[:5])))
        return EXIT_BELOW_FLOOR
    return 0


def fmt(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.3g}" if abs(v) < 0.01 and v != 0 else f"{v:.3f}"


def validity_table(checks: list[Any]) -> Any:
    from rich.table import Table

    t = Table(title="Judge validity on known-truth suites", title_justify="left")
    for col, j in (("judge", "left"), ("check", "left"), ("measure", "left"), ("value", "right"),
                   ("floor", "right"), ("n", "right"), ("failures", "right"), ("", "left")):
        t.add_column(col, justify=j)
    for c in checks:
        op = ">=" if c.higher_is_better else "<="
        status = "[green]ok[/]" if c.passed else f"[red]below floor[/] {escape(c.error or '')}"
        t.add_row(escape(c.judge), escape(c.check), c.measure, fmt(c.value), f"{op} {fmt(c.floor)}",
                  str(c.n), str(c.failures), status)
    return t


def markdown_table(report: dict[str, Any]) -> str:
    """The validity table as Markdown, with the command that wrote it."""
    cmd = "evalsuite validate" + (" --full" if report["suite"] == "full" else "") + \
        (f" --seed {report['seed']}" if report["seed"] else "")
    lines = [f"<!-- written by `{cmd} --markdown FILE`; do not edit by hand -->", "",
             "| judge | check | measure | value | floor | n | failures | result |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for c in report["checks"]:
        op = ">=" if c["higher_is_better"] else "<="
        res = "ok" if c["passed"] else f"**below floor** {c['error'] or ''}".strip()
        lines.append(f"| {c['judge']} | {c['check'].replace('|', '/')} | {c['measure']} | {fmt(c['value'])} | "
                     f"{op} {fmt(c['floor'])} | {c['n']} | {c['failures']} | {res} |")
    for n, why in report.get("not_validated", {}).items():
        lines.append(f"| {n} | not validated: {why.replace('|', '/')} | | | | | | |")
    lines.append("")
    lines.append("Time per judge (s): " + ", ".join(f"{k} {v}" for k, v in report["timing_s"].items()))
    return "\n".join(lines) + "\n"
