"""`transformers` provider: in-process AutoModelForImageTextToText on a local model folder.

Requests run one at a time (CPU/GPU memory stays flat); log-probs come from the raw logits of
each generated position; "choice" constraints are enforced by restricting generation to the
choices' token sequences. JSON-schema and regex constraints are not enforced here: those replies
are parsed strictly by the judges, so a model that does not follow the format fails visibly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalsuite.types import EvalsuiteError
from judges.vlm.backends.base import TokenLogprobs, VLMClient, VLMRequest, VLMResponse

logger = logging.getLogger(__name__)


def load_processor(path: str) -> Any:
    """AutoProcessor, or the same processor without its video half when torchvision is missing.

    Qwen2-VL's processor bundles a video processor that needs torchvision; image judging does
    not, so on ImportError we load the processor class restricted to image_processor+tokenizer.
    """
    from transformers import AutoConfig, AutoProcessor
    from transformers.models.auto.processing_auto import processor_class_from_name

    try:
        return AutoProcessor.from_pretrained(path)
    except ImportError as e:
        if "torchvision" not in str(e).lower():
            raise
        import json

        cfg_file = Path(path) / "processor_config.json"
        name = json.loads(cfg_file.read_text()).get("processor_class") if cfg_file.is_file() else None
        if not name:
            name = f"{AutoConfig.from_pretrained(path).model_type.title().replace('_', '')}Processor"
        cls = processor_class_from_name(name)
        if cls is None:
            raise
        attrs = [a for a in cls.get_attributes() if "video" not in a]
        image_only = type(f"ImageOnly{cls.__name__}", (cls,), {"get_attributes": classmethod(lambda c: attrs)})
        logger.info("loading %s without its video processor (torchvision is not installed)", cls.__name__)
        return image_only.from_pretrained(path)


class TransformersClient(VLMClient):
    """Local VLM folder; the model loads on the first request, not at construction."""

    backend = "transformers"
    supports_logprobs = True
    supported_constraints = frozenset({"choice"})

    def __init__(self, model: str, revision: str | None = None, device: str = "cpu", dtype: str = "float32",
                 **_: Any) -> None:
        super().__init__(model=model, revision=revision)
        if not Path(model).is_dir():
            raise EvalsuiteError(f"vlm transformers backend: model folder '{model}' does not exist")
        self.device = device
        self.dtype = dtype
        self._model: Any = None
        self._processor: Any = None

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForImageTextToText

        self._processor = load_processor(self.model)
        self._model = AutoModelForImageTextToText.from_pretrained(
            self.model, dtype=getattr(torch, self.dtype), revision=self.revision or "main").to(self.device).eval()

    def generate(self, requests: Sequence[VLMRequest]) -> list[VLMResponse]:
        if self._model is None and requests:
            try:
                self._load()
            except Exception as e:  # noqa: BLE001 - reported per request
                return [VLMResponse.failure("backend", f"cannot load {self.model}: {type(e).__name__}: {e}")
                        for _ in requests]
        out = []
        for req in requests:
            t0 = time.perf_counter()
            try:
                resp = self._one(req)
            except Exception as e:  # noqa: BLE001 - one bad request does not sink the batch
                logger.warning("transformers backend: %s failed: %s", req.tag, e)
                resp = VLMResponse.failure("backend", f"{type(e).__name__}: {e}")
            resp.latency_s = time.perf_counter() - t0
            out.append(resp)
        return out

    def _one(self, req: VLMRequest) -> VLMResponse:
        import torch

        proc, model = self._processor, self._model
        tok = proc.tokenizer
        content: list[dict[str, Any]] = [{"type": "image"} for _ in req.images]
        content.append({"type": "text", "text": req.prompt})
        messages: list[dict[str, Any]] = []
        if req.system:
            messages.append({"role": "system", "content": [{"type": "text", "text": req.system}]})
        messages.append({"role": "user", "content": content})
        text = proc.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = proc(text=[text], images=[im.convert("RGB") for im in req.images] or None,
                      return_tensors="pt").to(self.device)
        n_prompt = int(inputs["input_ids"].shape[1])
        eos = model.generation_config.eos_token_id
        eos_ids = list(eos) if isinstance(eos, (list, tuple)) else [eos]
        gen: dict[str, Any] = dict(max_new_tokens=req.max_tokens, return_dict_in_generate=True,
                                   output_logits=bool(req.top_logprobs))
        if req.temperature > 0:
            gen.update(do_sample=True, temperature=req.temperature, top_k=0)
            torch.manual_seed(req.seed or 0)
        else:
            gen.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if req.constraint is not None and req.constraint.kind == "choice":
            gen["prefix_allowed_tokens_fn"] = _choice_fn(tok, [str(c) for c in req.constraint.value], n_prompt,
                                                         eos_ids[0])
        with torch.no_grad():
            res = model.generate(**inputs, **gen)
        new = res.sequences[0, n_prompt:].tolist()
        finish = "stop" if any(t in eos_ids for t in new) else "length"
        ids = [t for t in new if t not in eos_ids]
        lps = None
        if req.top_logprobs and res.logits:
            lps = []
            for pos, logits in enumerate(res.logits[:len(ids) or 1]):
                lp = torch.log_softmax(logits[0].float(), dim=-1)
                top = torch.topk(lp, min(req.top_logprobs, lp.shape[-1]))
                chosen = new[pos] if pos < len(new) else int(top.indices[0])
                lps.append(TokenLogprobs(token=tok.decode([chosen]), logprob=float(lp[chosen]),
                                         top={tok.decode([int(i)]): float(v)
                                              for v, i in zip(top.values, top.indices)}))
        return VLMResponse(text=tok.decode(ids, skip_special_tokens=True), finish_reason=finish,
                           prompt_tokens=n_prompt, completion_tokens=len(new), logprobs=lps, model=self.model)

    def close(self) -> None:
        self._model = None
        self._processor = None


def _choice_fn(tok: Any, choices: list[str], n_prompt: int, eos: int) -> Any:
    """prefix_allowed_tokens_fn that lets generation spell exactly one of `choices`, then stop."""
    seqs = [tok.encode(c, add_special_tokens=False) for c in choices]

    def allowed(_batch: int, input_ids: Any) -> list[int]:
        done = input_ids[n_prompt:].tolist()
        nxt = {s[len(done)] for s in seqs if len(s) > len(done) and s[:len(done)] == done}
        if any(s == done for s in seqs):
            nxt.add(eos)
        return sorted(nxt) or [eos]

    return allowed
