"""Known-truth suite for the flat-background judge: every defect family planted at several
strengths on clean and designed-gradient backgrounds, plus clean negatives.

Backgrounds (all clean by construction): flat colours, linear gradients, radial gradients and
shallow 8-bit gradients whose quantisation steps are visible, at several sizes (down to 96x32),
some with an object in the frame (the judge must measure around it). Light grain (sigma 0-1.5)
is added to every image, positives and negatives alike, as real renders have it.

Planted defects (each on the same kinds of backgrounds):
  grain     Gaussian, sigma 2/4/8            -> `sigma` (recovery error vs the planted sigma; AUC)
  speckle   isolated impulses, 0.05-1%      -> `speckle` (AUC vs clean)
  blotch    smooth random field, std 3-10   -> `blotch` (AUC vs clean)
  banding   per-row/column offsets, stripes -> `banding` (AUC vs clean)
  grid      periodic grid / checkerboard     -> `grid` (AUC vs clean) and `grid_flag` (detection
                                               rate at amplitude >= 4; false-positive rate on clean)
  colour    a known shift of the requested colour -> `color_error` vs CIEDE2000 of the planted
                                               shift (skimage.color.deltaE_ciede2000; mean |error|)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from evalsuite.types import BackgroundSpec
from judges.validity import Check, auc, score_items
from judges.validity.draw import case, item

SIZES = [(320, 240), (256, 256), (384, 192), (96, 32)]
STRENGTHS = {
    "grain": [2.0, 4.0, 8.0],
    "speckle": [0.0005, 0.002, 0.01],
    "blotch": [3.0, 6.0, 10.0],
    "banding": [1.5, 3.0, 6.0],
    "grid": [2.0, 4.0, 8.0],
}
METRIC = {"grain": "sigma", "speckle": "speckle", "blotch": "blotch", "banding": "banding", "grid": "grid"}
FLOORS = {"grain": 0.95, "speckle": 0.9, "blotch": 0.9, "banding": 0.9, "grid": 0.9}


def background(rng: np.random.Generator, size: tuple[int, int], kind: str) -> tuple[np.ndarray, tuple[int, int, int]]:
    """A clean float background (H, W, 3) and its nominal colour."""
    w, h = size
    base = rng.uniform(30, 225, 3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    if kind == "flat":
        field = np.zeros((h, w))
    elif kind == "linear":
        a = rng.uniform(0, 2 * np.pi)
        t = (np.cos(a) * xx / w + np.sin(a) * yy / h)
        field = rng.uniform(20, 60) * (t - t.mean())
    elif kind == "radial":
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        r = np.hypot(xx - cx, yy - cy) / max(w, h)
        field = rng.uniform(20, 50) * (r - r.mean())
    else:                                          # shallow quantised gradient: visible 1-level steps
        field = rng.uniform(3, 6) * (xx / w - 0.5)
    img = base[None, None, :] + field[..., None] * rng.uniform(0.6, 1.0, 3)[None, None, :]
    return img, tuple(int(round(c)) for c in base)  # type: ignore[return-value]


def add_object(img: np.ndarray, rng: np.random.Generator) -> None:
    """A shape or a text-like block in the frame (what the judge must exclude)."""
    h, w = img.shape[:2]
    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(pil)
    x0, y0 = int(rng.uniform(0.3, 0.5) * w), int(rng.uniform(0.3, 0.5) * h)
    box = (x0, y0, x0 + int(0.2 * w), y0 + int(0.2 * h))
    fill = tuple(int(c) for c in rng.integers(0, 255, 3))
    (d.ellipse if rng.random() < 0.5 else d.rectangle)(box, fill=fill)
    img[:] = np.asarray(pil, dtype=np.float64)


def plant(img: np.ndarray, defect: str, s: float, rng: np.random.Generator) -> None:
    h, w = img.shape[:2]
    if defect == "grain":
        img += rng.normal(0, s, img.shape)
    elif defect == "speckle":
        n = max(1, int(s * h * w))
        ys, xs = rng.integers(0, h, n), rng.integers(0, w, n)
        img[ys, xs] += (rng.choice([-1, 1], n) * rng.uniform(60, 120, n))[:, None]
    elif defect == "blotch":
        corr = rng.uniform(0.06, 0.2) * max(h, w)
        f = ndimage.gaussian_filter(rng.normal(0, 1, (h, w)), corr, mode="wrap")
        img += (s * f / (f.std() + 1e-9))[..., None]
    elif defect == "banding":
        if rng.random() < 0.5:                     # random per-row or per-column offsets
            axis = int(rng.integers(0, 2))
            off = rng.normal(0, s, h if axis == 0 else w)
            img += (off[:, None] if axis == 0 else off[None, :])[..., None]
        else:                                      # periodic stripes
            period = rng.uniform(6, 20)
            yy, xx = np.mgrid[0:h, 0:w]
            coord = yy if rng.random() < 0.5 else xx
            img += (s * np.sign(np.sin(2 * np.pi * coord / period)))[..., None]
    elif defect == "grid":
        period = int(rng.choice([2, 4, 8]))
        yy, xx = np.mgrid[0:h, 0:w]
        if rng.random() < 0.5:                     # checkerboard
            pat = ((yy // (period // 2 or 1) + xx // (period // 2 or 1)) % 2) * 2 - 1
        else:                                      # grid lines
            pat = ((yy % period == 0) | (xx % period == 0)).astype(float) * 2 - 1
        img += (s * pat / 1.0)[..., None]


def _image(img: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8))


def suite(judge_factory: Any, quick: bool = True, seed: int = 0) -> list[Check]:
    from skimage.color import deltaE_ciede2000, rgb2lab

    rng = np.random.default_rng(seed)
    reps = 1 if quick else 3
    kinds = ["flat", "linear", "radial", "quantised"]
    items, meta = [], []

    def add(img: np.ndarray, label: str, strength: float, colour: tuple[int, int, int] | None,
            truth: float | None = None) -> None:
        c = case(f"b{len(items)}", background=BackgroundSpec(color=colour))
        items.append(item(c, _image(img)))
        meta.append({"label": label, "strength": strength, "truth": truth})

    for _ in range(reps):
        for kind in kinds:
            for size in SIZES:
                for obj in (False, True):
                    if obj and size[1] < 64:
                        continue
                    img, col = background(rng, size, kind)
                    if obj:
                        add_object(img, rng)
                    base_grain = float(rng.choice([0.0, 0.5, 1.0, 1.5]))
                    clean = img + rng.normal(0, base_grain, img.shape) if base_grain else img.copy()
                    add(clean, "clean", 0.0, col, truth=base_grain)
                    for defect, strengths in STRENGTHS.items():
                        for s in strengths:
                            bad = img.copy()
                            plant(bad, defect, s, rng)
                            if base_grain and defect != "grain":
                                bad += rng.normal(0, base_grain, bad.shape)
                            add(bad, defect, s, col, truth=s if defect == "grain" else None)
        for size in SIZES[:3]:                      # colour shifts of known CIEDE2000
            for shift in (2.0, 5.0, 10.0):
                img, col = background(rng, size, "flat")
                lab = rgb2lab(np.array([[col]], dtype=np.float64) / 255.0)
                direction = rng.normal(0, 1, 3)
                direction /= np.linalg.norm(direction)
                shifted = _lab_shift(col, direction * shift)
                img[:] = np.array(shifted, dtype=np.float64)
                truth = float(deltaE_ciede2000(lab, rgb2lab(np.array([[shifted]], dtype=np.float64) / 255.0))[0, 0])
                add(img + rng.normal(0, 1.0, img.shape), "colour", shift, col, truth=truth)
    judge = judge_factory()
    name = judge.name
    try:
        scored = score_items(judge, items)
    finally:
        judge.close()
    return _checks(name, scored, meta)


def _lab_shift(rgb: tuple[int, int, int], dlab: np.ndarray) -> tuple[int, int, int]:
    from skimage.color import lab2rgb, rgb2lab

    lab = rgb2lab(np.array([[rgb]], dtype=np.float64) / 255.0)[0, 0] + dlab
    out = np.clip(lab2rgb(lab[None, None, :])[0, 0] * 255.0, 0, 255)
    return tuple(int(round(c)) for c in out)  # type: ignore[return-value]


def _checks(name: str, scored: list[Any], meta: list[dict[str, Any]]) -> list[Check]:
    checks: list[Check] = []
    clean = [i for i, m in enumerate(meta) if m["label"] == "clean"]
    for defect, metric in METRIC.items():
        pos_i = [i for i, m in enumerate(meta) if m["label"] == defect]
        pos = [scored[i].values[metric] for i in pos_i if metric in scored[i].values]
        neg = [scored[i].values[metric] for i in clean if metric in scored[i].values]
        per = {}
        for s in STRENGTHS[defect]:
            ps = [scored[i].values[metric] for i in pos_i if meta[i]["strength"] == s and metric in scored[i].values]
            per[str(s)] = round(auc(ps, neg), 3) if ps and neg else None
        checks.append(Check(name, f"{defect} detected by `{metric}` (clean and gradient backgrounds as negatives)",
                            "auc", auc(pos, neg) if pos and neg else None, FLOORS[defect],
                            n=len(pos) + len(neg), failures=len(pos_i) + len(clean) - len(pos) - len(neg),
                            detail={"auc_by_strength": per}))
    # grain sigma recovery (planted grain over the base grain: sqrt(s^2 + base^2) is the truth)
    errs = []
    for i, m in enumerate(meta):
        if m["label"] == "grain" and "sigma" in scored[i].values:
            errs.append(abs(scored[i].values["sigma"] - m["truth"]) / m["truth"])
    checks.append(Check(name, "grain sigma recovered (median relative error)", "median_rel_error",
                        float(np.median(errs)) if errs else None, 0.25, higher_is_better=False, n=len(errs)))
    flags_clean = [scored[i].values.get("grid_flag") for i in clean]
    flags_clean = [f for f in flags_clean if f is not None]
    checks.append(Check(name, "grid_flag false positives on clean, gradient and quantised backgrounds", "rate",
                        float(np.mean(flags_clean)) if flags_clean else None, 0.05, higher_is_better=False,
                        n=len(flags_clean)))
    strong = [scored[i].values.get("grid_flag") for i, m in enumerate(meta) if m["label"] == "grid" and m["strength"] >= 4]
    strong = [f for f in strong if f is not None]
    checks.append(Check(name, "grid_flag detects grids of amplitude >= 4 levels", "rate",
                        float(np.mean(strong)) if strong else None, 0.8, n=len(strong)))
    cerr = [abs(scored[i].values["color_error"] - m["truth"]) for i, m in enumerate(meta)
            if m["label"] == "colour" and "color_error" in scored[i].values]
    checks.append(Check(name, "colour shift recovered (mean |color_error - CIEDE2000|)", "mean_abs_error",
                        float(np.mean(cerr)) if cerr else None, 1.0, higher_is_better=False, n=len(cerr)))
    return checks
