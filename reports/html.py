"""Self-contained HTML comparison reports of runs and sweeps (no server, no network, no models).

Layout of the file: static summary HTML (escaped on the server side: per metric mean + 95% CI resampling cases,
paired deltas, per tag, judge failures, latency and NFE, difficulty-ladder curves and sweep curves as
inline SVG), then the
case data as one JSON block and every image as its own `<script type="text/plain">` block holding a
data URL, inside inert `<template>`s (the first page's images before the script, the rest after
it). The bundled script (reports/assets/report.js) renders page 1 as soon as it is parsed, one page
of cases at a time, and only then materialises that page's images, so a 1,000-case report stays
responsive. User strings reach the page only as JSON text or through `textContent`, never as
markup.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from PIL import Image

from evalsuite.compare import RunData, Sweep, is_sweep, load_run, load_sweep, mismatched_keys, sweep_curves
from evalsuite.ladder import ladder_lines, ladder_section
from evalsuite.stats import keyed_mean_ci, paired_keyed_delta
from evalsuite.types import EvalsuiteError
from reports.svg import ladder_chart, line_chart

logger = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"
_RATIONALE_KEYS = ("rationale", "reasoning", "reason", "explanation", "analysis", "critique", "raw", "reply")
_MAX_DETAIL_CHARS = 4000
_MAX_LIST = 40


@dataclass
class Options:
    """Report settings: thumbnail size and format, native-pixel crop size, page size."""

    title: str | None = None
    thumb_size: int = 256             # longest side of the embedded image (0 = original PNG)
    thumb_format: str = "webp"        # webp | jpeg | png
    thumb_quality: int = 82
    lossless_max_bytes: int = 48_000  # PNGs this small and within thumb_size are embedded as they are
    crop_size: int = 64               # native-pixel crop of the flat background (lossless PNG)
    page_size: int = 25
    max_checkpoints: int = 6          # sweep lanes shown per case (evenly spaced, last included)
    full_budget_mb: float = 16.0      # originals of downscaled renders embedded for the lightbox, in row order


@dataclass
class Lane:
    """One column of the case view: a role in a run (or the edit source)."""

    label: str
    kind: str                         # source | teacher | model
    run: RunData | None
    role: str | None
    target: bool = False              # the model compared with the reference lane
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReportInfo:
    path: Path
    bytes: int
    cases: int
    rows: int
    images: int
    seconds: float
    full_images: int = 0              # originals embedded for the lightbox (Options.full_budget_mb)
    full_skipped: int = 0             # downscaled images whose original did not fit the budget


# --- inputs -------------------------------------------------------------------------------------
def _lanes(specs: list[str], max_checkpoints: int) -> tuple[list[Lane], list[Sweep]]:
    lanes: list[Lane] = []
    sweeps: list[Sweep] = []
    teacher_fps: set[str] = set()
    multi = len(specs) > 1
    for spec in specs:
        path, role = spec, None
        if "@" in spec and not Path(spec).exists():
            path, _, role = spec.rpartition("@")
        if is_sweep(path):
            sw = load_sweep(path)
            sweeps.append(sw)
            if not sw.checkpoints:
                raise EvalsuiteError(f"{path}: sweep has no evaluated checkpoints yet")
            tr = sw.teacher
            if tr is not None:
                trole = "teacher" if "teacher" in tr.items else tr.roles[0]
                if tr.fingerprints.get(trole) not in teacher_fps:
                    teacher_fps.add(tr.fingerprints.get(trole, ""))
                    lanes.append(Lane(f"{sw.name}: teacher", "teacher", tr, trole))
            else:
                cp0 = next((c for c in sw.checkpoints if "teacher" in c.run.items), None)
                if cp0 is not None and cp0.run.fingerprints.get("teacher") not in teacher_fps:
                    teacher_fps.add(cp0.run.fingerprints.get("teacher", ""))
                    lanes.append(Lane(f"{sw.name}: teacher", "teacher", cp0.run, "teacher"))
            for recipe in sw.recipes():
                cps = [c for c in sw.checkpoints if c.recipe == recipe]
                if len(cps) > max_checkpoints:
                    idx = sorted({round(i * (len(cps) - 1) / (max_checkpoints - 1)) for i in range(max_checkpoints)})
                    cps = [cps[i] for i in idx]
                for c in cps:
                    lanes.append(Lane(f"{recipe}/{c.name}", "model", c.run, "student" if "student" in c.run.items
                                      else c.run.roles[-1], meta={"step": c.step, "checkpoint": c.entry.get("checkpoint")}))
            continue
        run = load_run(path)
        roles = [role] if role else run.roles
        for r in roles:
            if r not in run.items:
                raise EvalsuiteError(f"{spec}: run has no role '{r}' (roles: {', '.join(run.roles)})")
            fp = run.fingerprints.get(r, "")
            if r == "teacher":
                if fp in teacher_fps:
                    continue
                teacher_fps.add(fp)
            label = f"{run.name}: {r}" if multi else r
            lanes.append(Lane(label, "teacher" if r == "teacher" else "model", run, r))
    if not lanes:
        raise EvalsuiteError("report: nothing to show (no roles with images)")
    target = next((ln for ln in reversed(lanes) if ln.kind == "model"), None) if sweeps else \
        next((ln for ln in lanes if ln.kind == "model"), None)
    if target is not None:
        target.target = True
    return lanes, sweeps


# --- images -------------------------------------------------------------------------------------
class ImageStore:
    """Encodes each distinct image once: a thumbnail, and native-pixel crops on request."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.ids: dict[str, str] = {}           # key -> id
        self.blobs: list[tuple[str, str]] = []  # (id, data URL)
        self.meta: dict[str, dict[str, Any]] = {}
        self._pre: dict[tuple[Path, Any], Any] = {}
        self.full_bytes = 0                     # data-URL characters spent on full-resolution originals
        self.full_count = 0
        self.full_skipped = 0

    def _add(self, key: str, url: str, meta: dict[str, Any]) -> str:
        if key in self.ids:
            return self.ids[key]
        iid = f"i{len(self.blobs)}"
        self.ids[key] = iid
        self.blobs.append((iid, url))
        self.meta[iid] = meta
        return iid

    @staticmethod
    def _url(data: bytes, mime: str) -> str:
        return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"

    def thumb(self, path: Path) -> str | None:
        """The embedded view of an image (see Options); None when unreadable."""
        return self.encode(path, None)[0]

    def prefetch(self, tasks: list[tuple[Path, tuple[float, float, float, float] | None]]) -> None:
        """Decode and encode images in threads (PIL releases the GIL); ids stay in call order."""
        from concurrent.futures import ThreadPoolExecutor

        todo = list(dict.fromkeys(tasks))
        workers = min(8, os.cpu_count() or 1)
        if workers < 2 or len(todo) < 16:
            return
        with ThreadPoolExecutor(workers) as pool:
            for task, res in zip(todo, pool.map(lambda t: self._encode_data(*t), todo), strict=True):
                self._pre[task] = res

    def encode(self, path: Path, region: tuple[float, float, float, float] | None
               ) -> tuple[str | None, tuple[str, list[int]] | None]:
        """Thumbnail id and (crop id, native-pixel box) of one image, decoding it once."""
        key = f"thumb:{path}"
        if key in self.ids and region is None:
            return self.ids[key], None
        data = self._pre.pop((path, region), None) or self._encode_data(path, region)
        if data is None:
            return None, None
        (turl, tmeta), crop = data
        tid = self.ids.get(key)
        if tid is None:
            tid = self._add(key, turl, tmeta)
            if (tmeta.get("tw"), tmeta.get("th")) not in ((None, None), (tmeta["w"], tmeta["h"])):
                self._add_full(path, tmeta)     # downscaled: the lightbox may show the original
        if crop is None:
            return tid, None
        curl, cmeta, box = crop
        return tid, (self._add(f"crop:{path}:{box}", curl, cmeta), box)

    def _add_full(self, path: Path, tmeta: dict[str, Any]) -> None:
        """Embed the original PNG of a downscaled thumbnail for the lightbox, within budget (a lossy
        thumbnail at full size needs none: the background crop is lossless already)."""
        budget = self.opts.full_budget_mb * 1e6
        size = path.stat().st_size * 4 // 3 + 32     # base64
        if self.full_bytes + size > budget:
            self.full_skipped += 1
            return
        try:
            url = self._url(path.read_bytes(), "image/png")
        except OSError:
            return
        self.full_bytes += len(url)
        self.full_count += 1
        tmeta["full"] = self._add(f"full:{path}", url, {"w": tmeta["w"], "h": tmeta["h"]})

    def _encode_data(self, path: Path, region: tuple[float, float, float, float] | None) -> Any:
        try:
            with Image.open(path) as im:
                im.load()
                return self._thumb_data(path, im), self._crop_data(im, region)
        except (OSError, ValueError) as e:
            logger.warning("%s: cannot read image (%s)", path, e)
            return None

    def _thumb_data(self, path: Path, im: Image.Image) -> tuple[str, dict[str, int]]:
        w, h = im.size
        o = self.opts
        small = max(w, h) <= o.thumb_size and path.stat().st_size <= o.lossless_max_bytes
        if o.thumb_size <= 0 or small or (max(w, h) <= o.thumb_size and o.thumb_format == "png"):
            # small renders (e.g. the bundled 32x96 models) stay lossless: grain must survive
            return self._url(path.read_bytes(), "image/png"), {"w": w, "h": h}
        rgb = im.convert("RGB")
        if max(w, h) > o.thumb_size:
            s = o.thumb_size / max(w, h)
            rgb = rgb.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        fmt = {"webp": "WEBP", "jpeg": "JPEG", "png": "PNG"}[o.thumb_format]
        kw: dict[str, Any] = {"quality": o.thumb_quality} if fmt in ("WEBP", "JPEG") else {}
        if fmt == "WEBP":
            kw["method"] = 0          # 6x faster than the default 4, about the same size here
        rgb.save(buf, format=fmt, **kw)
        mime = {"WEBP": "image/webp", "JPEG": "image/jpeg", "PNG": "image/png"}[fmt]
        # tw/th: the thumbnail is a derivative (smaller or lossy); "full" may point at the original
        return self._url(buf.getvalue(), mime), {"w": w, "h": h, "tw": rgb.width, "th": rgb.height}

    def _crop_data(self, im: Image.Image, region: tuple[float, float, float, float] | None
                   ) -> tuple[str, dict[str, int], list[int]] | None:
        """Native-pixel PNG crop (at most crop_size square) centred in `region` (fractions or pixels)."""
        if region is None or self.opts.crop_size <= 0:
            return None
        w, h = im.size
        x0, y0, x1, y1 = region
        if max(region) > 1.0:          # pixel coordinates
            x0, x1, y0, y1 = x0 / w, x1 / w, y0 / h, y1 / h
        cx, cy = (x0 + x1) / 2 * w, (y0 + y1) / 2 * h
        cw = min(self.opts.crop_size, max(1, int((x1 - x0) * w)))
        ch = min(self.opts.crop_size, max(1, int((y1 - y0) * h)))
        bx0 = int(max(0, min(w - cw, cx - cw / 2)))
        by0 = int(max(0, min(h - ch, cy - ch / 2)))
        box = [bx0, by0, bx0 + cw, by0 + ch]
        buf = io.BytesIO()
        im.crop(tuple(box)).convert("RGB").save(buf, format="PNG")
        return self._url(buf.getvalue(), "image/png"), {"w": cw, "h": ch}, box


