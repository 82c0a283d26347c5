"""Inline SVG line charts for sweep reports: per-checkpoint means with CI bands, teacher reference.

Plain string building (no charting library), every label escaped; the chart is static so it
renders with scripts disabled.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]


def _nice(v: float) -> str:
    return f"{v:.3g}"


def line_chart(title: str, series: dict[str, list[dict[str, Any]]], reference: float | None = None,
               reference_label: str = "teacher", higher_is_better: bool | None = None,
               width: int = 420, height: int = 240) -> str:
    """series: name -> [{step, mean, lo, hi, n, name}] (x = step, or the index when steps are missing)."""
    pad_l, pad_r, pad_t, pad_b = 52, 12, 40, 34
    pts_all = [p for pts in series.values() for p in pts if p.get("mean") is not None and not math.isnan(p["mean"])]
    ys = [p["mean"] for p in pts_all] + [p[k] for p in pts_all for k in ("lo", "hi")
                                          if p.get(k) is not None and not math.isnan(p[k])]
    if reference is not None and not math.isnan(reference):
        ys.append(reference)
    xs_raw = [(p.get("step") if p.get("step") is not None else i) for pts in series.values() for i, p in enumerate(pts)]
    if not ys or not xs_raw:
        return f'<svg class="chart" width="{width}" height="{height}" role="img"><text x="10" y="20">{escape(title)}: no data</text></svg>'
    y0, y1 = min(ys), max(ys)
    if y1 - y0 < 1e-12:
        y0, y1 = y0 - 0.5 * (abs(y0) or 1), y1 + 0.5 * (abs(y1) or 1)
    span = y1 - y0
    y0, y1 = y0 - 0.05 * span, y1 + 0.05 * span
    x0, x1 = min(xs_raw), max(xs_raw)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    pw, ph = width - pad_l - pad_r, height - pad_t - pad_b

    def sx(x: float) -> float:
        return pad_l + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return pad_t + (1 - (y - y0) / (y1 - y0)) * ph

    arrow = "" if higher_is_better is None else (" (↑ better)" if higher_is_better else " (↓ better)")
    out = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
           f'<text x="{pad_l}" y="16" class="chart-title">{escape(title + arrow)}</text>',
           f'<line x1="{pad_l}" y1="{pad_t + ph}" x2="{pad_l + pw}" y2="{pad_t + ph}" class="axis"/>',
           f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{pad_t + ph}" class="axis"/>']
    for frac in (0.0, 0.5, 1.0):
        yv = y0 + frac * (y1 - y0)
        out.append(f'<text x="{pad_l - 4}" y="{sy(yv) + 4:.1f}" text-anchor="end" class="tick">{_nice(yv)}</text>')
        out.append(f'<line x1="{pad_l}" y1="{sy(yv):.1f}" x2="{pad_l + pw}" y2="{sy(yv):.1f}" class="grid"/>')
    for xv in sorted(set(xs_raw))[:: max(1, len(set(xs_raw)) // 6)]:
        out.append(f'<text x="{sx(xv):.1f}" y="{pad_t + ph + 14}" text-anchor="middle" class="tick">{_nice(xv)}</text>')
    out.append(f'<text x="{pad_l + pw / 2:.1f}" y="{height - 4}" text-anchor="middle" class="tick">step</text>')
    if reference is not None and not math.isnan(reference):
        ry = sy(reference)
        out.append(f'<line x1="{pad_l}" y1="{ry:.1f}" x2="{pad_l + pw}" y2="{ry:.1f}" class="ref">'
                   f'<title>{escape(reference_label)}: {_nice(reference)}</title></line>')
        out.append(f'<text x="{pad_l + pw - 2}" y="{ry - 4:.1f}" text-anchor="end" class="ref-label">'
                   f'{escape(reference_label)} {_nice(reference)}</text>')
    legend_x = float(pad_l)
    for i, (name, pts) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        good = [(p.get("step") if p.get("step") is not None else j, p) for j, p in enumerate(pts)
                if p.get("mean") is not None and not math.isnan(p["mean"])]
        if not good:
            continue
        band = [(x, p) for x, p in good if p.get("lo") is not None and not math.isnan(p["lo"])]
        if len(band) > 1:
            upper = " ".join(f"{sx(x):.1f},{sy(p['hi']):.1f}" for x, p in band)
            lower = " ".join(f"{sx(x):.1f},{sy(p['lo']):.1f}" for x, p in reversed(band))
            out.append(f'<polygon points="{upper} {lower}" fill="{color}" opacity="0.15"/>')
        line = " ".join(f"{sx(x):.1f},{sy(p['mean']):.1f}" for x, p in good)
        out.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, p in good:
            tip = f"{name} {p.get('name') or ''} step {x}: {_nice(p['mean'])}"
            if p.get("lo") is not None and not math.isnan(p["lo"]):
                tip += f" [{_nice(p['lo'])}, {_nice(p['hi'])}]"
            tip += f" n={p.get('n')}"
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(p["mean"]):.1f}" r="3" fill="{color}">'
                       f'<title>{escape(tip)}</title></circle>')
        out.append(f'<text x="{legend_x:.0f}" y="30" class="legend" fill="{color}">&#9632; {escape(name)}</text>')
        legend_x += 7.0 * len(name) + 28
    out.append("</svg>")
    return "".join(out)
