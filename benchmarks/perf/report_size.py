"""Size and load time of the HTML report of a large run, measured in headless Chromium.

    python benchmarks/perf/report_size.py [--cases 1000] [--seeds 1] [--size 256 256]

Synthesises a run directory (teacher + student, real PNGs, verdicts with failures; the writer in
tests/reports/make_run.py follows docs/run-format.md), writes the report with the default settings,
opens it from disk in Debian's chromium over the DevTools protocol and prints: file size, build
time, time to the load event, time until the case browser is ready, and the time to apply a tag
filter and to turn a page (interaction latency).
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


def measure(html: Path, repeats: int = 3) -> dict[str, float]:
    """Median over `repeats` fresh page loads (one browser, new tab each time)."""
    loads, readies, filters, pages = [], [], [], []
    with Browser() as b:
        for _ in range(repeats):
            page = b.open(html.as_uri())
            page.wait_for("document.body.getAttribute('data-ready') === '1'", timeout=120)
            loads.append(page.load_ms or float("nan"))
            readies.append(float(page.eval("Number(document.body.getAttribute('data-ready-ms'))")))
            filters.append(float(page.eval(
                "(function(){var t=performance.now(); var s=document.getElementById('f-tag'); s.value=s.options[1].value;"
                "s.dispatchEvent(new Event('change')); document.body.offsetHeight; return performance.now()-t;})()")))
            pages.append(float(page.eval(
                "(function(){var s=document.getElementById('f-tag'); s.value=''; s.dispatchEvent(new Event('change'));"
                "var t=performance.now(); document.getElementById('next').click(); document.body.offsetHeight;"
                "return performance.now()-t;})()")))
            errors = page.errors()
            if errors:
                raise SystemExit(f"console errors: {errors[:3]}")
            b.send("Target.closeTarget", {"targetId": b.send("Target.getTargets")["targetInfos"][-1]["targetId"]})
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    return {"load_event_ms": med(loads), "ready_ms": med(readies), "filter_ms": med(filters), "page_ms": med(pages)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--size", type=int, nargs=2, default=[256, 256], metavar=("W", "H"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", help="work directory (default: a temporary one)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="evalsuite-report-size-"))
    t0 = time.perf_counter()
    run = make_run(work / "run", n_cases=args.cases, seeds=tuple(range(args.seeds)), size=tuple(args.size))
    t_make = time.perf_counter() - t0
    images_mb = sum(p.stat().st_size for p in (run / "images").glob("*.png")) / 1e6
    out = work / "report.html"
    info = build_report([str(run)], out, Options())
    res = {"cases": info.cases, "rows": info.rows, "images_embedded": info.images,
           "image_size": f"{args.size[0]}x{args.size[1]}", "run_images_mb": round(images_mb, 1),
           "report_mb": round(info.bytes / 1e6, 2), "build_s": round(info.seconds, 2),
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
                         ("images_embedded", "embedded images (thumbnails + crops)"), ("build_s", "build time (s)"),
                         ("load_event_ms", "load event (ms, median)"), ("ready_ms", "case browser ready (ms)"),
                         ("filter_ms", "apply a tag filter (ms)"), ("page_ms", "turn a page (ms)")):
            t.add_row(label, str(res[k]))
        Console(width=120).print(t)
        print(f"report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
