"""`vlm-yesno`: VQAScore-style P("Yes") from log-probs for the yes/no questions attached to a case.

For each question the judge asks for one token with the top log-probs, and reads
p = P(Yes) / (P(Yes) + P(No)) from the first position (case and a leading space are folded:
"Yes", " yes"). A reply whose top log-probs hold neither answer is a failure, not a 0.5.
The image's value is the mean over its questions; per-question values are in detail. Needs a
backend with log-probs (openai/vLLM, vllm, transformers).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from evalsuite.judge import Failure, Scores, attempt
from evalsuite.types import Case, EvalsuiteError, JudgeInput, MetricSpec
from judges.vlm.backends.base import VLMResponse
from judges.vlm.common import VLMJudge, render_prompt, spread

logger = logging.getLogger(__name__)


def p_yes(resp: VLMResponse) -> tuple[float, dict[str, Any]]:
    """P(Yes) normalised over Yes/No at the first generated token; ValueError when unreadable.

    When only one answer is among the top log-probs, the other's probability is bounded by the
    smallest listed one and that bound is used (flagged `bounded` in detail): a confident judge
    whose "No" falls out of the top 20 still gives p close to 1, not a failure.
    """
    if not resp.logprobs:
        raise ValueError("reply has no log-probs (does the backend return them?)")
    first = resp.logprobs[0]
    top = dict(first.top)
    top.setdefault(first.token, first.logprob)
    py = sum(math.exp(lp) for t, lp in top.items() if t.strip().lower() == "yes")
    pn = sum(math.exp(lp) for t, lp in top.items() if t.strip().lower() == "no")
    if py + pn <= 0.0:
        raise ValueError(f"neither Yes nor No among the top {len(top)} first tokens {sorted(top)[:8]}")
    bounded = py == 0.0 or pn == 0.0
    if bounded:
        floor = math.exp(min(top.values()))
        py, pn = py or floor, pn or floor
    return py / (py + pn), {"p_yes_raw": py, "p_no_raw": pn, "bounded": bounded}


class VLMYesNoJudge(VLMJudge):
    """P("Yes") for case.questions (config in VLMJudge, plus top_logprobs, default 20)."""

    name = "vlm-yesno"
    version = 2
    calibrated = False      # no known good/bad pairs for yes/no questions
    prompt_name = "yesno_v1"
    default_max_tokens = 1
    primary_metric = "p_yes"
    metrics = {"p_yes": MetricSpec(True, (0.0, 1.0), "mean P(Yes) over the case's yes/no questions")}

    def __init__(self, top_logprobs: int = 20, **config: Any) -> None:
        config.setdefault("structured", "none")
        super().__init__(**config)
        if int(top_logprobs) < 2:
            raise EvalsuiteError(f"vlm-yesno judge: top_logprobs must be >= 2, got {top_logprobs}")
        self.config["top_logprobs"] = int(top_logprobs)

    def decoding(self) -> dict[str, Any]:
        return {**super().decoding(), "top_logprobs": self.config.get("top_logprobs", 20)}

    def applies_to(self, case: Case) -> bool:
        return bool(case.questions)

    def score(self, items: Sequence[JudgeInput]) -> list[Scores | None]:
        if not getattr(self.client, "supports_logprobs", False):
            return [self.failures(it, f"backend '{self.config['backend']}' gives no log-probs", "unsupported", {})
                    for it in items]
        reps = self.config["repeats"]
        reqs, spans = [], []
        for it in items:
            start = len(reqs)
            for q in it.case.questions:
                for r in range(reps):
                    reqs.append(self.request(render_prompt(self.prompt_name, question=q), [it.image], r, None,
                                             tag=f"{it.case.id}/{it.seed}:{q[:20]}#{r}",
                                             top_logprobs=self.config["top_logprobs"], max_tokens=1))
            spans.append((start, len(reqs)))
        resps = self.ask(reqs) if reqs else []
        return [self._scores(it, resps[a:b], reps) for it, (a, b) in zip(items, spans)]

    def _scores(self, item: JudgeInput, resps: Sequence[VLMResponse], reps: int) -> Scores:
        replies = [r.summary() for r in resps]
        per_q: list[dict[str, Any]] = []
        by_repeat: list[list[float]] = [[] for _ in range(reps)]
        for qi, q in enumerate(item.case.questions):
            vals = []
            for r in range(reps):
                resp = resps[qi * reps + r]
                if not resp.ok:
                    return self.failures(item, f"question {qi + 1} {q!r}: {resp.error}",
                                         resp.error_kind or "backend", {"replies": replies})
                read = attempt(p_yes, resp)
                if isinstance(read, Failure):
                    return self.failures(item, f"question {qi + 1} {q!r}: {read.error}", "parse", {"replies": replies})
                p, raw = read
                vals.append(p)
                by_repeat[r].append(p)
            s = spread(vals)
            per_q.append({"question": q, "p_yes": s["mean"], "repeat_std": s["std"], **raw})
        value = sum(x["p_yes"] for x in per_q) / len(per_q)
        detail = {**self.provenance(), "questions": per_q, "replies": replies}
        return Scores({"p_yes": value, **self.repeat_metric([sum(v) / len(v) for v in by_repeat])}, detail)
