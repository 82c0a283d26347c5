"""Drawing helpers for the known-truth suites: fonts, text images, items."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from evalsuite.types import BackgroundSpec, Case, EvalsuiteError, JudgeInput, image_sha256

SHIPPED_FONTS = Path(__file__).resolve().parents[2] / "distill" / "assets" / "fonts"
FONT_DIRS = ["/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".fonts"),
             "/System/Library/Fonts", "/Library/Fonts", "C:/Windows/Fonts"]
CJK_PATTERNS = ["NotoSansCJK-Regular.ttc", "NotoSansCJK*.ttc", "wqy-microhei.ttc", "wqy-zenhei.ttc",
                "NotoSansSC*.otf", "SourceHanSans*.otf", "msyh.ttc", "simhei.ttf"]


def latin_fonts() -> list[Path]:
    """The four DejaVu faces shipped in distill/assets/fonts (always present: the suite must
    draw the same images on every machine)."""
    fonts = [SHIPPED_FONTS / f for f in ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSans-Bold.ttf",
                                         "DejaVuSansMono.ttf")]
    missing = [str(f) for f in fonts if not f.is_file()]
    if missing:
        raise EvalsuiteError(f"validity suite: shipped font(s) missing: {', '.join(missing)}")
    return fonts


def cjk_font() -> Path:
    """A font with Chinese glyphs; a one-line error naming the packages when there is none."""
    for d in FONT_DIRS:
        for pat in CJK_PATTERNS:
            hits = sorted(glob.glob(os.path.join(d, "**", pat), recursive=True))
            if hits:
                return Path(hits[0])
    raise EvalsuiteError("validity suite: no CJK font found (install fonts-noto-cjk or fonts-wqy-microhei)")


def draw_text(text: str, size: tuple[int, int], font: Path, px: int, fg: tuple[int, int, int],
              bg: tuple[int, int, int], pos: tuple[float, float] = (0.5, 0.5),
              angle: float = 0.0) -> Image.Image:
    """`text` in `font` at `px` pixels, centred near fractional `pos` and kept inside the image
    (a line too wide for it is broken at the space nearest its middle), optionally rotated."""
    f = ImageFont.truetype(str(font), px)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    if "\n" not in text and " " in text and probe.textlength(text, font=f) + px > 0.94 * size[0]:
        spaces = [i for i, ch in enumerate(text) if ch == " "]
        mid = min(spaces, key=lambda i: abs(i - len(text) / 2))
        text = text[:mid] + "\n" + text[mid + 1:]
    x0, y0, x1, y1 = probe.multiline_textbbox((0, 0), text, font=f, spacing=px // 4, align="center")
    w, h = int(round(x1 - x0)) + 2 * px // 3, int(round(y1 - y0)) + 2 * px // 3
    tile = Image.new("RGBA", (w, h), (*bg, 0))
    ImageDraw.Draw(tile).multiline_text((px // 3 - x0, px // 3 - y0), text, font=f, fill=(*fg, 255),
                                        spacing=px // 4, align="center")
    if angle:
        tile = tile.rotate(angle, resample=Image.BICUBIC, expand=True)
    im = Image.new("RGB", size, bg)
    x = min(max(0, int(pos[0] * size[0] - tile.width / 2)), max(0, size[0] - tile.width))
    y = min(max(0, int(pos[1] * size[1] - tile.height / 2)), max(0, size[1] - tile.height))
    im.paste(tile, (x, y), tile)
    return im


def case(case_id: str, kind: str = "t2i", expected_text: Sequence[str] = (),
         background: BackgroundSpec | None = None, prompt: str = "known-truth item") -> Case:
    return Case(id=case_id, kind=kind, prompt=prompt, seeds=(0,), expected_text=tuple(expected_text),
                background=background)


def item(c: Case, image: Image.Image, seed: int = 0, teacher: Image.Image | None = None,
         source: Image.Image | None = None) -> JudgeInput:
    return JudgeInput(case=c, seed=seed, image=image, image_hash=image_sha256(image),
                      teacher_image=teacher, teacher_hash=image_sha256(teacher) if teacher else None,
                      source_image=source)
