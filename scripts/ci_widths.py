"""Per metric of a run: 95% CI width resampling (case, seed) pairs as independent (summary format 1)
against resampling cases with their seeds nested (format 2), and the ratio.

    python scripts/ci_widths.py RUN_DIR [--role student]

Prints a rich table; the numbers in docs/reports.md ("case as the unit") come from it.
"""

from __future__ import annotations

import argparse
import logging

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    from rich.table import Table

    from evalsuite.compare import load_run
    from evalsuite.console import console
    from evalsuite.stats import keyed_mean_ci, mean_ci, paired_keyed_delta

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--role", default="student")
    args = p.parse_args(argv)
    run = load_run(args.run)
    t = Table(title=f"{run.name}: 95% CI width, pairs vs cases ({args.role}; Δ = student − teacher)")
    for c in ("metric", "cases", "images", "width (pairs)", "width (cases)", "ratio", "Δ ratio"):
        t.add_column(c, justify="left" if c == "metric" else "right")
    for key in run.metric_keys(args.role):
        vals = {k: v for k, v in run.values(args.role, key).items() if k[1] >= 0}
        if len(vals) < 2:
            continue
        keys = sorted(vals)
        _, plo, phi = mean_ci([vals[k] for k in keys])
        ci = keyed_mean_ci(vals)
        ratio = (ci.hi - ci.lo) / (phi - plo) if phi > plo else float("nan")
        dratio = ""
        teacher = run.values("teacher", key) if "teacher" in run.items else {}
        shared = sorted(set(vals) & set(teacher))
        if len(shared) > 1:
            _, dlo, dhi = mean_ci([vals[k] - teacher[k] for k in shared])
            d = paired_keyed_delta(vals, teacher, shared)
            dratio = f"{(d.hi - d.lo) / (dhi - dlo):.2f}" if dhi > dlo else "—"
        t.add_row(key, str(ci.n_cases), str(ci.n_images), f"{phi - plo:.4g}", f"{ci.hi - ci.lo:.4g}",
                  f"{ratio:.2f}", dratio)
    console.print(t)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
