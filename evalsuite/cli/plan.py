"""`evalsuite plan`: how many cases (and seeds) detect a paired difference D at 80% power.

Normal approximation for a two-sided paired test on case means (alpha 0.05 by default):
n_cases = ceil((z_{1-α/2} + z_power)² · (sd_case² + sd_within² / seeds) / D²), where sd_case and
sd_within are the between-case and within-case SDs of the per-image teacher − student differences,
estimated from a previous run (--from) or stated as a prior (--sd, --sd-seed).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from dataclasses import asdict, dataclass
from typing import Any

from evalsuite.types import EvalsuiteError

logger = logging.getLogger(__name__)

DEFAULT_SEEDS = (1, 2, 4, 8)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="power: cases and seeds needed to detect a paired difference D",
                       description="How many cases (and seeds per case) a paired teacher-vs-student comparison "
                       "needs to detect a difference D in one metric at the given power (two-sided, normal "
                       "approximation on case means), from a previous run's variances (--from) or a prior (--sd).")
    p.add_argument("--pack", required=True, help="pack name or path (its case count and default seeds are shown)")
    p.add_argument("--metric", required=True, help="metric key, e.g. ocr.exact_match")
    p.add_argument("--delta", required=True, type=float, help="the difference to detect, in the metric's units")
    p.add_argument("--from", dest="from_run", metavar="RUN", help="previous run directory: variances of its per-image "
                   "student − teacher differences (or of one role's values, doubled, without a teacher)")
    p.add_argument("--sd", type=float, help="prior: between-case SD of the paired difference (instead of --from)")
    p.add_argument("--sd-seed", type=float, default=0.0, help="prior: within-case (seed-to-seed) SD of the "
                   "paired difference (default 0)")
    p.add_argument("--seeds", type=int, help="seeds per case (default: a table for 1, 2, 4, 8 and the pack's)")
    p.add_argument("--alpha", type=float, default=0.05, help="two-sided significance level (default 0.05)")
    p.add_argument("--power", type=float, default=0.8, help="power (default 0.8)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(func=run)


@dataclass(frozen=True)
class Source:
    """Where the variances come from: SDs of the paired difference between and within cases."""

    sd_case: float
    sd_within: float
    basis: str            # a sentence saying what was measured or assumed
    n_cases: int = 0      # cases the estimate rests on (0 for a prior)


def variances_from_run(run_dir: str, metric: str) -> Source:
    """Variance components of `metric` in a run: of the per-image student − teacher differences when
    both roles have it; else of one role's values with var(difference) = 2·var (two independent
    models, no pairing benefit assumed)."""
    from evalsuite.compare import load_run
    from evalsuite.stats import variance_components

    run = load_run(run_dir)
    roles = [r for r in run.roles if run.values(r, metric)]
    if not roles:
        have = ", ".join(run.metric_keys()) or "none"
        raise EvalsuiteError(f"{run_dir}: no successful values of metric '{metric}' (metrics: {have})")
    if "student" in roles and "teacher" in roles:
        s, t = run.values("student", metric), run.values("teacher", metric)
        keys = sorted(set(s) & set(t))
        if len(keys) >= 2:
            vc = variance_components([s[k] - t[k] for k in keys], [k[0] for k in keys])
            return Source(vc.sd_case, vc.sd_within, f"paired student − teacher differences in {run.name} "
                          f"({vc.n_cases} cases, {len(keys)} images)", vc.n_cases)
    role = "student" if "student" in roles else roles[0]
    vals = run.values(role, metric)
    keys = sorted(vals)
    vc = variance_components([vals[k] for k in keys], [k[0] for k in keys])
    return Source(vc.sd_case * math.sqrt(2), vc.sd_within * math.sqrt(2),
                  f"{role} values in {run.name} ({vc.n_cases} cases), variance doubled for a difference of two "
                  "independent models (no teacher in the run)", vc.n_cases)


def make_plan(src: Source, delta: float, seeds: list[int], pack_cases: int, pack_seeds: int,
              alpha: float = 0.05, power: float = 0.8) -> dict[str, Any]:
    """Cases needed per seed count, and the minimal detectable effect of the pack as it is."""
    from evalsuite.stats import cases_needed, min_detectable_effect

    rows = []
    for s in seeds:
        n = cases_needed(delta, src.sd_case, src.sd_within, s, alpha, power)
        rows.append({"seeds": s, "cases": n, "images": n * s,
                     "pack_mde": min_detectable_effect(src.sd_case, src.sd_within, pack_cases, s, alpha, power)
                     if pack_cases else None})
    return {"delta": delta, "alpha": alpha, "power": power, "source": asdict(src), "pack_cases": pack_cases,
            "pack_seeds": pack_seeds,
            "pack_mde": min_detectable_effect(src.sd_case, src.sd_within, pack_cases, pack_seeds, alpha, power)
            if pack_cases else None,
            "rows": rows}


def run(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from evalsuite.console import console
    from evalsuite.packs import load_pack

    if args.delta == 0 or not math.isfinite(args.delta):
        raise EvalsuiteError(f"plan: --delta {args.delta}: must be a non-zero number")
    if not (0 < args.alpha < 1 and 0 < args.power < 1):
        raise EvalsuiteError(f"plan: --alpha {args.alpha} and --power {args.power} must lie in (0, 1)")
    if (args.from_run is None) == (args.sd is None):
        raise EvalsuiteError("plan: give exactly one of --from RUN (measured variances) or --sd SD (a prior)")
    if args.seeds is not None and args.seeds < 1:
        raise EvalsuiteError(f"plan: --seeds {args.seeds}: must be >= 1")
    if args.sd is not None and (args.sd < 0 or args.sd_seed < 0):
        raise EvalsuiteError("plan: --sd and --sd-seed must be >= 0")
    pack = load_pack(args.pack)
    pack_seeds = round(sum(len(c.seeds) for c in pack.cases) / len(pack.cases)) if pack.cases else 1
    if args.from_run:
        src = variances_from_run(args.from_run, args.metric)
    else:
        src = Source(args.sd, args.sd_seed, "a stated prior")
    seeds = [args.seeds] if args.seeds else sorted(set(DEFAULT_SEEDS) | {pack_seeds})
    plan = make_plan(src, args.delta, seeds, len(pack.cases), pack_seeds, args.alpha, args.power)
    plan.update({"pack": pack.name, "metric": args.metric})
    if args.json:
        sys.stdout.write(json.dumps(plan, indent=2) + "\n")
        return 0
    t = Table(title=escape(f"plan: detect Δ {args.metric} = {args.delta:g} at {args.power:.0%} power "
                           f"(α {args.alpha:g}, two-sided, paired)"), title_justify="left")
    for c in ("seeds per case", "cases needed", "images per model", f"MDE with {pack.name}'s {len(pack.cases)} cases"):
        t.add_column(escape(c), justify="right")
    for r in plan["rows"]:
        mde = f"{r['pack_mde']:.3g}" if r["pack_mde"] is not None else "—"
        t.add_row(str(r["seeds"]), str(r["cases"]), str(r["images"]), mde)
    t.caption = escape(f"variances: {src.basis}; sd_case {src.sd_case:.3g}, sd_seed {src.sd_within:.3g}. "
                       "Normal approximation; with fewer than ~20 cases add a few.")
    console.print(t)
    return 0
