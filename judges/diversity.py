"""Diversity judge: spread across the seeds of one prompt (mode collapse is the most reported
failure of distilled few-step generators). One verdict set per case, seed = -1.

Metrics (higher = more diverse):
  ssim_distance   mean over seed pairs of (1 - SSIM), images area-resized to a common size (long
                  side `size` px, default 128) and blurred (`blur` px, default 2) so that grain
                  does not count as diversity; 0 for identical images, ~1 for unrelated ones
  pixel_distance  mean over seed pairs of the RMS pixel difference / 255 on 32x32 thumbnails
                  (layout and colour, insensitive to fine grain)
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from evalsuite.judge import Judge, Scores
from evalsuite.types import Case, EvalsuiteError, JudgeInput, MetricSpec

logger = logging.getLogger(__name__)

METRICS = ("ssim_distance", "pixel_distance")


def _prep(images: Sequence[Image.Image], long_side: int, blur: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Common-size RGB arrays (the first image's aspect, long side <= long_side, area-averaged,
    then Gaussian-blurred by `blur` px) and 32x32 thumbnails. Averaging and blur keep per-pixel
    grain out of the comparison: a grainy student must not look "more diverse" than its teacher."""
    from scipy import ndimage
    w, h = images[0].size
    scale = min(1.0, long_side / max(w, h))
    size = (max(7, round(w * scale)), max(7, round(h * scale)))
    full, thumbs = [], []
    for im in images:
        im = im.convert("RGB") if im.mode != "RGB" else im
        a = np.asarray(im.resize(size, Image.BOX) if im.size != size else im, dtype=np.float64)
        full.append(ndimage.gaussian_filter(a, (blur, blur, 0)) if blur > 0 else a)
        thumbs.append(np.asarray(im.resize((32, 32), Image.BOX), dtype=np.float64))
    return full, thumbs


def pairwise_diversity(images: Sequence[Image.Image], long_side: int = 128,
                       blur: float = 2.0) -> tuple[dict[str, float], dict[str, Any]]:
    """Mean pairwise (1 - SSIM) and thumbnail RMS distance over all pairs (pure function)."""
    from skimage.metrics import structural_similarity
    if len(images) < 2:
        raise ValueError(f"diversity needs at least 2 seeds, got {len(images)}")
    full, thumbs = _prep(images, long_side, blur)
    d_ssim, d_pix = [], []
    for i, j in itertools.combinations(range(len(images)), 2):
        d_ssim.append(1.0 - float(structural_similarity(full[i], full[j], channel_axis=-1, data_range=255.0)))
        d_pix.append(float(np.sqrt(np.mean((thumbs[i] - thumbs[j]) ** 2)) / 255.0))
    vals = {"ssim_distance": float(np.mean(d_ssim)), "pixel_distance": float(np.mean(d_pix))}
    detail = {"n_seeds": len(images), "n_pairs": len(d_ssim),
              "min_pair_ssim_distance": round(min(d_ssim), 4)}
    return vals, detail


class DiversityJudge(Judge):
    """Spread across seeds of one case; gets all seeds of a case in one batch (granularity="case").

    Config kwargs: size (long side in px for SSIM; smaller is faster), blur (Gaussian px before
    SSIM; 0 = none).
    """

    name = "diversity"
    version = 1
    granularity = "case"
    batch_size = 64
    metrics = {
        "ssim_distance": MetricSpec(True, (0.0, 2.0), "mean pairwise 1 - SSIM across seeds"),
        "pixel_distance": MetricSpec(True, (0.0, 1.0), "mean pairwise RMS distance of 32x32 thumbnails"),
    }

    def __init__(self, size: int = 128, blur: float = 2.0) -> None:
        if size < 16:
            raise EvalsuiteError(f"diversity judge: size must be >= 16, got {size}")

    def applies_to(self, case: Case) -> bool:
        return len(set(case.seeds)) >= 2

    def score(self, items: Sequence[JudgeInput]) -> list[Scores | None]:
        """One Scores for the case whose seeds `items` are (duplicate seeds counted once)."""
        its = sorted({it.seed: it for it in items}.values(), key=lambda x: x.seed)
        vals, detail = pairwise_diversity([it.image for it in its], self.config["size"], self.config["blur"])
        detail["seeds"] = [it.seed for it in its]
        return [Scores(dict(vals), detail)]
