"""Known-truth suite for the fidelity judge (PSNR/SSIM to the teacher; edit preservation).

  * PSNR and SSIM pairs: a random textured image and a distorted copy (Gaussian noise of several
    strengths, blur, JPEG, a shift, a colour cast); the truth is an independent computation —
    skimage.metrics.peak_signal_noise_ratio for PSNR, and a numpy implementation of Wang et al.
    (2004) SSIM (7x7 uniform window, sample covariance, K1=0.01, K2=0.03, data range 255, mean of
    the full map averaged over channels, as the judge documents) for SSIM. Measured: max |error|.
  * Edits with a known preserved region: a source of random shapes, a teacher that recolours one
    box (the edit), and a student that makes the same edit and either leaves everything else alone
    (preserved) or also disturbs the rest (blur, a shift, a recoloured shape, a new shape).
    Measured: AUC of `preservation` separating the two.
"""

from __future__ import annotations

import io
import random
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage

from judges.validity import Check, auc, score_items
from judges.validity.draw import case, item

SIZE = (192, 128)


def random_scene(rng: random.Random, size: tuple[int, int] = SIZE, shapes: int = 8) -> Image.Image:
    """Shapes of random colours on a random background, plus mild texture (not flat)."""
    bg = tuple(rng.randint(0, 255) for _ in range(3))
    im = Image.new("RGB", size, bg)
    d = ImageDraw.Draw(im)
    for _ in range(shapes):
        x0, y0 = rng.randint(0, size[0] - 20), rng.randint(0, size[1] - 20)
        box = (x0, y0, x0 + rng.randint(10, size[0] // 3), y0 + rng.randint(10, size[1] // 3))
        fill = tuple(rng.randint(0, 255) for _ in range(3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)(box, fill=fill)
    arr = np.asarray(im, dtype=np.float64)
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, 6, arr.shape[:2])[..., None]
    return Image.fromarray(np.clip(np.rint(arr + ndimage.gaussian_filter(noise, 1.0)), 0, 255).astype(np.uint8))


def distort(im: Image.Image, kind: str, rng: random.Random) -> Image.Image:
    arr = np.asarray(im, dtype=np.float64)
    if kind.startswith("noise"):
        sigma = float(kind.split(":")[1])
        arr = arr + np.random.default_rng(rng.randint(0, 2**31)).normal(0, sigma, arr.shape)
    elif kind == "blur":
        return im.filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 2.5)))
    elif kind == "jpeg":
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=rng.randint(10, 60))
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    elif kind == "shift":
        arr = np.roll(arr, (rng.randint(1, 4), rng.randint(1, 4)), axis=(0, 1))
    elif kind == "cast":
        arr = arr + np.array([rng.uniform(-25, 25) for _ in range(3)])
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))


def reference_ssim(a: np.ndarray, b: np.ndarray, win: int = 7) -> float:
    """Wang et al. 2004 SSIM, uniform window, sample covariance; mean of the full map over
    pixels and channels (an implementation independent of the judge's)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    n = win * win
    cov = n / (n - 1)
    out = []
    for ch in range(a.shape[2]):
        x, y = a[..., ch], b[..., ch]
        f = lambda z: ndimage.uniform_filter(z, size=win, mode="reflect")  # noqa: E731
        mx, my = f(x), f(y)
        vx, vy, vxy = cov * (f(x * x) - mx * mx), cov * (f(y * y) - my * my), cov * (f(x * y) - mx * my)
        s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        out.append(s)
    return float(np.mean(out))


def suite(judge_factory: Any, quick: bool = True, seed: int = 0) -> list[Check]:
    from skimage.metrics import peak_signal_noise_ratio

    rng = random.Random(seed)
    n = 4 if quick else 12
    kinds = ["noise:2", "noise:5", "noise:12", "noise:25", "blur", "jpeg", "shift", "cast"]
    pair_items, truth = [], []
    for k in kinds:
        for _ in range(n):
            ref = random_scene(rng)
            out = distort(ref, k, rng)
            a, b = np.asarray(out, dtype=np.float64), np.asarray(ref, dtype=np.float64)
            truth.append((peak_signal_noise_ratio(b, a, data_range=255), reference_ssim(a, b), k))
            pair_items.append(item(case(f"p{len(pair_items)}"), out, teacher=ref))
    edit_items, labels = [], []
    for i in range(n * 4):
        src = random_scene(rng)
        x0, y0 = rng.randint(0, SIZE[0] // 2), rng.randint(0, SIZE[1] // 2)
        box = (x0, y0, x0 + SIZE[0] // 3, y0 + SIZE[1] // 3)
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        teacher = src.copy()
        ImageDraw.Draw(teacher).rectangle(box, fill=colour)
        student = teacher.copy()
        preserved = i % 2 == 0
        if not preserved:
            how = rng.choice(["blur", "shift", "recolour", "add"])
            if how in ("blur", "shift"):
                moved = distort(student, how, rng) if how == "shift" else student.filter(ImageFilter.GaussianBlur(2.0))
                moved.paste(teacher.crop(box), box[:2])
                student = moved
            else:
                d = ImageDraw.Draw(student)
                # away from the edited box: the opposite quadrant
                ox = SIZE[0] - box[2] if box[2] < SIZE[0] * 0.6 else 0
                oy = SIZE[1] - box[3] if box[3] < SIZE[1] * 0.6 else 0
                other = (max(0, ox), max(0, oy), max(0, ox) + SIZE[0] // 4, max(0, oy) + SIZE[1] // 4)
                d.ellipse(other, fill=tuple(rng.randint(0, 255) for _ in range(3)))
        edit_items.append(item(case(f"e{i}", kind="edit", prompt="recolour the box"), student,
                               teacher=teacher, source=src))
        labels.append(preserved)
    judge = judge_factory()
    name = judge.name
    try:
        ps = score_items(judge, pair_items)
        es = score_items(judge, edit_items)
    finally:
        judge.close()
    checks = []
    for metric, ti, floor in (("psnr", 0, 0.01), ("ssim", 1, 1e-4)):
        errs = [abs(s.values[metric] - t[ti]) for s, t in zip(ps, truth) if metric in s.values]
        fails = len(ps) - len(errs)
        worst = max(range(len(errs)), key=errs.__getitem__) if errs else None
        checks.append(Check(name, f"{metric} equals the reference computation", "max_abs_error",
                            max(errs) if errs else None, floor, higher_is_better=False, n=len(errs),
                            failures=fails, detail={"worst_distortion": truth[worst][2] if worst is not None else None}))
    pos = [s.values["preservation"] for s, lab in zip(es, labels) if lab and "preservation" in s.values]
    neg = [s.values["preservation"] for s, lab in zip(es, labels) if not lab and "preservation" in s.values]
    checks.append(Check(name, "preservation separates preserved from disturbed edits", "auc",
                        auc(pos, neg) if pos and neg else None, 0.95, n=len(pos) + len(neg),
                        failures=len(es) - len(pos) - len(neg)))
    return checks