def _box(v: Any) -> tuple[float, float, float, float] | None:
    """Four finite numbers x0 < x1, y0 < y1, or None."""
    if not isinstance(v, (list, tuple)) or len(v) != 4:
        return None
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v):
        return None
    x0, y0, x1, y1 = (float(x) for x in v)
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


def _region(case: dict[str, Any], details: dict[str, Any]) -> tuple[float, float, float, float] | None:
    """Where to crop the flat background: the box the flatbg judge measured (`region_box`,
    fractions, inside its flat mask), else the pack's region, else a judge's numeric `region`,
    else — a flat background was asked for but not located — the top quarter."""
    for judge in sorted(details, key=lambda j: (j != "flatbg", j)):
        d = details[judge]
        rb = _box(d.get("region_box")) if isinstance(d, dict) else None
        if rb is not None and all(0.0 <= v <= 1.0 for v in rb):
            return rb
    bg = case.get("background") or {}
    r = bg.get("region") if isinstance(bg, dict) else None
    if r is None:
        for d in details.values():
            cand = _box(d.get("region")) if isinstance(d, dict) else None
            if cand is not None:
                r = cand
                break
    if r is None and bg:
        r = [0.0, 0.0, 1.0, 0.25]
    if r is None or len(r) != 4:
        return None
    return tuple(float(v) for v in r)   # type: ignore[return-value]


