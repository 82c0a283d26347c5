"""Diversity judge: spread across seeds of one case, one verdict set per case (seed=-1)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from evalsuite.runner import judge_verdicts
from evalsuite.types import EvalsuiteError
from judges.diversity import DiversityJudge
from tests.judges.conftest import add_noise, latin_fonts, make_case, make_item, render_text


def layout(seed: int, jitter: float) -> Image.Image:
    """A word placed and coloured by the seed; `jitter` scales how much seeds differ."""
    rng = np.random.default_rng(seed)
    bg = tuple(int(v) for v in np.clip(np.array([200, 200, 200]) + jitter * rng.normal(0, 60, 3), 0, 255))
    pos = (0.1 + jitter * rng.uniform(0, 0.5), 0.1 + jitter * rng.uniform(0, 0.5))
    return render_text("HELLO", size=(160, 128), font=latin_fonts()[0], font_size=28, pos=pos, bg=bg)


def score(judge, images, case_id="c"):
    case = make_case(case_id, seeds=range(len(images)))
    return {v.metric: v for v in judge_verdicts(judge, [make_item(case, im, seed=i) for i, im in enumerate(images)])}


def test_identical_seeds_have_zero_diversity() -> None:
    im = layout(0, 1.0)
    m = score(DiversityJudge(), [im, im.copy(), im.copy()])
    assert m["ssim_distance"].value == pytest.approx(0.0, abs=1e-9)
    assert m["pixel_distance"].value == 0.0
    assert all(v.seed == -1 and v.ok for v in m.values())
    assert m["ssim_distance"].detail["n_pairs"] == 3 and m["ssim_distance"].detail["seeds"] == [0, 1, 2]


def test_diversity_grows_with_the_spread_across_seeds() -> None:
    j = DiversityJudge()
    vals = []
    for jitter in (0.0, 0.2, 1.0):
        vals.append(score(j, [add_noise(layout(s, jitter), 2, seed=s) for s in range(4)]))
    ssim_d = [m["ssim_distance"].value for m in vals]
    pix_d = [m["pixel_distance"].value for m in vals]
    assert ssim_d == sorted(ssim_d) and ssim_d[2] > ssim_d[0] + 0.1
    assert pix_d == sorted(pix_d) and pix_d[2] > 0.1 and pix_d[0] < 0.02


def test_grain_alone_is_not_diversity() -> None:
    """Same layout with independent grain per seed stays far below real layout differences."""
    j = DiversityJudge()
    base = layout(0, 1.0)
    grainy = score(j, [add_noise(base, 8, seed=s) for s in range(4)])
    varied = score(j, [add_noise(layout(s, 1.0), 2, seed=s) for s in range(4)])
    assert grainy["ssim_distance"].value < 0.05, grainy["ssim_distance"].value
    assert varied["ssim_distance"].value > 4 * grainy["ssim_distance"].value
    assert grainy["pixel_distance"].value < 0.02


def test_pixel_distance_reference_values() -> None:
    black, white = Image.new("RGB", (64, 48), 0), Image.new("RGB", (64, 48), (255, 255, 255))
    m = score(DiversityJudge(), [black, white])
    assert m["pixel_distance"].value == pytest.approx(1.0)
    grey = Image.new("RGB", (64, 48), (51, 51, 51))
    # pairs: (black, white)=1, (black, grey)=0.2, (white, grey)=0.8 -> mean 2/3
    assert score(DiversityJudge(), [black, white, grey])["pixel_distance"].value == pytest.approx(2 / 3)


def test_cases_in_one_batch_are_kept_apart_and_sizes_may_differ() -> None:
    j = DiversityJudge()
    same = make_case("same", seeds=(0, 1))
    diff = make_case("diff", seeds=(0, 1))
    im = layout(3, 1.0)
    items = [make_item(same, im, 0), make_item(same, im.copy(), 1),
             make_item(diff, layout(1, 1.0), 0), make_item(diff, layout(2, 1.0).resize((320, 256)), 1)]
    v = judge_verdicts(j, items)
    by = {(x.case_id, x.metric): x.value for x in v}
    assert len(v) == 4 and by[("same", "pixel_distance")] == 0.0 and by[("diff", "pixel_distance")] > 0.05


def test_needs_two_seeds() -> None:
    j = DiversityJudge()
    assert not j.applies_to(make_case("one", seeds=(0,)))
    assert j.applies_to(make_case("two", seeds=(0, 1)))
    m = score(j, [layout(0, 1.0)])
    assert all(not v.ok and v.value is None and "at least 2" in v.error for v in m.values())
    with pytest.raises(EvalsuiteError):
        DiversityJudge(size=4)
    assert DiversityJudge.granularity == "case"
