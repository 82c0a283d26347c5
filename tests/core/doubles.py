"""Fast test doubles for the runner (extras beside the real renderers and judges)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from evalsuite.judge import Failure, Judge, Scores
from evalsuite.renderers.base import Renderer
from evalsuite.types import JudgeInput, MetricSpec, Rendered, RenderRequest


class PatternRenderer(Renderer):
    """Deterministic images from (prompt, seed); counts calls; can crash after N batches."""

    name = "pattern"
    calls: list[int] = []          # batch sizes, shared across instances for assertions
    crash_after: int | None = None

    def __init__(self, level: int = 0, batch: int = 2) -> None:
        self.level = level
        self._batch = batch

    @classmethod
    def from_checkpoint(cls, ckpt: str, **opts: Any) -> "PatternRenderer":
        return cls(level=int(ckpt or 0), **opts)

    @property
    def batch_size(self) -> int:
        return self._batch

    def render(self, requests: Sequence[RenderRequest]) -> list[Rendered]:
        if PatternRenderer.crash_after is not None and len(PatternRenderer.calls) >= PatternRenderer.crash_after:
            raise KeyboardInterrupt("simulated kill")
        PatternRenderer.calls.append(len(requests))
        out = []
        for r in requests:
            seed = int(hashlib.sha256(f"{r.prompt}|{r.seed}".encode()).hexdigest()[:8], 16)
            rng = np.random.default_rng(seed)
            arr = np.full((r.height or 16, r.width or 16, 3), 100 + self.level, np.uint8)
            arr = np.clip(arr + rng.integers(0, 20, arr.shape), 0, 255).astype(np.uint8)
            out.append(Rendered(r, Image.fromarray(arr), 0.001))
        return out

    def fingerprint(self) -> str:
        return f"pattern-{self.level}"

    def describe(self) -> dict[str, Any]:
        return {"renderer": self.name, "fingerprint": self.fingerprint(), "nfe": 1}


class MeanJudge(Judge):
    """Mean brightness / 255; fails on cases tagged 'breaks'."""

    name = "mean"
    version = 1
    metrics = {"brightness": MetricSpec(True, (0.0, 1.0))}
    calls: list[int] = []

    def score(self, items: Sequence[JudgeInput]) -> list[Scores | None]:
        MeanJudge.calls.append(len(items))
        return [Scores({"brightness": Failure("planted failure") if "breaks" in it.case.tags
                        else float(np.asarray(it.image).mean() / 255)}) for it in items]


class CrashJudge(Judge):
    name = "crash"
    version = 1
    metrics = {"x": MetricSpec(True)}

    def score(self, items: Sequence[JudgeInput]) -> list[Scores | None]:
        raise ConnectionError("judge server unreachable at http://127.0.0.1:9")


class SpreadJudge(Judge):
    """A toy pack-level judge: the population std of the per-image mean brightness over the whole
    selection (a distribution metric no single image or case has), and how many images it saw."""

    name = "spread"
    version = 1
    granularity = "pack"
    batch_size = 3
    metrics = {"brightness_std": MetricSpec(True, (0.0, 1.0)), "images": MetricSpec(True, (0.0, None))}
    batches: list[int] = []

    def __init__(self, scale: float = 1.0) -> None:
        self._means: list[float] = []

    def update(self, items: Sequence[JudgeInput]) -> None:
        SpreadJudge.batches.append(len(items))
        self._means += [float(np.asarray(it.image, dtype=np.float64).mean() / 255) for it in items]

    def compute(self) -> Scores:
        means, self._means = np.asarray(self._means), []
        return Scores({"brightness_std": float(means.std()) * self.config["scale"], "images": float(len(means))},
                      {"n": len(means)})
