"""`vllm` provider: the in-process vLLM offline engine (`vllm.LLM`), for GPU users with no server.

vLLM is imported when the first request arrives, never at import or construction. The whole
batch goes to `LLM.chat` at once (vLLM batches it); if the engine rejects the batch (one bad
request), each request is retried alone so that only the bad one fails. Structured output uses
vLLM's StructuredOutputsParams (json, regex, choice); log-probs its `logprobs=k`.

Config: model (a local folder or hub id the engine can load), revision, engine_options (dict
passed to `vllm.LLM`, e.g. {"max_model_len": 4096, "gpu_memory_utilization": 0.5}).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from judges.vlm.backends.base import (
    TokenLogprobs,
    VLMClient,
    VLMRequest,
    VLMResponse,
    image_data_url,
    image_key,
)

logger = logging.getLogger(__name__)


class VLLMClient(VLMClient):
    backend = "vllm"
    supports_logprobs = True
    supported_constraints = frozenset({"json", "regex", "choice"})

    def __init__(self, model: str, revision: str | None = None, engine_options: dict[str, Any] | None = None,
                 **_: Any) -> None:
        super().__init__(model=model, revision=revision)
        self.engine_options = dict(engine_options or {})
        self._llm: Any = None

    def _load(self) -> None:
        from vllm import LLM

        self._llm = LLM(model=self.model, revision=self.revision, **self.engine_options)

    @staticmethod
    def messages(req: VLMRequest, urls: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Chat messages; `urls` caches data URLs by pixel hash across a batch (pairwise, repeats)."""
        cache = urls if urls is not None else {}

        def url(im: Any) -> str:
            key = image_key(im)
            if key not in cache:
                cache[key] = image_data_url(im)
            return cache[key]

        content: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": url(im)}} for im in req.images]
        content.append({"type": "text", "text": req.prompt})
        msgs: list[dict[str, Any]] = [{"role": "system", "content": req.system}] if req.system else []
        return msgs + [{"role": "user", "content": content}]

    @staticmethod
    def sampling(req: VLMRequest) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        so = None
        if req.constraint is not None:
            so = StructuredOutputsParams(**{req.constraint.kind: req.constraint.value})
        return SamplingParams(temperature=req.temperature, max_tokens=req.max_tokens, seed=req.seed,
                              logprobs=req.top_logprobs or None, structured_outputs=so)

    def generate(self, requests: Sequence[VLMRequest]) -> list[VLMResponse]:
        if not requests:
            return []
        if self._llm is None:
            try:
                self._load()
            except Exception as e:  # noqa: BLE001 - reported per request
                return [VLMResponse.failure("backend", f"cannot start vLLM on {self.model}: {type(e).__name__}: {e}")
                        for _ in requests]
        t0 = time.perf_counter()
        try:
            urls: dict[str, str] = {}
            outs = self._llm.chat([self.messages(r, urls) for r in requests], [self.sampling(r) for r in requests],
                                  use_tqdm=False)
            per = (time.perf_counter() - t0) / len(requests)
            return [self._response(o, per) for o in outs]
        except Exception as e:  # noqa: BLE001 - isolate the bad request(s)
            if len(requests) == 1:
                rejected = isinstance(e, ValueError) or "Validation" in type(e).__name__
                kind = "rejected" if rejected else "backend"
                return [VLMResponse.failure(kind, f"{type(e).__name__}: {e}", latency_s=time.perf_counter() - t0)]
            logger.info("vllm batch of %d failed (%s); retrying one by one", len(requests), e)
            return [r for req in requests for r in self.generate([req])]

    def _response(self, out: Any, latency: float) -> VLMResponse:
        comp = out.outputs[0]
        lps = None
        if comp.logprobs:
            lps = []
            for tid, pos in zip(comp.token_ids, comp.logprobs):
                top = {lp.decoded_token: lp.logprob for lp in pos.values()}
                chosen = pos.get(tid)
                lps.append(TokenLogprobs(token=chosen.decoded_token if chosen else "",
                                         logprob=chosen.logprob if chosen else float("-inf"), top=top))
        return VLMResponse(text=comp.text, finish_reason=comp.finish_reason,
                           prompt_tokens=len(out.prompt_token_ids or []), completion_tokens=len(comp.token_ids),
                           logprobs=lps, latency_s=latency, model=self.model)

    def close(self) -> None:
        self._llm = None
