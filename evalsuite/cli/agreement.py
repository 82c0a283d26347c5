"""`evalsuite agreement RUN --ratings FILE`: how well each judge agrees with human ratings."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.markup import escape

from evalsuite.cli import options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("agreement", help="agreement of each judge metric with human ratings (Spearman, "
                       "Kendall, pairwise accuracy; case-clustered CIs)",
                       description="Read human ratings (CSV or JSONL: case, seed or image, role, rater, "
                       "and score or preference) and report, for each judge metric of the run, "
                       "Spearman's rho, Kendall's tau-b and pairwise accuracy (score ratings) or "
                       "preference accuracy (teacher/student/tie ratings), with 95% CIs that resample "
                       "cases.")
    p.add_argument("run", help="run directory whose verdicts are compared with the ratings")
    p.add_argument("--ratings", required=True, help="ratings file (.csv with a header, or .jsonl)")
    p.add_argument("--metrics", help="comma-separated metric keys (judge.metric); default: all of the run's")
    p.add_argument("-o", "--out", help="also write the result as JSON to this file")
    p.add_argument("--json", action="store_true", help="print JSON on stdout instead of the table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from evalsuite.agreement import agreement, read_ratings
    from evalsuite.compare import load_run
    from evalsuite.console import console

    ratings = read_ratings(args.ratings)
    data = load_run(args.run)
    result = agreement(data, ratings, options.split_list(args.metrics))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        console.print_json(json.dumps(result))
    else:
        console.print(agreement_table(result))
    return 0


def _cell(d: dict[str, Any] | None) -> str:
    if not d or d.get("value") is None:
        return "—"
    lo, hi = d["ci"]
    ci = "" if lo is None else f" [{lo:.2f}, {hi:.2f}]"
    return f"{d['value']:.3f}{ci}"


def agreement_table(result: dict[str, Any]) -> Any:
    from rich.table import Table

    t = Table(title=escape(f"Judge agreement with {result['ratings']} ratings by {result['raters']} "
                           f"rater(s) (95% CIs resample cases)"), title_justify="left")
    for col in ("metric", "kind", "cases", "items", "spearman", "kendall", "pairwise acc.", "preference acc."):
        t.add_column(col, justify="left" if col in ("metric", "kind") else "right")
    for key, r in result["metrics"].items():
        if "error" in r:
            t.add_row(escape(key), "—", "0", "0", "—", "—", "—", escape(r["error"]))
            continue
        t.add_row(escape(key), r["kind"], str(r["n_cases"]), str(r["n_items"]), _cell(r.get("spearman")),
                  _cell(r.get("kendall")), _cell(r.get("pairwise")), _cell(r.get("accuracy")))
    return t
