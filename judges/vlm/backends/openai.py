"""`openai` provider: any OpenAI-compatible chat endpoint (vLLM's server is the production path).

Async httpx requests with bounded concurrency, a per-request timeout, and retries with
exponential back-off on exactly HTTP 429, 500, 502, 503 and 504 (any other status, e.g. a 400,
is the caller's fault or permanent and is not retried; a timeout is reported, not retried, so a
stuck server cannot multiply the run time). Images go as base64 PNG data URLs, encoded in worker
threads ahead of the free request slots, each distinct image once per batch. Structured output:
  structured="vllm"    vLLM's `structured_outputs` {json | regex | choice} (all three kinds)
  structured="openai"  OpenAI `response_format` json_schema (JSON only; regex/choice unconstrained)
  structured="none"    nothing sent; replies are parsed strictly
Log-probs use the standard `logprobs` / `top_logprobs` fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx
from PIL import Image

from evalsuite.types import EvalsuiteError
from judges.vlm.backends.base import (
    PNG_COMPRESS_LEVEL,
    TokenLogprobs,
    VLMClient,
    VLMRequest,
    VLMResponse,
    image_data_url,
    image_key,
)

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class OpenAIClient(VLMClient):
    """Chat-completions client. `url` is the server root or its /v1 (both accepted); several
    endpoints (a list, or comma-separated) share the requests: each gets the next request when it
    has the fewest outstanding, each has its own `concurrency` limit, and a full set of endpoints
    back-pressures the caller."""

    backend = "openai"
    supports_logprobs = True

    def __init__(self, url: str | list[str], model: str, revision: str | None = None, api_key: str | None = None,
                 concurrency: int = 8, timeout: float = 60.0, retries: int = 3, backoff: float = 0.5,
                 max_backoff: float = 8.0, structured: str = "vllm", image_format: str = "PNG",
                 png_compress_level: int = PNG_COMPRESS_LEVEL) -> None:
        super().__init__(model=model, revision=revision)
        if not url:
            raise EvalsuiteError("vlm openai backend: no url given (use --vlm-url http://HOST:PORT/v1)")
        if structured not in ("vllm", "openai", "none"):
            raise EvalsuiteError(f"vlm openai backend: structured='{structured}' must be vllm, openai or none")
        if int(concurrency) < 1:
            raise EvalsuiteError(f"vlm openai backend: concurrency must be >= 1, got {concurrency}")
        urls = [u.strip().rstrip("/") for u in (url.split(",") if isinstance(url, str) else url) if u.strip()]
        if not urls:
            raise EvalsuiteError("vlm openai backend: no url given (use --vlm-url http://HOST:PORT/v1)")
        self.base_urls = [u if u.endswith("/v1") else u + "/v1" for u in urls]
        self.base_url = self.base_urls[0]
        self.api_key = api_key
        self.concurrency = int(concurrency)
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.structured = structured
        self.image_format = image_format
        self.png_compress_level = int(png_compress_level)
        self.supported_constraints = frozenset({"vllm": {"json", "regex", "choice"}, "openai": {"json"},
                                                "none": set()}[structured])

    # --- request building ---------------------------------------------------------------------
    def encode_image(self, image: Image.Image | str) -> str:
        """One image as a data URL (runs in a worker thread; PIL releases the GIL while encoding)."""
        return image_data_url(image, self.image_format, self.png_compress_level)

    def payload(self, req: VLMRequest, image_urls: Sequence[str] | None = None) -> dict[str, Any]:
        """The JSON body for one request (public so tests can check its shape)."""
        urls = image_urls if image_urls is not None else [self.encode_image(im) for im in req.images]
        content: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": u}} for u in urls]
        content.append({"type": "text", "text": req.prompt})
        messages: list[dict[str, Any]] = []
        if req.system:
            messages.append({"role": "system", "content": req.system})
        messages.append({"role": "user", "content": content})
        body: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": req.max_tokens,
                                "temperature": req.temperature}
        if req.seed is not None:
            body["seed"] = req.seed
        if req.top_logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = req.top_logprobs
        c = req.constraint
        if c is not None and c.kind in self.supported_constraints:
            if self.structured == "vllm":
                so: dict[str, Any] = {c.kind: c.value}
                if c.kind == "json":   # compact JSON: a weak model cannot pad with whitespace forever
                    so["disable_any_whitespace"] = True
                body["structured_outputs"] = so
            else:
                body["response_format"] = {"type": "json_schema",
                                           "json_schema": {"name": "verdict", "schema": c.value, "strict": True}}
        return body

    # --- the batch ----------------------------------------------------------------------------
    def generate(self, requests: Sequence[VLMRequest]) -> list[VLMResponse]:
        if not requests:
            return []
        coro = self.agenerate(requests)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coro)
        # Called from inside an event loop (e.g. a notebook): run in a helper thread.
        out: list[list[VLMResponse]] = []
        t = threading.Thread(target=lambda: out.append(asyncio.run(coro)))
        t.start()
        t.join()
        return out[0]

    async def agenerate(self, requests: Sequence[VLMRequest]) -> list[VLMResponse]:
        """Send every request with at most `concurrency` in flight.

        Bodies are built (images encoded, JSON serialised) in worker threads before a request
        takes its slot, so encoding overlaps the requests in flight instead of stalling the event
        loop; at most `concurrency` built bodies wait for a slot (memory stays bounded). Each
        distinct image is encoded once per call (pairwise and repeats reuse it).
        """
        n = len(self.base_urls)
        sems = [asyncio.Semaphore(self.concurrency) for _ in range(n)]     # per endpoint
        outstanding = [0] * n
        ahead = asyncio.Semaphore(self.concurrency * n)
        encoder = _Encoder(self.encode_image, requests)
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        async with contextlib.AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(httpx.AsyncClient(
                base_url=u, headers=headers, limits=limits, timeout=httpx.Timeout(self.timeout)))
                for u in self.base_urls]

            async def one(req: VLMRequest) -> VLMResponse:
                async with ahead:
                    try:
                        urls = list(await asyncio.gather(*(encoder.url(im) for im in req.images)))
                        body = await asyncio.to_thread(_serialise, self.payload(req, urls))
                    except Exception as e:  # noqa: BLE001 - an image that cannot be encoded fails its request
                        return VLMResponse.failure("backend", f"cannot encode the request: {type(e).__name__}: {e}")
                    finally:
                        encoder.done(req)
                    i = min(range(n), key=lambda k: outstanding[k])   # least outstanding first
                    outstanding[i] += 1
                    await sems[i].acquire()
                try:
                    return await self._post(clients[i], body, req)
                finally:
                    sems[i].release()
                    outstanding[i] -= 1
            return list(await asyncio.gather(*(one(r) for r in requests)))

    async def _post(self, client: httpx.AsyncClient, body: bytes, req: VLMRequest) -> VLMResponse:
        t0 = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            try:
                r = await client.post("/chat/completions", content=body)
            except httpx.TimeoutException as e:
                return VLMResponse.failure("timeout", f"timeout after {self.timeout:g} s ({type(e).__name__})",
                                           latency_s=time.perf_counter() - t0, attempts=attempt)
            except httpx.HTTPError as e:
                return VLMResponse.failure("connection", f"cannot reach {client.base_url}: {type(e).__name__}: {e}",
                                           latency_s=time.perf_counter() - t0, attempts=attempt)
            if r.status_code in RETRY_STATUSES and attempt <= self.retries:
                delay = self._delay(attempt, r.headers.get("retry-after"))
                logger.info("vlm %s: HTTP %d, retry %d/%d in %.2f s", req.tag, r.status_code, attempt,
                            self.retries, delay)
                await asyncio.sleep(delay)
                continue
            latency = time.perf_counter() - t0
            if r.status_code != 200:
                return VLMResponse.failure("http", f"HTTP {r.status_code}: {_error_message(r)}",
                                           status=r.status_code, latency_s=latency, attempts=attempt)
            return _parse_completion(r, latency, attempt)

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.max_backoff)
            except ValueError:
                pass
        base = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
        return base * (0.5 + random.random() / 2)   # jitter: concurrent retries do not align

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "url": ",".join(self.base_urls), "structured": self.structured}


def _serialise(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


class _Encoder:
    """Data URLs for one call: each distinct image (by pixel hash) is encoded once, in a worker
    thread, and dropped once the last request using it has been built."""

    def __init__(self, encode: Any, requests: Sequence[VLMRequest]) -> None:
        self.encode = encode
        self.uses: Counter[int] = Counter(id(im) for r in requests for im in r.images)
        self.by_id: dict[int, asyncio.Future[str]] = {}
        self.by_key: dict[str, asyncio.Future[str]] = {}
        self.key_of: dict[int, str] = {}
        self.key_refs: Counter[str] = Counter()     # live image objects per pixel hash

    def url(self, image: Image.Image | str) -> asyncio.Future[str]:
        fut = self.by_id.get(id(image))
        if fut is None:
            fut = self.by_id[id(image)] = asyncio.ensure_future(self._url(image))
        return fut

    async def _url(self, image: Image.Image | str) -> str:
        key = await asyncio.to_thread(image_key, image)
        self.key_of[id(image)] = key
        self.key_refs[key] += 1
        fut = self.by_key.get(key)
        if fut is None:
            fut = self.by_key[key] = asyncio.ensure_future(asyncio.to_thread(self.encode, image))
        return await fut

    def done(self, req: VLMRequest) -> None:
        for im in req.images:
            i = id(im)
            self.uses[i] -= 1
            if self.uses[i] <= 0:
                self.by_id.pop(i, None)
                key = self.key_of.pop(i, None)
                if key is not None:
                    self.key_refs[key] -= 1
                    if self.key_refs[key] <= 0:
                        self.by_key.pop(key, None)


def _error_message(r: httpx.Response) -> str:
    try:
        j = r.json()
    except ValueError:
        return r.text[:300].strip() or r.reason_phrase
    err = j.get("error", j) if isinstance(j, dict) else j
    msg = err.get("message", err) if isinstance(err, dict) else err
    return str(msg)[:300]


def _parse_completion(r: httpx.Response, latency: float, attempts: int) -> VLMResponse:
    """A 200 reply to a response; a body that is not a chat completion is a `backend` failure."""
    try:
        j = r.json()
        choice = j["choices"][0]
        msg = choice["message"]
        text = msg.get("content")
    except (ValueError, KeyError, IndexError, TypeError) as e:
        return VLMResponse.failure("backend", f"malformed reply (not a chat completion: {type(e).__name__} {e})",
                                   status=r.status_code, latency_s=latency, attempts=attempts)
    usage = j.get("usage") or {}
    common = dict(status=200, latency_s=latency, attempts=attempts, model=j.get("model"),
                  finish_reason=choice.get("finish_reason"), prompt_tokens=usage.get("prompt_tokens"),
                  completion_tokens=usage.get("completion_tokens"))
    if msg.get("refusal") or choice.get("finish_reason") == "content_filter":
        return VLMResponse(text=text, ok=False, error=f"refusal: {msg.get('refusal') or 'content filter'}",
                           error_kind="refusal", **common)
    if not isinstance(text, str):
        return VLMResponse(text=None, ok=False, error="reply has no text content", error_kind="backend", **common)
    lps = None
    lp = choice.get("logprobs")
    if isinstance(lp, dict) and isinstance(lp.get("content"), list):
        lps = [TokenLogprobs(token=t.get("token", ""), logprob=float(t.get("logprob", float("-inf"))),
                             top={a["token"]: float(a["logprob"]) for a in t.get("top_logprobs") or []})
               for t in lp["content"]]
    return VLMResponse(text=text, logprobs=lps, **common)
