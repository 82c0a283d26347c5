"""Entry point: `evalsuite VERB ...`. Verb modules are imported lazily, one per verb."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from evalsuite import __version__
from evalsuite.types import EvalsuiteError

VERBS = {
    "run": "evalsuite.cli.run",
    "score": "evalsuite.cli.score",
    "packs": "evalsuite.cli.packs",
    "sweep": "evalsuite.cli.sweep",
    "report": "evalsuite.cli.report",
    "gate": "evalsuite.cli.gate",
    "compare": "evalsuite.cli.compare",
    "judges": "evalsuite.cli.judges",
    "plan": "evalsuite.cli.plan",
    "validate": "evalsuite.cli.validate",
    "agreement": "evalsuite.cli.agreement",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evalsuite", description="Evaluate few-step distilled image generators against their teachers.")
    parser.add_argument("--version", action="version", version=f"evalsuite {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for verb, module in VERBS.items():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name == module:
                continue  # verb not available in this build
            raise
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except EvalsuiteError as e:
        _print_error(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        from evalsuite.console import err_console

        err_console.print("[yellow]interrupted[/]: finished batches are saved; re-run the same command to resume")
        return 130


def _print_error(message: str) -> None:
    """One line on stderr; the message is user data (paths, YAML keys such as 'ocr.[/x]'), never markup."""
    from rich.markup import escape

    from evalsuite.console import err_console

    try:
        err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    except Exception:  # noqa: BLE001 — the exit code must survive a console that cannot print
        sys.stderr.write(f"error: {message}\n")


if __name__ == "__main__":
    sys.exit(main())
