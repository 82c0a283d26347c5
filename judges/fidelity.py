"""Fidelity judge: how close the student's image is to the teacher's image of the same seed, and
for edits, how well the student preserves the source outside the edited region.

Metrics (higher is better):
  ssim          SSIM(student, teacher), RGB, 7x7 window, data range 255 (skimage)
  psnr          PSNR(student, teacher) in dB, capped at 100 dB for identical images
  preservation  edit cases only: mean SSIM between source and student over the pixels the edit
                should not touch, both pre-blurred (Gaussian, preservation_blur=1.5 px) so that
                grain, which SSIM punishes heavily on flat areas and flatbg measures on its own,
                does not outweigh real changes of content

Sizes: the teacher (and the edit source) are resized to the student's size (Lanczos) when they
differ; detail records it.

Edited region (documented choice): estimated from the *teacher's* edit, i.e. where the teacher's
result differs from the source (blurred mean absolute difference > edit_threshold, grown by
edit_dilate px). Using the student's own difference would reward a student that changes
everything (the "unedited" region would vanish); the teacher's edit is the reference for what
should change. `edit_region="union"` also excludes the student's own changes (lenient).

Without a teacher image (a run without --teacher, and the teacher's own images, so that the
summary has a teacher-vs-student delta for preservation) only preservation is measured, on edit
cases, and the edited region is the image's own changes (detail["edit_region"] = "own"; lenient).
SSIM/PSNR need the teacher: the runner skips t2i cases without one (reference_for); called
directly without a teacher on a t2i case they fail. When less than 5% of the image is left
outside the edit (a global edit such as a style change), preservation is not reported;
detail["preservation_skipped"] says why, and an item with no metric left is an abstention.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

from evalsuite.judge import Failure, Judge, Reference, Scores
from evalsuite.types import Case, EvalsuiteError, JudgeInput, MetricSpec

logger = logging.getLogger(__name__)

PSNR_CAP = 100.0


def as_rgb(image: Image.Image, size: tuple[int, int] | None = None) -> np.ndarray:
    """RGB float64 array, resized (Lanczos) to `size` = (width, height) when given and different."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    if size is not None and image.size != tuple(size):
        image = image.resize(tuple(size), Image.LANCZOS)
    return np.asarray(image, dtype=np.float64)


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB, capped at PSNR_CAP (identical images)."""
    mse = float(np.mean((a - b) ** 2))
    if mse <= data_range ** 2 * 10 ** (-PSNR_CAP / 10):
        return PSNR_CAP
    return float(10.0 * np.log10(data_range ** 2 / mse))


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM (averaged over channels), skimage's 7x7 uniform window, data range 255."""
    from skimage.metrics import structural_similarity
    if min(a.shape[:2]) < 7:
        raise ValueError(f"image {a.shape[1]}x{a.shape[0]} is too small for SSIM (needs 7 px)")
    _, full = structural_similarity(a, b, channel_axis=-1, data_range=255.0, full=True)
    return full.mean(axis=-1)


def edit_mask(source: np.ndarray, edited: np.ndarray, threshold: float = 16.0, dilate: int = 8,
              smooth: int = 9) -> np.ndarray:
    """Pixels changed by an edit: blurred mean |edited - source| over channels > threshold, grown
    by `dilate` px. Blurring keeps VAE round-trip noise and grain below the threshold."""
    d = np.abs(edited - source).mean(axis=-1)
    d = ndimage.uniform_filter(d, size=smooth, mode="nearest")
    m = d > threshold
    if dilate > 0 and m.any():
        m = ndimage.maximum_filter(m.astype(np.uint8), size=2 * dilate + 1) > 0
    return m


