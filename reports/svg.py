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


def _axes(pad_l: float, pad_t: float, pw: float, ph: float, y0: float, y1: float) -> list[str]:
    """The x and y axes, three y ticks and their grid lines of a chart's plot area."""
    out = [f'<line x1="{pad_l}" y1="{pad_t + ph}" x2="{pad_l + pw}" y2="{pad_t + ph}" class="axis"/>',
           f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{pad_t + ph}" class="axis"/>']
    for frac in (0.0, 0.5, 1.0):
        yv = y0 + frac * (y1 - y0)
        y = pad_t + (1 - frac) * ph
        out.append(f'<text x="{pad_l - 4}" y="{y + 4:.1f}" text-anchor="end" class="tick">{_nice(yv)}</text>')
        out.append(f'<line x1="{pad_l}" y1="{y:.1f}" x2="{pad_l + pw}" y2="{y:.1f}" class="grid"/>')
    return out


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
           *_axes(pad_l, pad_t, pw, ph, y0, y1)]
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


LADDER_COLORS = {"teacher": "#344054", "student": "#1570ef"}


def _finite(x: Any) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def ladder_chart(ladder: str, metric: str, curve: dict[str, Any], width: int = 360, height: int = 230) -> str:
    """One metric along one ladder (summary.json `ladders` form: buckets with teacher/student mean and
    CI): easy to hard on x, a point with its 95% CI bar per model and bucket, the first break marked."""
    buckets = curve["buckets"]
    hib = curve.get("higher_is_better")
    pad_l, pad_r, pad_t, pad_b = 52, 12, 40, 40
    ys = [v for b in buckets for r in ("teacher", "student")
          for v in (b[r]["mean"], *b[r]["ci"]) if _finite(v)]
    arrow = "" if hib is None else (" (↑ better)" if hib else " (↓ better)")
    title = f"{metric}{arrow}"
    attrs = f'data-ladder="{escape(ladder)}" data-metric="{escape(metric)}"'
    if not ys:
        return (f'<svg class="chart ladder-chart" {attrs} width="{width}" height="{height}" role="img">'
                f'<text x="10" y="20">{escape(title)}: no data</text></svg>')
    y0, y1 = min(ys), max(ys)
    if y1 - y0 < 1e-12:
        y0, y1 = y0 - 0.5 * (abs(y0) or 1), y1 + 0.5 * (abs(y1) or 1)
    span = y1 - y0
    y0, y1 = y0 - 0.08 * span, y1 + 0.08 * span
    pw, ph = width - pad_l - pad_r, height - pad_t - pad_b
    step = pw / len(buckets)

    def sx(i: int, off: float = 0.0) -> float:
        return pad_l + (i + 0.5) * step + off

    def sy(y: float) -> float:
        return pad_t + (1 - (y - y0) / (y1 - y0)) * ph

    out = [f'<svg class="chart ladder-chart" xmlns="http://www.w3.org/2000/svg" {attrs} width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(ladder)}: {escape(title)}">',
           f'<text x="{pad_l}" y="16" class="chart-title">{escape(title)}</text>',
           *_axes(pad_l, pad_t, pw, ph, y0, y1)]
    for i, b in enumerate(buckets):
        label = f"{b['tag']} ({b['n_cases']})"
        if b["tag"] == curve.get("first_break"):
            out.append(f'<rect class="break-mark" data-bucket="{escape(b["tag"])}" x="{pad_l + i * step:.1f}" y="{pad_t}" width="{step:.1f}" '
                       f'height="{ph}"><title>first break: student below teacher (95% CI of the '
                       f'difference excludes 0)</title></rect>')
            out.append(f'<text x="{sx(i):.1f}" y="{pad_t + ph - 4}" text-anchor="middle" class="break-label">first break</text>')
        out.append(f'<text x="{sx(i):.1f}" y="{pad_t + ph + 14}" text-anchor="middle" class="tick">{escape(label)}</text>')
    out.append(f'<text x="{pad_l + pw / 2:.1f}" y="{height - 6}" text-anchor="middle" class="tick">'
               f'{escape(ladder)} (easy → hard; cases)</text>')
    legend_x = float(pad_l)
    for j, role in enumerate(("teacher", "student")):
        color = LADDER_COLORS[role]
        off = (j - 0.5) * min(10.0, step / 6)
        pts = [(i, b) for i, b in enumerate(buckets) if _finite(b[role]["mean"])]
        g = [f'<g class="series {role}" fill="{color}" stroke="{color}">']
        if len(pts) > 1:
            line = " ".join(f"{sx(i, off):.1f},{sy(b[role]['mean']):.1f}" for i, b in pts)
            g.append(f'<polyline points="{line}" fill="none" stroke-width="2"/>')
        for i, b in pts:
            m, (lo, hi) = b[role]["mean"], b[role]["ci"]
            x = sx(i, off)
            tip = f"{role} · {b['tag']}: {_nice(m)}"
            if _finite(lo) and _finite(hi):
                tip += f" [{_nice(lo)}, {_nice(hi)}]"
                g.append(f'<g class="ci-bar" data-bucket="{escape(b["tag"])}" data-lo="{lo}" data-hi="{hi}" stroke-width="1.5">'
                         f'<line x1="{x:.1f}" y1="{sy(lo):.1f}" x2="{x:.1f}" y2="{sy(hi):.1f}"/>'
                         f'<line x1="{x - 3:.1f}" y1="{sy(lo):.1f}" x2="{x + 3:.1f}" y2="{sy(lo):.1f}"/>'
                         f'<line x1="{x - 3:.1f}" y1="{sy(hi):.1f}" x2="{x + 3:.1f}" y2="{sy(hi):.1f}"/></g>')
            tip += f" · {b['n_cases']} cases, {b['n_images']} images"
            g.append(f'<circle class="pt" data-bucket="{escape(b["tag"])}" data-mean="{m}" cx="{x:.1f}" '
                     f'cy="{sy(m):.1f}" r="3.5"><title>{escape(tip)}</title></circle>')
        g.append("</g>")
        out += g
        out.append(f'<text x="{legend_x:.0f}" y="30" class="legend" fill="{color}">&#9632; {role}</text>')
        legend_x += 70
    out.append("</svg>")
    return "".join(out)
