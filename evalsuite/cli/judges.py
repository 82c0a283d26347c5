"""`evalsuite judges list` / `evalsuite judges show NAME`: what each registered judge measures."""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from typing import Any

from rich.markup import escape
from rich.table import Table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("judges", help="list the registered judges, or show one",
                       description="List the registered judges (name, version, granularity, reference, "
                       "family, metrics) or show one judge's metrics, direction, range, options and version.")
    jsub = p.add_subparsers(dest="judges_verb", metavar="{list,show}")
    jsub.required = True
    lp = jsub.add_parser("list", help="all registered judges")
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(func=run_list)
    sp = jsub.add_parser("show", help="one judge: metrics, direction, range, options, version")
    sp.add_argument("name")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=run_show)


def describe_class(name: str) -> dict[str, Any]:
    """A judge class's declared contract, without building it (no model or server is touched)."""
    from evalsuite.registry import JUDGES

    cls = JUDGES.get(name)
    opts = {k: (None if v is inspect.Parameter.empty else v) for k, v in cls.options().items()}
    return {"name": name, "version": cls.version, "granularity": cls.granularity,
            "reference": cls.reference, "family": cls.family,
            "doc": (inspect.getdoc(cls) or "").splitlines()[0] if inspect.getdoc(cls) else "",
            "metrics": {m: {"higher_is_better": s.higher_is_better, "range": list(s.range),
                            "description": s.description} for m, s in cls.metrics.items()},
            "options": opts, "cache_ignore": sorted(cls.cache_ignore)}


def run_list(args: argparse.Namespace) -> int:
    from evalsuite.console import console
    from evalsuite.registry import JUDGES

    rows = [describe_class(n) for n in JUDGES.names()]
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return 0
    t = Table(title="registered judges", title_justify="left")
    for col in ("judge", "version", "granularity", "reference", "family", "metrics"):
        t.add_column(col)
    for r in rows:
        t.add_row(escape(r["name"]), str(r["version"]), r["granularity"], r["reference"], r["family"] or "—",
                  escape(", ".join(r["metrics"])))
    console.print(t)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from evalsuite.console import console

    d = describe_class(args.name)
    if args.json:
        sys.stdout.write(json.dumps(d, indent=2, default=str) + "\n")
        return 0
    console.print(escape(f"{d['name']} v{d['version']} · granularity {d['granularity']} · reference "
                         f"{d['reference']}" + (f" · family {d['family']}" if d["family"] else "")), highlight=False)
    if d["doc"]:
        console.print(escape(d["doc"]), highlight=False)
    t = Table(title="metrics", title_justify="left")
    for col in ("metric", "direction", "range", "description"):
        t.add_column(col)
    for m, s in d["metrics"].items():
        hi = "∞" if s["range"][1] is None else f"{s['range'][1]:g}"
        t.add_row(escape(m), "higher is better" if s["higher_is_better"] else "lower is better",
                  f"[{s['range'][0]:g}, {hi}]", escape(s["description"]))
    console.print(t)
    o = Table(title="options (--judge-opt NAME.KEY=VALUE)", title_justify="left")
    o.add_column("option")
    o.add_column("default")
    o.add_column("in cache key")
    for k, v in d["options"].items():
        o.add_row(escape(k), escape(json.dumps(v, default=str)), "no" if k in d["cache_ignore"] else "yes")
    console.print(o)
    return 0
