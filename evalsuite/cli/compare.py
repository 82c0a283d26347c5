"""`evalsuite compare`: paired comparison of runs (or sweeps / recipes) on shared cases and seeds."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

from evalsuite.types import EvalsuiteError

logger = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="paired comparison of runs or sweeps: deltas with CIs, win rates, per tag",
                       description="Compare RUN_B, RUN_C ... against RUN_A on shared (case, seed): per metric "
                       "mean delta with a paired 95% bootstrap CI resampling cases (seeds nested) and the win rate, per tag with --per-tag. "
                       "A RUN may be RUN_DIR@ROLE (e.g. runs/x@teacher). Sweep directories give the best "
                       "checkpoint per metric and recipe-level verdicts.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (RUN_DIR[@ROLE]) or sweep directories")
    p.add_argument("--role", default="student", help="role compared in each run (default: student)")
    p.add_argument("--metrics", help="comma-separated metric keys or globs (e.g. 'ocr.*,flatbg.noise_sigma')")
    p.add_argument("--per-tag", action="store_true", help="also show per-tag deltas")
    p.add_argument("--pick", choices=["best", "last", "best-on-test"], default="best",
                   help="sweeps: each recipe's best checkpoint picked on half the cases and compared on the "
                   "other half (default), its last checkpoint, or best-on-test (picked and compared on the same "
                   "cases: shown without a significance claim)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.add_argument("--markdown", help="also write a Markdown version here")
    p.add_argument("--allow-judge-mismatch", action="store_true",
                   help="compare metrics of judges whose fingerprints differ between the runs (e.g. judge "
                   "model, revision, prompt, decoding); refused by default, naming the differing fields")
    p.set_defaults(func=run)


def _fmt_delta(d: Any) -> str:
    lo, hi = d.ci
    return f"{d.delta:+.4g} [{lo:+.4g}, {hi:+.4g}]"


def run(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from evalsuite.compare import (
        best_checkpoints,
        compare_sides,
        is_sweep,
        load_sweep,
        mismatched_keys,
        parse_side,
        recipe_verdicts,
    )
    from evalsuite.console import console
    from evalsuite.judge_fingerprint import check_judge_match

    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    sweeps_in = [r for r in args.runs if is_sweep(r.rsplit("@", 1)[0] if not Path(r).exists() else r)]
    if sweeps_in and len(sweeps_in) != len(args.runs):
        raise EvalsuiteError("compare: pass either run directories or sweep directories, not both")
    out: dict[str, Any] = {}
    md: list[str] = []
    if sweeps_in:
        sweeps = [load_sweep(s) for s in sweeps_in]
        recipes = [r for s in sweeps for r in s.recipes()]
        if not any(s.checkpoints for s in sweeps):
            raise EvalsuiteError(f"{sweeps_in[0]}: no evaluated checkpoints yet")
        bests = [b for s in sweeps for b in best_checkpoints(s, args.role)]
        if metrics:
            import fnmatch
            bests = [b for b in bests if any(fnmatch.fnmatchcase(b.key, p) for p in metrics)]
        t = Table(title="best checkpoint per metric", title_justify="left")
        t.caption = "selected on test: each best is the maximum of several checkpoints on these cases, its CI is optimistic"
        for c in ("metric", "recipe", "checkpoint", "step", "mean [95% CI]", "n"):
            t.add_column(c, justify="right" if c in ("step", "n") else "left")
        md += ["## Best checkpoint per metric", "", "| metric | recipe | checkpoint | mean [95% CI] | n |", "|---|---|---|---|---|"]
        for b in bests:
            ci = f"{b.mean:.4g} [{b.ci[0]:.4g}, {b.ci[1]:.4g}]"
            t.add_row(escape(b.key), escape(b.recipe), escape(b.checkpoint), str(b.step), ci, str(b.n))
            md.append(f"| {b.key} | {b.recipe} | {b.checkpoint} | {ci} | {b.n} |")
        verdicts = recipe_verdicts(sweeps, pick=args.pick, metrics=metrics, role=args.role)
        out = {"best": [b.__dict__ for b in bests], "recipes": list(dict.fromkeys(recipes)),
               "verdicts": [v.to_dict() for v in verdicts]}
        if not args.json:
            console.print(t)
            if verdicts:
                console.print(f"[bold]recipe verdicts[/] ({args.pick} checkpoint per recipe and metric):")
                for v in verdicts:
                    style = "green" if v.delta.better else "dim"
                    console.print(f"  [{style}]{escape(v.sentence())}[/]", highlight=False)
            elif len(set(recipes)) < 2:
                console.print("one recipe only: pass sweeps of two or more recipes for recipe verdicts")
        md += ["", "## Recipe verdicts", ""] + [f"- {v.sentence()}" for v in verdicts]
    else:
        if len(args.runs) < 2:
            raise EvalsuiteError("compare: give at least two runs (RUN_A RUN_B ...), or RUN@student RUN@teacher")
        sides = [parse_side(r, args.role) for r in args.runs]
        labels = [s.label for s in sides]
        if len(set(labels)) != len(labels):
            for i, s in enumerate(sides):
                s.label = f"{s.label}#{i + 1}"
        base = sides[0]
        out = {"baseline": base.label, "comparisons": []}
        for other in sides[1:]:
            check_judge_match(base.label, base.run.run, other.label, other.run.run,
                              allow=getattr(args, "allow_judge_mismatch", False), metrics=metrics)
            changed = mismatched_keys(base.run, base.role, other.run, other.role)
            changed_items = sorted(k for k in changed if k[1] >= 0)
            deltas = compare_sides(base, other, metrics=metrics, per_tag=args.per_tag)
            if not deltas:
                hint = (f" ({len(changed_items)} shared (case, seed) left out because their case content differs: "
                        "case_hash changed, was the pack edited?)" if changed else "; were they run on the same pack?")
                raise EvalsuiteError(f"compare: {other.label} and {base.label} share no (case, seed) with a metric "
                                     f"in common{hint}")
            out["comparisons"].append({"a": base.label, "b": other.label, "metrics": [d.to_dict() for d in deltas],
                                       "excluded_pairs": len(changed_items),
                                       "excluded_cases": sorted({k[0] for k in changed})})
            if changed:
                cases = sorted({k[0] for k in changed})
                warn = (f"{len(changed_items)} (case, seed) pairs of {len(cases)} case(s) left out of "
                        f"{other.label} − {base.label}: the case content differs (case_hash), e.g. "
                        f"{', '.join(cases[:3])}; the pack was edited between the runs")
                logger.warning(warn)
                md += [f"> ⚠️ {warn}", ""]
                if not args.json:
                    console.print(f"[yellow]warning:[/] {escape(warn)}", highlight=False)
            t = Table(title=f"{escape(other.label)} − {escape(base.label)} (paired on case and seed)", title_justify="left")
            for c in ("metric", "dir", base.label, other.label, "Δ [95% CI]", "win rate (W/T/L)", "n (cases)", "verdict"):
                t.add_column(escape(c), justify="left" if c in ("metric", "verdict") else "right")
            md += [f"## {other.label} − {base.label}", "",
                   f"| metric | {base.label} | {other.label} | Δ [95% CI] | win rate | n | verdict |", "|---|---|---|---|---|---|---|"]
            rows = [(d.key, d) for d in deltas]
            if args.per_tag:
                rows = [r for d in deltas for r in [(d.key, d)] + [(f"  {d.key} · {t_}", td) for t_, td in d.per_tag.items()]]
            for name, d in rows:
                verdict = {"b": f"{other.label} better", "a": f"{base.label} better", None: "no sig. difference"}[d.better]
                style = "green" if d.better == "b" else ("red" if d.better == "a" else "dim")
                wr = f"{d.win_rate:.0%} ({d.wins}/{d.ties}/{d.losses})" if not math.isnan(d.win_rate) else "—"
                t.add_row(escape(name), "↑" if d.higher_is_better else "↓", f"{d.mean_a:.4g}", f"{d.mean_b:.4g}",
                          _fmt_delta(d), wr, f"{d.n} ({d.n_cases})", f"[{style}]{escape(verdict)}[/]")
                md.append(f"| {name.strip()} | {d.mean_a:.4g} | {d.mean_b:.4g} | {_fmt_delta(d)} | {wr} | {d.n} | {verdict} |")
            md.append("")
            if not args.json:
                console.print(t)
    if args.markdown:
        try:
            Path(args.markdown).write_text("\n".join(md) + "\n", encoding="utf-8")
        except OSError as e:
            raise EvalsuiteError(f"{args.markdown}: cannot write ({e.strerror})") from e
    if args.json:
        sys.stdout.write(json.dumps(out, indent=2, default=str) + "\n")
    return 0
