"""Recipe/config parsing errors and the multi-teacher weight schedule."""

from __future__ import annotations

from pathlib import Path

import pytest

from distill.config import (interp, load_recipe, load_teacher_config, parse_recipe,
                            teacher_weights)
from evalsuite.types import EvalsuiteError

REPO = Path(__file__).resolve().parents[2]
BASE = {"name": "r", "out_dir": "x", "init": "m",
        "teachers": [{"name": "base", "path": "m"}]}


def _recipe(**changes):
    raw = dict(BASE)
    raw.update(changes)
    return parse_recipe(raw, "r.yaml")


def test_shipped_recipes_and_configs_parse() -> None:
    recipes = sorted((REPO / "distill" / "recipes").glob("*.yaml"))
    assert {p.stem for p in recipes} >= {"default", "score", "ablate-clean", "ablate-budget"}
    for p in recipes:
        r = load_recipe(p)
        assert r.nfe == 4 and r.teacher_steps % r.nfe == 0
    for p in (REPO / "distill" / "configs").glob("*.yaml"):
        assert load_teacher_config(p).name == p.stem


@pytest.mark.parametrize("changes,message", [
    ({"nfe": 3}, "'nfe' must be 1, 2 or 4"),
    ({"objective": "adversarial"}, r"'objective' must be one of trajectory, trajectory\+direct, score"),
    ({"teacher_steps": 10}, "must be a multiple of nfe"),
    ({"categories": {"portraits": 1.0}}, "unknown category 'portraits'"),
    ({"categories": {"typography": 0}}, "weights sum to 0"),
    ({"t2i_edit": [1, 2, 3]}, "'t2i_edit' must be"),
    ({"teachers": []}, "'teachers' must be a non-empty list"),
    ({"teachers": [{"name": "b"}]}, "needs 'name' and 'path'"),
    ({"teachers": [{"name": "b", "path": "m", "schedule": [[0.5, 1], [0.2, 1]]}]}, "must increase"),
    ({"teachers": [{"name": "b", "path": "m", "schedule": [[0, -1]]}]}, "weight>=0"),
    ({"teachers": [{"name": "b", "path": "m", "tasks": ["video"]}]}, "unknown task 'video'"),
    ({"stepz": 3}, r"unknown key\(s\) \['stepz'\]"),
    ({"steps": 0}, "'steps' must be a positive integer"),
])
def test_recipe_errors_name_file_and_setting(changes: dict, message: str) -> None:
    with pytest.raises(EvalsuiteError, match=message) as e:
        _recipe(**changes)
    assert str(e.value).startswith("r.yaml: ")


def test_missing_required_key() -> None:
    with pytest.raises(EvalsuiteError, match=r"missing required key\(s\) \['init'\]"):
        parse_recipe({"name": "r", "out_dir": "x", "teachers": BASE["teachers"]}, "r.yaml")


def test_bad_yaml_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("name: [unclosed\n")
    with pytest.raises(EvalsuiteError, match="bad.yaml: invalid YAML"):
        load_recipe(p)
    with pytest.raises(EvalsuiteError, match="no such config file"):
        load_recipe(tmp_path / "missing.yaml")


def test_interp_piecewise_linear() -> None:
    pts = ((0.0, 1.0), (0.5, 1.0), (1.0, 0.0))
    assert interp(pts, -1) == 1.0 and interp(pts, 0.25) == 1.0
    assert interp(pts, 0.75) == pytest.approx(0.5) and interp(pts, 2.0) == 0.0


def test_teacher_weights_normalise_and_respect_coverage() -> None:
    r = _recipe(teachers=[
        {"name": "base", "path": "m", "schedule": [[0, 1.0], [1, 0.25]]},
        {"name": "typo", "path": "t", "schedule": [[0, 0.0], [1, 0.75]], "tasks": ["t2i"],
         "categories": ["typography"]},
        {"name": "edit", "path": "e", "schedule": [[0, 0.0], [1, 1.5]], "tasks": ["edit"]}])
    w0 = teacher_weights(r.teachers, 0.0, "t2i", "typography")
    assert w0 == [1.0, 0.0, 0.0]
    w1 = teacher_weights(r.teachers, 1.0, "t2i", "typography")
    assert w1 == pytest.approx([0.25, 0.75, 0.0]) and sum(w1) == pytest.approx(1.0)
    wm = teacher_weights(r.teachers, 0.5, "t2i", "typography")
    assert wm == pytest.approx([0.625 / 1.0, 0.375 / 1.0, 0.0])
    # the typography expert does not cover figures; the edit expert only edits
    assert teacher_weights(r.teachers, 1.0, "t2i", "figures") == pytest.approx([1.0, 0.0, 0.0])
    we = teacher_weights(r.teachers, 1.0, "edit", "typography")
    assert we == pytest.approx([0.25 / 1.75, 0.0, 1.5 / 1.75])


def test_teacher_weights_fallback_and_uncovered() -> None:
    r = _recipe(teachers=[{"name": "base", "path": "m", "schedule": 0.0},
                          {"name": "typo", "path": "t", "schedule": 0.0, "tasks": ["t2i"]}])
    assert teacher_weights(r.teachers, 0.3, "t2i", "figures") == [1.0, 0.0]
    r2 = _recipe(teachers=[{"name": "typo", "path": "t", "tasks": ["t2i"]}])
    with pytest.raises(EvalsuiteError, match="no teacher covers task 'edit'"):
        teacher_weights(r2.teachers, 0.3, "edit", "typography")


def test_teacher_lr_schedule_warmup_then_cosine() -> None:
    from distill.config import parse_teacher_config
    from distill.train import lr_at

    assert lr_at(0, 1e-3, 10) == pytest.approx(1e-4)                       # warm-up
    assert lr_at(50, 1e-3, 10, progress=0.7) == pytest.approx(1e-3)        # constant by default
    cos = [lr_at(500, 1e-3, 10, p, "cosine", 1e-5) for p in (0.0, 0.5, 1.0, 1.5)]
    assert cos[0] == pytest.approx(1e-3) and cos[1] == pytest.approx((1e-3 + 1e-5) / 2)
    assert cos[2] == pytest.approx(1e-5) and cos[3] == pytest.approx(1e-5)  # clamped past the budget
    with pytest.raises(EvalsuiteError, match="t.yaml: 'lr_decay' must be 'constant' or 'cosine'"):
        parse_teacher_config({"name": "t", "out_dir": "x", "lr_decay": "linear"}, "t.yaml")