class FidelityJudge(Judge):
    """Student vs same-seed teacher (SSIM, PSNR); for edits, preservation of the source.

    Config kwargs: edit_region ("teacher" | "union"), edit_threshold (mean abs difference, 0-255),
    edit_dilate (px), min_preserved (fraction of the image that must remain outside the edit),
    preservation_blur (Gaussian sigma in px applied before the preservation SSIM; 0 = none).
    """

    name = "fidelity"
    version = 1
    reference = "optional"  # ssim/psnr against the same-seed teacher; the edit region from its edit
    batch_size = 16
    metrics = {
        "ssim": MetricSpec(True, (-1.0, 1.0), "SSIM to the same-seed teacher image"),
        "psnr": MetricSpec(True, (0.0, PSNR_CAP), "PSNR (dB) to the same-seed teacher image"),
        "preservation": MetricSpec(True, (-1.0, 1.0), "edits: SSIM to the source outside the edited region"),
    }

    def __init__(self, edit_region: str = "teacher", edit_threshold: float = 16.0, edit_dilate: int = 8,
                 min_preserved: float = 0.05, preservation_blur: float = 1.5) -> None:
        if edit_region not in ("teacher", "union"):
            raise EvalsuiteError(f"fidelity judge: edit_region must be 'teacher' or 'union', not {edit_region!r}")

    def reference_for(self, case: Case) -> Reference:
        """Edits can be judged without a teacher (preservation); t2i cases cannot."""
        return "optional" if case.kind == "edit" else "required"

    def metrics_for(self, item: JudgeInput) -> list[str]:
        edit = item.case.kind == "edit"
        return (["ssim", "psnr"] if item.teacher_image is not None or not edit else []) + \
            (["preservation"] if edit else [])

    def score(self, items: Sequence[JudgeInput]) -> list[Scores | None]:
        return [self._scores(it) for it in items]

    def _scores(self, it: JudgeInput) -> Scores | None:
        vals, detail = self._one(it)
        out: dict[str, float | Failure] = {}
        for m in self.metrics_for(it):
            if m in vals:
                out[m] = float(vals[m])
            elif m in ("ssim", "psnr"):
                out[m] = Failure("no teacher image for this case and seed")
            elif "preservation_error" in detail:
                out[m] = Failure(detail["preservation_error"])
        return Scores(out, detail) if out else None

    def _one(self, it: JudgeInput) -> tuple[dict[str, float], dict[str, Any]]:
        size = it.image.size
        s = as_rgb(it.image)
        t = as_rgb(it.teacher_image, size) if it.teacher_image is not None else None
        detail: dict[str, Any] = {"size": list(size)}
        vals: dict[str, float] = {}
        if t is not None:
            if it.teacher_image.size != size:
                detail["teacher_resized_from"] = list(it.teacher_image.size)
            vals = {"ssim": float(ssim_map(s, t).mean()), "psnr": psnr(s, t)}
        if it.case.kind == "edit":
            if it.source_image is None:
                detail["preservation_error"] = "edit case without a source image"
                return vals, detail
            src = as_rgb(it.source_image, size)
            c = self.config
            # The teacher's edit defines what may change; without one (no --teacher, or judging
            # the teacher itself) the image's own changes do, which is lenient.
            ref, detail["edit_region"] = (t, c["edit_region"]) if t is not None else (s, "own")
            edited = edit_mask(src, ref, c["edit_threshold"], c["edit_dilate"])
            if c["edit_region"] == "union" and t is not None:
                edited |= edit_mask(src, s, c["edit_threshold"], c["edit_dilate"])
            keep = ~edited
            frac = float(keep.mean())
            detail["preserved_fraction"] = round(frac, 4)
            if frac < c["min_preserved"]:
                detail["preservation_skipped"] = (f"global edit: only {frac:.1%} of the image lies outside "
                                                  f"the edited region (min_preserved={c['min_preserved']})")
            else:
                b = c["preservation_blur"]
                blur = (lambda x: ndimage.gaussian_filter(x, (b, b, 0))) if b > 0 else (lambda x: x)
                vals["preservation"] = float(ssim_map(blur(src), blur(s))[keep].mean())
                detail["preservation_psnr"] = round(psnr(src[keep], s[keep]), 3)
        return vals, detail
