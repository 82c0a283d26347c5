"""Pure metric functions for flat backgrounds: noise sigma, high-frequency energy, colour error,
periodic-grid score, and the flat-region mask. Arrays are HxWx3 float in 0-255 units.

sigma follows skimage.restoration.estimate_sigma (Donoho-Johnstone wavelet MAD: median |HH| of the
first-level db2 diagonal detail / 0.6745, per channel, averaged), restricted to coefficients whose
4x4 support lies entirely inside the flat mask, so text edges never enter the estimate. Unlike
skimage, zero coefficients are kept: a perfectly clean flat region reads sigma = 0 rather than the
MAD of whatever few non-zero coefficients remain.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
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
    return np.asarray(w.dec_lo, np.float64), np.asarray(w.dec_hi, np.float64)


def _filt_down(x: np.ndarray, f: np.ndarray, axis: int) -> np.ndarray:
    """Valid correlation with a length-4 filter along `axis`, keeping every second output."""
    n = x.shape[axis]
    m = (n - len(f)) // 2 + 1
    out = None
    for k, c in enumerate(f):
        sl = [slice(None)] * x.ndim
        sl[axis] = slice(k, k + 2 * m - 1, 2)
        term = c * x[tuple(sl)]
        out = term if out is None else out + term
    return out


def detail_coeffs(channel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First-level db2 detail subbands (LH, HL, HH) without boundary extension; coefficient
    (i, j) depends on pixels [2i:2i+4, 2j:2j+4] only."""
    lo, hi = _db2()
    x = channel.astype(np.float64)
    rl, rh = _filt_down(x, lo, 1), _filt_down(x, hi, 1)
    return _filt_down(rh, lo, 0), _filt_down(rl, hi, 0), _filt_down(rh, hi, 0)


def hh_coeffs(channel: np.ndarray) -> np.ndarray:
    """First-level db2 diagonal detail (HH) only: the band used for the noise estimate."""
    _, hi = _db2()
    return _filt_down(_filt_down(channel.astype(np.float64), hi, 1), hi, 0)


def coeff_mask(mask: np.ndarray) -> np.ndarray:
    """Which first-level coefficients have their whole 4x4 support inside `mask`."""
    if mask.shape[0] < 4 or mask.shape[1] < 4:
        return np.zeros((0, 0), bool)
    win = sliding_window_view(mask, (4, 4))[::2, ::2]
    return win.all(axis=(-1, -2))


def wavelet_sigma(img: np.ndarray, mask: np.ndarray | None = None, min_coeffs: int = 16) -> float:
    """Noise sigma (0-255 units): wavelet MAD per channel over masked HH coefficients, averaged.

    Raises ValueError when fewer than `min_coeffs` coefficients lie inside the mask.
    """
    img = img if img.ndim == 3 else img[..., None]
    cm = coeff_mask(np.ones(img.shape[:2], bool) if mask is None else mask)
    if cm.sum() < min_coeffs:
        raise ValueError(f"flat region too small for a noise estimate ({int(cm.sum())} wavelet coefficients)")
    sig = [float(np.median(np.abs(hh_coeffs(img[..., c])[cm]))) / MAD_TO_SIGMA for c in range(img.shape[2])]
    return float(np.mean(sig))


