"""Flat-background judge calibrated on synthetic images with known Gaussian noise."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage.restoration import estimate_sigma

from evalsuite.runner import judge_verdicts
from evalsuite.types import BackgroundSpec, EvalsuiteError
from judges.flatbg import FlatBackgroundJudge
from tests.judges.conftest import add_noise, flat, latin_fonts, make_case, make_item, render_text

SIGMAS = [1, 2, 3, 5, 8, 12, 16, 20]


def metrics(verdicts):
    return {v.metric: v for v in verdicts}


def run(judge, image, bg=BackgroundSpec(), teacher=None, seed=0):
    return metrics(judge_verdicts(judge, [make_item(make_case("c", background=bg), image, seed=seed, teacher=teacher)]))


@pytest.fixture(scope="module")
def judge() -> FlatBackgroundJudge:
    return FlatBackgroundJudge()


@pytest.mark.parametrize("size,color", [((128, 128), (128, 128, 128)), ((200, 120), (40, 90, 200)),
                                        ((96, 256), (230, 210, 160))])
def test_sigma_tracks_true_sigma_and_is_monotone(judge, size, color) -> None:
    est = []
    for i, s in enumerate(SIGMAS):
        m = run(judge, add_noise(flat(size, color), s, seed=i), BackgroundSpec(color=color))
        assert m["sigma"].ok, m["sigma"].error
        est.append(m["sigma"].value)
        assert m["sigma"].value == pytest.approx(s, rel=0.15), (s, m["sigma"].value)
        assert m["color_error"].value < 1.5
        assert m["grid_flag"].value == 0.0, m["grid_score"].value
    assert est == sorted(est)


def test_clean_flat_background_reads_zero(judge) -> None:
    m = run(judge, flat((64, 64), (10, 200, 30)), BackgroundSpec(color=(10, 200, 30)))
    assert m["sigma"].value < 1e-6 and m["hf_energy"].value < 1e-6
    assert m["color_error"].value < 0.5 and m["grid_flag"].value == 0.0


def test_agrees_with_skimage_estimate_sigma_on_pure_noise(judge) -> None:
    for s in (2, 7, 15):
        img = add_noise(flat((160, 160), (100, 120, 140)), s, seed=s)
        ref = estimate_sigma(np.asarray(img, float), channel_axis=-1, average_sigmas=True)
        assert run(judge, img)["sigma"].value == pytest.approx(ref, rel=0.05)


def test_hf_energy_is_sigma_squared_for_white_noise(judge) -> None:
    e = [run(judge, add_noise(flat((128, 128), (128, 128, 128)), s, seed=3))["hf_energy"].value for s in (2, 6, 12)]
    for s, v in zip((2, 6, 12), e):
        assert v == pytest.approx(s * s, rel=0.2)


@pytest.mark.parametrize("layout", range(4))
def test_text_does_not_inflate_sigma_when_region_is_estimated(judge, layout) -> None:
    fonts = latin_fonts()
    texts = ["SALE", "Hello World\nsecond line", "42%", "Grand Opening"]
    sizes = [(256, 128), (320, 240), (160, 160), (400, 120)]
    bgs = [(215, 215, 215), (30, 60, 120), (200, 40, 40), (120, 200, 120)]
    fgs = [(10, 10, 10), (250, 250, 250), (255, 255, 0), (0, 0, 80)]
    size, bg = sizes[layout], bgs[layout]
    for s in (2, 6, 15):
        base = render_text(texts[layout], size=size, font=fonts[layout % len(fonts)],
                           font_size=size[1] // 4, fg=fgs[layout], bg=bg)
        img = add_noise(base, s, seed=layout * 10 + s)
        m = run(judge, img, BackgroundSpec(color=bg))
        assert m["sigma"].value == pytest.approx(s, rel=0.15), (layout, s, m["sigma"].value)
        assert 0.3 < m["sigma"].detail["flat_fraction"] < 0.98
        assert m["color_error"].value < 2.0
        assert m["grid_flag"].value == 0.0
        # The text itself is far from noise: a whole-image std-based estimate is inflated by it.
        arr = np.asarray(img, float)
        assert arr.std(axis=(0, 1)).mean() > 1.5 * s


def test_region_from_the_spec_is_used(judge) -> None:
    arr = np.asarray(flat((200, 100), (90, 90, 90))).copy()
    arr[:, :100] = np.asarray(add_noise(Image.fromarray(arr[:, :100]), 10, seed=1))
    img = Image.fromarray(arr)
    left = run(judge, img, BackgroundSpec(region=(0.0, 0.0, 0.5, 1.0)))
    right = run(judge, img, BackgroundSpec(region=(0.5, 0.0, 1.0, 1.0)))
    assert left["sigma"].value == pytest.approx(10, rel=0.15) and left["sigma"].detail["region"] == "spec+estimate"
    assert right["sigma"].value < 0.5
    as_given = run(FlatBackgroundJudge(refine_region=False), img, BackgroundSpec(region=(0.0, 0.0, 0.5, 1.0)))
    assert as_given["sigma"].detail["region"] == "spec" and as_given["sigma"].detail["region_box"] == [0, 0, 0.5, 1]
    assert as_given["sigma"].value == pytest.approx(left["sigma"].value, rel=0.05)


def _box_px(box, size):
    w, h = size
    return int(round(box[0] * w)), int(round(box[1] * h)), int(round(box[2] * w)), int(round(box[3] * h))


@pytest.mark.parametrize("layout", range(3))
def test_text_inside_the_given_region_does_not_inflate_the_noise(judge, layout) -> None:
    """A model that puts text inside the pack's background region: the region is intersected with
    the flat-mask estimate, so sigma and hf_energy still measure the noise; without refinement
    (the old default) the text edges count as noise. region_box is a crop of pure background."""
    fonts = latin_fonts()
    size, bg, fg, text = [((320, 200), (215, 215, 215), (10, 10, 10), "SALE 50%"),
                          ((256, 256), (30, 60, 120), (250, 250, 250), "Hello\nWorld"),
                          ((400, 160), (200, 40, 40), (255, 255, 0), "Grand Opening")][layout]
    spec = BackgroundSpec(color=bg, region=(0.0, 0.0, 1.0, 0.5))
    for s in (2, 6, 12):
        base = render_text(text, size=size, font=fonts[layout % len(fonts)], font_size=int(size[1] * 0.2),
                           fg=fg, bg=bg, pos=(0.05, 0.05))
        img = add_noise(base, s, seed=layout * 10 + s)
        m = run(judge, img, spec)
        raw = run(FlatBackgroundJudge(refine_region=False), img, spec)
        assert m["sigma"].detail["region"] == "spec+estimate"
        assert m["sigma"].value == pytest.approx(s, rel=0.05), (layout, s, m["sigma"].value)
        assert m["hf_energy"].value == pytest.approx(s * s, rel=0.2)
        assert raw["hf_energy"].value > m["hf_energy"].value + 50, (raw["hf_energy"].value, m["hf_energy"].value)
        assert m["color_error"].value < 1.0
        x0, y0, x1, y1 = _box_px(m["sigma"].detail["region_box"], size)
        assert 0 <= x0 < x1 <= size[0] and 0 <= y0 < y1 <= size[1] // 2      # inside the given region
        assert (x1 - x0) * (y1 - y0) > 0.1 * size[0] * size[1] / 2
        crop = np.asarray(base)[y0:y1, x0:x1]
        assert (crop == np.array(bg, np.uint8)).all(), "region_box must hold background only"


def test_textured_object_inside_the_given_region_is_excluded(judge) -> None:
    rng = np.random.default_rng(3)
    spec = BackgroundSpec(color=(120, 160, 200), region=(0.0, 0.0, 1.0, 0.5))
    for s in (2, 6, 12):
        a = np.asarray(flat((320, 200), (120, 160, 200))).copy()
        a[15:85, 30:130] = np.clip(rng.normal(90, 40, (70, 100, 3)), 0, 255).astype(np.uint8)   # foliage, fabric...
        img = add_noise(Image.fromarray(a), s, seed=s)
        refined = run(judge, img, spec)["sigma"]
        as_given = run(FlatBackgroundJudge(refine_region=False), img, spec)["sigma"]
        assert refined.value == pytest.approx(s, rel=0.05), (s, refined.value)
        assert as_given.value > 1.2 * s, (s, as_given.value)
        x0, y0, x1, y1 = _box_px(refined.detail["region_box"], (320, 200))
        assert x0 >= 130 or y0 >= 85       # the box avoids the object


def test_region_box_is_the_largest_rectangle_in_the_mask() -> None:
    from judges.flatbg import inner_box
    mask = np.ones((100, 200), bool)
    mask[:, 60:70] = False                       # a bar: the widest part is x 70..200
    assert inner_box(mask, cells=200) == [0.35, 0.0, 1.0, 1.0]
    coarse = inner_box(mask)                     # 4 px blocks: a little smaller, still inside
    x0, y0, x1, y1 = (int(round(v * n)) for v, n in zip(coarse, (200, 100, 200, 100)))
    assert mask[y0:y1, x0:x1].all() and (x1 - x0) * (y1 - y0) >= 0.9 * 130 * 100
    assert inner_box(np.zeros((50, 50), bool)) is None
    checker = (np.indices((64, 64)).sum(0) % 2).astype(bool)   # no 1x1 block... except single pixels
    assert inner_box(checker, cells=64) is not None and inner_box(checker, cells=16) is None


def test_color_error_grows_with_the_colour_shift(judge) -> None:
    want = (200, 60, 60)
    errs = [run(judge, add_noise(flat((96, 96), (200, 60 + d, 60 + d)), 3, seed=d),
                BackgroundSpec(color=want))["color_error"].value for d in (0, 10, 30, 80)]
    assert errs[0] < 1.5 and errs == sorted(errs) and errs[-1] > 20
    assert "color_error" not in run(judge, flat((64, 64), (1, 2, 3)))   # no colour asked: no metric


def test_sigma_ratio_to_teacher_only_when_present(judge) -> None:
    student = add_noise(flat((128, 128), (180, 180, 220)), 8, seed=1)
    teacher = add_noise(flat((128, 128), (180, 180, 220)), 4, seed=2)
    m = run(judge, student, teacher=teacher)
    assert m["sigma_ratio"].value == pytest.approx(2.0, rel=0.15)
    assert m["sigma_ratio"].detail["teacher_sigma"] == pytest.approx(4, rel=0.15)
    assert "sigma_ratio" not in run(judge, student)
    assert run(judge, teacher, teacher=teacher)["sigma_ratio"].value == pytest.approx(1.0)


def _grid(img: Image.Image, period: int, amp: float, kind: str) -> Image.Image:
    a = np.asarray(img, float).copy()
    h, w = a.shape[:2]
    if kind == "lines":
        a[::period] += amp
        a[:, ::period] += amp
    elif kind == "sine":
        yy, xx = np.mgrid[:h, :w]
        a += amp * (np.sin(2 * np.pi * xx / period) * np.cos(2 * np.pi * yy / period))[..., None]
    else:   # "tile": a fixed random pattern tiled with the period (patch/latent artefact)
        tile = np.random.default_rng(5).normal(0, amp, (period, period, 1))
        a += np.tile(tile, (h // period + 1, w // period + 1, 1))[:h, :w]
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8))


@pytest.mark.parametrize("kind", ["lines", "sine", "tile"])
def test_planted_8px_grid_is_flagged_clean_noise_is_not(judge, kind) -> None:
    for size, s in (((256, 256), 4), ((200, 136), 8), ((320, 180), 12)):
        clean = add_noise(flat(size, (150, 150, 150)), s, seed=s)
        gridded = _grid(clean, 8, amp=max(2.0, s / 3), kind=kind)
        mc, mg = run(judge, clean), run(judge, gridded)
        assert mc["grid_flag"].value == 0.0 and mc["grid_score"].value < 2.5, mc["grid_score"].value
        assert mg["grid_flag"].value == 1.0 and mg["grid_score"].value > 6, (kind, size, mg["grid_score"].value)
        per = mg["grid_score"].detail["grid_per_period"]
        assert per["8"] > 4 and per["16"] < 2.5, per   # the fundamental period is 8, not 16
        assert mg["grid_score"].detail["grid_period"] == 8
        # the grid barely moves the robust sigma
        assert mg["sigma"].value < 1.5 * mc["sigma"].value + 1


def test_grid_is_found_around_text(judge) -> None:
    base = render_text("GRID TEST", size=(320, 160), font=latin_fonts()[0], font_size=40, bg=(220, 220, 220))
    noisy = add_noise(base, 5, seed=9)
    assert run(judge, noisy)["grid_flag"].value == 0.0
    assert run(judge, _grid(noisy, 8, 3, "lines"))["grid_flag"].value == 1.0


def test_no_flat_region_is_a_failure_not_a_zero(judge) -> None:
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 256, (24, 24, 3)).astype(np.uint8)
    busy = Image.fromarray(blocks).resize((192, 192), Image.NEAREST)
    m = run(judge, busy, BackgroundSpec(color=(255, 255, 255)))
    assert set(m) == {"sigma", "hf_energy", "grid_score", "grid_flag", "color_error"}
    assert all(not v.ok and v.value is None and "no flat background" in v.error for v in m.values())
    bad = run(judge, flat((64, 64), (0, 0, 0)), BackgroundSpec(region=(0.5, 0.0, 0.2, 1.0)))
    assert all(not v.ok and "background.region" in v.error for v in bad.values())


def test_applies_to_and_config() -> None:
    j = FlatBackgroundJudge()
    assert j.applies_to(make_case("a", background=BackgroundSpec(color=(1, 2, 3))))
    assert not j.applies_to(make_case("b"))
    assert j.judge_id() != FlatBackgroundJudge(dilate=8).judge_id()
    with pytest.raises(EvalsuiteError, match="unknown setting"):
        FlatBackgroundJudge(sigma=3)


def test_grayscale_and_rgba_inputs(judge) -> None:
    g = add_noise(Image.new("L", (96, 96), 100), 6, seed=4)
    assert g.mode == "L"
    assert run(judge, g)["sigma"].value == pytest.approx(6, rel=0.15)
    rgba = add_noise(flat((96, 96), (100, 100, 100)), 6, seed=4).convert("RGBA")
    assert run(judge, rgba)["sigma"].value == pytest.approx(6, rel=0.15)


@pytest.mark.parametrize("color", [(255, 255, 255), (0, 0, 0), (250, 5, 128)])
def test_sigma_on_clipped_white_and_black_backgrounds(judge, color) -> None:
    est = []
    for s in (1, 3, 6, 12, 20):
        img = add_noise(render_text("Headline", size=(240, 120), font=latin_fonts()[0], font_size=36,
                                    fg=tuple(255 - c for c in color), bg=color), s, seed=s)
        m = run(judge, img, BackgroundSpec(color=color))
        assert m["sigma"].value == pytest.approx(s, rel=0.15), (color, s, m["sigma"].value)
        if s >= 6:
            assert max(m["sigma"].detail["clipped_fraction"]) > 0.05
        est.append(m["sigma"].value)
        if s == 12 and len(set(color)) == 1:   # uncorrected, the 8-bit range hides about half the noise
            raw = run(FlatBackgroundJudge(declip=False), img, BackgroundSpec(color=color))["sigma"].value
            assert raw < 0.75 * s
    assert est == sorted(est)


def test_deterministic(judge) -> None:
    img = add_noise(render_text("Same", size=(200, 100), font=latin_fonts()[0], font_size=30, bg=(250, 250, 250)), 7, seed=1)
    a = [(v.metric, v.value) for v in judge_verdicts(judge, [make_item(make_case("d", background=BackgroundSpec(color=(250, 250, 250))), img)])]
    b = [(v.metric, v.value) for v in judge_verdicts(FlatBackgroundJudge(), [make_item(make_case("d", background=BackgroundSpec(color=(250, 250, 250))), img.copy())])]
    assert a == b
