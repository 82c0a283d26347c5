"""Strict typography on real images: PIL-drawn text in several fonts and sizes (down to small
print), read by the real rapidocr engine. A planted micro-typography error ("$9.99" drawn as
"$999") must fail the strict headline metrics and pass the loose ones; the same text drawn
correctly must pass strict. Missing fonts or tesseract fail under CI (CI=true) instead of skipping."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from evalsuite.runner import judge_verdicts
from judges.ocr import CROSS_METRIC, OCRJudge
from judges.ocr_backends import OCRBackend, OCRLine, OCRResult, importable
from tests.judges.conftest import make_case, make_item, render_text
from tests.requirements import require

ROOT = Path(__file__).resolve().parents[2]
FONTS = {
    "dejavu-sans": ROOT / "distill/assets/fonts/DejaVuSans.ttf",
    "dejavu-serif": ROOT / "distill/assets/fonts/DejaVuSerif.ttf",
    "dejavu-bold": ROOT / "distill/assets/fonts/DejaVuSans-Bold.ttf",
    "dejavu-mono": ROOT / "distill/assets/fonts/DejaVuSansMono.ttf",
    "noto-cjk": Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    "wqy": Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
}
# (font, font size, canvas): normal, small print (16 px on 200x48) and in between
STYLES = [("dejavu-sans", 40, (360, 110)), ("dejavu-serif", 16, (200, 48)), ("dejavu-bold", 28, (300, 80)),
          ("noto-cjk", 40, (360, 110)), ("dejavu-mono", 24, (260, 70)), ("noto-cjk", 16, (200, 48))]
# expected text, what is drawn instead, the error class the strict comparison must name
PLANTED = [("$9.99", "$999", "punctuation"), ("50% OFF!", "50 OFF", "punctuation"),
           ("2026-11-22", "20261122", "punctuation"), ("SALE", "sale", "case")]


def need(ok: bool, what: str) -> None:
    """A missing test dependency fails the test (tests/requirements.py; no silent skips)."""
    require(ok, what, "apt-get install fonts-noto-cjk tesseract-ocr; pip install pytesseract")


def font(name: str) -> str:
    need(FONTS[name].is_file(), f"font {FONTS[name]} ({name})")
    return str(FONTS[name])


def by_metric(verdicts, case_id):
    return {v.metric: v for v in verdicts if v.case_id == case_id}


def test_planted_typos_fail_strict_pass_loose_across_fonts_and_sizes(ocr_judge: OCRJudge) -> None:
    items, plan = [], []
    for k, (expected, drawn, kind) in enumerate(PLANTED):
        # O and 0 are one glyph apart in the mono font: keep "OFF" out of it (and every pair sees
        # two different styles: the planted image and the correctly drawn control)
        for s in (k, k + len(PLANTED) // 2 + 1):
            fname, fs, size = STYLES[s % len(STYLES)]
            if fname == "dejavu-mono" and "O" in expected:
                fname = "dejavu-sans"
            for text, role in ((drawn, "planted"), (expected, "control")):
                cid = f"{role}-{k}-{fname}-{fs}"
                img = render_text(text, size=size, font=font(fname), font_size=fs)
                items.append(make_item(make_case(cid, [expected]), img))
                plan.append((cid, role, expected, kind))
    verdicts = judge_verdicts(ocr_judge, items)
    assert all(v.ok for v in verdicts)
    for cid, role, expected, kind in plan:
        m = by_metric(verdicts, cid)
        read = m["exact_match"].detail["text"]
        if role == "control":   # drawn as written: strict passes, no errors
            assert m["exact_match"].value == 1.0 and m["ned"].value == 1.0, (cid, read)
            assert m["word_recall"].value == 1.0 and m["exact_match"].detail["errors"] == [], (cid, read)
        else:                   # planted typo: strict fails, loose passes, the class is named
            assert m["exact_match"].value == 0.0 and m["ned"].value < 1.0, (cid, read)
            assert m["exact_match_loose"].value == 1.0 and m["ned_loose"].value == 1.0, (cid, read)
            assert m["word_recall"].value < m["word_recall_loose"].value, (cid, read)
            assert m[f"err_{kind}"].value >= 1.0, (cid, read, m["exact_match"].detail["errors"])
            assert {e["kind"] for e in m["exact_match"].detail["errors"]} == {kind}, (cid, read)


def test_diacritics_and_cjk_per_character_on_real_images(ocr_judge: OCRJudge) -> None:
    cases = []   # (case id, expected, drawn, font, size, canvas)
    for fname, fs, size in (("dejavu-serif", 36, (300, 90)), ("dejavu-sans", 16, (200, 48))):
        cases += [(f"cafe-ok-{fname}", "café", "café", fname, fs, size),
                  (f"cafe-bare-{fname}", "café", "cafe", fname, fs, size)]
    for fname, fs, size in (("noto-cjk", 44, (400, 110)), ("wqy", 20, (220, 56))):
        cases += [(f"zh-ok-{fname}", "春节快乐", "春节快乐", fname, fs, size),
                  (f"zh-missing-{fname}", "春节快乐", "春节快", fname, fs, size),
                  (f"mixed-case-{fname}", "SALE 大减价", "sale 大减价", fname, fs, size),
                  (f"ja-{fname}", "セール 50%", "セール 50%", fname, fs, size)]
    items = [make_item(make_case(cid, [exp]), render_text(drawn, size=size, font=font(f), font_size=fs))
             for cid, exp, drawn, f, fs, size in cases]
    v = judge_verdicts(ocr_judge, items)
    for cid, exp, drawn, f, fs, size in cases:
        m = by_metric(v, cid)
        read, counts = m["ned"].detail["text"], m["ned"].detail["error_counts"]
        if drawn == exp:
            assert m["exact_match"].value == 1.0 and sum(counts.values()) == 0, (cid, read)
        elif cid.startswith("cafe-bare"):   # a dropped accent is a substitution (strict and loose)
            assert m["exact_match"].value == 0.0 and counts["substitution"] == 1, (cid, read)
            assert m["ned"].value == pytest.approx(0.75), (cid, read)
        elif cid.startswith("zh-missing"):  # one character of four: per-character scoring
            assert m["word_recall"].value == 0.75 and m["ned"].value == 0.75, (cid, read)
            assert counts["missing"] == 1 and sum(counts.values()) == 1, (cid, read)
        else:                               # mixed Latin + CJK: the case error alone
            assert m["exact_match"].value == 0.0 and m["exact_match_loose"].value == 1.0, (cid, read)
            assert counts["case"] == 1 and sum(counts.values()) == 1, (cid, read)


class _Reading(OCRBackend):
    """Test double for the second engine: a fixed reading per image."""
    name = "fixed"

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def read(self, images):
        return [OCRResult([OCRLine(t, [[0, 0], [1, 0], [1, 1], [0, 1]], 0.9)]) for t in self.texts[:len(images)]]


def test_cross_check_with_tesseract_on_real_images() -> None:
    """Both real engines read clean large text alike (no flag); a second engine that reads other
    text (a double standing in for a disagreeing engine) flags the image, with both readings."""
    need(importable("pytesseract") and shutil.which("tesseract") is not None, "tesseract + pytesseract")
    j = OCRJudge(cross_check="tesseract")
    assert j.config["cross_check"] == "tesseract" and j.judge_id() != OCRJudge().judge_id()
    texts = ["SALE", "Grand Opening"]
    items = [make_item(make_case(f"x{i}", [t]), render_text(t, size=(400, 110), font=font("dejavu-sans"), font_size=44))
             for i, t in enumerate(texts)]
    v = judge_verdicts(j, items)
    for i, t in enumerate(texts):
        m = by_metric(v, f"x{i}")
        cc = m[CROSS_METRIC].detail["cross_check"]
        assert m[CROSS_METRIC].value == 0.0 and cc["backend"] == "tesseract", cc
        assert cc["text"].strip() == t and m["exact_match"].value == 1.0
    j._cross = _Reading(["SALE", "$999"])
    items = [make_item(make_case(f"y{k}", ["$9.99"]),
                       render_text("$9.99", size=(360, 110), font=font(f), font_size=40))
             for k, f in enumerate(("dejavu-sans", "dejavu-serif"))]
    v = judge_verdicts(j, items)
    for cid, other in (("y0", "SALE"), ("y1", "$999")):
        m = by_metric(v, cid)
        cc = m[CROSS_METRIC].detail["cross_check"]
        assert m[CROSS_METRIC].value == 1.0 and cc["text"] == other and m[CROSS_METRIC].detail["text"] == "$9.99"
        assert cc["exact_match"] == {"primary": 1.0, "secondary": 0.0}
    j.close()


def test_cross_check_failure_fails_only_its_metric() -> None:
    class Broken(OCRBackend):
        name = "broken"

        def read(self, images):
            raise RuntimeError("second engine crashed")

    need(importable("pytesseract") and shutil.which("tesseract") is not None, "tesseract + pytesseract")
    j = OCRJudge(cross_check="tesseract")
    j._backend, j._cross = _Reading(["HELLO"]), Broken()
    v = judge_verdicts(j, [make_item(make_case("z", ["HELLO"]), Image.new("RGB", (64, 64)))])
    m = by_metric(v, "z")
    assert not m[CROSS_METRIC].ok and "second engine crashed" in m[CROSS_METRIC].error
    assert m["exact_match"].ok and m["exact_match"].value == 1.0
    from evalsuite.types import EvalsuiteError
    with pytest.raises(EvalsuiteError, match="cross_check 'rapidocr' is the main backend"):
        OCRJudge(cross_check="rapidocr")
    with pytest.raises(EvalsuiteError, match="did you mean 'tesseract'"):
        OCRJudge(cross_check="tesserct")
