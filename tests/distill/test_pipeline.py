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


WORD = lambda w: f'"{w}" in large black sans letters on a white background, center'  # noqa: E731


@pytest.fixture(scope="module")
def char_pipe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A toy char-aware, text-layout pipeline (random weights)."""
    from distill.train import new_pipeline

    torch.manual_seed(1)
    pipe = new_pipeline(channels=(16, 32), text_dim=16, char_aware=True, text_layout=True)
    with torch.no_grad():
        pipe.text_encoder.route_proj.weight.normal_(0, 1.0)
    out = tmp_path_factory.mktemp("char") / "pipe"
    pipe.save_pretrained(out, sampler={"num_inference_steps": 4, "guidance_scale": 2.0})
    return out


def test_char_aware_encoder_spells_the_quoted_word(char_pipe_dir: Path) -> None:
    """The quoted word leaves the word tokens (a trained and an unseen word tokenise alike) and
    enters as its bytes; case and punctuation are kept."""
    te = TinyFlowPipeline.from_pretrained(char_pipe_dir).text_encoder
    assert te.config.char_aware and te.config.text_layout
    ids_a, _ = te.tokenize([WORD("CAT")])
    ids_b, _ = te.tokenize([WORD("Zebra!")])
    assert torch.equal(ids_a, ids_b)
    cids, lens = te.char_tokenize([WORD("Zebra!"), "a red circle on a blue background, left"])
    assert lens.tolist() == [6, 0]
    assert cids[0, :6].tolist() == [b + 1 for b in b"Zebra!"] and cids[1].sum() == 0
    a, _ = te.encode([WORD("CAT")])
    b, _ = te.encode([WORD("CAt")])
    assert (a - b).abs().max() > 1e-4


def test_layout_routes_letters_only_inside_the_box(char_pipe_dir: Path) -> None:
    """route(): the letter states land inside the layout box only, depend on the prompt's word,
    and a zero layout, an edit prompt or a prompt without quoted text adds nothing."""
    from distill import data
    from distill.modeling import fold

    te = TinyFlowPipeline.from_pretrained(char_pipe_dir).text_encoder
    lay = fold(te.layout_maps([WORD("CAT")], 32, 96))
    prompts = [WORD("CAT"), WORD("DOG"), WORD("CAT"), "change the background to red"]
    src = torch.cat([lay, lay, torch.zeros_like(lay), lay])
    with torch.no_grad():
        text, _ = te.encode(prompts)
        d = te.route(prompts, text, src) - src
    inside = torch.nn.functional.avg_pool2d(torch.from_numpy(data.layout_map(data.parse_text_prompt(WORD("CAT"))))[None, :1], 2)[0, 0] > 0
    assert d[0][:, ~inside].abs().max() == 0 and d[0][:, inside].abs().mean() > 1e-3
    assert (d[0] - d[1]).abs().max() > 1e-3
    assert d[2].abs().max() == 0 and d[3].abs().max() == 0


def test_text_layout_pipeline_takes_an_explicit_layout(char_pipe_dir: Path) -> None:
    """__call__(layout=...) replaces the prompt's own layout map; passing that same map gives the
    same image, another changes it; a figure prompt is drawn the same with or without layout."""
    pipe = TinyFlowPipeline.from_pretrained(char_pipe_dir)
    te = pipe.text_encoder
    run = lambda prompt, **kw: _arr(pipe([prompt], num_inference_steps=2, generator=_gens([0]), **kw).images[0])  # noqa: E731
    own = te.layout_maps([WORD("CAT")], 32, 96)
    other = te.layout_maps(['"JAZZ" in small black serif letters on a white background, left'], 32, 96)
    np.testing.assert_array_equal(run(WORD("CAT")), run(WORD("CAT"), layout=own))
    assert np.abs(run(WORD("CAT")) - run(WORD("CAT"), layout=other)).mean() > 0.1
    assert np.abs(run(WORD("CAT")) - run(WORD("CAT"), layout=torch.zeros_like(own))).mean() > 0.1
    fig = "a red circle on a blue background, left"
    np.testing.assert_array_equal(run(fig), run(fig, layout=torch.zeros_like(own)))
