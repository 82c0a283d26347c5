"""`evalsuite packs list|show|validate|import`."""

from __future__ import annotations

import argparse
import json

from evalsuite.types import EvalsuiteError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("packs", help="list, show and validate benchmark packs")
    psub = p.add_subparsers(dest="packs_cmd", metavar="CMD")
    psub.required = True
    lp = psub.add_parser("list", help="list the available packs")
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(func=run_list)
    sp = psub.add_parser("show", help="show one pack and its cases")
    sp.add_argument("pack")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=run_show)
    vp = psub.add_parser("validate", help="validate packs (names or folders); exit 1 on the first error")
    vp.add_argument("packs", nargs="*", help="default: every available pack")
    vp.set_defaults(func=run_validate)
    ip = psub.add_parser("import", help="import a public benchmark from its native files into a pack folder")
    ip.add_argument("format", metavar="FORMAT", help="longtext, oneig, cvtg, gedit, dpg or geneval")
    ip.add_argument("src", metavar="SRC", help="the benchmark's file or folder, as its repository publishes it")
    ip.add_argument("-o", "--out", required=True, metavar="DIR", help="pack folder to write")
    ip.add_argument("--subset", default=None, help="oneig: text|diversity|all; gedit: en|cn|all")
    ip.set_defaults(func=run_import)


def run_list(args: argparse.Namespace) -> int:
    from rich.table import Table
    from rich.text import Text

    from evalsuite.console import console
    from evalsuite.packs import available_packs, load_pack

    rows = []
    for name, path in available_packs().items():
        try:
            rows.append(load_pack(path).summary() | {"path": str(path)})
        except EvalsuiteError as e:
            rows.append({"name": name, "path": str(path), "error": str(e)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    t = Table(title="packs")
    for c in ("name", "version", "cases", "images/model", "kinds", "judges", "description"):
        t.add_column(c)
    for r in rows:
        if "error" in r:
            t.add_row(Text(r["name"]), "", "", "", "", "", Text(f"invalid: {r['error']}", style="red"))
        else:
            t.add_row(*(Text(str(x)) for x in (r["name"], r["version"], r["cases"], r["images_per_model"],
                                               ",".join(r["kinds"]), ",".join(r["judges"]), r["description"])))
    console.print(t)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from evalsuite.console import console
    from evalsuite.packs import load_pack

    pack = load_pack(args.pack)
    if args.json:
        print(json.dumps({**pack.summary(), "cases": [c.to_dict() for c in pack.cases]}, indent=2,
                         ensure_ascii=False))
        return 0
    s = pack.summary()
    # pack text is user data: escaped, so brackets in a prompt are never read as rich markup
    console.print(f"[bold]{escape(str(s['name']))}[/] v{escape(str(s['version']))} · {s['cases']} cases · "
                  f"hash {s['hash']}\n{escape(str(s['description']))}\n"
                  f"judges: {escape(', '.join(s['judges']))}\n"
                  f"tags: {escape(', '.join(f'{k} ({v})' for k, v in sorted(s['tags'].items())))}"
                  + "".join(f"\nladder {escape(k)}: {escape(' < '.join(v))}" for k, v in pack.ladders.items())
                  + (f"\nsource: {escape(str(pack.source.get('format')))} {escape(str(pack.source.get('version')))}"
                     if pack.source else ""),
                  highlight=False)
    t = Table()
    for c in ("id", "kind", "seeds", "tags", "expected text", "prompt"):
        t.add_column(c, overflow="fold")
    for c in pack.cases:
        t.add_row(*(Text(x) for x in (c.id, c.kind, ",".join(map(str, c.seeds)), ",".join(c.tags),
                                      " | ".join(c.expected_text), c.prompt)))
    console.print(t)
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from evalsuite.console import console, err_console
    from evalsuite.packs import available_packs, check_variety, load_pack
    from evalsuite.variety import variety

    targets = args.packs or list(available_packs())
    bad = 0
    for name in targets:
        try:
            pack = load_pack(name)
            check_variety(pack)
            v = variety(c.prompt for c in pack.cases)
            console.print(f"[green]ok[/] {escape(f'{pack.name} v{pack.version}')}: {len(pack.cases)} cases, "
                          f"{v.templates} prompt templates (largest {v.top_share:.0%} <= "
                          f"{pack.max_template_share:.0%})", highlight=False)
        except EvalsuiteError as e:
            err_console.print(f"[red]invalid[/] {escape(str(e))}", highlight=False)
            bad += 1
    return 1 if bad else 0


def run_import(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from evalsuite.console import console
    from evalsuite.importers import import_pack
    from evalsuite.packs import load_pack

    opts = {"subset": args.subset} if args.subset else {}
    if opts and args.format not in ("oneig", "gedit"):
        raise EvalsuiteError(f"packs import: --subset is only for oneig and gedit, not '{args.format}'")
    out = import_pack(args.format, args.src, args.out, **opts)
    pack = load_pack(out)
    console.print(f"[green]imported[/] {escape(pack.name)}: {len(pack.cases)} cases -> {escape(str(out))} "
                  f"(source {escape(str(pack.source.get('version')))}, {len(pack.source.get('files', []))} file(s) hashed)",
                  highlight=False)
    return 0
