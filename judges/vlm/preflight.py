"""The VLM endpoint check run before anything is rendered (the judge family's `preflight()` hook).

An unreachable endpoint, or one that serves another model than `--vlm-model`, would otherwise
show up only after hours of rendering, as one connection or 404 failure per image. Here it is
one line and exit 2, up front. The entry the server lists for the model (id, root, and revision
or max_model_len where the server reports them) goes into the judge fingerprint.
"""

from __future__ import annotations

import logging
from typing import Any

from evalsuite.types import EvalsuiteError

logger = logging.getLogger(__name__)


def models_url(url: str) -> str:
    """`.../v1/models` for a server root or its /v1."""
    base = url.rstrip("/")
    return (base if base.endswith("/v1") else base + "/v1") + "/models"


def check_endpoint(url: str, model: str, api_key: str | None = None, timeout: float = 10.0) -> dict[str, Any]:
    """GET /v1/models and return the entry whose id is `model`; EvalsuiteError (exit 2, one line)
    when the endpoint is unreachable, answers with an error or garbage, or does not serve `model`."""
    import httpx

    where = models_url(url)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        r = httpx.get(where, headers=headers, timeout=timeout)
    except httpx.HTTPError as e:
        msg = " ".join(str(e).split()) or type(e).__name__
        raise EvalsuiteError(f"--vlm-url {url}: endpoint unreachable ({type(e).__name__}: {msg} at {where}); "
                             f"start the server or fix --vlm-url") from None
    if r.status_code != 200:
        raise EvalsuiteError(f"--vlm-url {url}: GET {where} answered HTTP {r.status_code}; is it an "
                             f"OpenAI-compatible server?")
    try:
        data = r.json()["data"]
        entries = [d for d in data if isinstance(d, dict) and "id" in d]
    except (ValueError, KeyError, TypeError):
        raise EvalsuiteError(f"--vlm-url {url}: GET {where} did not return an OpenAI model list") from None
    for entry in entries:
        if entry["id"] == model:
            return entry
    served = ", ".join(repr(str(e["id"])) for e in entries) or "no model"
    raise EvalsuiteError(f"--vlm-url {url} serves {served}, not --vlm-model {model!r}; pass the served name "
                         f"as --vlm-model (or start the server with that model)")


def served_identity(entry: dict[str, Any]) -> dict[str, Any]:
    """The fingerprint fields the server reports for its model: name, root (the weights it loaded)
    and revision (where reported; vLLM reports none, so --vlm-revision is the record to pin)."""
    return {"served_model": entry.get("id"), "served_root": entry.get("root"),
            "served_revision": entry.get("revision")}
