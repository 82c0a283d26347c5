"""Fidelity judge: SSIM/PSNR to the teacher and preservation outside the edit."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from evalsuite.runner import judge_verdicts
from evalsuite.types import EvalsuiteError
from judges.fidelity import FidelityJudge, edit_mask, psnr
from tests.judges.conftest import add_noise, latin_fonts, make_case, make_item, render_text


def scene(size=(192, 128), box_color=(40, 120, 200), text="SHOP") -> Image.Image:
    """A small structured image: text, a coloured box and a gradient strip."""
    im = render_text(text, size=size, font=latin_fonts()[0], font_size=28, pos=(0.05, 0.1),
                     bg=(235, 225, 210))
    d = ImageDraw.Draw(im)
    d.rectangle([110, 60, 170, 110], fill=box_color)
    for x in range(size[0]):
        d.line([(x, size[1] - 10), (x, size[1])], fill=(x % 256, 80, 255 - x % 256))
    return im


def metrics(verdicts):
    return {v.metric: v for v in verdicts}


@pytest.fixture(scope="module")
def judge() -> FidelityJudge:
    return FidelityJudge()


def test_identical_images(judge) -> None:
    im = scene()
    m = metrics(judge_verdicts(judge, [make_item(make_case("a"), im, teacher=im.copy())]))
    assert m["ssim"].value == pytest.approx(1.0) and m["psnr"].value == 100.0
    assert "preservation" not in m   # t2i case


def test_psnr_matches_the_definition_and_ssim_falls_with_noise(judge) -> None:
    teacher = Image.new("RGB", (128, 128), (128, 128, 128))
    ssims = []
    for s in (2, 5, 10, 20):
        student = add_noise(teacher, s, seed=s)
        m = metrics(judge_verdicts(judge, [make_item(make_case("a"), student, teacher=teacher)]))
        mse = np.mean((np.asarray(student, float) - 128.0) ** 2)
        assert m["psnr"].value == pytest.approx(10 * np.log10(255 ** 2 / mse), abs=1e-6)
        assert m["psnr"].value == pytest.approx(20 * np.log10(255 / s), abs=0.4)
        ssims.append(m["ssim"].value)
    assert ssims == sorted(ssims, reverse=True) and ssims[-1] < 0.5
    assert psnr(np.zeros((4, 4)), np.full((4, 4), 255.0)) == pytest.approx(0.0)


def test_teacher_of_another_size_is_resized(judge) -> None:
    student = scene((192, 128))
    teacher = scene((384, 256)).resize((384, 256))
    m = metrics(judge_verdicts(judge, [make_item(make_case("a"), student, teacher=scene((192, 128)).resize((384, 256), Image.LANCZOS))]))
    assert m["ssim"].detail["teacher_resized_from"] == [384, 256]
    assert m["ssim"].value > 0.85 and m["psnr"].value > 25
    other = metrics(judge_verdicts(judge, [make_item(make_case("b"), student, teacher=teacher.rotate(180))]))
    assert other["ssim"].value < m["ssim"].value - 0.2


def test_edit_preservation_outside_the_teachers_edit(judge) -> None:
    source = scene(box_color=(40, 120, 200))
    teacher = scene(box_color=(220, 40, 40))            # the edit: recolour the box
    case = make_case("e", kind="edit", prompt="make the box red")
    faithful = scene(box_color=(200, 60, 50))           # same edit, slightly different red
    sloppy = add_noise(faithful, 12, seed=1)             # edit done, grain everywhere
    rewrite = scene(box_color=(200, 60, 50), text="WXYZ").rotate(8)   # the whole image changed
    v = judge_verdicts(judge, [make_item(case, im, seed=i, teacher=teacher, source=source)
                     for i, im in enumerate([faithful, sloppy, rewrite])])
    pres = {x.seed: x for x in v if x.metric == "preservation"}
    assert pres[0].value > 0.97, pres[0].value
    assert pres[0].value > pres[1].value > pres[2].value
    assert pres[2].value < 0.8 and pres[1].value > 0.8, (pres[1].value, pres[2].value)
    assert 0.5 < pres[0].detail["preserved_fraction"] < 0.95


def test_edit_mask_finds_the_changed_box() -> None:
    src = np.asarray(scene(box_color=(40, 120, 200)), float)
    ed = np.asarray(scene(box_color=(220, 40, 40)), float)
    m = edit_mask(src, ed, dilate=0)
    assert m[85, 140] and not m[20, 20] and not m[60, 60]
    assert edit_mask(src, np.asarray(add_noise(Image.fromarray(src.astype(np.uint8)), 6, seed=0), float)).sum() == 0


def test_global_edit_skips_preservation_and_missing_inputs_fail(judge) -> None:
    source = scene()
    teacher = Image.fromarray(255 - np.asarray(source))   # "invert the colours": everything changes
    case = make_case("g", kind="edit")
    m = metrics(judge_verdicts(judge, [make_item(case, teacher, teacher=teacher, source=source)]))
    assert "preservation" not in m and "global edit" in m["ssim"].detail["preservation_skipped"]
    m = metrics(judge_verdicts(judge, [make_item(case, source, teacher=teacher, source=None)]))
    assert not m["preservation"].ok and "source" in m["preservation"].error and m["ssim"].ok
    m = metrics(judge_verdicts(judge, [make_item(make_case("t"), source, teacher=None)]))
    assert set(m) == {"ssim", "psnr"} and all(not x.ok and x.value is None for x in m.values())


def test_preservation_without_teacher_uses_the_images_own_changes(judge) -> None:
    source = scene(box_color=(40, 120, 200))
    case = make_case("e", kind="edit")
    clean_edit = scene(box_color=(220, 40, 40))
    drifted = Image.fromarray(np.clip(np.asarray(clean_edit, float) * 0.9 + 10, 0, 255).astype(np.uint8))
    m = metrics(judge_verdicts(judge, [make_item(case, clean_edit, source=source)]))
    assert set(m) == {"preservation"}          # no teacher: nothing to compare SSIM/PSNR with
    assert m["preservation"].value > 0.97 and m["preservation"].detail["edit_region"] == "own"
    low = metrics(judge_verdicts(judge, [make_item(case, drifted, source=source)]))["preservation"].value
    assert low < m["preservation"].value
    # a global edit without a teacher has no metric left: the judge abstains (no verdict)
    assert judge_verdicts(judge, [make_item(case, Image.fromarray(255 - np.asarray(source)), source=source)]) == []


def test_config() -> None:
    j = FidelityJudge()
    assert j.reference == "optional"
    assert j.reference_for(make_case("t")) == "required" and j.reference_for(make_case("e", kind="edit")) == "optional"
    assert FidelityJudge().judge_id() != FidelityJudge(edit_region="union").judge_id()
    with pytest.raises(EvalsuiteError, match="edit_region"):
        FidelityJudge(edit_region="student")
