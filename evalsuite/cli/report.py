"""`evalsuite report`: write one self-contained HTML report of runs and/or sweeps."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="self-contained HTML report of runs or sweeps (opens from disk)",
                       description="Write one HTML file (no server, no network) showing the runs side by side at "
                       "the same seed: summary with 95% CIs, per tag, judge failures, latency and NFE; sweep "
                       "curves; a case browser with filters, sorting and zoomable background crops. "
                       "A RUN may be RUN_DIR@ROLE to show one role only.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (RUN_DIR[@ROLE]) and/or sweep directories")
    p.add_argument("-o", "--output", help="output file (default: FIRST_RUN/report.html)")
    p.add_argument("--title", help="report title (default: the run names)")
    p.add_argument("--thumb-size", type=int, default=256,
                   help="longest side of embedded images in px; 0 embeds the original PNGs (default: 256)")
    p.add_argument("--thumb-format", choices=["webp", "jpeg", "png"], default="webp")
    p.add_argument("--crop-size", type=int, default=64,
                   help="native-pixel crop of the flat background, lossless (default: 64; 0 = none)")
    p.add_argument("--full-budget", type=float, default=16.0, metavar="MB",
                   help="embed original PNGs of downscaled renders for the lightbox, in case order, up to this "
                   "many MB (default: 16; 0 = thumbnails only)")
    p.add_argument("--page-size", type=int, default=25, help="cases per page in the browser (default: 25)")
    p.add_argument("--max-checkpoints", type=int, default=6, help="sweeps: checkpoints shown per case (default: 6)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from evalsuite.console import console
    from evalsuite.types import EvalsuiteError
    from reports.html import Options, build_report

    if args.max_checkpoints < 2:
        raise EvalsuiteError("--max-checkpoints must be at least 2")
    first = args.runs[0].rsplit("@", 1)[0] if not Path(args.runs[0]).exists() else args.runs[0]
    out = Path(args.output) if args.output else Path(first) / "report.html"
    info = build_report(args.runs, out, Options(title=args.title, thumb_size=args.thumb_size,
                                                thumb_format=args.thumb_format, crop_size=args.crop_size,
                                                page_size=args.page_size, max_checkpoints=args.max_checkpoints,
                                                full_budget_mb=args.full_budget))
    console.print(f"report: {escape(str(info.path))} ({info.bytes / 1e6:.2f} MB, {info.cases} cases, {info.rows} case×seed rows, "
                  f"{info.images} images) in {info.seconds:.1f} s", highlight=False)
    if info.full_skipped:
        console.print(f"lightbox: full resolution embedded for {info.full_images} of "
                      f"{info.full_images + info.full_skipped} downscaled renders (--full-budget {args.full_budget:g} MB)",
                      highlight=False)
    return 0
