"""ImagesRenderer: naming, errors, fingerprint; load_renderer's dispatch (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evalsuite.renderers.base import SHARED
from evalsuite.renderers import load_renderer
from evalsuite.renderers.images import ImagesRenderer
from evalsuite.types import EvalsuiteError, RenderRequest


def _img(path: Path, value: int, size: tuple[int, int] = (16, 8)) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full((size[1], size[0], 3), value, np.uint8)
    arr[0, 0] = (value + 7) % 256
    fmt = {".jpg": "JPEG", ".webp": "WEBP"}.get(path.suffix, "PNG")
    Image.fromarray(arr).save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return arr


def test_reads_both_layouts_and_formats(tmp_path: Path) -> None:
    a = _img(tmp_path / "cat_s0.png", 10)
    b = _img(tmp_path / "cat" / "1.png", 20)
    c = _img(tmp_path / "dog_s3.webp", 30)
    _img(tmp_path / "fox_s2.jpg", 200)
    r = load_renderer(f"images:{tmp_path}")
    assert isinstance(r, ImagesRenderer)
    reqs = [RenderRequest("cat", "p", 0, 16, 8), RenderRequest("cat", "p", 1), RenderRequest("dog", "p", 3),
            RenderRequest("fox", "p", 2, 16, 8)]
    out = r.render(reqs)
    assert [o.request.seed for o in out] == [0, 1, 3, 2]
    np.testing.assert_array_equal(np.asarray(out[0].image), a)
    np.testing.assert_array_equal(np.asarray(out[1].image), b)
    np.testing.assert_array_equal(np.asarray(out[2].image), c)
    assert abs(int(np.asarray(out[3].image)[4, 8, 0]) - 200) <= 3   # JPEG, lossy
    assert all(o.image.mode == "RGB" for o in out)


def test_missing_image_names_case_seed_and_expected_file(tmp_path: Path) -> None:
    _img(tmp_path / "cat_s0.png", 10)
    r = ImagesRenderer.from_checkpoint(str(tmp_path))
    with pytest.raises(EvalsuiteError) as e:
        r.render([RenderRequest("cat", "p", 5)])
    msg = str(e.value)
    assert "case 'cat' seed 5" in msg and "cat_s5.png" in msg and "cat/5.png" in msg and "\n" not in msg


def test_wrong_size_names_file_and_both_sizes(tmp_path: Path) -> None:
    _img(tmp_path / "cat_s0.png", 10, size=(16, 8))
    r = ImagesRenderer.from_checkpoint(str(tmp_path))
    with pytest.raises(EvalsuiteError) as e:
        r.render([RenderRequest("cat", "p", 0, 32, 32)])
    msg = str(e.value)
    assert "cat_s0.png" in msg and "16x8" in msg and "32x32" in msg


def test_fingerprint_tracks_contents_not_paths(tmp_path: Path) -> None:
    _img(tmp_path / "a" / "cat_s0.png", 10)
    _img(tmp_path / "b" / "cat_s0.png", 10)
    fa = ImagesRenderer.from_checkpoint(str(tmp_path / "a")).fingerprint()
    assert fa == ImagesRenderer.from_checkpoint(str(tmp_path / "b")).fingerprint()
    _img(tmp_path / "b" / "cat_s0.png", 11)
    assert fa != ImagesRenderer.from_checkpoint(str(tmp_path / "b")).fingerprint()
    _img(tmp_path / "a" / "cat_s1.png", 10)
    assert fa != ImagesRenderer.from_checkpoint(str(tmp_path / "a")).fingerprint()


def test_options_and_dispatch_errors(tmp_path: Path) -> None:
    _img(tmp_path / "imgs" / "cat_s0.png", 10)
    # The renderer declares its options (batch_size); options shared by both models apply only where
    # declared; a sampler option set for an image folder is an error, not silently ignored.
    r = load_renderer(str(tmp_path / "imgs"), **{SHARED: {"device": "cpu", "batch_size": 5}}, batch_size=3)
    assert isinstance(r, ImagesRenderer) and r.batch_size == 3
    assert load_renderer(str(tmp_path / "imgs"), **{SHARED: {"device": "cpu", "batch_size": 5}}).batch_size == 5
    with pytest.raises(EvalsuiteError, match="unknown option 'num_inference_steps'"):
        load_renderer(str(tmp_path / "imgs"), num_inference_steps=4)
    with pytest.raises(EvalsuiteError, match="unknown option 'batch'; did you mean 'batch_size'"):
        load_renderer(str(tmp_path / "imgs"), batch=4)
    with pytest.raises(EvalsuiteError, match="unknown option 'colour'"):
        load_renderer(f"images:{tmp_path / 'imgs'}", colour=1)
    with pytest.raises(EvalsuiteError, match="does not exist"):
        load_renderer(f"images:{tmp_path / 'nope'}")
    with pytest.raises(EvalsuiteError, match="does not exist"):
        load_renderer(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvalsuiteError, match="neither model_index.json nor images"):
        load_renderer(str(tmp_path / "empty"))
    (tmp_path / "lora.safetensors").write_bytes(b"x")
    with pytest.raises(EvalsuiteError, match="is a file"):
        load_renderer(str(tmp_path / "lora.safetensors"))


def test_unreadable_image_is_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "cat_s0.png").write_bytes(b"not a png")
    r = ImagesRenderer.from_checkpoint(str(tmp_path))
    with pytest.raises(EvalsuiteError, match="cat_s0.png: cannot read image"):
        r.render([RenderRequest("cat", "p", 0)])


def test_describe(tmp_path: Path) -> None:
    _img(tmp_path / "cat_s0.png", 10)
    d = ImagesRenderer.from_checkpoint(str(tmp_path)).describe()
    assert d["renderer"] == "images" and d["images"] == 1 and d["fingerprint"].startswith("images-")
    json.dumps(d)
