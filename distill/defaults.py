"""The bundled default models, registered with evalsuite (registry DEFAULT_MODELS, "bundled"):
`evalsuite run` with no --model evaluates the bundled student against its teacher. Cheap: paths
only, nothing is loaded."""

from __future__ import annotations

from pathlib import Path

MODELS = Path(__file__).resolve().parent / "models"


def default_models() -> dict[str, str]:
    """role -> checkpoint folder of the bundled tiny student and its teacher."""
    return {"student": str(MODELS / "student"), "teacher": str(MODELS / "teacher-base")}
