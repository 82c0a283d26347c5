"""`evalsuite gate`: pass/fail a candidate run against gate rules (and a baseline run) for CI."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from evalsuite.types import EvalsuiteError

logger = logging.getLogger(__name__)

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gate", help="CI regression gate: candidate vs rules (and baseline); exit 0 pass, 1 fail, 2 error",
                       description="Check a candidate run against absolute floors/ceilings, judge failure-rate "
                       "caps and (with --baseline) regression judged on the paired bootstrap CI. "
                       "Exit 0 pass, 1 fail, 2 usage or configuration error.")
    p.add_argument("--candidate", required=True, help="run directory under test")
    p.add_argument("--baseline", help="run directory to compare against (paired on case and seed)")
    p.add_argument("--rules", required=True, help="gates.yaml (e.g. benchmarks/<pack>/gates.yaml)")
    p.add_argument("--junit", help="write JUnit XML here (default: CANDIDATE/gate-junit.xml)")
    p.add_argument("--markdown", help="write the Markdown summary here (default: CANDIDATE/gate-summary.md; "
                   "also appended to $GITHUB_STEP_SUMMARY when set)")
    p.add_argument("--json", action="store_true", help="print the result as JSON instead of the table")
    p.add_argument("--allow-judge-mismatch", action="store_true",
                   help="gate against a baseline judged by a judge with another fingerprint (e.g. judge model, "
                   "revision, prompt, decoding); refused by default (exit 2), naming the differing fields")
    p.set_defaults(func=run)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise EvalsuiteError(f"{path}: cannot write ({e.strerror})", exit_code=EXIT_USAGE) from e


def run(args: argparse.Namespace) -> int:
    """Exit 0 pass, 1 fail; anything that keeps the gate from deciding is 2, never 1.

    CI reads 1 as "this checkpoint regressed", so an unexpected exception (a bug, a corrupt run the
    readers did not anticipate) must not masquerade as a gate failure.
    """
    try:
        return _run(args)
    except (EvalsuiteError, KeyboardInterrupt):
        raise
    except Exception as e:
        logger.debug("gate: unexpected error", exc_info=True)
        msg = " ".join(f"{type(e).__name__}: {e}".split())
        raise EvalsuiteError(f"gate: could not evaluate ({msg}); exit 2 = no decision, not a gate failure "
                             "(-v shows the traceback)", exit_code=EXIT_USAGE) from e


def _run(args: argparse.Namespace) -> int:
    import os

    from rich.markup import escape

    from evalsuite import gate
    from evalsuite.compare import load_run
    from evalsuite.console import console
    from evalsuite.judge_fingerprint import check_judge_match

    rules = gate.load_rules(args.rules)
    cand = load_run(args.candidate)
    base = load_run(args.baseline) if args.baseline else None
    if base is not None:
        check_judge_match(str(args.baseline), base.run, str(args.candidate), cand.run,
                          allow=getattr(args, "allow_judge_mismatch", False), metrics=[r.pattern for r in rules.metrics])
    res = gate.evaluate(cand, rules, base)
    junit = Path(args.junit) if args.junit else cand.dir / "gate-junit.xml"
    md_path = Path(args.markdown) if args.markdown else cand.dir / "gate-summary.md"
    md = gate.to_markdown(res)
    _write(junit, gate.to_junit(res))
    _write(md_path, md)
    summary_env = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_env:
        try:
            with open(summary_env, "a", encoding="utf-8") as f:
                f.write(md)
        except OSError as e:
            raise EvalsuiteError(f"{summary_env} ($GITHUB_STEP_SUMMARY): cannot append ({e.strerror})",
                                 exit_code=EXIT_USAGE) from e
    if args.json:
        sys.stdout.write(json.dumps(gate.to_dict(res), indent=2) + "\n")
    else:
        console.print(gate.to_table(res))
        console.print(escape(f"JUnit: {junit} · Markdown: {md_path}"), highlight=False)
    return EXIT_PASS if res.passed else EXIT_FAIL
