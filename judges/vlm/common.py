"""Shared machinery of the VLM judges: prompt templates, rubric replies, the client, verdict details.

A rubric reply is a flat JSON object whose fields are 0-10 integer scores, booleans or one of a
few strings. From one field list we derive the JSON schema and the equivalent regex sent as the
structured-output constraint, and the strict parser used on every reply (constrained or not):
a reply that is not exactly that object (code fences allowed) is a parse failure, never a
guessed or random score (the VIEScore code substitutes a random integer; we do not).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from typing import Any, ClassVar

from evalsuite.judge import Judge, Scores
from evalsuite.types import EvalsuiteError, JudgeInput, MetricSpec
from judges.vlm.backends.base import (
    Constraint,
    VLMClient,
    VLMRequest,
    VLMResponse,
    make_client,
)

logger = logging.getLogger(__name__)

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"

_REFUSAL_RE = re.compile(r"\b(I\s+(can(no|')t|am\s+(not\s+able|unable)|won't)|I'm\s+(sorry|unable)|"
                         r"as an AI|cannot (help|assist|evaluate))", re.IGNORECASE)


@cache
def load_prompt(name: str) -> tuple[str, str]:
    """A versioned template file `prompts/<name>.txt` and the sha256 (first 16 hex) of its text."""
    path = PROMPTS_DIR / f"{name}.txt"
    if not path.is_file():
        raise EvalsuiteError(f"vlm prompt template {path} is missing")
    text = path.read_text(encoding="utf-8")
    return text, hashlib.sha256(text.encode()).hexdigest()[:16]


def templates_hash(names: Sequence[str]) -> str:
    """One hash (sha256, first 16 hex) over the named templates' texts, in order."""
    blob = "\n".join(f"{n}:{load_prompt(n)[1]}" for n in names)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def render_prompt(name: str, **values: str) -> str:
    """Fill `$name` placeholders (string.Template: JSON braces in templates need no escaping)."""
    return Template(load_prompt(name)[0]).substitute(**values)


