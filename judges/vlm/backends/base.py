"""The VLM client interface: request and response types, and the provider contract.

Providers (one per module: `openai`, `vllm`, `transformers`) turn a batch of `VLMRequest`s into
`VLMResponse`s. A provider never raises for one bad request: the response carries `ok=False`,
an `error` and an `error_kind`, and the judges turn it into a failed verdict (never a score).
Nothing is constructed at import time; `make_client` imports the provider lazily.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import struct
import zlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

ConstraintKind = Literal["json", "regex", "choice"]
# Why a request failed; judges count failures by these.
# "rejected": an in-process engine refused the request (what a server answers with HTTP 400).
# "missing_image": the item lacks an image the judge needs (an edit source, a teacher image).
ErrorKind = Literal["timeout", "http", "connection", "refusal", "parse", "truncated", "unsupported", "rejected",
                    "missing_image", "backend"]


@dataclass(frozen=True)
class Constraint:
    """Structured output: a JSON schema (dict), a regex (str) or a list of choices."""

    kind: ConstraintKind
    value: Any


@dataclass(frozen=True)
class VLMRequest:
    """One chat turn: images first (in order), then the text prompt.

    `top_logprobs` > 0 asks for that many alternatives per generated token (for P("Yes")).
    `seed` makes sampling reproducible when temperature > 0 (repeats use seed + r).
    """

    prompt: str
    images: tuple[Image.Image | str, ...] = ()      # PIL images, or data URLs already encoded
    system: str | None = None
    max_tokens: int = 128
    temperature: float = 0.0
    seed: int | None = None
    constraint: Constraint | None = None
    top_logprobs: int = 0
    tag: str = ""                       # free label for logs (case id, order…)


@dataclass
class TokenLogprobs:
    """One generated token and the top alternatives at its position (natural-log probs)."""

    token: str
    logprob: float
    top: dict[str, float] = field(default_factory=dict)


@dataclass
class VLMResponse:
    """What came back. ok=False means no usable text; `error_kind` says why."""

    text: str | None
    ok: bool = True
    error: str | None = None
    error_kind: ErrorKind | None = None
    status: int | None = None           # HTTP status where there was one
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    logprobs: list[TokenLogprobs] | None = None
    latency_s: float = 0.0
    attempts: int = 1
    model: str | None = None            # the model the server says answered

    @classmethod
    def failure(cls, kind: ErrorKind, error: str, **kw: Any) -> VLMResponse:
        return cls(text=None, ok=False, error=error, error_kind=kind, **kw)

    def summary(self) -> dict[str, Any]:
        """A JSON-able record for verdict details (raw reply, usage, timing)."""
        d: dict[str, Any] = {"text": self.text, "ok": self.ok, "finish_reason": self.finish_reason,
                             "prompt_tokens": self.prompt_tokens,
                             "completion_tokens": self.completion_tokens,
                             "latency_s": round(self.latency_s, 4), "attempts": self.attempts,
                             "model": self.model}
        if not self.ok:
            d.update(error=self.error, error_kind=self.error_kind, status=self.status)
        return d


class VLMClient(ABC):
    """A provider. `generate` is batched and returns one response per request, in order."""

    backend: str = "?"
    supports_logprobs: bool = False
    # Constraint kinds the provider enforces; others are sent unconstrained and parsed strictly.
    supported_constraints: frozenset[str] = frozenset()

    def __init__(self, model: str, revision: str | None = None) -> None:
        self.model = model
        self.revision = revision

    @abstractmethod
    def generate(self, requests: Sequence[VLMRequest]) -> list[VLMResponse]:
        """Answer every request; failures are responses with ok=False, never exceptions."""

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "model": self.model, "revision": self.revision}

    def close(self) -> None:
        """Release connections or models."""


# PNG data URLs are written with the Sub filter on every row (each byte minus the same channel of
# the pixel before) and zlib's RLE strategy at this level. PIL's encoder tries five filters per
# row and runs full LZ77: ~175 ms and 2.1 MB for a grainy 1024x1024 render on an idle core.
# Sub + RLE is 6-8x faster on that (grain defeats every filter and long matches anyway) and
# smaller, and a flat background still shrinks to a few KB (its Sub rows are runs of zeros).
PNG_COMPRESS_LEVEL = 1
_PNG_COLOUR = {"L": (0, 1), "RGB": (2, 3), "RGBA": (6, 4)}     # mode -> (PNG colour type, channels)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(image: Image.Image, compress_level: int = PNG_COMPRESS_LEVEL) -> bytes:
    """Lossless 8-bit PNG bytes of an L, RGB or RGBA image (other modes are converted to RGB)."""
    im = image if image.mode in _PNG_COLOUR else image.convert("RGB")
    colour, c = _PNG_COLOUR[im.mode]
    w, h = im.size
    px = np.asarray(im, dtype=np.uint8).reshape(h, w * c)
    rows = np.empty((h, w * c + 1), np.uint8)
    rows[:, 0] = 1                                           # filter type 1 (Sub) for every row
    rows[:, 1:c + 1] = px[:, :c]
    np.subtract(px[:, c:], px[:, :-c], out=rows[:, c + 1:])  # uint8 arithmetic wraps mod 256
    z = zlib.compressobj(compress_level, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    idat = z.compress(rows.tobytes()) + z.flush()
    ihdr = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def image_data_url(image: Image.Image | str, fmt: str = "PNG", compress_level: int = PNG_COMPRESS_LEVEL) -> str:
    """Encode an image as a base64 data URL (lossless PNG by default: artefacts must survive).

    A string is taken as an already encoded data URL and returned as it is.
    """
    if isinstance(image, str):
        return image
    if fmt.upper() == "PNG":
        data = encode_png(image, compress_level)
        mime = "image/png"
    else:
        buf = io.BytesIO()
        (image if image.mode in ("RGB", "L") else image.convert("RGB")).save(buf, format=fmt)
        data = buf.getvalue()
        mime = f"image/{fmt.lower()}"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image_key(image: Image.Image | str) -> str:
    """Content key of an image for encoding caches (the pixel hash; a data URL keys itself)."""
    if isinstance(image, str):
        return "url:" + hashlib.sha256(image.encode()).hexdigest()
    from evalsuite.types import image_sha256

    return image_sha256(image)


def _backends() -> Any:
    from evalsuite.registry import Registry

    reg: Registry[type[VLMClient]] = Registry("vlm backend")
    for name, target in {"openai": "judges.vlm.backends.openai:OpenAIClient",
                         "vllm": "judges.vlm.backends.vllm:VLLMClient",
                         "transformers": "judges.vlm.backends.transformers:TransformersClient"}.items():
        reg.register(name, target)
    return reg


BACKENDS = _backends()   # lazy "module:attr" targets: nothing is imported until a backend is built


def make_client(backend: str, **options: Any) -> VLMClient:
    """Build a provider by name; its module (and any heavy import) is loaded only now."""
    return BACKENDS.get(backend)(**options)