def hf_energy(img: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean squared first-level detail coefficient (LH, HL, HH, all channels) inside the mask.

    0-255^2 units; equals sigma^2 for white noise, and unlike the MAD sigma it also counts sparse
    speckles and fine texture.
    """
    img = img if img.ndim == 3 else img[..., None]
    cm = coeff_mask(np.ones(img.shape[:2], bool) if mask is None else mask)
    if not cm.any():
        raise ValueError("flat region too small for high-frequency energy")
    tot = 0.0
    for c in range(img.shape[2]):
        for band in detail_coeffs(img[..., c]):
            tot += float(np.mean(band[cm] ** 2))
    return tot / (3 * img.shape[2])


def residual_std(img: np.ndarray) -> float:
    """Baseline: std of the 4-neighbour Laplacian residual / sqrt(20), averaged over channels.
    (A plain numpy estimate, used by benchmarks/perf/flatbg_speed.py for comparison.)"""
    img = img if img.ndim == 3 else img[..., None]
    r = 4 * img[1:-1, 1:-1] - img[:-2, 1:-1] - img[2:, 1:-1] - img[1:-1, :-2] - img[1:-1, 2:]
    return float(np.mean(r.reshape(-1, img.shape[2]).std(axis=0)) / np.sqrt(20.0))


def median_color(img: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Per-channel median colour of the masked pixels (RGB, 0-255)."""
    px = img.reshape(-1, img.shape[-1]) if mask is None else img[mask]
    return np.median(px, axis=0)


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
    q = np.clip(blurred // step, 0, 255 // step).astype(np.int32)
    nb = int(255 // step) + 1
    key = (q[..., 0] * nb + q[..., 1]) * nb + q[..., 2]
    mode = int(np.bincount(key.ravel(), minlength=nb ** 3).argmax())
    c0 = (np.array([mode // (nb * nb), (mode // nb) % nb, mode % nb]) + 0.5) * step
    near = np.linalg.norm(blurred - c0, axis=-1) < 2 * step
    return np.median(blurred[near], axis=0) if near.any() else c0


def estimate_flat_mask(img: np.ndarray, smooth: int = 5, dilate: int = 4,
                       min_color_tol: float = 10.0, min_grad_tol: float = 6.0) -> np.ndarray:
    """Pixels of the flat background: close to the dominant colour and locally smooth.

    The image is box-blurred (`smooth` px) so noise does not break the mask; a pixel is flat when
    its blurred colour lies within a noise-adaptive distance of the dominant colour and its blurred
    gradient is small. Everything else (text, objects, their anti-aliased rims) is excluded and
    the exclusion grown by `dilate` px.
    """
    b = ndimage.uniform_filter(img, size=(smooth, smooth, 1), mode="nearest")
    c = dominant_color(b)
    d = np.linalg.norm(b - c, axis=-1)
    # Noise-adaptive colour tolerance: a robust whole-image sigma (the MAD ignores the few text
    # edges), shrunk by the blur, and ~5x the spread of a 3-channel blurred-noise distance.
    sig = float(np.median([np.median(np.abs(hh_coeffs(img[..., c]))) for c in range(img.shape[2])])) / MAD_TO_SIGMA
    tol_c = max(min_color_tol, 5.0 * np.sqrt(3.0) * sig / smooth)
    gy = np.abs(np.diff(b, axis=0, append=b[-1:])).sum(-1)
    gx = np.abs(np.diff(b, axis=1, append=b[:, -1:])).sum(-1)
    g = np.maximum(gx, gy)
    cand = d < tol_c
    med_g = float(np.median(g[cand])) if cand.any() else 0.0
    tol_g = max(min_grad_tol, 5.0 * med_g)
    nonflat = (~cand) | (g > tol_g)
    if dilate > 0:
        nonflat = ndimage.maximum_filter(nonflat.astype(np.uint8), size=2 * dilate + 1) > 0
    return ~nonflat


def _masked_highpass(x: np.ndarray, m: np.ndarray, size: int = 17) -> np.ndarray:
    """x minus its masked local mean (box of `size` px), zero outside the mask."""
    num = ndimage.uniform_filter(x * m, size=size, mode="nearest")
    den = ndimage.uniform_filter(m, size=size, mode="nearest")
    return np.where(m > 0, x - num / np.maximum(den, 1e-6), 0.0)


def grid_score(img: np.ndarray, mask: np.ndarray | None = None, periods: tuple[int, ...] = GRID_PERIODS,
               radius: int = 2, floor_sigma: float = 0.5) -> tuple[float, dict[int, float]]:
    """Periodic-grid artefact score: for each period P, the spectral power at the P-px lattice
    frequencies (a/P, b/P) that are not on the P/2 lattice, relative to the mean power of their
    neighbouring frequency bins; the score is the maximum over P. White noise gives ~1; a grid of
    period P gives >> 1 at P (and usually at its divisors, from its harmonics).

    The analysed window is the mask's bounding box cropped to a multiple of 16 px (so every lattice
    frequency falls on an exact FFT bin); pixels outside the mask contribute zero after a masked
    local-mean high-pass. `floor_sigma` sets a noise floor (0-255 units) so that a perfectly clean
    image does not produce 0/0. A period is skipped when the window is shorter than 4P.
    """
    img = img if img.ndim == 3 else img[..., None]
    m = np.ones(img.shape[:2], bool) if mask is None else mask
    ys, xs = np.nonzero(m)
    if len(ys) == 0:
        raise ValueError("empty region for the grid score")
    y0, x0 = ys.min(), xs.min()
    hh = (ys.max() + 1 - y0) // 16 * 16
    ww = (xs.max() + 1 - x0) // 16 * 16
    if hh < 8 or ww < 8:
        raise ValueError("flat region too small for the grid score")
    sub = img[y0:y0 + hh, x0:x0 + ww].astype(np.float64)
    sm = m[y0:y0 + hh, x0:x0 + ww].astype(np.float64)
    power = np.zeros((hh, ww))
    for c in range(sub.shape[2]):
        r = _masked_highpass(sub[..., c], sm)
        power += np.abs(np.fft.fft2(r)) ** 2
    n_in = max(float(sm.sum()), 1.0)
    floor = sub.shape[2] * floor_sigma ** 2 * n_in
    offs = [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1) if (dy, dx) != (0, 0)]
    per: dict[int, float] = {}
    for p in periods:
        if hh < 4 * p or ww < 4 * p:
            continue
        # Only the frequencies new at this period (not on the P/2 lattice): a period-8 grid's
        # harmonics also light up P=2 and P=4, but only P<=8 has elevated new frequencies.
        pts = [(a, b) for a in range(p) for b in range(p) if a % 2 or b % 2]
        fy = np.array([a * hh // p for a, b in pts])
        fx = np.array([b * ww // p for a, b in pts])
        peak = power[fy, fx]
        neigh = np.mean([power[(fy + dy) % hh, (fx + dx) % ww] for dy, dx in offs], axis=0)
        per[p] = float(peak.mean() / max(float(np.maximum(neigh, floor).mean()), 1e-12))
    if not per:
        raise ValueError("flat region too small for the grid score")
    return max(per.values()), per
