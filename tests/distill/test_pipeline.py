"""TinyFlowPipeline: save/load round trip, batch independence, request contract, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from distill.pipeline import TinyFlowPipeline

PROMPTS = ['"CAT" in large red serif letters on a white background, left',
           "a blue circle on a yellow background, center",
           "change the background to blue"]


def _gens(seeds: list[int]) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in seeds]


def _arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.int16)


def test_round_trip_and_sampler_json(tiny_pipe_dir: Path, tmp_path: Path) -> None:
    pipe = TinyFlowPipeline.from_pretrained(tiny_pipe_dir)
    assert json.loads((tiny_pipe_dir / "sampler.json").read_text()) == {
        "num_inference_steps": 4, "guidance_scale": 2.0}
    assert list((tiny_pipe_dir / "unet").glob("*.safetensors"))
    assert list((tiny_pipe_dir / "text_encoder").glob("*.safetensors"))
    a = pipe(PROMPTS[:2], num_inference_steps=3, guidance_scale=2.0, generator=_gens([1, 2])).images
    pipe.save_pretrained(tmp_path / "again")
    b = TinyFlowPipeline.from_pretrained(tmp_path / "again")(
        PROMPTS[:2], num_inference_steps=3, guidance_scale=2.0, generator=_gens([1, 2])).images
    assert all(np.array_equal(_arr(x), _arr(y)) for x, y in zip(a, b))
    assert a[0].mode == "RGB" and a[0].size == (96, 32)


def test_item_does_not_depend_on_batch(tiny_pipe_dir: Path) -> None:
    pipe = TinyFlowPipeline.from_pretrained(tiny_pipe_dir)
    src = Image.new("RGB", (96, 32), (245, 245, 240))
    batch = pipe(PROMPTS, image=[src, src, src], num_inference_steps=2, guidance_scale=1.5,
                 generator=_gens([7, 8, 9])).images
    alone = pipe([PROMPTS[2]], image=[src], num_inference_steps=2, guidance_scale=1.5,
                 generator=_gens([9])).images[0]
    assert np.abs(_arr(batch[2]) - _arr(alone)).max() <= 1
    other_seed = pipe([PROMPTS[2]], image=[src], num_inference_steps=2, guidance_scale=1.5,
                      generator=_gens([10])).images[0]
    assert np.abs(_arr(other_seed) - _arr(alone)).mean() > 1


def test_edit_source_changes_output(tiny_pipe_dir: Path) -> None:
    pipe = TinyFlowPipeline.from_pretrained(tiny_pipe_dir)
    white, black = Image.new("RGB", (96, 32), "white"), Image.new("RGB", (96, 32), "black")
    a = pipe([PROMPTS[2]], image=[white], num_inference_steps=2, generator=_gens([0])).images[0]
    b = pipe([PROMPTS[2]], image=[black], num_inference_steps=2, generator=_gens([0])).images[0]
    assert np.abs(_arr(a) - _arr(b)).mean() > 0.5


def test_other_sizes_and_errors(tiny_pipe_dir: Path) -> None:
    pipe = TinyFlowPipeline.from_pretrained(tiny_pipe_dir)
    out = pipe(PROMPTS[:1], num_inference_steps=1, height=48, width=64, generator=_gens([0]))
    assert out.images[0].size == (64, 48)
    with pytest.raises(ValueError, match="one per prompt"):
        pipe(PROMPTS[:2], num_inference_steps=1, generator=_gens([0]))
    with pytest.raises(ValueError, match="multiples of 8"):
        pipe(PROMPTS[:1], num_inference_steps=1, height=30, generator=_gens([0]))
    with pytest.raises(ValueError, match="num_inference_steps must be >= 1"):
        pipe(PROMPTS[:1], num_inference_steps=0, generator=_gens([0]))


def test_loads_through_evalsuite_renderer(tiny_pipe_dir: Path) -> None:
    from evalsuite.registry import PIPELINES

    assert PIPELINES.get("TinyFlowPipeline") is TinyFlowPipeline
    assert json.loads((tiny_pipe_dir / "model_index.json").read_text())["_class_name"] == "TinyFlowPipeline"


def test_glyph_layout_pipeline_conditions_t2i_on_the_prompt_glyph(tiny_pipe_dir: Path, tmp_path: Path) -> None:
    """glyph_layout (saved in the text encoder's config): a grammar prompt's glyph map goes into the
    source channels, so the quoted word changes the image through them; other prompts get zeros
    (the same image as a pipeline without glyph layout)."""
    pipe = TinyFlowPipeline.from_pretrained(tiny_pipe_dir)
    g = TinyFlowPipeline.from_pretrained(tiny_pipe_dir)
    g.text_encoder.register_to_config(glyph_layout=True)
    g.save_pretrained(tmp_path / "g")
    g = TinyFlowPipeline.from_pretrained(tmp_path / "g")
    assert g.text_encoder.config.glyph_layout and not pipe.text_encoder.config.glyph_layout
    word = lambda w: f'"{w}" in large black sans letters on a white background, center'  # noqa: E731
    maps = g.text_encoder.glyph_maps([word("CAT"), word("ZEBRA"), "a red circle on a blue background, left"], 32, 96)
    assert maps[0].max() == 1 and maps[0].min() == -1 and not torch.equal(maps[0], maps[1])
    assert torch.count_nonzero(maps[2]) == 0
    run = lambda p, prompt: p([prompt], num_inference_steps=2, generator=_gens([0])).images[0]  # noqa: E731
    assert np.abs(_arr(run(g, word("CAT"))) - _arr(run(pipe, word("CAT")))).mean() > 0.1
    fig = "a red circle on a blue background, left"
    np.testing.assert_array_equal(_arr(run(g, fig)), _arr(run(pipe, fig)))
