"""`evalsuite score`: a folder of images rendered elsewhere (and the teacher's), scored by the real
OCR (rapidocr), flat-background and fidelity judges through the CLI entry point."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from evalsuite.cli.main import main

REPO = Path(__file__).resolve().parents[2]
FONT = REPO / "distill" / "assets" / "fonts" / "DejaVuSans.ttf"
WORDS = ["HARVEST", "Open Daily", "SALE 42", "Fresh Bread"]
BG = (235, 230, 215)       # away from 255 so that the added noise is not clipped
FG = (30, 30, 40)
SIZE = (320, 96)
SIGMA = 4.0


def draw(text: str) -> Image.Image:
    im = Image.new("RGB", SIZE, BG)
    d = ImageDraw.Draw(im)
    f = ImageFont.truetype(str(FONT), 34)
    d.text((SIZE[0] / 2, SIZE[1] / 2), text, font=f, fill=FG, anchor="mm")
    return im


def noisy(im: Image.Image, seed: int) -> Image.Image:
    a = np.asarray(im, np.float64) + np.random.default_rng(seed).normal(0, SIGMA, (SIZE[1], SIZE[0], 3))
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8))


@pytest.fixture
def score_inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "pack.yaml").write_text("name: score-test\nversion: 1\ndescription: clean text images\n"
                                    "judges: [ocr]\ndefaults:\n  width: 320\n  height: 96\n  seeds: [0, 1]\n")
    rows = [{"id": f"w{i}", "kind": "t2i", "prompt": f'A sign that says "{w}"', "expected_text": [w],
             "background": {"color": "#EBE6D7"}, "tags": ["sign"]} for i, w in enumerate(WORDS)]
    (pack / "cases.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    student, teacher = tmp_path / "student", tmp_path / "teacher"
    student.mkdir()
    (teacher / "w0").mkdir(parents=True)
    for i, w in enumerate(WORDS):
        for seed in (0, 1):
            clean = draw(w)
            noisy(clean, 10 * i + seed).save(student / f"w{i}_s{seed}.png")      # <case_id>_s<seed>.png
            # the other naming, <case_id>/<seed>.png, for one teacher case
            clean.save(teacher / "w0" / f"{seed}.png" if i == 0 else teacher / f"w{i}_s{seed}.png")
    return pack, student, teacher


def test_score_folder_with_teacher_images(score_inputs, tmp_path, capsys) -> None:
    pack, student, teacher = score_inputs
    argv = ["score", "--pack", str(pack), "--images", str(student), "--teacher-images", str(teacher),
            "--judges", "ocr,flatbg,fidelity", "--run-dir", str(tmp_path / "run"), "--json"]
    assert main(argv) == 0
    s = json.loads(capsys.readouterr().out)
    st, te, d = s["metrics"]["student"], s["metrics"]["teacher"], s["deltas"]
    n = len(WORDS) * 2
    # OCR on clean, legible text: everything read, nothing hallucinated
    for m in (st, te):
        assert m["ocr.word_recall"]["n"] == n and m["ocr.word_recall"]["failures"] == 0
        assert m["ocr.word_recall"]["mean"] >= 0.9 and m["ocr.word_precision"]["mean"] >= 0.9
    assert te["ocr.exact_match"]["mean"] == 1.0
    # typography error counts per role (summary["typography"]["ocr"]) agree with the err_* means
    typo = s["typography"]["ocr"]
    assert typo["teacher"]["images"] == n and typo["teacher"]["images_with_errors"] == 0
    for role, m in (("student", st), ("teacher", te)):
        for k, total in typo[role]["errors"].items():
            assert total == pytest.approx(m[f"ocr.err_{k}"]["mean"] * n), (role, k)
    # flat background: the student carries sigma-4 grain, the teacher none
    assert st["flatbg.sigma"]["mean"] == pytest.approx(SIGMA, rel=0.1)
    assert te["flatbg.sigma"]["mean"] < 0.3
    assert st["flatbg.color_error"]["mean"] < 1.0 and te["flatbg.color_error"]["mean"] < 0.5
    assert st["flatbg.sigma_ratio"]["n"] == n and "flatbg.sigma_ratio" not in te
    assert st["flatbg.sigma_ratio"]["mean"] == pytest.approx((SIGMA + 0.1) / 0.1, rel=0.1)   # eps = 0.1
    # fidelity to the teacher: PSNR of unclipped Gaussian noise is 20 log10(255 / sigma)
    assert st["fidelity.psnr"]["n"] == n and "fidelity.psnr" not in te
    assert st["fidelity.psnr"]["mean"] == pytest.approx(20 * math.log10(255 / SIGMA), abs=0.5)
    assert 0.2 < st["fidelity.ssim"]["mean"] < 0.95
    # paired deltas (student - teacher) on the same (case, seed)
    assert d["flatbg.sigma"]["n"] == n and d["flatbg.sigma"]["mean"] == pytest.approx(SIGMA, rel=0.15)
    assert d["flatbg.sigma"]["significant"] and not d["flatbg.sigma"]["student_better"]
    assert d["ocr.word_recall"]["n"] == n and abs(d["ocr.word_recall"]["mean"]) <= 0.1
    assert s["timing"]["rendered"] == 2 * n
    # re-running the same command does no work and gives the same numbers
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["timing"]["rendered"] == 0 and again["timing"]["judged"] == 0
    assert again["metrics"] == s["metrics"]


def test_score_missing_image_is_one_line(score_inputs, tmp_path, capsys) -> None:
    pack, student, _ = score_inputs
    (student / "w2_s1.png").unlink()
    rc = main(["score", "--pack", str(pack), "--images", str(student), "--judges", "ocr",
               "--run-dir", str(tmp_path / "run"), "--json"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "case 'w2' seed 1" in err and "w2_s1.png" in err
