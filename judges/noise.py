"""Pure metric functions for flat backgrounds: noise sigma, high-frequency energy, colour error,
the flat-region mask and spectral helpers (the per-defect detectors are in judges.bgdefects). Arrays are HxWx3 float in 0-255 units.

sigma follows skimage.restoration.estimate_sigma (Donoho-Johnstone wavelet MAD: median |HH| of the
first-level db2 diagonal detail / 0.6745, per channel, averaged), restricted to coefficients whose
4x4 support lies entirely inside the flat mask, so text edges never enter the estimate. Unlike
skimage, zero coefficients are kept: a perfectly clean flat region reads sigma = 0 rather than the
MAD of whatever few non-zero coefficients remain. Large regions use the coefficients of disjoint
4x4 blocks only (same statistics, a quarter of the work). On near-white/black backgrounds the
8-bit range cuts part of the noise off; `declip_sigma` recovers the sigma of the noise before
clipping from the share of clipped pixels.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image
from scipy import ndimage

MAD_TO_SIGMA = 0.6744897501960817   # Phi^-1(0.75)
GRID_PERIODS = (2, 4, 8, 16)


def as_rgb_float(image: Image.Image | np.ndarray) -> np.ndarray:
    """HxWx3 float32 in 0-255 from a PIL image (any mode) or a uint8/float array."""
    if isinstance(image, Image.Image):
        if image.mode != "RGB":
            image = image.convert("RGB")
        return np.asarray(image, dtype=np.float32)
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return arr[..., :3].astype(np.float32)


@lru_cache(maxsize=1)
def _db2() -> tuple[np.ndarray, np.ndarray]:
    """db2 decomposition low/high-pass filters (PyWavelets' values)."""
    import pywt
    w = pywt.Wavelet("db2")
    return np.asarray(w.dec_lo, np.float32), np.asarray(w.dec_hi, np.float32)


def _filt_down(x: np.ndarray, f: np.ndarray, axis: int) -> np.ndarray:
    """Valid correlation with a length-4 filter along `axis`, keeping every second output."""
    n = x.shape[axis]
    m = (n - len(f)) // 2 + 1
    out = None
    for k, c in enumerate(f):
        sl = [slice(None)] * x.ndim
        sl[axis] = slice(k, k + 2 * m - 1, 2)
        term = x[tuple(sl)] * c
        out = term if out is None else out + term
    return out


def detail_coeffs(channel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First-level db2 detail subbands (LH, HL, HH) without boundary extension; coefficient
    (i, j) depends on pixels [2i:2i+4, 2j:2j+4] only."""
    lo, hi = _db2()
    x = channel.astype(np.float32, copy=False)
    rl, rh = _filt_down(x, lo, 1), _filt_down(x, hi, 1)
    return _filt_down(rh, lo, 0), _filt_down(rl, hi, 0), _filt_down(rh, hi, 0)


def hh_coeffs(channel: np.ndarray) -> np.ndarray:
    """First-level db2 diagonal detail (HH) only: the band used for the noise estimate."""
    _, hi = _db2()
    return _filt_down(_filt_down(channel.astype(np.float32, copy=False), hi, 1), hi, 0)


def coeff_mask(mask: np.ndarray) -> np.ndarray:
    """Which first-level coefficients have their whole 4x4 support inside `mask`."""
    if mask.shape[0] < 4 or mask.shape[1] < 4:
        return np.zeros((0, 0), bool)

    def and4(x: np.ndarray, axis: int) -> np.ndarray:
        n = (x.shape[axis] - 4) // 2 + 1
        out = None
        for k in range(4):
            sl = [slice(None)] * 2
            sl[axis] = slice(k, k + 2 * n - 1, 2)
            out = x[tuple(sl)] if out is None else out & x[tuple(sl)]
        return out

    return and4(and4(mask, 1), 0)


def _bbox(mask: np.ndarray) -> tuple[slice, slice]:
    """Bounding box of a mask, rounded out to even offsets (keeps the wavelet grid aligned)."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if len(ys) == 0:
        return slice(0, 0), slice(0, 0)
    return slice(ys[0] // 2 * 2, ys[-1] + 1), slice(xs[0] // 2 * 2, xs[-1] + 1)


def _block_coeffs(x: np.ndarray, with_hf: bool) -> list[np.ndarray]:
    """First-level db2 coefficients on disjoint 4x4 blocks only (every other coefficient row and
    column): a quarter of the work, and the coefficients are independent. Returns [HH] or
    [LH, HL, HH]. Plain weighted sums of strided slices: no BLAS call (whose thread pool wakes
    slowly on a busy machine)."""
    lo, hi = _db2()
    a, b = x.shape[0] // 4, x.shape[1] // 4
    x = x[:4 * a, :4 * b]

    def rows(f: np.ndarray) -> np.ndarray:    # horizontal filter -> (4a, b)
        return x[:, 0::4] * f[0] + x[:, 1::4] * f[1] + x[:, 2::4] * f[2] + x[:, 3::4] * f[3]

    def cols(y: np.ndarray, f: np.ndarray) -> np.ndarray:   # vertical filter -> (a, b)
        return y[0::4] * f[0] + y[1::4] * f[1] + y[2::4] * f[2] + y[3::4] * f[3]

    rh = rows(hi)
    hh = cols(rh, hi)
    if not with_hf:
        return [hh]
    return [cols(rh, lo), cols(rows(lo), hi), hh]


def _block_mask(mask: np.ndarray) -> np.ndarray:
    """Which disjoint 4x4 blocks lie entirely inside `mask`."""
    a, b = mask.shape[0] // 4, mask.shape[1] // 4
    m = mask[:4 * a, :4 * b]
    r = m[:, 0::4] & m[:, 1::4] & m[:, 2::4] & m[:, 3::4]
    return r[0::4] & r[1::4] & r[2::4] & r[3::4]


def noise_stats(img: np.ndarray, mask: np.ndarray | None = None, min_coeffs: int = 16,
                with_hf: bool = True, dense_limit: int = 400_000) -> tuple[list[float], float]:
    """(per-channel sigma, hf_energy) over the masked first-level db2 coefficients, in one pass.

    sigma: median |HH| / 0.6745 per channel (0-255 units); the reported sigma is their mean.
    hf_energy: mean squared LH/HL/HH coefficient over channels (0-255^2 units); it equals
    sigma^2 for white noise, and unlike the MAD it also counts sparse speckles and fine texture.
    Regions larger than `dense_limit` pixels use the coefficients of disjoint 4x4 blocks only
    (a quarter of them, still >= 25k): same statistics, a quarter of the time.
    Raises ValueError when fewer than `min_coeffs` coefficients lie inside the mask.
    """
    img = img if img.ndim == 3 else img[..., None]
    if mask is not None:
        ys, xs = _bbox(mask)
        img, mask = img[ys, xs], mask[ys, xs]
    full = np.ones(img.shape[:2], bool) if mask is None else mask
    sparse = img.shape[0] * img.shape[1] > dense_limit
    cm = _block_mask(full) if sparse else coeff_mask(full)
    n = int(cm.sum())
    if n < min_coeffs:
        raise ValueError(f"flat region too small for a noise estimate ({n} wavelet coefficients)")
    sig, hf = [], 0.0
    for ch in range(img.shape[2]):
        x = img[..., ch].astype(np.float32, copy=False)
        if sparse:
            bands = _block_coeffs(x, with_hf)
        else:
            bands = list(detail_coeffs(x)) if with_hf else [hh_coeffs(x)]
        if with_hf:
            for bd in bands:
                v = bd[cm].astype(np.float64)
                hf += float(np.einsum("i,i->", v, v)) / n   # not BLAS: see _block_coeffs
        sig.append(float(np.median(np.abs(bands[-1][cm]))) / MAD_TO_SIGMA)
    return sig, hf / (3 * img.shape[2])


def wavelet_sigma(img: np.ndarray, mask: np.ndarray | None = None, min_coeffs: int = 16) -> float:
    """Noise sigma (0-255 units): wavelet MAD per channel over masked HH coefficients, averaged.

    Raises ValueError when fewer than `min_coeffs` coefficients lie inside the mask.
    """
    return float(np.mean(noise_stats(img, mask, min_coeffs, with_hf=False)[0]))


def hf_energy(img: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean squared first-level detail coefficient (LH, HL, HH, all channels) inside the mask."""
    return noise_stats(img, mask, min_coeffs=1)[1]


@lru_cache(maxsize=1)
def _sim_noise() -> np.ndarray:
    """A fixed standard-normal field for the de-clipping simulation (deterministic)."""
    return np.random.default_rng(20261122).standard_normal((256, 256)).astype(np.float32)


def clip_fraction(values: np.ndarray) -> float:
    """Share of pixels at the limit of the 8-bit range (>= 255 or <= 0, whichever is larger)."""
    if values.size == 0:
        return 0.0
    return float(max(np.mean(values >= 254.5), np.mean(values <= 0.5)))


def declip_sigma(measured: float, clipped: float, iters: int = 8) -> float:
    """The sigma of Gaussian noise that, added to a flat colour and clipped to 0..255 with a
    share `clipped` of pixels at the limit, reads as wavelet-MAD sigma `measured`.

    On white or black backgrounds part of the noise is cut off by the 8-bit range, and the MAD
    sees roughly half of it; solved by a fixed-point iteration on a simulated noise field (the
    colour follows from the clip share: mu = 254.5 - sigma * z_(1-clipped)). Returns `measured`
    unchanged when under 0.5% is clipped, or when nearly all is (nothing left to measure).
    """
    from scipy.stats import norm
    if clipped < 0.005 or clipped > 0.97 or measured <= 0:
        return measured
    z = float(norm.ppf(1.0 - clipped))
    n = _sim_noise()
    sigma = measured
    for _ in range(iters):
        mu = 254.5 - sigma * z
        sim = np.clip(np.rint(mu + sigma * n), 0, 255)
        got = float(np.median(np.abs(hh_coeffs(sim)))) / MAD_TO_SIGMA
        if got <= 1e-6:
            break
        new = sigma * measured / got
        if abs(new - sigma) < 1e-3 * sigma:
            sigma = new
            break
        sigma = new
    return float(sigma)


def residual_std(img: np.ndarray) -> float:
    """Baseline: std of the 4-neighbour Laplacian residual / sqrt(20), averaged over channels.
    (A plain numpy estimate, used by benchmarks/perf/flatbg_speed.py for comparison.)"""
    img = img if img.ndim == 3 else img[..., None]
    r = 4 * img[1:-1, 1:-1] - img[:-2, 1:-1] - img[2:, 1:-1] - img[1:-1, :-2] - img[1:-1, 2:]
    return float(np.mean(r.reshape(-1, img.shape[2]).std(axis=0)) / np.sqrt(20.0))


def median_color(img: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Per-channel median colour of the masked pixels (RGB, 0-255)."""
    step = 2 if img.shape[0] * img.shape[1] > 250_000 else 1   # a quarter of the pixels is plenty
    sub = img[::step, ::step]
    px = sub.reshape(-1, img.shape[-1]) if mask is None else sub[mask[::step, ::step]]
    return channel_medians(px)


def channel_medians(px: np.ndarray) -> np.ndarray:
    """np.median(px, axis=0) of an N x C array of pixels; exact and ~5x faster on 8-bit values
    (integers 0..255, what images hold) by counting, instead of partitioning many ties."""
    q = px.astype(np.int32)
    if px.shape[0] == 0 or q.min() < 0 or q.max() > 255 or not np.array_equal(q, px):
        return np.median(px, axis=0)
    n = px.shape[0]
    out = []
    for c in range(px.shape[1]):
        cum = np.cumsum(np.bincount(q[:, c], minlength=256))
        # order statistics (n-1)//2 and n//2 (0-based): the smallest value whose count exceeds them
        lo, hi = np.searchsorted(cum, [(n - 1) // 2, n // 2], side="right")
        out.append((lo + hi) / 2)
    return np.array(out)


def ciede2000(rgb_a: np.ndarray | tuple[float, ...], rgb_b: np.ndarray | tuple[float, ...]) -> float:
    """CIEDE2000 colour difference between two sRGB colours given in 0-255."""
    from skimage.color import deltaE_ciede2000, rgb2lab
    a = rgb2lab(np.asarray(rgb_a, np.float64).reshape(1, 1, 3) / 255.0)
    b = rgb2lab(np.asarray(rgb_b, np.float64).reshape(1, 1, 3) / 255.0)
    return float(deltaE_ciede2000(a, b)[0, 0])


def region_mask(shape: tuple[int, int], region: tuple[float, float, float, float]) -> np.ndarray:
    """Boolean mask of a rectangle given as fractions (x0, y0, x1, y1) of width and height."""
    x0, y0, x1, y1 = (float(v) for v in region)
    if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
        raise ValueError(f"background.region {region} must satisfy 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1")
    h, w = shape
    m = np.zeros((h, w), bool)
    m[int(np.floor(y0 * h)):int(np.ceil(y1 * h)), int(np.floor(x0 * w)):int(np.ceil(x1 * w))] = True
    return m


def dominant_color(blurred: np.ndarray, step: float = 8.0) -> np.ndarray:
    """The most common colour: mode of a coarse 3-D histogram, refined by the median of nearby pixels."""
    q = np.clip(np.floor(blurred * (1.0 / step)), 0, 255 // step).astype(np.int32)
    nb = int(255 // step) + 1
    key = (q[..., 0] * nb + q[..., 1]) * nb + q[..., 2]
    mode = int(np.bincount(key.ravel(), minlength=nb ** 3).argmax())
    c0 = (np.array([mode // (nb * nb), (mode // nb) % nb, mode % nb]) + 0.5) * step
    near = np.sqrt(slice_sum((blurred - c0) ** 2)) < 2 * step
    return np.median(blurred[near], axis=0) if near.any() else c0


def slice_sum(v: np.ndarray, axis: int = -1) -> np.ndarray:
    """v.sum(axis) as whole-slice adds, in order: the same sum, many times faster than numpy's
    reduction over a short axis (the 3 colour channels, a block's few columns)."""
    axis %= v.ndim
    lead = (slice(None),) * axis
    out = v[lead + (0,)].copy()
    for j in range(1, v.shape[axis]):
        out += v[lead + (j,)]
    return out


def downsample(img: np.ndarray, k: int) -> np.ndarray:
    """Mean of k x k blocks (the bottom/right remainder is dropped)."""
    if k <= 1:
        return img
    h, w = img.shape[0] // k, img.shape[1] // k
    rows = img[0:h * k:k].astype(np.float32)          # rows first: each slice reads whole rows
    for a in range(1, k):
        rows += img[a:h * k:k]
    acc = rows[:, 0:w * k:k].copy()
    for b in range(1, k):
        acc += rows[:, b:w * k:k]
    return acc / (k * k)


def estimate_flat_mask(img: np.ndarray, smooth: int = 5, dilate: int = 4,
                       min_color_tol: float = 10.0, min_grad_tol: float = 6.0,
                       work_side: int = 384, follow_gradient: bool = True) -> np.ndarray:
    """Pixels of the flat background: close to the background colour and locally smooth.

    Isolated single-pixel impulses (speckle) are clamped to their neighbours' range first
    (judges.bgdefects.clamp_impulses), so speckle is measured, not masked away; text strokes and
    objects are larger than one pixel of the working image and stay out. With follow_gradient, the
    background colour is a quadratic surface fitted (twice, growing the region) to the pixels near
    the dominant colour, so a designed linear or radial gradient is background as a whole. Whole
    smooth regions (bounded by edges) that are mostly background-coloured are kept, so a smooth
    blotch stays in the background it grew in.

    Works on a block-averaged copy whose long side is at most `work_side` px (the mask needs no
    fine detail, and averaging suppresses noise), box-blurred to `smooth` full-res px. A pixel is
    flat when its blurred colour lies within a noise-adaptive distance of the dominant colour and
    its blurred gradient is small. Everything else (text, objects, their anti-aliased rims) is
    excluded and the exclusion grown by `dilate` px (plus one block when downsampled).
    """
    h, w = img.shape[:2]
    k = max(1, int(np.ceil(max(h, w) / work_side)))
    small = downsample(img, k)
    sm = max(1, int(round(smooth / k)))
    # Noise-adaptive colour tolerance: a robust sigma of the working image (the MAD ignores the
    # few text edges), shrunk by the blur, times ~5x the spread of a 3-channel noise distance.
    sig = float(np.median([np.median(np.abs(hh_coeffs(small[..., ch]))) for ch in range(small.shape[2])]))
    from judges.bgdefects import clamp_impulses
    small = clamp_impulses(small)
    b = ndimage.uniform_filter(small, size=(sm, sm, 1), mode="nearest") if sm > 1 else small
    dom = dominant_color(b)
    d = np.sqrt(slice_sum((b - dom) ** 2))
    tol_c = max(min_color_tol, 5.0 * np.sqrt(3.0) * sig / MAD_TO_SIGMA / sm)
    gy = slice_sum(np.abs(np.diff(b, axis=0, append=b[-1:])))
    gx = slice_sum(np.abs(np.diff(b, axis=1, append=b[:, -1:])))
    g = np.maximum(gx, gy)
    cand = d < tol_c
    if follow_gradient:
        smooth_px = g <= max(min_grad_tol, 5.0 * float(np.median(g[cand])) if cand.any() else 0.0)
        for _ in range(2):
            surf = _quadratic_surface(b, cand & smooth_px, flat_within=tol_c / 4)
            if surf is None:       # too few pixels, or flat: the dominant colour is the background
                break
            cand = np.sqrt(slice_sum((b - surf) ** 2)) < tol_c
    med_g = float(np.median(g[cand])) if cand.any() else 0.0
    tol_g = max(min_grad_tol, 5.0 * med_g)
    smooth_ok = g <= tol_g
    # Keep whole smooth regions (bounded by edges) that are mostly background-coloured: a smooth
    # blotch is part of the background it grew in; an object's interior, enclosed by its edges and
    # of another colour, is not.
    lab, n = ndimage.label(smooth_ok)
    if n:
        share = np.bincount(lab[cand], minlength=n + 1) / np.maximum(np.bincount(lab.ravel(), minlength=n + 1), 1)
        keep = share >= 0.5
        in_cand = np.bincount(lab[cand], minlength=n + 1)
        in_cand[0] = 0
        keep[int(in_cand.argmax())] = in_cand.max() > 0     # the background's own region, always
        keep[0] = False
        nonflat = ~keep[lab]
    else:
        nonflat = ~smooth_ok
    r = int(np.ceil(dilate / k)) + (1 if k > 1 else 0)
    if r > 0:
        nonflat = ndimage.maximum_filter(nonflat.astype(np.uint8), size=2 * r + 1) > 0
    if k == 1:
        return ~nonflat
    full = np.zeros((h, w), bool)
    up = np.repeat(np.repeat(~nonflat, k, axis=0), k, axis=1)
    full[:up.shape[0], :up.shape[1]] = up
    return full


def _quadratic_surface(b: np.ndarray, sel: np.ndarray, step: int = 3,
                       flat_within: float = 0.0) -> np.ndarray | None:
    """Per-channel quadratic surface (least squares on every `step`-th selected pixel) of an
    HxWxC image, evaluated everywhere; None when too few pixels are selected, or when the surface
    varies by less than `flat_within` (colour distance) over the image (nothing to follow)."""
    h, w = sel.shape
    yy, xx = np.nonzero(sel[::step, ::step])
    if yy.size < 24:
        return None
    vals = b[::step, ::step][yy, xx].astype(np.float64)
    yn, xn = yy * step / max(h - 1, 1) * 2 - 1, xx * step / max(w - 1, 1) * 2 - 1
    a = np.stack([np.ones_like(yn), yn, xn, yn * yn, yn * xn, xn * xn], axis=1)
    g = np.einsum("nt,ns->ts", a, a, optimize=False)
    coef = np.linalg.solve(g + 1e-9 * np.trace(g) * np.eye(6), np.einsum("nt,nc->tc", a, vals, optimize=False))
    if flat_within > 0:
        g = np.linspace(-1, 1, 9)
        gy, gx = np.meshgrid(g, g, indexing="ij")
        coarse = np.stack([np.ones_like(gy), gy, gx, gy * gy, gy * gx, gx * gx], axis=-1) @ coef
        if float(np.sqrt(((coarse - coarse.mean((0, 1))) ** 2).sum(-1)).max()) < flat_within:
            return None
    y = (np.arange(h, dtype=np.float32) / max(h - 1, 1) * 2 - 1)[:, None, None]
    x = (np.arange(w, dtype=np.float32) / max(w - 1, 1) * 2 - 1)[None, :, None]
    c = coef.astype(np.float32)
    out = (c[0] + c[1] * y + c[3] * y * y) + (c[2] * x + c[5] * x * x)    # separable part: h x w x C
    out += (y * x) * c[4]
    return out


def _masked_highpass(x: np.ndarray, m: np.ndarray, den: np.ndarray, size: int = 17) -> np.ndarray:
    """x minus its masked local mean (box of `size` px; den = box mean of m), zero outside m."""
    num = ndimage.uniform_filter(x * m, size=size, mode="nearest")
    return np.where(m > 0, x - num / np.maximum(den, 1e-6), 0.0).astype(np.float32)


def _best_window(mask: np.ndarray, hh: int, ww: int) -> tuple[int, int]:
    """Top-left corner of the hh x ww window (among the corners and centre of the mask's bounding
    box) that holds the most masked pixels."""
    ys, xs = _bbox(mask)
    y0, y1, x0, x1 = ys.start, ys.stop, xs.start, xs.stop
    best, arg = -1, (y0, x0)
    cy, cx = (y0 + y1 - hh) // 2, (x0 + x1 - ww) // 2
    for ty, tx in dict.fromkeys(((y0, x0), (y0, x1 - ww), (y1 - hh, x0), (y1 - hh, x1 - ww), (cy, cx))):
        ty = int(np.clip(ty, 0, mask.shape[0] - hh))
        tx = int(np.clip(tx, 0, mask.shape[1] - ww))
        n = int(np.count_nonzero(mask[ty:ty + hh, tx:tx + ww]))
        if n > best:
            best, arg = n, (ty, tx)
    return arg


def _rpower_at(power: np.ndarray, fy: np.ndarray, fx: np.ndarray, hh: int, ww: int) -> np.ndarray:
    """Power at full-spectrum bins (fy, fx) read from a one-sided (rfft2) power spectrum."""
    fy, fx = fy % hh, fx % ww
    flip = fx > ww // 2
    fy = np.where(flip, (-fy) % hh, fy)
    fx = np.where(flip, ww - fx, fx)
    return power[fy, fx]
