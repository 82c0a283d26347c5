"""Pure functions behind the flat-background judge (judges.noise)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.color import deltaE_ciede2000, rgb2lab

from judges import noise


def _noisy(shape, sigma, mean=128.0, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(np.rint(mean + rng.normal(0, sigma, shape)), 0, 255).astype(np.float32)


def test_dense_and_block_wavelet_statistics_agree() -> None:
    img = _noisy((720, 720, 3), 6.0)
    dense, hf_d = noise.noise_stats(img, dense_limit=10 ** 9)
    sparse, hf_s = noise.noise_stats(img, dense_limit=0)
    assert np.mean(dense) == pytest.approx(6.0, rel=0.03) and np.mean(sparse) == pytest.approx(6.0, rel=0.03)
    assert hf_d == pytest.approx(36.0, rel=0.05) and hf_s == pytest.approx(36.0, rel=0.05)


def test_coefficients_touching_the_mask_edge_are_excluded() -> None:
    img = _noisy((64, 64, 3), 2.0)
    yy, xx = np.indices((64, 32))
    img[:, 32:] = 255.0 * ((yy + xx) % 2)[..., None]   # a checkerboard: huge diagonal detail
    mask = np.zeros((64, 64), bool)
    mask[:, :32] = True
    assert noise.wavelet_sigma(img, mask) == pytest.approx(2.0, rel=0.15)
    assert noise.wavelet_sigma(img) > 20
    with pytest.raises(ValueError, match="too small"):
        noise.wavelet_sigma(img, np.zeros((64, 64), bool))


def test_ciede2000_matches_skimage_and_region_mask() -> None:
    a, b = (200, 30, 40), (180, 60, 70)
    ref = deltaE_ciede2000(rgb2lab(np.array([[a]]) / 255.0), rgb2lab(np.array([[b]]) / 255.0))[0, 0]
    assert noise.ciede2000(a, b) == pytest.approx(ref)
    assert noise.ciede2000(a, a) == pytest.approx(0.0, abs=1e-9)
    m = noise.region_mask((10, 20), (0.5, 0.0, 1.0, 0.5))
    assert m.sum() == 50 and m[0, 10] and not m[0, 9] and not m[5, 10]
    with pytest.raises(ValueError, match="background.region"):
        noise.region_mask((10, 10), (0.2, 0.2, 0.1, 0.9))


def test_declip_only_acts_on_clipped_noise() -> None:
    assert noise.declip_sigma(4.0, 0.0) == 4.0
    assert noise.declip_sigma(4.0, 0.99) == 4.0   # nothing left to measure
    white = _noisy((256, 256), 10.0, mean=255.0, seed=1)
    measured = noise.wavelet_sigma(white[..., None])
    frac = noise.clip_fraction(white)
    assert 0.45 < frac < 0.55 and measured < 7.0
    assert noise.declip_sigma(measured, frac) == pytest.approx(10.0, rel=0.1)
