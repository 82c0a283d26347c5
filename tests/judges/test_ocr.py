"""OCR judge against images rendered with PIL with known text, on the real rapidocr engine."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image

from evalsuite.runner import judge_verdicts
from evalsuite.types import EvalsuiteError
from judges.ocr import METRICS, OCRJudge
from judges.ocr_backends import OCRBackend, OCRLine, OCRResult, prepare, unmap_box
from tests.requirements import require
from tests.judges.conftest import cjk_font, latin_fonts, make_case, make_item, render_text

WORDS = ["HELLO", "Garden", "open 24", "SALE", "Bakery", "NOVEMBER", "Quick Fox", "2026"]
COLOURS = [((0, 0, 0), (255, 255, 255)), ((250, 250, 250), (30, 40, 120)),
           ((200, 20, 20), (245, 235, 200)), ((20, 90, 30), (210, 230, 250))]


def by_metric(verdicts, case_id=None, seed=None):
    out = {}
    for v in verdicts:
        if (case_id is None or v.case_id == case_id) and (seed is None or v.seed == seed):
            out[v.metric] = v
    return out


def test_reads_known_words_in_several_fonts_sizes_colours(ocr_judge: OCRJudge) -> None:
    fonts = latin_fonts()
    assert len(fonts) >= 2, "need at least two TrueType fonts installed"
    items = []
    for i, word in enumerate(WORDS):
        font = fonts[i % len(fonts)]
        fg, bg = COLOURS[i % len(COLOURS)]
        size = (360, 120) if i % 2 else (256, 80)
        fs = [28, 40, 24, 48][i % 4]
        img = render_text(word, size=size, font=font, font_size=fs, fg=fg, bg=bg)
        items.append(make_item(make_case(f"w{i}", [word]), img, seed=i))
    verdicts = judge_verdicts(ocr_judge, items)
    assert len(verdicts) == len(items) * len(METRICS)
    assert all(v.ok for v in verdicts)
    for i, word in enumerate(WORDS):
        m = by_metric(verdicts, f"w{i}", i)
        assert m["word_recall"].value == 1.0, (word, m["word_recall"].detail["text"])
        assert m["word_precision"].value == 1.0, (word, m["word_recall"].detail["text"])
        assert m["ned"].value == 1.0 and m["exact_match"].value == 1.0


def test_two_lines_in_reading_order_with_boxes(ocr_judge: OCRJudge) -> None:
    img = render_text("OPEN DAILY\nFRESH BREAD", size=(400, 200), font=latin_fonts()[0], font_size=40)
    [it] = [make_item(make_case("two", ["OPEN DAILY", "FRESH BREAD"]), img)]
    m = by_metric(judge_verdicts(ocr_judge, [it]))
    assert m["exact_match"].value == 1.0, m["ned"].detail["text"]
    d = m["word_recall"].detail
    assert d["text"].replace(" ", "").upper() == "OPENDAILYFRESHBREAD"
    assert d["boxes"] == [ln["box"] for ln in d["lines"]] and d["confidences"] == [ln["score"] for ln in d["lines"]]
    ys = [min(p[1] for p in ln["box"]) for ln in d["lines"]]
    assert ys == sorted(ys) and len(d["lines"]) >= 2
    for ln in d["lines"]:   # boxes are in original pixel coordinates, inside the image
        assert all(0 <= x <= 400 and 0 <= y <= 200 for x, y in ln["box"])
        assert 0.5 <= ln["score"] <= 1.0


def test_partial_text_and_hallucination(ocr_judge: OCRJudge) -> None:
    font = latin_fonts()[0]
    missing = render_text("GREEN", size=(320, 96), font=font, font_size=40)
    extra = render_text("CAT AND DOG", size=(400, 96), font=font, font_size=40)
    wrong = render_text("ZEBRA", size=(320, 96), font=font, font_size=40)
    items = [make_item(make_case("missing", ["GREEN TEA"]), missing),
             make_item(make_case("extra", ["CAT"]), extra),
             make_item(make_case("wrong", ["MOUSE"]), wrong)]
    v = judge_verdicts(ocr_judge, items)
    m = by_metric(v, "missing")
    assert m["word_recall"].value == 0.5 and m["word_precision"].value == 1.0
    assert m["ned"].value == pytest.approx(1 - 4 / 9) and m["exact_match"].value == 0.0   # "GREEN TEA" vs "GREEN"
    assert m["ned_loose"].value == pytest.approx(1 - 3 / 8)                           # spaces ignored
    assert m["err_missing"].value == 1.0 and m["word_recall"].detail["errors"][0]["expected"] == "TEA"
    m = by_metric(v, "extra")
    assert m["word_recall"].value == 1.0 and m["word_precision"].value == pytest.approx(1 / 3)
    assert m["err_extra"].value == 2.0
    m = by_metric(v, "wrong")
    assert m["word_recall"].value == 0.0 and m["word_precision"].value == 0.0
    assert m["ned"].value < 0.5


def test_blank_image_scores_zero_not_failure(ocr_judge: OCRJudge) -> None:
    blank = Image.new("RGB", (256, 128), (240, 240, 240))
    m = by_metric(judge_verdicts(ocr_judge, [make_item(make_case("blank", ["HELLO"]), blank)]))
    assert all(v.ok for v in m.values())
    assert m["word_recall"].value == 0.0 and m["word_precision"].value == 0.0
    assert m["ned"].value == 0.0 and m["word_recall"].detail["lines"] == []


def test_small_image_is_upscaled_and_padded(ocr_judge: OCRJudge) -> None:
    img = render_text("CAFE", size=(96, 32), font=latin_fonts()[0], font_size=20)
    m = by_metric(judge_verdicts(ocr_judge, [make_item(make_case("small", ["CAFE"]), img)]))
    assert m["exact_match"].value == 1.0, m["ned"].detail["text"]
    for ln in m["ned"].detail["lines"]:
        assert all(0 <= x <= 96 and 0 <= y <= 32 for x, y in ln["box"])


def test_text_touching_the_border(ocr_judge: OCRJudge) -> None:
    img = render_text("EDGE", size=(200, 60), font=latin_fonts()[0], font_size=44, pos=(0.0, 0.05))
    m = by_metric(judge_verdicts(ocr_judge, [make_item(make_case("edge", ["EDGE"]), img)]))
    assert m["word_recall"].value == 1.0, m["ned"].detail["text"]


def test_chinese_text(ocr_judge: OCRJudge) -> None:
    font = cjk_font()
    require(font is not None, "a CJK font", "apt-get install fonts-noto-cjk fonts-wqy-microhei")
    items = [make_item(make_case(f"zh{i}", [t]), render_text(t, size=(360, 110), font=font, font_size=44))
             for i, t in enumerate(["你好世界", "春节快乐", "欢迎光临"])]
    v = judge_verdicts(ocr_judge, items)
    for i in range(3):
        m = by_metric(v, f"zh{i}")
        assert m["word_recall"].value == 1.0 and m["exact_match"].value == 1.0, m["ned"].detail["text"]
    # Half the characters missing: CJK is scored by character.
    img = render_text("你好", size=(360, 110), font=font, font_size=44)
    m = by_metric(judge_verdicts(ocr_judge, [make_item(make_case("zh-half", ["你好世界"]), img)]))
    assert m["word_recall"].value == 0.5 and m["ned"].value == 0.5


def test_applies_only_to_cases_with_expected_text() -> None:
    j = OCRJudge()
    assert j.applies_to(make_case("a", ["HI"]))
    assert not j.applies_to(make_case("b", []))
    assert not j.applies_to(make_case("c", ["  "]))
    assert j._backend._engine is None   # no engine is loaded until the first score call


def test_config_is_part_of_the_cache_key_and_bad_config_is_one_line() -> None:
    assert OCRJudge().judge_id() != OCRJudge(norm={"casefold": False}).judge_id()
    assert OCRJudge().judge_id() == OCRJudge().judge_id()
    assert OCRJudge().judge_id() == OCRJudge(backend_options={"threads": 1}).judge_id()
    assert OCRJudge().judge_id() != OCRJudge(backend_options={"limit_side_len": 960}).judge_id()
    with pytest.raises(EvalsuiteError, match="unknown normalisation"):
        OCRJudge(norm={"lower": True})
    # flat keys (as --judge-opt gives them) fold into the same canonical config
    flat = OCRJudge(casefold=False, limit_side_len=960)
    nested = OCRJudge(norm={"casefold": False}, backend_options={"limit_side_len": 960})
    assert flat.config == nested.config and flat.judge_id() == nested.judge_id()
    with pytest.raises(EvalsuiteError, match="unknown setting 'lower'"):
        OCRJudge(lower=True)
    # a bad backend name, option or missing model folder fails at construction (before rendering)
    with pytest.raises(EvalsuiteError, match="did you mean 'tesseract'"):
        OCRJudge(backend="tesserct")
    with pytest.raises(EvalsuiteError, match="det_model_dir"):
        OCRJudge(backend="paddleocr")
    with pytest.raises(EvalsuiteError, match=r"unknown option\(s\) \['psm'\] for backend 'rapidocr'"):
        OCRJudge(backend_options={"psm": 6})


class _Broken(OCRBackend):
    name = "broken"

    def read(self, images):
        raise RuntimeError("engine crashed")


class _Fixed(OCRBackend):
    """Test double returning a fixed reading per image."""
    name = "fixed"

    def __init__(self, texts):
        self.texts = texts

    def read(self, images):
        return [OCRResult([OCRLine(t, [[0, 0], [1, 0], [1, 1], [0, 1]], 0.9)]) for t in self.texts[:len(images)]]


def test_engine_failure_is_a_failed_verdict_not_a_zero() -> None:
    j = OCRJudge()
    j._backend = _Broken()
    img = Image.new("RGB", (64, 64))
    v = judge_verdicts(j, [make_item(make_case("x", ["HI"]), img)])
    assert len(v) == len(METRICS) and all(not x.ok and x.value is None and "engine crashed" in x.error for x in v)


def test_scores_follow_the_backend_reading() -> None:
    j = OCRJudge()
    j._backend = _Fixed(["hello wrld", "HELLO WORLD"])
    img = Image.new("RGB", (64, 64))
    v = judge_verdicts(j, [make_item(make_case("a", ["Hello World"]), img, seed=1),
                 make_item(make_case("a", ["Hello World"]), img, seed=2)])
    m = by_metric(v, "a", 1)   # "hello wrld": a case error and a substitution
    assert m["word_recall"].value == 0.0 and m["word_recall_loose"].value == 0.5
    assert m["err_case"].value == 1.0 and m["err_substitution"].value == 1.0
    # upper case for "Hello World": loose exact match, strict mismatch with two case errors
    m = by_metric(v, "a", 2)
    assert m["exact_match_loose"].value == 1.0 and m["exact_match"].value == 0.0
    assert m["err_case"].value == 2.0 and m["ned"].value == pytest.approx(1 - 8 / 11)


def test_prepare_and_unmap_roundtrip() -> None:
    rgb = np.full((32, 96, 3), (10, 200, 30), np.uint8)
    p = prepare(rgb, min_side=64, pad=16)
    assert p.scale == 2.0 and p.array.shape == (32 * 2 + 32, 96 * 2 + 32, 3)
    assert tuple(p.array[0, 0]) == (30, 200, 10)   # BGR, edge colour padding
    box = [[16 + 20, 16 + 10], [16 + 60, 16 + 10], [16 + 60, 16 + 30], [16 + 20, 16 + 30]]
    assert unmap_box(box, p, 96, 32) == [[10.0, 5.0], [30.0, 5.0], [30.0, 15.0], [10.0, 15.0]]
    # auto padding: a clean, large image is passed as is; text cut by the frame gets padded
    clean = np.asarray(render_text("MIDDLE", size=(320, 96), font=latin_fonts()[0], font_size=30))
    assert prepare(clean).pad == 0 and prepare(clean, pad_mode="always").pad == 16
    cut = np.asarray(render_text("EDGE", size=(200, 60), font=latin_fonts()[0], font_size=44, pos=(0.0, 0.05)))
    assert prepare(cut).pad == 16


def test_optional_backends_fail_with_one_clear_line(tmp_path, monkeypatch) -> None:
    """paddleocr needs local model folders; both optional backends name the missing package, at
    construction (before anything is rendered). A None entry in sys.modules hides a package."""
    det, rec = tmp_path / "PP-OCRv5_mobile_det", tmp_path / "PP-OCRv5_mobile_rec"
    with pytest.raises(EvalsuiteError, match="rec_model_dir .* is not a folder"):
        OCRJudge(backend="paddleocr", backend_options={"det_model_dir": str(tmp_path), "rec_model_dir": str(rec)})
    det.mkdir()
    rec.mkdir()
    monkeypatch.setitem(sys.modules, "paddleocr", None)
    monkeypatch.setitem(sys.modules, "pytesseract", None)
    with pytest.raises(EvalsuiteError, match="needs paddleocr"):
        OCRJudge(backend="paddleocr", backend_options={"det_model_dir": str(det), "rec_model_dir": str(rec)})
    with pytest.raises(EvalsuiteError, match="needs pytesseract"):
        OCRJudge(backend="tesseract")
    # 'auto' picks paddleocr only when it is installed and both model folders are given (the
    # installed case: tests/judges/test_ocr_paddle.py, with a stand-in module)
    assert OCRJudge().config["backend"] == "rapidocr"
    auto = OCRJudge(det_model_dir=str(det), rec_model_dir=str(rec))
    assert auto.config["backend"] == "rapidocr" and auto.judge_id() == OCRJudge().judge_id()


def test_tesseract_backend_when_installed() -> None:
    """The optional tesseract backend on clean flat text (tesseract + pytesseract are test deps)."""
    import importlib.util
    import shutil

    require(importlib.util.find_spec("pytesseract") is not None and shutil.which("tesseract") is not None,
            "the tesseract backend", "apt-get install tesseract-ocr tesseract-ocr-eng; pip install pytesseract")
    j = OCRJudge(backend="tesseract")
    font = latin_fonts()[0]
    items = [make_item(make_case("t1", ["HELLO WORLD"]), render_text("HELLO WORLD", size=(400, 120), font=font, font_size=40)),
             make_item(make_case("t2", ["OPEN DAILY", "FRESH BREAD"]),
                       render_text("OPEN DAILY\nFRESH BREAD", size=(400, 200), font=font, font_size=36))]
    v = judge_verdicts(j, items)
    for cid in ("t1", "t2"):
        m = by_metric(v, cid)
        assert m["exact_match"].value == 1.0, m["ned"].detail["text"]
        assert all(0 <= x <= 400 and 0 <= y <= 200 for ln in m["ned"].detail["lines"] for x, y in ln["box"])


def test_deterministic(ocr_judge: OCRJudge) -> None:
    img = render_text("REPEAT 42", size=(300, 90), font=latin_fonts()[1 % len(latin_fonts())], font_size=34)
    it = make_item(make_case("r", ["REPEAT 42"]), img)
    a, b = judge_verdicts(ocr_judge, [it]), judge_verdicts(ocr_judge, [it])
    assert [(v.metric, v.value, v.detail["lines"]) for v in a] == [(v.metric, v.value, v.detail["lines"]) for v in b]
