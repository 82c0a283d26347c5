"""Flat-background judge: grain, colour and grid artefacts on backgrounds that should be flat.

The flat region is estimated from the image (pixels near the dominant colour and locally smooth,
text and objects excluded with a margin; see judges.noise.estimate_flat_mask). When the case gives
background.region, the estimate is made inside that box (its dominant colour) and intersected with
it, so text or objects a model places inside the given region do not count as noise
(refine_region=False uses the given box as is). If the estimate leaves too little of the box (below
min_fraction of the image or 256 px), the box is used as is and detail["region"] says so.
detail["region_box"] = [x0, y0, x1, y1], fractions of width and height: the largest rectangle
inside the region actually used (a crop that shows only background, e.g. for a report); None when
no such rectangle of at least 1/64 of the image side exists. Metrics (all lower is better):

  sigma        wavelet-MAD noise sigma in the region (as skimage's estimate_sigma, averaged over
               channels), 0-255 units; on near-white/black backgrounds, where the 8-bit range cuts
               part of the noise off, corrected for the clipping (declip=True)
  hf_energy    mean squared first-level wavelet detail in the region, 0-255^2 units
  color_error  CIEDE2000 between the region's median colour and background.color (only when the
               case gives a colour)
  sigma_ratio  (sigma + eps) / (teacher sigma + eps) on the same-seed teacher image (only when a
               teacher image is present; eps = 0.1 so two clean images give 1, not 0/0)
  grid_score   FFT power at 2/4/8/16-px lattice frequencies relative to neighbouring bins (white
               noise ~1; periodic patch/latent grids >> 1)
  grid_flag    1.0 when grid_score > grid_threshold (default 4), else 0.0
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from evalsuite.judge import Failure, Judge, Scores, attempt
from evalsuite.types import Case, EvalsuiteError, JudgeInput, MetricSpec
from judges import noise

logger = logging.getLogger(__name__)

SIGMA_EPS = 0.1


def _enough(mask: np.ndarray, min_fraction: float) -> bool:
    return float(mask.mean()) >= min_fraction and int(mask.sum()) >= 256


def region_in_spec(img: np.ndarray, region: tuple[float, float, float, float], smooth: int = 5,
                   dilate: int = 4) -> np.ndarray:
    """The given region minus what is not flat inside it: the flat-mask estimate is made on the
    region's bounding box (so its dominant colour is the region's, not the whole image's)."""
    box = noise.region_mask(img.shape[:2], region)
    ys = np.flatnonzero(box.any(axis=1))
    xs = np.flatnonzero(box.any(axis=0))
    sl = (slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1))
    out = np.zeros_like(box)
    out[sl] = noise.estimate_flat_mask(img[sl], smooth=smooth, dilate=dilate)
    return out & box


def inner_box(mask: np.ndarray, cells: int = 64) -> list[float] | None:
    """Largest axis-aligned rectangle inside `mask`, as [x0, y0, x1, y1] fractions of width and
    height. Found on a grid of at most `cells` blocks a side (a block counts when all its pixels
    are in the mask), so the box never leaves the mask; None when no block is entirely inside."""
    h, w = mask.shape
    k = max(1, int(np.ceil(max(h, w) / cells)))
    hb, wb = h // k, w // k
    if hb == 0 or wb == 0:
        return None
    blocks = mask[:hb * k, :wb * k].reshape(hb, k, wb, k).all(axis=(1, 3))
    best, arg = 0, None
    heights = np.zeros(wb, np.int64)
    for i in range(hb):            # largest rectangle in a histogram, row by row
        heights = np.where(blocks[i], heights + 1, 0)
        stack: list[int] = []
        for j in range(wb + 1):
            cur = int(heights[j]) if j < wb else 0
            while stack and int(heights[stack[-1]]) >= cur:
                top = stack.pop()
                hgt = int(heights[top])
                left = stack[-1] + 1 if stack else 0
                if hgt * (j - left) > best:
                    best, arg = hgt * (j - left), (left, i - hgt + 1, j, i + 1)
            stack.append(j)
    if arg is None:
        return None
    x0, y0, x1, y1 = arg
    return [round(x0 * k / w, 4), round(y0 * k / h, 4), round(x1 * k / w, 4), round(y1 * k / h, 4)]