# --- rubric replies ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """One reply field: kind "score" (integer 0-10), "bool", "enum" (one of `options`) or "text"
    (a free string of at most `max_len` characters: the reasoning written before the scores)."""

    name: str
    kind: str
    options: tuple[str, ...] = ()
    max_len: int = 0


class ReplyError(Exception):
    """A reply that cannot be read; `kind` is "parse", "refusal" or "truncated"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def json_schema(fields: Sequence[Field]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for f in fields:
        if f.kind == "score":
            props[f.name] = {"type": "integer", "enum": list(range(11))}
        elif f.kind == "bool":
            props[f.name] = {"type": "boolean"}
        elif f.kind == "text":
            props[f.name] = {"type": "string", "maxLength": f.max_len}
        else:
            props[f.name] = {"type": "string", "enum": list(f.options)}
    return {"type": "object", "properties": props, "required": [f.name for f in fields],
            "additionalProperties": False}


def reply_regex(fields: Sequence[Field]) -> str:
    """The compact JSON layout `{"a": 7, "b": true, "c": "x"}` as a regex (for regex-only servers)."""
    parts = []
    for f in fields:
        if f.kind == "score":
            v = "(10|[0-9])"
        elif f.kind == "bool":
            v = "(true|false)"
        elif f.kind == "text":   # a JSON string without escapes or control characters, bounded in length
            v = '"[^"\\\\\\x00-\\x1f]{0,%d}"' % f.max_len
        else:
            v = '"(' + "|".join(re.escape(o) for o in f.options) + ')"'
        parts.append(f'"{f.name}": {v}')
    return r"\{" + ", ".join(parts) + r"\}"


def constraint_for(fields: Sequence[Field], structured: str,
                   supported: frozenset[str] | set[str] = frozenset({"json", "regex"})) -> Constraint | None:
    """The constraint to send: "json" (schema), "regex", None for "none"; "auto" takes the regex
    where the backend enforces it (a finite compact layout: a weak judge cannot pad whitespace
    until max_tokens, as it can inside a JSON-schema grammar), else the schema."""
    if structured == "auto":
        structured = "regex" if "regex" in supported else "json"
    if structured == "json":
        return Constraint("json", json_schema(fields))
    if structured == "regex":
        return Constraint("regex", reply_regex(fields))
    return None


_FENCE_RE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def parse_reply(text: str | None, fields: Sequence[Field], finish_reason: str | None = None) -> dict[str, Any]:
    """Read a rubric reply strictly; raise ReplyError naming what is wrong."""
    if text is None or not text.strip():
        raise ReplyError("parse", "empty reply")
    body = text.strip()
    m = _FENCE_RE.match(body)
    if m:
        body = m.group(1)
    try:
        # strict=False: a raw control character inside a string (xgrammar's JSON-schema grammar lets
        # one into the reasoning text) does not make an otherwise valid reply unreadable
        obj = json.loads(body, strict=False)
    except json.JSONDecodeError as e:
        if _REFUSAL_RE.search(text):
            raise ReplyError("refusal", f"judge refused: {text.strip()[:160]!r}") from None
        if finish_reason == "length":
            raise ReplyError("truncated", f"reply cut at max_tokens before the JSON closed: {text[:120]!r}") from None
        raise ReplyError("parse", f"reply is not JSON ({e.msg} at column {e.colno}): {text[:120]!r}") from None
    if not isinstance(obj, dict):
        raise ReplyError("parse", f"reply is JSON but not an object: {text[:120]!r}")
    out: dict[str, Any] = {}
    for f in fields:
        if f.name not in obj:
            raise ReplyError("parse", f"reply lacks field '{f.name}': {text[:120]!r}")
        v = obj[f.name]
        if f.kind == "score":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or not 0 <= v <= 10:
                raise ReplyError("parse", f"field '{f.name}' must be an integer 0-10, got {v!r}")
            out[f.name] = int(v)
        elif f.kind == "bool":
            if not isinstance(v, bool):
                raise ReplyError("parse", f"field '{f.name}' must be true/false, got {v!r}")
            out[f.name] = v
        elif f.kind == "text":
            if not isinstance(v, str):
                raise ReplyError("parse", f"field '{f.name}' must be a string, got {v!r}")
            out[f.name] = v
        else:
            if v not in f.options:
                raise ReplyError("parse", f"field '{f.name}' must be one of {list(f.options)}, got {v!r}")
            out[f.name] = v
    return out


# --- the judge base ------------------------------------------------------------------------------
_CLIENT_KEYS = {"url", "api_key", "concurrency", "timeout", "retries", "backoff", "structured_backend",
                "device", "dtype", "engine_options", "image_format", "png_compress_level"}
# Requests per runner batch at least this many, and 8 x concurrency above that: the runner waits
# for each batch, so a small batch would cap the requests in flight at the end of every batch.
MIN_BATCH = 256


class VLMJudge(Judge):
    """Base for the VLM judges: config, lazy client, repeats, and verdict bookkeeping.

    Config kwargs (all judges): backend ("openai" | "vllm" | "transformers"), model (server model
    name, or a local folder for vllm/transformers), revision (recorded; pin it), url, api_key,
    concurrency, timeout, retries, backoff (openai), device, dtype (transformers), engine_options
    (vllm), repeats (re-judge N times: reports the judge's own spread), temperature (0),
    max_tokens, seed, structured ("auto" | "json" | "regex" | "none": the constraint sent),
    structured_backend (openai: "vllm" | "openai" | "none": how the server takes constraints).
    """

    prompt_name: str = ""
    # every template the judge sends (default: prompt_name); their hash keys the cache
    prompt_names: tuple[str, ...] = ()
    default_max_tokens: int = 96
    primary_metric: str = "overall"     # whose spread across repeats becomes `repeat_std`
    family = "vlm"                      # judges.vlm.family.VLMFamily: flags, summary["vlm"], calibration
    extra_options = frozenset(_CLIENT_KEYS)   # client options accepted through **client_options
    calibrated: ClassVar[bool] = True   # has known good/bad calibration pairs (judges.vlm.calibration)
    has_outcomes: ClassVar[bool] = False   # per-item win/tie/loss outcomes (pairwise)

    def __init__(self, backend: str = "openai", model: str | None = None, revision: str | None = None,
                 repeats: int = 1, temperature: float = 0.0, max_tokens: int | None = None, seed: int = 0,
                 structured: str = "auto", **client_options: Any) -> None:
        if not model:
            raise EvalsuiteError(f"{self.name} judge: no judge model given; pass --vlm-url URL --vlm-model NAME "
                                 f"(or --judge-opt {self.name}.model=NAME)")
        if backend == "openai" and not client_options.get("url"):
            raise EvalsuiteError(f"{self.name} judge: backend 'openai' needs a url; pass --vlm-url http://HOST:PORT/v1")
        if int(repeats) < 1:
            raise EvalsuiteError(f"{self.name} judge: repeats must be >= 1, got {repeats}")
        if structured not in ("auto", "json", "regex", "none"):
            raise EvalsuiteError(f"{self.name} judge: structured must be auto, json, regex or none, got '{structured}'")
        super().__init__(backend=backend, model=model, revision=revision, repeats=int(repeats),
                         temperature=float(temperature), max_tokens=int(max_tokens or self.default_max_tokens),
                         seed=int(seed), structured=structured, **client_options)
        self.prompt_text = load_prompt(self.prompt_name)[0]
        self.prompt_hash = templates_hash(self.prompt_names or (self.prompt_name,))
        self._client: VLMClient | None = None
        # what the server reports for the model (preflight()); part of the fingerprint
        self.served: dict[str, Any] = {"served_model": None, "served_root": None, "served_revision": None}
        if self.config["repeats"] > 1 and self.config["temperature"] == 0.0:
            logger.warning("%s: --repeats %d at temperature 0 asks the same question %d times; on a "
                           "deterministic server the repeats agree and repeat_std is 0. Set --vlm-temperature "
                           "(e.g. 0.7) to measure the judge's own spread.", self.name, self.config["repeats"],
                           self.config["repeats"])
        if self.config["repeats"] > 1:   # the judge's own variance, summarised like any metric
            self.metrics = {**type(self).metrics, "repeat_std": MetricSpec(
                False, (0.0, None), f"std of {self.primary_metric} across {self.config['repeats']} repeats")}

    # --- configuration ------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:  # type: ignore[override]
        """Images per runner batch: large enough that a batch never caps the requests in flight."""
        return max(MIN_BATCH, 8 * int(self.config.get("concurrency", 8)))

    def decoding(self) -> dict[str, Any]:
        c = self.config
        d = {"temperature": c["temperature"], "max_tokens": c["max_tokens"], "seed": c["seed"],
             "repeats": c["repeats"], "structured": c["structured"]}
        if "structured_backend" in c:
            d["structured_backend"] = c["structured_backend"]
        return d

    def fingerprint(self) -> dict[str, Any]:
        """Who judged and how: the served model name, root and revision as the server reports them
        (after preflight()), the configured model and revision, the prompt templates' hash, the
        decoding settings and the image format. Part of the cache key and of run.json; compare and
        gate refuse to compare this judge's metrics across runs whose fingerprints differ."""
        c = self.config
        return {"judge": self.name, "version": self.version, "backend": c["backend"], "model": c["model"],
                "revision": c["revision"], **self.served,
                "prompts": list(self.prompt_names or (self.prompt_name,)), "prompt_hash": self.prompt_hash,
                "image_format": str(c.get("image_format", "PNG")).upper(), **self.decoding()}

    def cache_config(self) -> dict[str, Any]:
        """The fingerprint: what changes a verdict (not the url, concurrency, timeouts or the PNG
        compression level, which is lossless)."""
        return self.fingerprint()

    def preflight(self) -> None:
        """Check the endpoint before anything is rendered (openai backend: GET /v1/models must list
        the model; EvalsuiteError, exit 2, otherwise) and record what it serves in the fingerprint.
        The in-process backends load a local folder: its resolved path is the served root."""
        from judges.vlm.preflight import check_endpoint, served_identity

        c = self.config
        if c["backend"] == "openai":
            urls = [u for u in str(c["url"]).split(",") if u.strip()]   # --vlm-url repeated: check each
            entries = [check_endpoint(u.strip(), c["model"], api_key=c.get("api_key"),
                                      timeout=min(float(c.get("timeout", 10.0)), 30.0)) for u in urls]
            entry = entries[0]
            self.served = served_identity(entry)
        else:
            root = Path(c["model"]).expanduser()
            self.served = {"served_model": c["model"], "served_root": str(root.resolve()) if root.exists() else None,
                           "served_revision": None}

    def provenance(self) -> dict[str, Any]:
        """Recorded in every verdict's detail."""
        return {"judge_model": self.config["model"], "revision": self.config["revision"],
                "backend": self.config["backend"], "prompt": self.prompt_name,
                "prompt_hash": self.prompt_hash, "decoding": self.decoding(), "served": dict(self.served)}

    @property
    def client(self) -> VLMClient:
        """The provider, built on first use (never at import or construction)."""
        if self._client is None:
            c = self.config
            opts = {k: c[k] for k in _CLIENT_KEYS if k in c}
            if "structured_backend" in opts:
                opts["structured"] = opts.pop("structured_backend")
            self._client = make_client(c["backend"], model=c["model"], revision=c["revision"], **opts)
        return self._client

    @client.setter
    def client(self, value: VLMClient) -> None:
        self._client = value

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- requests -----------------------------------------------------------------------------
    def constraint(self, fields: Sequence[Field]) -> Constraint | None:
        return constraint_for(fields, self.config["structured"],
                              getattr(self.client, "supported_constraints", frozenset()))

    def request(self, prompt: str, images: Sequence[Any], repeat: int, constraint: Constraint | None,
                tag: str, top_logprobs: int = 0, max_tokens: int | None = None) -> VLMRequest:
        c = self.config
        return VLMRequest(prompt=prompt, images=tuple(images), max_tokens=max_tokens or c["max_tokens"],
                          temperature=c["temperature"], seed=c["seed"] + repeat, constraint=constraint,
                          top_logprobs=top_logprobs, tag=tag)

    def ask(self, requests: Sequence[VLMRequest]) -> list[VLMResponse]:
        """Send a batch; a provider crash becomes a failed response for every request."""
        try:
            out = self.client.generate(requests)
        except EvalsuiteError:
            raise
        except Exception as e:  # noqa: BLE001 - a backend crash is a failure, not a score
            logger.warning("%s: backend failed on a batch of %d: %s", self.name, len(requests), e)
            return [VLMResponse.failure("backend", f"{type(e).__name__}: {e}") for _ in requests]
        if len(out) != len(requests):
            return [VLMResponse.failure("backend", f"backend returned {len(out)} replies for {len(requests)} requests")
                    for _ in requests]
        return out

    def repeat_metric(self, values: Sequence[float]) -> dict[str, float]:
        """The `repeat_std` metric (only when repeats > 1)."""
        if "repeat_std" not in self.metrics:
            return {}
        return {"repeat_std": spread(values)["std"]}

    def failures(self, item: JudgeInput, error: str, kind: str, detail: dict[str, Any]) -> Scores:
        d = {**self.provenance(), **detail, "error_kind": kind}
        return Scores.failed(list(self.metrics), f"{kind}: {error}", kind, d)


def read_rubric(resp: VLMResponse, fields: Sequence[Field]) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """(values, None, None) for a good reply, or (None, error_kind, error)."""
    if not resp.ok:
        return None, resp.error_kind or "backend", resp.error or "failed"
    try:
        return parse_reply(resp.text, fields, resp.finish_reason), None, None
    except ReplyError as e:
        return None, e.kind, str(e)


def spread(values: Sequence[float]) -> dict[str, float]:
    """Mean and population std of repeated judgements (the judge's own variance)."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / n)
    return {"mean": mean, "std": std, "n": n}
