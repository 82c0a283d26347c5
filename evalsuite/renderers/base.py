"""The renderer contract: turn canonical requests into images, batched and deterministic."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from typing_extensions import Self

from evalsuite.types import Rendered, RenderRequest


class Renderer(ABC):
    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_checkpoint(cls, ckpt: str, **opts: Any) -> Self:
        """Load from a checkpoint path; raise EvalsuiteError with a one-line message if unreadable."""

    @abstractmethod
    def render(self, requests: Sequence[RenderRequest]) -> list[Rendered]:
        """Render a batch; same request (prompt, seed, size, source) -> same pixels."""

    @abstractmethod
    def fingerprint(self) -> str:
        """Weights hash + sampler settings; keys the render cache."""

    def describe(self) -> dict[str, Any]:
        """Human-readable settings recorded in run.json (steps/NFE, guidance, dtype, ...)."""
        return {"renderer": self.name, "fingerprint": self.fingerprint()}

    @property
    def batch_size(self) -> int:
        return 1

    def close(self) -> None:
        """Free the model."""
