"""The paddleocr backend's parsing (rec_texts, rec_scores, rec_polys, res.json) and box mapping.

The real engine cannot run on these machines (no PP-OCR model folders, FACTS.md), so a small
stand-in `paddleocr` module is put into sys.modules: an extra double that behaves like PaddleOCR
3.x's predict() output. It "detects" the dark pixels of the image it is given (the prepared,
upscaled and padded BGR array), so the boxes it returns are in prepared-image coordinates and the
test checks that the backend maps them back onto the original image.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import numpy as np
import pytest

from evalsuite.runner import judge_verdicts
from judges.ocr import OCRJudge
from judges.ocr_backends import PaddleOCRBackend
from tests.judges.conftest import latin_fonts, make_case, make_item, render_text


class _Result:
    """Like paddleocr's OCRResult: a `.json` property holding {"res": {...}}."""

    def __init__(self, res: dict[str, Any]) -> None:
        self._res = res

    @property
    def json(self) -> dict[str, Any]:
        return {"res": self._res}


class FakePaddleOCR:
    instances: list[FakePaddleOCR] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.seen: list[tuple[int, ...]] = []
        FakePaddleOCR.instances.append(self)

    def predict(self, array: np.ndarray) -> list[Any]:
        self.seen.append(array.shape)
        ys, xs = np.nonzero(array.max(axis=-1) < 100)      # dark text on a light background
        if len(xs) == 0:
            return [_Result({"rec_texts": [], "rec_scores": [], "rec_polys": []})]
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        mid = (x0 + x1) // 2
        # two "lines" (left and right half of the ink), as numpy polygons like the real engine;
        # the second result is a plain dict (some paddleocr versions yield dicts)
        left = np.array([[x0, y0], [mid, y0], [mid, y1], [x0, y1]], np.int16)
        right = np.array([[mid, y0], [x1, y0], [x1, y1], [mid, y1]], np.int16)
        return [_Result({"rec_texts": ["HELLO"], "rec_scores": [0.98], "rec_polys": [left]}),
                {"rec_texts": ["WORLD"], "rec_scores": [np.float32(0.87)], "rec_polys": [right.tolist()]}]


@pytest.fixture
def fake_paddleocr(monkeypatch, tmp_path):
    mod = types.ModuleType("paddleocr")
    mod.PaddleOCR = FakePaddleOCR
    monkeypatch.setitem(sys.modules, "paddleocr", mod)
    FakePaddleOCR.instances.clear()
    det, rec = tmp_path / "PP-OCRv5_mobile_det", tmp_path / "PP-OCRv5_mobile_rec"
    det.mkdir()
    rec.mkdir()
    return str(det), str(rec)


def ink_box(image) -> tuple[int, int, int, int]:
    arr = np.asarray(image.convert("RGB"))
    ys, xs = np.nonzero(arr.max(axis=-1) < 100)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.mark.parametrize("size", [(320, 96), (96, 32)])   # large as is; small is upscaled 2x and padded
def test_paddle_results_are_parsed_and_boxes_mapped_back(fake_paddleocr, size) -> None:
    det, rec = fake_paddleocr
    backend = PaddleOCRBackend(det_model_dir=det, rec_model_dir=rec)
    image = render_text("HELLO WORLD", size=size, font=latin_fonts()[0], font_size=size[1] // 3)
    (res,) = backend.read([image])
    eng = FakePaddleOCR.instances[-1]
    assert eng.kwargs["text_detection_model_dir"] == det and eng.kwargs["text_recognition_model_dir"] == rec
    assert eng.kwargs["text_detection_model_name"] == "PP-OCRv5_mobile_det"
    assert eng.kwargs["device"] == "cpu" and eng.kwargs["use_textline_orientation"] is False
    w, h = size
    scale = 2 if min(size) < 64 else 1
    if scale == 2:
        assert eng.seen == [(h * 2 + 32, w * 2 + 32, 3)]    # upscaled, then 16 px padding
    assert [ln.text for ln in res.lines] == ["HELLO", "WORLD"] and res.text == "HELLO WORLD"
    assert [ln.score for ln in res.lines] == pytest.approx([0.98, 0.87], abs=1e-6)
    x0, y0, x1, y1 = ink_box(image)
    left, right = (np.asarray(ln.box) for ln in res.lines)
    tol = 1.0 if scale == 2 else 1e-6           # bicubic upscaling blurs the ink edge by a pixel
    assert left.min(0) == pytest.approx([x0, y0], abs=tol)
    assert right.max(0) == pytest.approx([x1, y1], abs=tol)
    assert left.max(0)[0] == pytest.approx(right.min(0)[0])      # the two halves meet
    assert all(0 <= x <= w and 0 <= y <= h for ln in res.lines for x, y in ln.box)


def test_blank_image_gives_no_lines(fake_paddleocr) -> None:
    det, rec = fake_paddleocr
    (res,) = PaddleOCRBackend(det_model_dir=det, rec_model_dir=rec).read([render_text("", size=(128, 64))])
    assert res.lines == [] and res.text == ""


def test_auto_backend_picks_installed_paddleocr_with_model_dirs(fake_paddleocr) -> None:
    det, rec = fake_paddleocr
    auto = OCRJudge(det_model_dir=det, rec_model_dir=rec)      # --judge-opt ocr.det_model_dir=...
    explicit = OCRJudge(backend="paddleocr", backend_options={"det_model_dir": det, "rec_model_dir": rec})
    assert auto.config["backend"] == "paddleocr" and auto.judge_id() == explicit.judge_id()
    assert OCRJudge(det_model_dir=det).config["backend"] == "rapidocr"   # one folder is not enough
    assert OCRJudge().config["backend"] == "rapidocr"
    image = render_text("HELLO WORLD", size=(320, 96), font=latin_fonts()[0], font_size=32)
    v = {x.metric: x for x in judge_verdicts(auto, [make_item(make_case("p", ["HELLO WORLD"]), image)])}
    assert v["word_recall"].value == 1.0 and v["exact_match"].value == 1.0
    assert v["word_precision"].value == 1.0
    assert [ln["text"] for ln in v["ned"].detail["lines"]] == ["HELLO", "WORLD"]
    assert v["ned"].detail["confidences"] == [0.98, 0.87]
