"""The end-of-run summary table (rich)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table


def _fmt(entry: dict[str, Any] | None) -> str:
    if not entry or entry.get("mean") is None:
        return "—"
    lo, hi = entry["ci"]
    if lo is None or hi is None:   # a pack-level metric: one value, no CI
        return f"{entry['mean']:.3f}"
    return f"{entry['mean']:.3f} [{lo:.3f}, {hi:.3f}]"


def summary_table(summary: dict[str, Any]) -> Table:
    metrics = summary.get("metrics", {})
    roles = [r for r in ("student", "teacher") if r in metrics] + [r for r in metrics if r not in ("student", "teacher")]
    pack = summary.get("pack", {})
    table = Table(title=escape(f"{summary.get('run')} · pack {pack.get('name')} v{pack.get('version')}"),
                  title_justify="left")
    table.add_column("metric")
    table.add_column("dir", justify="center")
    for r in roles:
        table.add_column(escape(f"{r} mean [95% CI]"), justify="right")
    deltas = summary.get("deltas", {})
    if deltas:
        table.add_column("student − teacher [95% CI] · MDE", justify="right")
    table.add_column("n (cases)", justify="right")
    table.add_column("failures", justify="right")
    keys = sorted({k for r in roles for k in metrics[r]})
    for key in keys:
        first = next(metrics[r][key] for r in roles if key in metrics[r])
        hib = first.get("higher_is_better")
        row = [escape(key), "↑" if hib else ("↓" if hib is not None else "")]
        row += [_fmt(metrics[r].get(key)) for r in roles]
        if deltas:
            d = deltas.get(key)
            if d:
                style = ("green" if d["student_better"] else "red") if d["significant"] else "dim"
                mde = f" · {d['mde']:.3f}" if d.get("mde") is not None else ""   # summary format 2
                row.append(f"[{style}]{d['mean']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}][/]{mde}")
            else:
                row.append("")
        n = sum(metrics[r][key]["n"] for r in roles if key in metrics[r])
        f = sum(metrics[r][key]["failures"] for r in roles if key in metrics[r])
        cases = max((metrics[r][key].get("n_cases") or 0 for r in roles if key in metrics[r]), default=0)
        row += [f"{n} ({cases})" if cases else str(n), f"[red]{f}[/]" if f else "0"]
        table.add_row(*row)
    models = summary.get("models", {})
    cap = []
    for r in roles:
        m = models.get(r, {})
        if m.get("latency_ms_per_image") is not None:
            cap.append(escape(f"{r}: NFE {m.get('nfe')}, {m['latency_ms_per_image']:.1f} ms/image"))
    if cap:
        table.caption = " · ".join(cap)
    return table


def total_failures(summary: dict[str, Any]) -> int:
    return sum(e.get("failures", 0) for role in summary.get("metrics", {}).values() for e in role.values())
