"""Synthetic data: determinism, grammar, edit triplets, background regions."""

from __future__ import annotations

import numpy as np
import pytest

from distill import data


def _px(img) -> np.ndarray:
    return np.asarray(img, dtype=np.int16)


@pytest.mark.parametrize("category,task", [("typography", "t2i"), ("figures", "t2i"),
                                           ("cluttered", "t2i"), ("typography", "edit")])
def test_same_key_same_sample(category: str, task: str) -> None:
    a = data.make_sample(3, 17, category, task)
    b = data.make_sample(3, 17, category, task)
    assert a.prompt == b.prompt
    assert np.array_equal(_px(a.target), _px(b.target))
    assert a.target.size == (data.WIDTH, data.HEIGHT)
    assert (a.source is None) == (task == "t2i")


def test_different_keys_vary() -> None:
    samples = [data.make_sample(0, i, "typography", "t2i") for i in range(40)]
    prompts = {s.prompt for s in samples}
    assert len(prompts) >= 35
    fonts = {f for s in samples for f in data.FONTS if f" {f} letters" in s.prompt}
    sizes = {z for s in samples for z in data.SIZES if f" {z} " in s.prompt}
    assert fonts == set(data.FONTS) and sizes == set(data.SIZES)
    # seeds give different images for the same index
    assert not np.array_equal(_px(data.make_sample(0, 5, "figures", "t2i").target),
                              _px(data.make_sample(1, 5, "figures", "t2i").target))


def test_prompt_grammar_tokens_are_in_vocab() -> None:
    vocab = set(data.vocabulary())
    import re
    for i in range(30):
        for cat, task in (("typography", "t2i"), ("figures", "t2i"), ("cluttered", "t2i"),
                          ("typography", "edit")):
            p = data.make_sample(0, i, cat, task).prompt
            assert set(re.findall(r"[a-z]+", p.lower())) <= vocab, p


def test_edit_triplets_change_only_what_they_say() -> None:
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(60):
        src, op, value, tgt = data.sample_edit(rng, 0)
        seen.add(op)
        a, b = data.render_text(src, 5), data.render_text(tgt, 5)
        diff = np.abs(_px(a) - _px(b)).sum(axis=2) > 0
        assert diff.any()
        if op == "background":
            assert tgt.bg == value and tgt.word == src.word and tgt.color == src.color
            assert diff.mean() > 0.5            # most pixels are background
        elif op == "textcolor":
            assert tgt.color == value and tgt.bg == src.bg
            assert diff.mean() < 0.4
        else:
            assert tgt.word == value != src.word and tgt.bg == src.bg
        assert data.contrasts(tgt.color, tgt.bg)
    assert seen == set(data.EDIT_OPS)


def test_free_region_is_pure_background_for_every_jitter() -> None:
    rng = np.random.default_rng(1)
    for _ in range(25):
        spec = data.sample_text_spec(rng)
        x0, y0, x1, y1 = data.free_region(spec)
        assert x1 - x0 >= 0.15
        for layout in range(6):
            a = _px(data.render_text(spec, layout))
            reg = a[int(y0 * data.HEIGHT):int(y1 * data.HEIGHT) or None,
                    int(x0 * data.WIDTH):int(x1 * data.WIDTH) or None]
            assert (reg == np.array(data.COLORS[spec.bg])).all(), (spec, layout)


def test_unknown_category_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown data category 'portraits'"):
        data.make_sample(0, 0, "portraits", "t2i")


@pytest.mark.parametrize("category", ["typography", "cluttered"])
def test_layout_map_boxes_the_rendered_word_without_its_letters(category: str) -> None:
    """The training layout map's box holds every text pixel of the target at the same jitter; it
    is letter-free: two words with the same box give the same map, and inside the box channel 1
    runs -1 -> 1 left to right. Figures and edits have none."""
    for i in range(6):
        s = data.make_sample(99, i, category, "t2i")
        spec = data.parse_text_prompt(s.prompt)
        assert spec is not None and data.prompt_for(spec) == s.prompt and s.layout is not None
        box = s.layout[0] > 0
        assert set(np.unique(s.layout[0])) == {-1.0, 1.0} and 0.01 < box.mean() < 0.4
        t = np.asarray(s.target).astype(int)
        text_px = np.abs(t - np.array(data.COLORS[spec.color])).sum(-1) < 30
        assert text_px.sum() > 10 and box[text_px].mean() > 0.95
        row = s.layout[1][box.any(1)][0][box[box.any(1)][0]]
        assert row[0] < -0.8 and row[-1] > 0.8 and np.all(np.diff(row) > 0)
        nominal = data.layout_map(spec)[0] > 0
        ys, xs = np.nonzero(box)
        yn, xn = np.nonzero(nominal)
        assert abs(xs.mean() - xn.mean()) <= data.MAX_JITTER + 0.5
        assert abs(ys.mean() - yn.mean()) <= data.MAX_JITTER + 0.5
    a = data.TextSpec("CAT", "mono", "large", "red", "white", "left")
    b = data.TextSpec("DOG", "mono", "large", "red", "white", "left")
    assert data.text_box(a) == data.text_box(b)
    np.testing.assert_array_equal(data.layout_map(a), data.layout_map(b))
    assert data.make_sample(99, 0, "figures", "t2i").layout is None
    assert data.make_sample(99, 0, "typography", "edit").layout is None


def test_parse_text_prompt_only_reads_the_grammar() -> None:
    spec = data.parse_text_prompt('"HELLO" in large red serif letters on a white background, right')
    assert spec == data.TextSpec("HELLO", "serif", "large", "red", "white", "right")
    for p in ("a red circle on a blue background, left", '"X" in huge red serif letters on a white background, right',
              '"X" in large red comic letters on a white background, right', "", 'make the text red'):
        assert data.parse_text_prompt(p) is None
