"""evalsuite: evaluation suite for few-step distilled image generators."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def evaluate(model: Any, pack: str = "typography-mini", teacher: Any = None, run_dir: Any = None,
             **opts: Any) -> dict[str, Any]:
    """Evaluate `model` on `pack` into `run_dir` and return the summary; see evalsuite.api.evaluate.
    (Imported on call, so `import evalsuite` stays light.)"""
    from evalsuite.api import evaluate as _evaluate

    return _evaluate(model, pack=pack, teacher=teacher, run_dir=run_dir, **opts)