def flat_metrics(img: np.ndarray, region: tuple[float, float, float, float] | None = None,
                 color: tuple[int, int, int] | None = None, smooth: int = 5, dilate: int = 4,
                 min_fraction: float = 0.02, grid_threshold: float = 4.0,
                 refine_region: bool = True, declip: bool = True) -> tuple[dict[str, float], dict[str, Any]]:
    """All flat-background metrics for one HxWx3 0-255 image (pure function).

    Returns (metrics, detail). Raises ValueError when no usable flat region is found.
    """
    h, w = img.shape[:2]
    if region is not None:
        mask = noise.region_mask((h, w), region)
        source = "spec"
        if refine_region:
            refined = region_in_spec(img, region, smooth=smooth, dilate=dilate)
            if _enough(refined, min_fraction):
                mask, source = refined, "spec+estimate"
            else:
                source = "spec (the estimate left too little of it)"
    else:
        mask = noise.estimate_flat_mask(img, smooth=smooth, dilate=dilate)
        source = "estimate"
    frac = float(mask.mean())
    if not _enough(mask, min_fraction):
        raise ValueError(f"no flat background region found ({frac:.1%} of the image, need "
                         f"{min_fraction:.0%} and 256 px; {source})")
    med = noise.median_color(img, mask)
    sigmas, hf = noise.noise_stats(img, mask)
    step = 2 if h * w > 250_000 else 1
    flat_px = img[::step, ::step][mask[::step, ::step]]
    clipped = [noise.clip_fraction(flat_px[:, c]) for c in range(img.shape[2])]
    if declip:
        sigmas = [noise.declip_sigma(s, c) for s, c in zip(sigmas, clipped)]
    out = {"sigma": float(np.mean(sigmas)), "hf_energy": hf}
    gs, per = noise.grid_score(img, mask)
    out["grid_score"] = gs
    out["grid_flag"] = float(gs > grid_threshold)
    if color is not None:
        out["color_error"] = noise.ciede2000(med, color)
    detail = {"region": source, "flat_fraction": round(frac, 4), "region_box": inner_box(mask),
              "sigma_per_channel": [round(float(v), 3) for v in sigmas],
              "median_color": [round(float(v), 1) for v in med],
              "grid_per_period": {str(p): round(v, 3) for p, v in per.items()},
              # the fundamental period: the longest one whose new frequencies are elevated
              "grid_period": max((p for p, v in per.items() if v > grid_threshold), default=None)}
    if max(clipped) >= 0.005:
        detail["clipped_fraction"] = [round(c, 4) for c in clipped]
    return out, detail


class FlatBackgroundJudge(Judge):
    """Noise, colour and grid artefacts on flat backgrounds (cases with a background spec).

    Config kwargs: smooth (blur px for the mask), dilate (margin px around text/objects),
    min_fraction (smallest usable flat region), grid_threshold, refine_region (default True:
    also exclude text/objects inside a region given by the case), declip (correct sigma for noise
    cut off by the 0..255 range on near-white/black backgrounds; see judges.noise.declip_sigma).
    """

    name = "flatbg"
    version = 2   # v2: a region given by the case is intersected with the flat-mask estimate
    batch_size = 16
    reference = "optional"   # sigma_ratio when the same-seed teacher image exists
    metrics = {
        "sigma": MetricSpec(False, (0.0, None), "wavelet-MAD noise sigma on the flat region (0-255)"),
        "hf_energy": MetricSpec(False, (0.0, None), "mean squared level-1 wavelet detail (0-255^2)"),
        "color_error": MetricSpec(False, (0.0, None), "CIEDE2000 to the requested colour"),
        "sigma_ratio": MetricSpec(False, (0.0, None), "sigma relative to the same-seed teacher image"),
        "grid_score": MetricSpec(False, (0.0, None), "periodic 2/4/8/16-px grid energy vs neighbours"),
        "grid_flag": MetricSpec(False, (0.0, 1.0), "1 when a periodic grid artefact is detected"),
    }

    def __init__(self, smooth: int = 5, dilate: int = 4, min_fraction: float = 0.02,
                 grid_threshold: float = 4.0, refine_region: bool = True, declip: bool = True) -> None:
        if smooth < 1 or dilate < 0 or not 0 < min_fraction < 1:
            raise EvalsuiteError(f"flatbg judge: need smooth >= 1, dilate >= 0, 0 < min_fraction < 1 "
                                 f"(got {smooth}, {dilate}, {min_fraction})")

    def applies_to(self, case: Case) -> bool:
        return case.background is not None

    def metrics_for(self, item: JudgeInput) -> list[str]:
        bg = item.case.background
        names = ["sigma", "hf_energy", "grid_score", "grid_flag"]
        if bg is not None and bg.color is not None:
            names.append("color_error")
        if item.teacher_image is not None:
            names.append("sigma_ratio")
        return names

    def _one(self, image: Any, case: Case) -> tuple[dict[str, float], dict[str, Any]]:
        bg = case.background
        c = self.config
        return flat_metrics(noise.as_rgb_float(image), bg.region if bg else None, bg.color if bg else None,
                            smooth=c["smooth"], dilate=c["dilate"], min_fraction=c["min_fraction"],
                            grid_threshold=c["grid_threshold"], refine_region=c["refine_region"],
                            declip=c["declip"])

    def score(self, items: Sequence[JudgeInput]) -> list[Scores | None]:
        return [self._scores(it) for it in items]

    def _scores(self, it: JudgeInput) -> Scores:
        vals, detail = self._one(it.image, it.case)
        out: dict[str, float | Failure] = {}
        if it.teacher_image is not None:
            t = attempt(self._one, it.teacher_image, it.case)
            if isinstance(t, Failure):
                out["sigma_ratio"] = Failure(f"teacher image: {t.error}")
            else:
                vals["sigma_ratio"] = (vals["sigma"] + SIGMA_EPS) / (t[0]["sigma"] + SIGMA_EPS)
                detail["teacher_sigma"] = round(t[0]["sigma"], 4)
        out.update({m: float(vals[m]) for m in self.metrics_for(it) if m in vals})
        return Scores(out, detail)