def _trim_detail(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if k == "lines":
            continue                     # OCR boxes: the read text is enough in the report
        if k == "errors" and isinstance(v, list):
            v = v[:_MAX_LIST]            # classified typography errors: the first ones (counts stay whole)
        if k == "replies" and isinstance(v, list):
            # VLM replies: their text is the rationale; usage and timing stay in results.db
            v = [{kk: (r.get(kk)[:1500] if isinstance(r.get(kk), str) else r.get(kk))
                  for kk in ("text", "ok", "error") if kk in r} for r in v[:4] if isinstance(r, dict)]
        s = json.dumps(v, ensure_ascii=False, default=str)
        if len(s) <= _MAX_DETAIL_CHARS:
            out[k] = v
        elif isinstance(v, str):
            out[k] = v[:_MAX_DETAIL_CHARS] + "…"
    return out


# --- summary (static HTML) ----------------------------------------------------------------------
def _fmt(m: float | None, lo: float | None = None, hi: float | None = None) -> str:
    if m is None or (isinstance(m, float) and math.isnan(m)):
        return "—"
    s = f"{m:.4g}"
    if lo is not None and hi is not None and not math.isnan(lo):
        s += f" [{lo:.4g}, {hi:.4g}]"
    return s


def _summary_html(lanes: list[Lane], keys: list[str], specs: dict[str, dict[str, Any]]) -> str:
    model_lanes = [ln for ln in lanes if ln.run is not None]
    ref = next((ln for ln in model_lanes if ln.kind == "teacher"), None)
    h: list[str] = ['<section id="summary"><h2>Summary</h2>']
    # models
    h.append('<table class="t" id="models"><thead><tr><th>model</th><th>run</th><th>checkpoint</th><th>NFE</th>'
             '<th>latency ms/image</th><th>images</th></tr></thead><tbody>')
    for ln in model_lanes:
        m = ln.run.model(ln.role)
        lat = ln.run.latency_ms.get(ln.role)
        h.append(f"<tr><td>{escape(ln.label)}</td><td>{escape(ln.run.name)}</td>"
                 f"<td>{escape(str(m.get('checkpoint') or ln.meta.get('checkpoint') or ''))}</td>"
                 f"<td>{escape(str(m.get('nfe', '—')))}</td><td>{'—' if lat is None else f'{lat:.1f}'}</td>"
                 f"<td>{len(ln.run.items.get(ln.role, {}))}</td></tr>")
    h.append("</tbody></table>")
    # per metric
    show = model_lanes if len(model_lanes) <= 8 else ([ref] if ref else []) + [ln for ln in model_lanes if ln.target]
    h.append('<table class="t" id="metrics"><thead><tr><th>metric</th><th>dir</th>')
    h += [f"<th>{escape(ln.label)}<br><small>mean [95% CI over cases] · n images (cases) · failures</small></th>" for ln in show]
    cmp_lanes = [ln for ln in show if ref is not None and ln is not ref and ln.kind == "model"]
    h += [f"<th>{escape(ln.label)} − {escape(ref.label)}<br><small>paired Δ [95% CI over cases]</small></th>" for ln in cmp_lanes if ref]
    h.append("</tr></thead><tbody>")
    changed = {id(ln): mismatched_keys(ln.run, ln.role, ref.run, ref.role) for ln in cmp_lanes if ref is not None}
    for key in keys:
        hib = specs.get(key, {}).get("higher_is_better", True)
        row = [f"<td>{escape(key)}</td><td>{'↑' if hib else '↓'}</td>"]
        for ln in show:
            ci = keyed_mean_ci(ln.run.values(ln.role, key))
            fails = ln.run.failures(ln.role, key)
            fail_s = f' · <span class="bad">{fails} failed</span>' if fails else " · 0 failed"
            row.append(f"<td>{_fmt(*ci)} · n={ci.n_images} ({ci.n_cases} cases){fail_s}</td>")
        for ln in cmp_lanes:
            a, b = ln.run.values(ln.role, key), ref.run.values(ref.role, key)  # type: ignore[union-attr]
            both = set(a) & set(b)
            shared = sorted(both - changed[id(ln)])
            left_out = (f' <span class="bad" title="case content differs between the runs (case_hash): '
                        f'not paired">· {len(both) - len(shared)} left out</span>' if len(both) > len(shared) else "")
            if not shared:
                row.append(f"<td>—{left_out}</td>")
                continue
            dci = paired_keyed_delta(a, b, shared)
            d, lo, hi = dci
            cls = ("good" if (d > 0) == hib else "bad") if dci.excludes_zero else "ns"
            row.append(f'<td class="{cls}">{d:+.4g} [{lo:+.4g}, {hi:+.4g}] (n={len(shared)}, {dci.n_cases} cases)'
                       f'{left_out}</td>')
        h.append("<tr>" + "".join(row) + "</tr>")
    h.append("</tbody></table>")
    h.append(_typography_html(show))
    # per tag
    tags = sorted({t for ln in show for c in ln.run.cases.values() for t in c.get("tags", [])})
    if tags:
        h.append('<details id="per-tag"><summary>Per tag (mean · n)</summary><table class="t"><thead><tr><th>metric</th>'
                 "<th>tag</th>" + "".join(f"<th>{escape(ln.label)}</th>" for ln in show) + "</tr></thead><tbody>")
        for key in keys:
            for t in tags:
                cells = []
                for ln in show:
                    vals = {k: v for k, v in ln.run.values(ln.role, key).items()
                            if t in (ln.run.cases.get(k[0]) or {}).get("tags", [])}
                    ci = keyed_mean_ci(vals)
                    cells.append(f"<td>{_fmt(*ci)} · {ci.n_images}</td>")
                h.append(f"<tr><td>{escape(key)}</td><td>{escape(t)}</td>{''.join(cells)}</tr>")
        h.append("</tbody></table></details>")
    # judge failures
    fail_rows = []
    for ln in model_lanes:
        errs: dict[tuple[str, str], int] = {}
        for v in ln.run.verdicts.get(ln.role, []):
            if not v.ok:
                k = (v.key, (v.error or "")[:160])
                errs[k] = errs.get(k, 0) + 1
        for (key, err), n in sorted(errs.items(), key=lambda kv: -kv[1]):
            fail_rows.append(f"<tr><td>{escape(ln.label)}</td><td>{escape(key)}</td><td>{n}</td><td>{escape(err)}</td></tr>")
    h.append(f'<details id="failures" {"open" if fail_rows else ""}><summary>Judge failures: '
             f'{sum(ln.run.failures(ln.role, k) for ln in model_lanes for k in keys)}</summary>')
    if fail_rows:
        h.append('<table class="t"><thead><tr><th>model</th><th>metric</th><th>count</th><th>error</th></tr></thead>'
                 f"<tbody>{''.join(fail_rows)}</tbody></table>")
    h.append("</details></section>")
    return "".join(h)


def _typography_html(lanes: list[Lane]) -> str:
    """Typography error classes per model: for every judge whose verdict detail carries
    `error_counts` (the OCR judge, docs/typography.md), the errors of each class over the model's
    images and the images having one (judges.typo_errors.aggregate_error_counts, as summary.json's
    "typography" section, here over exactly the verdicts the report shows)."""
    per_lane: list[tuple[Lane, str, dict[tuple[str, int], dict[str, Any]]]] = []
    for ln in lanes:
        by_judge: dict[str, dict[tuple[str, int], dict[str, Any]]] = {}
        for v in ln.run.verdicts.get(ln.role, []) if ln.run is not None else []:
            if v.ok and isinstance(v.detail, dict) and isinstance(v.detail.get("error_counts"), dict):
                by_judge.setdefault(v.key.split(".", 1)[0], {}).setdefault((v.case_id, v.seed), v.detail)
        per_lane += [(ln, judge, details) for judge, details in sorted(by_judge.items())]
    if not per_lane:
        return ""
    from judges.typo_errors import aggregate_error_counts   # only for runs that carry error counts

    aggs = [(ln, judge, aggregate_error_counts(details.values())) for ln, judge, details in per_lane]
    classes = list(aggs[0][2]["errors"])
    h = ['<table class="t" id="typography"><caption>Typography errors (text as written): errors of each '
         "class over the model's images <small>(images with at least one)</small></caption><thead><tr>"
         "<th>model</th><th>judge</th><th>images</th><th>with errors</th>"]
    h += [f"<th>{escape(c)}</th>" for c in classes]
    h.append("</tr></thead><tbody>")
    for ln, judge, a in aggs:
        cells = "".join(f'<td data-class="{escape(c)}">{a["errors"].get(c, 0)} <small>({a["images_with"].get(c, 0)})</small></td>'
                        for c in classes)
        h.append(f"<tr><td>{escape(ln.label)}</td><td>{escape(judge)}</td><td>{a['images']}</td>"
                 f"<td>{a['images_with_errors']}</td>{cells}</tr>")
    h.append("</tbody></table>")
    return "".join(h)


def _ladder_defs(run: RunData) -> dict[str, list[str]]:
    """The pack's ladders (bucket tags, easy to hard), as the run's summary.json records them; runs
    summarised before ladders existed fall back to the pack folder named in run.json."""
    recorded = (run.summary or {}).get("ladders")
    if recorded:
        return {name: list(lad["buckets"]) for name, lad in recorded.items()}
    root = (run.run.get("pack") or {}).get("root")
    if not root:
        return {}
    try:
        from evalsuite.packs import load_pack

        return {k: list(v) for k, v in load_pack(root).ladders.items()}
    except (EvalsuiteError, OSError) as e:
        logger.info("no ladders for %s: %s", run.dir, e)
        return {}


def _ladders_html(lanes: list[Lane], keys: list[str], specs: dict[str, dict[str, Any]]) -> str:
    """Each metric along each ladder of the pack, teacher and the compared model, with CI bars (the
    summary's computation, evalsuite.ladder, on the report's lanes)."""
    ref = next((ln for ln in lanes if ln.kind == "teacher" and ln.run is not None), None)
    tgt = next((ln for ln in lanes if ln.target and ln.run is not None), None)
    if ref is None or tgt is None:
        return ""
    ladders = _ladder_defs(tgt.run) or _ladder_defs(ref.run)   # type: ignore[arg-type]
    if not ladders:
        return ""
    changed = mismatched_keys(tgt.run, tgt.role, ref.run, ref.role)
    tv = {k: ref.run.values(ref.role, k) for k in keys}   # type: ignore[union-attr]
    sv = {k: {p: v for p, v in tgt.run.values(tgt.role, k).items() if p not in changed} for k in keys}   # type: ignore[union-attr]
    tags = {cid: c.get("tags", []) for cid, c in tgt.run.cases.items()}   # type: ignore[union-attr]
    hib = {k: bool(specs.get(k, {}).get("higher_is_better", True)) for k in keys}
    section = ladder_section(ladders, tags, tv, sv, hib)
    h = ['<section id="ladders"><h2>Difficulty ladders</h2>'
         f'<p class="sub">{escape(tgt.label)} vs {escape(ref.label)}: per bucket (easy → hard) the mean '
         "and its 95% CI over cases (seeds nested), on the (case, seed) pairs both scored; the shaded "
         "bucket is the first where the CI of the paired difference lies below zero.</p>"]
    for (name, lad), line in zip(section.items(), ladder_lines(section)):
        h.append(f'<div class="ladder" data-ladder="{escape(name)}"><h3>{escape(name)}: '
                 f'{escape(" → ".join(lad["buckets"]))}</h3><p class="ladder-break">{escape(line)}</p>'
                 '<div class="charts">')
        h += [ladder_chart(name, m, curve) for m, curve in lad["metrics"].items()]
        h.append("</div></div>")
    h.append("</section>")
    return "".join(h)


def _sweep_html(sweeps: list[Sweep]) -> str:
    h = ['<section id="sweep"><h2>Checkpoint curves</h2><div class="charts">']
    keys = sorted({k for sw in sweeps for cp in sw.checkpoints for k in cp.run.metric_keys()})
    for key in keys:
        series: dict[str, list[dict[str, Any]]] = {}
        ref = None
        hib = None
        for sw in sweeps:
            for recipe, pts in sweep_curves(sw).get(key, {}).items():
                label = recipe if len(sweeps) == 1 or recipe != sw.name else sw.name
                series[label] = pts
            tv = sw.teacher_values(key)
            if tv is not None and ref is None and tv[0]:
                ref = sum(tv[0].values()) / len(tv[0])
            for cp in sw.checkpoints:
                if key in cp.run.specs and hib is None:
                    hib = cp.run.higher_is_better(key)
        h.append(line_chart(key, series, ref, "teacher", hib))
    h.append("</div></section>")
    return "".join(h)


# --- rows (JSON for the script) -----------------------------------------------------------------
def _rows(lanes: list[Lane], images: ImageStore, keys: list[str]) -> list[dict[str, Any]]:
    key_idx = {k: i for i, k in enumerate(keys)}
    cases: dict[str, dict[str, Any]] = {}
    row_keys: set[tuple[str, int]] = set()
    for ln in lanes:
        if ln.run is None:
            continue
        for cid, c in ln.run.cases.items():
            cases.setdefault(cid, c)
        row_keys |= {k for k in ln.run.items.get(ln.role, {}) if k[1] >= 0}
    # per lane: (case, seed) -> {metric idx: [value|None, error|None]}, details per judge
    lane_scores: list[dict[tuple[str, int], dict[int, list[Any]]]] = []
    lane_details: list[dict[tuple[str, int], dict[str, Any]]] = []
    for ln in lanes:
        sc: dict[tuple[str, int], dict[int, list[Any]]] = {}
        dt: dict[tuple[str, int], dict[str, Any]] = {}
        if ln.run is not None:
            for v in ln.run.verdicts.get(ln.role, []):
                if v.key not in key_idx:
                    continue
                sc.setdefault((v.case_id, v.seed), {})[key_idx[v.key]] = [
                    None if v.value is None else round(float(v.value), 5), None if v.ok else (v.error or "failed")]
                judge = v.key.split(".", 1)[0]
                if v.detail:
                    dt.setdefault((v.case_id, v.seed), {}).setdefault(judge, _trim_detail(v.detail))
        lane_scores.append(sc)
        lane_details.append(dt)
    tasks = []
    for cid, seed in sorted(row_keys):
        for li, ln in enumerate(lanes):
            ih = ln.run.items.get(ln.role, {}).get((cid, seed)) if ln.run and ln.kind != "source" else None
            if ih is not None:
                tasks.append((ln.run.image_path(ih),
                              _region(cases.get(cid, {}), lane_details[li].get((cid, seed), {}))))
    images.prefetch(tasks)
    rows = []
    for cid, seed in sorted(row_keys):
        c = cases.get(cid, {"id": cid})
        cells = []
        row_hash: str | None = None
        for li, ln in enumerate(lanes):
            cell: dict[str, Any] = {}
            if ln.kind == "source":
                src = next((x.run.source_path(cid) for x in lanes if x.run is not None and x.run.source_path(cid)), None)
                if src is not None:
                    cell["img"] = images.thumb(src)
                cells.append(cell)
                continue
            ih = ln.run.items.get(ln.role, {}).get((cid, seed)) if ln.run else None
            if ih is None:
                cells.append(None)
                continue
            chash = ln.run.case_hash(ln.role, (cid, seed))
            if row_hash is None:
                row_hash = chash
            elif chash and chash != row_hash:
                cell["changed"] = 1        # this run's case has other content: shown, never paired
            path = ln.run.image_path(ih)
            details = lane_details[li].get((cid, seed), {})
            cell["img"], cr = images.encode(path, _region(c, details))
            if cr is not None:
                cell["crop"], cell["box"] = cr
            s = {**{k: v for k, v in lane_scores[li].get((cid, -1), {}).items()}, **lane_scores[li].get((cid, seed), {})}
            case_level = set(lane_scores[li].get((cid, -1), {}))
            cell["s"] = {str(k): v for k, v in sorted(s.items())}
            if case_level:
                cell["cl"] = sorted(case_level)
            if details:
                cell["d"] = details
            cells.append(cell)
        rows.append({"case": cid, "seed": seed, "kind": c.get("kind", "t2i"), "prompt": c.get("prompt", ""),
                     "tags": list(c.get("tags", [])), "expected": list(c.get("expected_text", []) or []),
                     "bg": (c.get("background") or {}).get("color") if isinstance(c.get("background"), dict) else None,
                     "cells": cells})
    return rows


def _json_script(obj: Any) -> str:
    """JSON safe inside <script>: no '<', '>', '&' or line separators survive literally."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False)
    return (s.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def build_report(specs: list[str], out: str | Path, opts: Options | None = None) -> ReportInfo:
    """Write one self-contained HTML report of runs (RUN or RUN@ROLE) and/or sweeps."""
    t0 = time.perf_counter()
    opts = opts or Options()
    if opts.thumb_format not in ("webp", "jpeg", "png"):
        raise EvalsuiteError(f"--thumb-format '{opts.thumb_format}': expected webp, jpeg or png")
    lanes, sweeps = _lanes(specs, opts.max_checkpoints)
    if any(ln.run is not None and any(c.get("kind") == "edit" and ln.run.source_path(cid)
                                      for cid, c in ln.run.cases.items()) for ln in lanes):
        lanes.insert(0, Lane("source", "source", None, None))
    keys = sorted({k for ln in lanes if ln.run is not None for k in ln.run.metric_keys(ln.role)})
    specs_all: dict[str, dict[str, Any]] = {}
    for ln in lanes:
        if ln.run is not None:
            for k, v in ln.run.specs.items():
                specs_all.setdefault(k, v)
    images = ImageStore(opts)
    rows = _rows(lanes, images, keys)
    seed_counts = {k: 0 for k in range(len(keys))}
    for r in rows:
        for cell in r["cells"]:
            for k in (cell or {}).get("s", {}):
                if int(k) not in set((cell or {}).get("cl", [])):
                    seed_counts[int(k)] += 1
    default_metric = max(seed_counts, key=lambda k: (seed_counts[k], -k)) if keys else 0
    title = opts.title or " vs ".join(dict.fromkeys(
        (sw.name for sw in sweeps))) or " vs ".join(dict.fromkeys(ln.run.name for ln in lanes if ln.run))
    data = _clean({
        "title": title, "pageSize": opts.page_size, "defaultMetric": default_metric,
        "lanes": [{"label": ln.label, "kind": ln.kind, "target": ln.target} for ln in lanes],
        "metrics": [{"key": k, "hib": bool(specs_all.get(k, {}).get("higher_is_better", True)),
                     "range": specs_all.get(k, {}).get("range")} for k in keys],
        "images": images.meta, "rows": rows,
    })
    data_json = _json_script(data)
    nonce = hashlib.sha256(data_json.encode()).hexdigest()[:24]
    css = (ASSETS / "report.css").read_text(encoding="utf-8")
    js = (ASSETS / "report.js").read_text(encoding="utf-8")
    runs_desc = ", ".join(dict.fromkeys(str(ln.run.dir) for ln in lanes if ln.run is not None))
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
        f"style-src 'unsafe-inline'; script-src 'nonce-{nonce}'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{escape(title)} · evalsuite report</title><style>{css}</style></head><body>",
        f'<header><h1>{escape(title)}</h1><p class="sub">evalsuite report · {len(rows)} case×seed rows · '
        f"{len(keys)} metrics · runs: {escape(runs_desc)}</p></header>",
        _summary_html(lanes, keys, specs_all),
        _ladders_html(lanes, keys, specs_all),
        _sweep_html(sweeps) if sweeps else "",
        '<section id="cases"><h2>Cases</h2><div id="controls"></div><div id="count" role="status"></div>'
        '<div id="rows"></div><div id="pager"></div></section>',
        '<div id="lightbox" hidden><div class="lb-bar"><span id="lb-title"></span>'
        '<button id="lb-out" type="button">−</button><button id="lb-in" type="button">+</button>'
        '<button id="lb-close" type="button">close</button></div><div id="lb-view"><img id="lb-img" alt=""></div></div>',
        '<noscript><p>The case browser needs JavaScript; the summary above is static.</p></noscript>',
        f'<script type="application/json" id="report-data">{data_json}</script>',
    ]
    # Images live in inert <template>s (outside the rendered document: thousands of large text nodes
    # in <body> make every style recalculation cost hundreds of ms). The first page's images come
    # before the script, so it renders page 1 while the parser is still reading the rest.
    first = {c[k] for r in rows[:max(1, opts.page_size)] for c in r["cells"] if c for k in ("img", "crop") if c.get(k)}
    parts.append('<template id="blobs-0">')
    parts += [f'<script type="text/plain" id="{iid}">{url}</script>' for iid, url in images.blobs if iid in first]
    parts.append(f'</template><script nonce="{nonce}">{js}</script><template id="blobs-1">')
    parts += [f'<script type="text/plain" id="{iid}">{url}</script>' for iid, url in images.blobs if iid not in first]
    parts.append("</template></body></html>\n")
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(out.suffix + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for p in parts:
                f.write(p)
        tmp.replace(out)
    except OSError as e:
        raise EvalsuiteError(f"{out}: cannot write report ({e.strerror})") from e
    return ReportInfo(out, out.stat().st_size, len({r["case"] for r in rows}), len(rows), len(images.blobs),
                      time.perf_counter() - t0, images.full_count, images.full_skipped)
