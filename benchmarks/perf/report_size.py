"""Size and load time of the HTML report of a large run, measured in headless Chromium.

    python benchmarks/perf/report_size.py [--cases 1000] [--seeds 1] [--size 256 256]

Synthesises a run directory (teacher + student, real PNGs, verdicts with failures; the writer in
tests/reports/make_run.py follows docs/run-format.md), writes the report with the default settings,
opens it from disk in Debian's chromium over the DevTools protocol and prints: file size, build
time, DOMContentLoaded, first contentful paint, the case browser's first render (page 1 is drawn
while the rest of the file is still being parsed), the moment every image block is loaded and the
load event (navigation timing, from the start of navigation), the number of <img> elements in the DOM
(one page: images are materialised per page), and the time from a tag filter, a search, a sort by
value and a page turn to the next painted frame (interaction latency).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from reports.html import Options, build_report  # noqa: E402
from tests.reports.browser import Browser  # noqa: E402
from tests.reports.make_run import make_run  # noqa: E402


_FRAME = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"   # until painted


def _timed(action: str) -> str:
    """JS: run `action`, wait for the next painted frame, return the elapsed ms."""
    return f"(async function(){{var t=performance.now(); {action}; await {_FRAME}; return performance.now()-t;}})()"


def measure(html: Path, repeats: int = 3) -> dict[str, float]:
    """Median over `repeats` fresh page loads (one browser, new tab each time): navigation timing
    (DOMContentLoaded, first contentful paint, load), the case browser's first render, and the time
    from an interaction to the next painted frame (tag filter, search, value sort, next page)."""
    keys = ("dcl_ms", "fcp_ms", "load_event_ms", "first_render_ms", "ready_ms", "filter_ms", "search_ms", "sort_ms", "page_ms",
            "imgs_in_dom", "imgs_decoded")
    runs: dict[str, list[float]] = {k: [] for k in keys}
    with Browser() as b:
        for _ in range(repeats):
            page = b.open(html.as_uri())
            page.wait_for("document.body.getAttribute('data-ready') === '1'", timeout=120)
            nav = page.eval("(function(){var n=performance.getEntriesByType('navigation')[0];"
                            "var p=performance.getEntriesByType('paint').filter(e => e.name==='first-contentful-paint')[0];"
                            "return [n.domContentLoadedEventEnd, p ? p.startTime : NaN, n.loadEventEnd];})()")
            runs["dcl_ms"].append(float(nav[0]))
            runs["fcp_ms"].append(float(nav[1]) if nav[1] is not None else float("nan"))
            runs["load_event_ms"].append(float(nav[2]))
            runs["first_render_ms"].append(float(page.eval("Number(document.body.getAttribute('data-first-render-ms'))")))
            runs["ready_ms"].append(float(page.eval("Number(document.body.getAttribute('data-ready-ms'))")))
            # only the visible page's images are in the DOM (and decoded once in view)
            page.wait_for("Array.from(document.querySelectorAll('#rows img')).slice(0, 4).every(i => i.complete)")
            runs["imgs_in_dom"].append(float(page.eval("document.querySelectorAll('#rows img').length")))
            runs["imgs_decoded"].append(float(page.eval(
                "Array.from(document.querySelectorAll('#rows img')).filter(i => i.complete && i.naturalWidth > 0).length")))
            runs["filter_ms"].append(float(page.eval(_timed(
                "var s=document.getElementById('f-tag'); s.value=s.options[1].value; s.dispatchEvent(new Event('change'))"))))
            page.eval(_timed("var s=document.getElementById('f-tag'); s.value=''; s.dispatchEvent(new Event('change'))"))
            runs["search_ms"].append(float(page.eval(_timed(
                "var q=document.getElementById('f-search'); q.value='case-00'; q.dispatchEvent(new Event('input'))"))))
            page.eval(_timed("var q=document.getElementById('f-search'); q.value=''; q.dispatchEvent(new Event('input'))"))
            runs["sort_ms"].append(float(page.eval(_timed(
                "var s=document.getElementById('f-sort'); s.value='value-asc'; s.dispatchEvent(new Event('change'))"))))
            runs["page_ms"].append(float(page.eval(_timed("document.getElementById('next').click()"))))
            errors = page.errors()
            if errors:
                raise SystemExit(f"console errors: {errors[:3]}")
            b.send("Target.closeTarget", {"targetId": b.send("Target.getTargets")["targetInfos"][-1]["targetId"]})
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    return {k: med(v) for k, v in runs.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--size", type=int, nargs=2, default=[256, 256], metavar=("W", "H"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--full-budget", type=float, default=Options.full_budget_mb, metavar="MB",
                    help="originals embedded for the lightbox (report default: %(default)s MB)")
    ap.add_argument("--thumb-size", type=int, default=Options.thumb_size)
    ap.add_argument("--dir", help="work directory (default: a temporary one)")
    ap.add_argument("--reuse", action="store_true", help="reuse the synthetic run already in --dir")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="evalsuite-report-size-"))
    t0 = time.perf_counter()
    run = work / "run"
    if not (args.reuse and (run / "results.db").is_file()):
        run = make_run(run, n_cases=args.cases, seeds=tuple(range(args.seeds)), size=tuple(args.size))
    t_make = time.perf_counter() - t0
    images_mb = sum(p.stat().st_size for p in (run / "images").glob("*.png")) / 1e6
    out = work / "report.html"
    info = build_report([str(run)], out, Options(full_budget_mb=args.full_budget, thumb_size=args.thumb_size))
    res = {"cases": info.cases, "rows": info.rows, "images_embedded": info.images,
           "image_size": f"{args.size[0]}x{args.size[1]}", "run_images_mb": round(images_mb, 1),
           "report_mb": round(info.bytes / 1e6, 2), "build_s": round(info.seconds, 2),
           "full_res_embedded": info.full_images, "full_res_skipped": info.full_skipped,
           "synthesise_s": round(t_make, 1), **{k: round(v, 1) for k, v in measure(out, args.repeats).items()},
           "report": str(out)}
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        from rich.console import Console
        from rich.table import Table

        t = Table(title=f"HTML report of a {info.cases}-case run ({info.rows} case×seed rows, teacher + student), "
                        "headless Chromium", title_justify="left")
        t.add_column("measure")
        t.add_column("value", justify="right")
        for k, label in (("report_mb", "report size (MB)"), ("run_images_mb", "run's PNG images (MB)"),
                         ("images_embedded", "embedded images (thumbnails + crops + originals)"),
                         ("full_res_embedded", "full-resolution originals embedded (lightbox)"),
                         ("build_s", "build time (s)"),
                         ("dcl_ms", "DOMContentLoaded (ms, median)"), ("fcp_ms", "first contentful paint (ms)"),
                         ("first_render_ms", "case browser: page 1 rendered (ms)"),
                         ("ready_ms", "case browser: every image loaded (ms)"), ("load_event_ms", "load event end (ms)"),
                         ("imgs_in_dom", "<img> elements in the DOM (one page)"),
                         ("filter_ms", "tag filter to next frame (ms)"), ("search_ms", "search to next frame (ms)"),
                         ("sort_ms", "sort by value to next frame (ms)"), ("page_ms", "next page to next frame (ms)")):
            t.add_row(label, str(res[k]))
        Console(width=120).print(t)
        print(f"report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
