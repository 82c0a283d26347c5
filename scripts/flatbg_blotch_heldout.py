"""Held-out check of the flatbg `blotch` metric: backgrounds and blotches unlike both the unit tests
and `evalsuite validate` (elliptical clamped radial gradients, r^2 vignettes, shallow 8-bit steps,
text blocks; blotches as Gaussian bumps or a power-law field), AUC vs the clean images.

    PYTHONPATH=$PWD python scripts/flatbg_blotch_heldout.py SEED
"""
import collections
import sys

import numpy as np
from rich.console import Console
from PIL import Image, ImageDraw, ImageFont
from judges.flatbg import flat_metrics
from judges.validity import auc
rng = np.random.default_rng(int(sys.argv[1]))
SIZES = [(512, 288), (200, 200), (160, 96), (288, 512)]
def bg(size, kind):
    w, h = size; yy, xx = np.mgrid[0:h, 0:w].astype(float)
    c1, c2 = rng.uniform(40, 215, 3), rng.uniform(40, 215, 3)
    if kind == "flat": t = np.zeros((h, w))
    elif kind == "diag":
        a = rng.uniform(0, np.pi); t = (np.cos(a) * (xx - w / 2) + np.sin(a) * (yy - h / 2)) / max(w, h) + 0.5
    elif kind == "ellipse":     # CSS-like radial-gradient(ellipse at P, ...)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h); rx, ry = rng.uniform(0.4, 1.2) * w, rng.uniform(0.4, 1.2) * h
        t = np.clip(np.hypot((xx - cx) / rx, (yy - cy) / ry), 0, 1.5)
    elif kind == "vignette":
        t = ((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / (max(w, h) / 2) ** 2 * rng.uniform(0.2, 0.5)
    elif kind == "steps":       # 8-bit steps of a very shallow vertical gradient
        t = yy / h * rng.uniform(0.01, 0.04)
    img = c1 + t[..., None] * (c2 - c1)
    return img
def blotch(h, w, s):
    kind = rng.choice(["bumps", "powerlaw"])
    yy, xx = np.mgrid[0:h, 0:w].astype(float); L = max(h, w)
    if kind == "bumps":
        f = np.zeros((h, w))
        for _ in range(int(rng.integers(3, 9))):
            r = rng.uniform(0.04, 0.15) * L
            f += rng.normal() * np.exp(-((xx - rng.uniform(0, w)) ** 2 + (yy - rng.uniform(0, h)) ** 2) / (2 * r * r))
    else:
        ky, kx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None]
        k = np.hypot(ky, kx) * L; spec = 1 / (1 + (k / 3) ** 3); spec[0, 0] = 0
        f = np.fft.ifft2(np.fft.fft2(rng.normal(size=(h, w))) * spec).real
    f = f - f.mean()
    return s * f / (f.std() + 1e-9)
def text(img):
    h, w = img.shape[:2]; pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)); d = ImageDraw.Draw(pil)
    f = ImageFont.load_default(max(8, h // 8))
    d.text((w // 8, h // 3), "SALE 50%", font=f, fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    img[:] = np.asarray(pil, float)
rows = []
for rep in range(2):
  for kind in ["flat", "diag", "ellipse", "vignette", "steps"]:
    for size in SIZES:
      for obj in (False, True):
        base = bg(size, kind)
        if obj: text(base)
        g = float(rng.uniform(0, 2))
        for label, s in [("clean", 0.0), ("blotch", 2.0), ("blotch", 4.0), ("blotch", 8.0)]:
            b = base.copy()
            if s: b += blotch(*b.shape[:2], s)[..., None] * rng.uniform(0.5, 1, 3)
            b = np.clip(np.rint(b + rng.normal(0, g, b.shape)), 0, 255)
            try: v = flat_metrics(b)[0]["blotch"]
            except ValueError: v = None
            rows.append((kind, size, obj, round(g), label, s, v))
def rep_(key):
    groups = collections.defaultdict(lambda: ([], []))
    for r in rows:
        if r[6] is None: continue
        groups[key(r)][0 if r[4] == "blotch" else 1].append(r[6])
    for k, (p, n) in sorted(groups.items(), key=lambda t: str(t[0])):
        if not p or not n: continue
        Console(highlight=False).print(f"  {str(k):20s} auc {auc(p, n):.3f}  clean med {np.median(n):.2f} max {np.max(n):.2f}  pos med {np.median(p):.2f} min {np.min(p):.2f} (n {len(p)}/{len(n)})")
for name, f in [("all", lambda r: "all"), ("kind", lambda r: r[0]), ("size", lambda r: r[1]), ("obj", lambda r: r[2]), ("strength", lambda r: r[5] if r[5] else "clean")]:
    Console(highlight=False).print(name); rep_(f)
neg=[r[6] for r in rows if r[4]=="clean" and r[6] is not None]
for s_ in (2.0,4.0,8.0):
    Console(highlight=False).print("  strength", s_, "auc %.3f" % auc([r[6] for r in rows if r[5]==s_ and r[6] is not None], neg))
Console(highlight=False).print("clean > 0.5:", [(r[0], r[1], r[2], r[3], round(r[6],2)) for r in rows if r[4]=="clean" and r[6] and r[6] > 0.5])
Console(highlight=False).print("failed:", sum(r[6] is None for r in rows))
