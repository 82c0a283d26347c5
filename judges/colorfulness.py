"""Colourfulness judge (Hasler & Süsstrunk 2003, "Measuring colourfulness in natural images").

With rg = R - G and yb = (R + G) / 2 - B over all pixels (RGB, 0-255):

    M = sqrt(σ_rg² + σ_yb²) + 0.3 · sqrt(μ_rg² + μ_yb²)

σ and μ are the population standard deviation and the mean. 0 for a grey image; the paper
reports about 15 for "slightly colourful" and above 100 for "extremely colourful" photographs.
A descriptive metric: compare student and teacher (a washed-out or oversaturated few-step
student shows up as a delta), not an absolute target. Higher is declared better because the
common failure of distilled samplers is desaturation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from evalsuite.judge import Judge, Scores
from evalsuite.types import JudgeInput, MetricSpec


def colorfulness(image: Image.Image) -> float:
    """Hasler-Süsstrunk colourfulness M of an image (pure function)."""
    a = np.asarray(image.convert("RGB"), dtype=np.float64)
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


class ColorfulnessJudge(Judge):
    """Per-image colourfulness M (no options)."""

    name = "colorfulness"
    version = 1
    batch_size = 32
    metrics = {"colorfulness": MetricSpec(True, (0.0, None), "Hasler-Süsstrunk colourfulness M (0 = grey)")}

    def score(self, items: Sequence[JudgeInput]) -> list[Scores | None]:
        return [Scores({"colorfulness": colorfulness(it.image)}) for it in items]
