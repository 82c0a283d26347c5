"""VLM judges (vlm-t2i, vlm-edit, vlm-pairwise, vlm-yesno) and their CLI flags.

`add_arguments(parser)` adds --vlm-url, --vlm-model, --vlm-backend, --vlm-revision,
--vlm-concurrency, --vlm-timeout, --vlm-temperature and --repeats; `cli_options(args)` maps them to judge kwargs for
each VLM judge. Importing this package is cheap: no client, model or network access.
"""

from __future__ import annotations

import argparse
from typing import Any

from judges import catalog

# the registered judges of this package (from the one catalog, not a second list)
VLM_JUDGES = tuple(n for n, target in catalog.JUDGES.items() if target.startswith("judges.vlm."))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the VLM judge flags to an `evalsuite` sub-command parser (idempotent)."""
    if any("--vlm-url" in a.option_strings for a in parser._actions):
        return
    g = parser.add_argument_group("VLM judges (vlm-t2i, vlm-edit, vlm-pairwise, vlm-yesno)")
    g.add_argument("--vlm-url", action="append", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 "
                   "(a vLLM server); repeat it for several servers: requests are balanced across them, "
                   "each with its own --vlm-concurrency")
    g.add_argument("--vlm-model", help="judge model: the served model name, or a local folder for "
                   "--vlm-backend vllm/transformers")
    g.add_argument("--vlm-backend", choices=["openai", "vllm", "transformers"], default=None,
                   help="VLM client (default: openai)")
    g.add_argument("--vlm-revision", help="judge model revision to record with every verdict (pin it)")
    g.add_argument("--vlm-concurrency", type=int, help="concurrent requests to the server (default 8)")
    g.add_argument("--vlm-timeout", type=float, help="seconds per request before it counts as failed (default 60)")
    g.add_argument("--vlm-temperature", type=float, help="sampling temperature (default 0); with --repeats N > 1 "
                   "set it above 0 so the repeats can differ")
    g.add_argument("--repeats", type=int, help="judge each image N times (seeds seed..seed+N-1); reports the "
                   "judge's own spread")


def cli_options(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Judge kwargs from the parsed flags, the same for every VLM judge; {} when none was given."""
    opts = common_options(args)
    if not opts:
        return {}
    return {name: dict(opts) for name in VLM_JUDGES}


def common_options(args: argparse.Namespace) -> dict[str, Any]:
    """The flags' judge kwargs (the same for every VLM judge)."""
    opts: dict[str, Any] = {}
    for flag, key in (("vlm_url", "url"), ("vlm_model", "model"), ("vlm_backend", "backend"),
                      ("vlm_revision", "revision"), ("vlm_concurrency", "concurrency"),
                      ("vlm_timeout", "timeout"), ("vlm_temperature", "temperature"), ("repeats", "repeats")):
        val = getattr(args, flag, None)
        if isinstance(val, list):       # --vlm-url repeated: one comma-separated string
            val = ",".join(val)
        if val is not None:
            opts[key] = val
    return opts
