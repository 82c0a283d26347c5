"""Shared helpers for judge tests: PIL text rendering with real fonts, synthetic noisy backgrounds,
and one real OCR judge per session (the rapidocr models load once)."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from evalsuite.types import BackgroundSpec, Case, JudgeInput, image_sha256

FONT_DIRS = ["/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".fonts"),
             "/System/Library/Fonts", "/Library/Fonts", "C:/Windows/Fonts"]


def find_fonts(patterns: Sequence[str]) -> list[str]:
    """Font files whose name matches one of the glob patterns, in the usual font folders."""
    found: list[str] = []
    for d in FONT_DIRS:
        for pat in patterns:
            found += sorted(glob.glob(os.path.join(d, "**", pat), recursive=True))
    return list(dict.fromkeys(found))


def latin_fonts() -> list[str]:
    """A few distinct Latin fonts (sans, serif, bold, mono); PIL's built-in font as the fallback."""
    prefs = ["DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf",
             "DejaVuSerif-Bold.ttf", "LiberationSans-Regular.ttf", "LiberationSerif-Regular.ttf",
             "Arial.ttf", "Times New Roman.ttf", "Verdana.ttf"]
    fonts = find_fonts(prefs)
    return fonts[:5]


def cjk_font() -> str | None:
    """A font with Chinese glyphs, or None (the Chinese OCR test is then skipped explicitly)."""
    fonts = find_fonts(["wqy-microhei.ttc", "wqy-zenhei.ttc", "NotoSansCJK*.ttc", "NotoSansSC*.otf",
                        "NotoSansCJKsc*.otf", "SourceHanSans*.otf", "SourceHanSans*.ttc",
                        "PingFang*.ttc", "msyh.ttc", "simhei.ttf", "DroidSansFallback*.ttf",
                        "uming.ttc", "ukai.ttc"])
    return fonts[0] if fonts else None


def render_text(text: str, size: tuple[int, int] = (320, 96), font: str | None = None,
                font_size: int = 32, fg: tuple[int, int, int] = (0, 0, 0),
                bg: tuple[int, int, int] = (255, 255, 255), spacing: int = 6,
                pos: tuple[float, float] | None = None) -> Image.Image:
    """Text drawn with PIL, centred (or with its top-left at fractional `pos`), on a flat colour."""
    im = Image.new("RGB", size, bg)
    d = ImageDraw.Draw(im)
    f = ImageFont.truetype(font, font_size) if font else ImageFont.load_default(font_size)
    x0, y0, x1, y1 = d.multiline_textbbox((0, 0), text, font=f, spacing=spacing, align="center")
    if pos is None:
        x, y = (size[0] - (x1 - x0)) / 2 - x0, (size[1] - (y1 - y0)) / 2 - y0
    else:
        x, y = pos[0] * size[0] - x0, pos[1] * size[1] - y0
    d.multiline_text((x, y), text, font=f, fill=fg, spacing=spacing, align="center")
    return im


def add_noise(image: Image.Image | np.ndarray, sigma: float, seed: int = 0) -> Image.Image:
    """Gaussian noise of standard deviation `sigma` (0-255 units), rounded and clipped to uint8."""
    arr = np.asarray(image, dtype=np.float64)
    rng = np.random.default_rng(seed)
    out = np.clip(np.rint(arr + rng.normal(0.0, sigma, arr.shape)), 0, 255).astype(np.uint8)
    return Image.fromarray(out)


def flat(size: tuple[int, int], color: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", size, color)


def make_case(case_id: str = "c1", expected_text: Sequence[str] = (), kind: str = "t2i",
              background: BackgroundSpec | None = None, seeds: Sequence[int] = (0,),
              prompt: str = "a test prompt") -> Case:
    return Case(id=case_id, kind=kind, prompt=prompt, seeds=tuple(seeds),
                expected_text=tuple(expected_text), background=background)


def make_item(case: Case, image: Image.Image, seed: int = 0, teacher: Image.Image | None = None,
              source: Image.Image | None = None, role: str = "student") -> JudgeInput:
    return JudgeInput(case=case, seed=seed, image=image, image_hash=image_sha256(image), role=role,
                      teacher_image=teacher, teacher_hash=image_sha256(teacher) if teacher else None,
                      source_image=source)


@pytest.fixture(scope="session")
def ocr_judge():
    """One real rapidocr-backed OCR judge for the whole session."""
    from judges.ocr import OCRJudge
    j = OCRJudge()
    yield j
    j.close()


@pytest.fixture
def text_image() -> Callable[..., Image.Image]:
    return render_text
