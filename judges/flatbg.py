"""Flat-background judge: grain, colour and grid artefacts on backgrounds that should be flat.

The flat region is estimated from the image (pixels near the dominant colour and locally smooth,
text and objects excluded with a margin; see judges.noise.estimate_flat_mask). When the case gives
background.region, the estimate is made inside that box (its dominant colour) and intersected with
it, so text or objects a model places inside the given region do not count as noise
(refine_region=False uses the given box as is). If the estimate leaves too little of the box (below
min_fraction of the image or 256 px), the box is used as is and detail["region"] says so.
detail["region_box"] = [x0, y0, x1, y1], fractions of width and height: the largest rectangle
inside the region actually used (a crop that shows only background, e.g. for a report); None when
no such rectangle of at least 1/64 of the image side exists. Metrics (all lower is better), one
per defect family; the estimators are pure functions in judges.noise and judges.bgdefects:

  sigma        Gaussian grain: wavelet-MAD noise sigma in the region (Donoho & Johnstone; as
               skimage's estimate_sigma, averaged over channels), 0-255 units; on near-white/black
               backgrounds corrected for the part of the noise the 8-bit range cuts off (declip)
  hf_energy    mean squared first-level wavelet detail in the region, 0-255^2 units
  speckle      isolated impulse pixels per 1000 region pixels: a pixel beyond all 8 neighbours by
               max(16, z*sigma) levels, z for 1e-6 false detections per pixel of grain
  blotch       low-frequency blotches: amplitude (levels) of the 8-px block means against a
               designed-gradient model (quadratic surface + elliptical cone) with the stripes of
               the row/column profiles removed, from the covariance of each block's two halves
               (grain cancels)
  banding      row/column stripes: amplitude (levels) of the detrended residual's row (column)
               means shared by non-adjacent strips of the region (grain and blotches cancel)
  grid         periodic grid/checkerboard: RMS amplitude (levels) of the component at the P-px
               lattice frequencies (P = 2, 4, 8, 16) when it is significant against the local
               spectrum (Gamma tail, Bonferroni, grid_alpha); else 0
  grid_flag    1.0 when grid is significant and >= grid_min_amp (default 0.5 levels: above the
               1/sqrt(12) an 8-bit quantiser can produce), else 0.0
  color_error  colour shift: CIEDE2000 between the region's median colour and background.color
               (only when the case gives a colour)
  sigma_log_ratio  log((sigma + eps) / (teacher sigma + eps)) on the same-seed teacher image (only
               when a teacher image is present; eps = 0.1). Its mean over items is the log of the
               geometric-mean ratio; summarise with bgdefects.summarize_log_ratios (median, geo mean).
Blotch, banding and grid read 0 on designed linear/quadratic/radial gradients and 8-bit steps:
each is counted only in excess of 1/12 level^2, the variance of 8-bit rounding.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from evalsuite.family import JudgeFamily
from evalsuite.judge import Failure, Judge, Scores, attempt
from evalsuite.types import Case, EvalsuiteError, JudgeInput, MetricSpec
from judges import bgdefects, noise

logger = logging.getLogger(__name__)

SIGMA_EPS = 0.1
# student vs teacher: log((student + eps) / (teacher + eps)) per defect metric (eps in its units:
# levels, or impulses per 1000 px), so two clean images give 0 rather than log(0/0)
LOG_RATIO_EPS = {"sigma": SIGMA_EPS, "speckle": 0.1, "blotch": 0.1, "banding": 0.1, "grid": 0.1}


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
    rows = mask[:hb * k, :wb * k].reshape(hb, k, wb * k).all(axis=1)      # whole rows first: fast
    blocks = np.logical_and.reduce([rows[:, j::k] for j in range(k)])
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
                 min_fraction: float = 0.02, grid_alpha: float = 1e-4, grid_min_amp: float = 0.5,
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
    sigmas, hf = noise.noise_stats(img, mask)
    step = 2 if h * w > 250_000 else 1            # a quarter of the pixels is plenty (median_color)
    flat_px = img[::step, ::step][mask[::step, ::step]]
    med = noise.channel_medians(flat_px)          # = noise.median_color(img, mask), pixels reused
    clipped = [noise.clip_fraction(flat_px[:, c]) for c in range(img.shape[2])]
    if declip:
        sigmas = [noise.declip_sigma(s, c) for s, c in zip(sigmas, clipped)]
    out = {"sigma": float(np.mean(sigmas)), "hf_energy": hf}
    out["speckle"], sp_detail = bgdefects.speckle_density(img, mask, out["sigma"])
    low, low_detail = bgdefects.lowfreq_defects(img, mask)
    out.update(low)
    out["grid"], flag, grid_detail = bgdefects.grid_test(img, mask, alpha=grid_alpha, min_amp=grid_min_amp)
    out["grid_flag"] = float(flag)
    if color is not None:
        out["color_error"] = noise.ciede2000(med, color)
    detail = {"region": source, "flat_fraction": round(frac, 4), "region_box": inner_box(mask),
              "sigma_per_channel": [round(float(v), 3) for v in sigmas],
              "median_color": [round(float(v), 1) for v in med],
              **sp_detail, **low_detail, **grid_detail}
    if max(clipped) >= 0.005:
        detail["clipped_fraction"] = [round(c, 4) for c in clipped]
    return out, detail


class FlatBackgroundJudge(Judge):
    """Noise, colour and grid artefacts on flat backgrounds (cases with a background spec).

    Config kwargs: smooth (blur px for the mask), dilate (margin px around text/objects),
    min_fraction (smallest usable flat region), grid_alpha, grid_min_amp, refine_region (default True:
    also exclude text/objects inside a region given by the case), declip (correct sigma for noise
    cut off by the 0..255 range on near-white/black backgrounds; see judges.noise.declip_sigma).
    """

    name = "flatbg"
    version = 4   # v4: blotch against a designed-gradient model; log-ratios for every defect metric
    #              (v3: one metric per defect family (speckle, blotch, banding, grid), sigma_log_ratio)
    #              (v2: a region given by the case is intersected with the flat-mask estimate)
    batch_size = 16
    reference = "optional"   # *_log_ratio when the same-seed teacher image exists
    family = "flatbg"        # FlatBackgroundFamily: median / geometric-mean ratios in the summary
    metrics = {
        "sigma": MetricSpec(False, (0.0, None), "wavelet-MAD noise sigma on the flat region (0-255)"),
        "hf_energy": MetricSpec(False, (0.0, None), "mean squared level-1 wavelet detail (0-255^2)"),
        "speckle": MetricSpec(False, (0.0, 1000.0), "isolated impulse pixels per 1000 region pixels"),
        "blotch": MetricSpec(False, (0.0, None), "low-frequency blotch amplitude against a designed-gradient model (0-255)"),
        "banding": MetricSpec(False, (0.0, None), "row/column-coherent stripe amplitude (0-255)"),
        "grid": MetricSpec(False, (0.0, None), "RMS amplitude of a significant periodic grid (0-255)"),
        "grid_flag": MetricSpec(False, (0.0, 1.0), "1 when a significant periodic grid of >= grid_min_amp is found"),
        "color_error": MetricSpec(False, (0.0, None), "CIEDE2000 to the requested colour"),
        **{f"{m}_log_ratio": MetricSpec(False, (None, None), f"log(({m}+{e})/(teacher {m}+{e})), same seed")
           for m, e in LOG_RATIO_EPS.items()},
    }

    def __init__(self, smooth: int = 5, dilate: int = 4, min_fraction: float = 0.02,
                 grid_alpha: float = 1e-4, grid_min_amp: float = 0.5, refine_region: bool = True,
                 declip: bool = True) -> None:
        if smooth < 1 or dilate < 0 or not 0 < min_fraction < 1:
            raise EvalsuiteError(f"flatbg judge: need smooth >= 1, dilate >= 0, 0 < min_fraction < 1 "
                                 f"(got {smooth}, {dilate}, {min_fraction})")

    def applies_to(self, case: Case) -> bool:
        return case.background is not None

    def metrics_for(self, item: JudgeInput) -> list[str]:
        bg = item.case.background
        names = ["sigma", "hf_energy", "speckle", "blotch", "banding", "grid", "grid_flag"]
        if bg is not None and bg.color is not None:
            names.append("color_error")
        if item.teacher_image is not None:
            names += [f"{m}_log_ratio" for m in LOG_RATIO_EPS]
        return names

    def _one(self, image: Any, case: Case) -> tuple[dict[str, float], dict[str, Any]]:
        bg = case.background
        c = self.config
        return flat_metrics(noise.as_rgb_float(image), bg.region if bg else None, bg.color if bg else None,
                            smooth=c["smooth"], dilate=c["dilate"], min_fraction=c["min_fraction"],
                            grid_alpha=c["grid_alpha"], grid_min_amp=c["grid_min_amp"],
                            refine_region=c["refine_region"],
                            declip=c["declip"])

    def score(self, items: Sequence[JudgeInput]) -> list[Scores | None]:
        return [self._scores(it) for it in items]

    def _scores(self, it: JudgeInput) -> Scores:
        vals, detail = self._one(it.image, it.case)
        out: dict[str, float | Failure] = {}
        if it.teacher_image is not None:
            t = attempt(self._one, it.teacher_image, it.case)
            for m, eps in LOG_RATIO_EPS.items():
                if isinstance(t, Failure):
                    out[f"{m}_log_ratio"] = Failure(f"teacher image: {t.error}")
                else:
                    vals[f"{m}_log_ratio"] = bgdefects.log_ratio(vals[m], t[0][m], eps)
                    detail[f"teacher_{m}"] = round(t[0][m], 4)
        out.update({m: float(vals[m]) for m in self.metrics_for(it) if m in vals})
        return Scores(out, detail)


class FlatBackgroundFamily(JudgeFamily):
    """Student vs teacher per defect metric, summarised as the median and geometric-mean ratio of
    per-case ratios with case-resampled CIs (summary.json["flatbg"], and a console table): the
    mean of `*_log_ratio` in the metric table is the log of the geometric mean, the median is not
    there, and a mean of ratios is never reported."""

    name = "flatbg"

    def summary_section(self, store: Any, judges: Sequence[Judge]) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        for judge in judges:
            for role in store.roles():
                per: dict[str, list[tuple[str, float]]] = {}
                for v in store.verdicts_for(role, [judge.judge_id()]):
                    if v["ok"] and v["metric"].endswith("_log_ratio") and v["value"] is not None:
                        per.setdefault(v["metric"].removesuffix("_log_ratio"), []).append((v["case_id"], v["value"]))
                for metric, rows in sorted(per.items()):
                    s = bgdefects.summarize_log_ratios([x for _, x in rows], [c for c, _ in rows])
                    out.setdefault(judge.name, {}).setdefault(role, {})[metric] = {
                        k: (round(x, 4) if isinstance(x, float) else [round(y, 4) for y in x] if isinstance(x, list) else x)
                        for k, x in s.items()}
        return out or None

    def console(self, summary: dict[str, Any]) -> list[Any]:
        from rich.table import Table

        out: list[Any] = []
        for judge, per_role in summary.get(self.name, {}).items():
            for role, per in per_role.items():
                t = Table(title=f"{judge}: {role} / teacher, per-case ratio (95% CI, cases resampled)",
                          title_justify="left")
                for col in ("defect", "median ratio", "geo-mean ratio", "cases"):
                    t.add_column(col)
                for metric, e in per.items():
                    t.add_row(metric, f"{e['median_ratio']:.3g} [{e['median_ratio_ci'][0]:.3g}, {e['median_ratio_ci'][1]:.3g}]",
                              f"{e['geo_mean_ratio']:.3g} [{e['geo_mean_ratio_ci'][0]:.3g}, {e['geo_mean_ratio_ci'][1]:.3g}]",
                              str(e["n_cases"]))
                out.append(t)
        return out
