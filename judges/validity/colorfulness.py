"""Known-truth suite for the colourfulness judge (Hasler & Süsstrunk 2003).

  * grey images of random tone (truth: M = 0 exactly);
  * random colour scenes: M against an independent evaluation of the published formula
    (colour-opponent channels from the image's float RGB, statistics with numpy's float128-free
    two-pass mean/std) — max |error|;
  * each scene against a copy desaturated by a known factor (PIL ImageEnhance.Color 0.5): the
    desaturated copy must read lower (rate).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance

from judges.validity import Check, score_items
from judges.validity.draw import case, item
from judges.validity.fidelity import random_scene


def reference(image: Image.Image) -> float:
    """M = sqrt(var_rg + var_yb) + 0.3 sqrt(mean_rg^2 + mean_yb^2), two-pass statistics."""
    a = np.asarray(image.convert("RGB"), dtype=np.float64).reshape(-1, 3)
    rg = a[:, 0] - a[:, 1]
    yb = (a[:, 0] + a[:, 1]) / 2.0 - a[:, 2]
    m_rg, m_yb = rg.sum() / rg.size, yb.sum() / yb.size
    v_rg, v_yb = ((rg - m_rg) ** 2).sum() / rg.size, ((yb - m_yb) ** 2).sum() / yb.size
    return float(np.sqrt(v_rg + v_yb) + 0.3 * np.sqrt(m_rg ** 2 + m_yb ** 2))


def suite(judge_factory: Any, quick: bool = True, seed: int = 0) -> list[Check]:
    rng = random.Random(seed)
    n = 8 if quick else 24
    greys = [Image.new("RGB", (64, 48), (g, g, g)) for g in (rng.randint(0, 255) for _ in range(n))]
    scenes = [random_scene(rng) for _ in range(n)]
    dull = [ImageEnhance.Color(s).enhance(0.5) for s in scenes]
    imgs = greys + scenes + dull
    judge = judge_factory()
    name = judge.name
    try:
        scored = score_items(judge, [item(case(f"c{i}"), im) for i, im in enumerate(imgs)])
    finally:
        judge.close()
    metric = next(iter(judge.metrics))
    vals = [s.values.get(metric) for s in scored]
    g, sc, du = vals[:n], vals[n:2 * n], vals[2 * n:]
    grey_err = [abs(v) for v in g if v is not None]
    ref_err = [abs(v - reference(im)) for v, im in zip(sc + du, scenes + dull) if v is not None]
    lower = [float(d < s) for s, d in zip(sc, du) if s is not None and d is not None]
    return [
        Check(name, "grey images read 0", "max_abs_error", max(grey_err) if grey_err else None, 1e-9,
              higher_is_better=False, n=len(grey_err)),
        Check(name, "equals the published formula (independent evaluation)", "max_abs_error",
              max(ref_err) if ref_err else None, 1e-6, higher_is_better=False, n=len(ref_err)),
        Check(name, "a desaturated copy reads lower", "rate", sum(lower) / len(lower) if lower else None,
              1.0, n=len(lower)),
    ]
