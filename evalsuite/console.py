"""Shared rich consoles: tables to stdout, progress and errors to stderr."""

from __future__ import annotations

import shutil

from rich.console import Console

# When piped (CI logs, tests) rich would assume 80 columns and squeeze the summary table.
_width = None if shutil.get_terminal_size((0, 0)).columns else 160
console = Console(width=_width)
err_console = Console(stderr=True, soft_wrap=True)
