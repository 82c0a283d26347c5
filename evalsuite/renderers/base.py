"""The renderer contract: turn canonical requests into images, batched and deterministic."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from typing_extensions import Self

from evalsuite.types import EvalsuiteError, Rendered, RenderRequest

# Key of an options dict holding options given to every model (e.g. --device, --batch-size): each
# renderer takes only those it declares in `options`; options outside it are the model's own and
# an unknown one is an error.
SHARED = "__shared__"


def check_options(opts: dict[str, Any], known: frozenset[str] | set[str], where: str) -> None:
    """Unknown renderer options are one-line errors with "did you mean"."""
    from evalsuite.registry import did_you_mean

    for k in opts:
        if k not in known:
            raise EvalsuiteError(f"{where}: unknown option '{k}'{did_you_mean(k, known)} "
                                 f"(known: {', '.join(sorted(known))})")


class Renderer(ABC):
    """Turns RenderRequests into images. `options` declares what from_checkpoint accepts; a
    renderer is rebuilt in another process from spec() (registered name + checkpoint + options)."""

    name: ClassVar[str]
    options: ClassVar[frozenset[str]] = frozenset()

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

    def threads_matter(self) -> bool:
        """Whether this renderer's pixels depend on the torch thread count (a model on CPU)."""
        return False

    def describe(self) -> dict[str, Any]:
        """Human-readable settings recorded in run.json (steps/NFE, guidance, dtype, ...)."""
        return {"renderer": self.name, "fingerprint": self.fingerprint()}

    @property
    def batch_size(self) -> int:
        return 1

    def close(self) -> None:
        """Free the model."""

    @classmethod
    def take(cls, opts: dict[str, Any]) -> dict[str, Any]:
        """The options for this renderer: its own, plus the shared ones it declares."""
        opts = dict(opts)
        shared = opts.pop(SHARED, None) or {}
        return {**{k: v for k, v in shared.items() if k in cls.options}, **opts}
