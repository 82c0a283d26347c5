"""Generate the source images of the `edit` pack (benchmarks/edit/assets/) deterministically.

Simple, clean 512x512 scenes drawn with PIL: flat backgrounds, shapes and signs with words, so
that an edit's expected result is known (which text must appear, which flat colour must stay).
The PNGs are committed beside this script; re-running it on the same fonts reproduces them pixel
for pixel (tests/test_packs.py checks that).

    python scripts/make_edit_assets.py [--out DIR]

Fonts: DejaVu Sans Bold (Latin) and WenQuanYi Micro Hei or Noto Sans CJK (Chinese), looked up in
the usual system folders (Debian packages fonts-dejavu-core, fonts-wqy-microhei / fonts-noto-cjk).
The colours below are the ones benchmarks/edit/cases.jsonl names in its background specs.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

logger = logging.getLogger(__name__)

SIZE = 512
REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "benchmarks" / "edit" / "assets"

LATIN_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
               str(REPO / "distill" / "assets" / "fonts" / "DejaVuSans-Bold.ttf"))
CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
             "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
             "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")

# Flat colours the cases refer to (kept in one place so cases.jsonl and the images agree).
WALL_GREY = "#D9D9D9"
DEEP_BLUE = "#2F5DA8"
WHITE = "#FFFFFF"
SALE_RED = "#C1121F"
CREAM = "#EFE6D8"
SKY = "#8EC9F0"
LANDSCAPE_SKY = "#9ED8F5"
PALE_CREAM = "#FFF8E7"
BADGE_GREY = "#E5E5E5"


def find_font(candidates: tuple[str, ...]) -> str:
    """First existing font file; a clear error naming what to install otherwise."""
    for c in candidates:
        if Path(c).is_file():
            return c
    raise SystemExit(f"make_edit_assets: no font found (tried {', '.join(candidates)}); "
                     "install fonts-dejavu-core and fonts-wqy-microhei")


def font(size: int, cjk: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(find_font(CJK_FONTS if cjk else LATIN_FONTS), size)


def canvas(color: str) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("RGB", (SIZE, SIZE), color)
    return img, ImageDraw.Draw(img)


def sign_open() -> Image.Image:
    """A dark green shop sign reading OPEN on a plain light grey wall."""
    img, d = canvas(WALL_GREY)
    d.rounded_rectangle((96, 176, 416, 336), radius=18, fill="#1E6B3A", outline="#F2F2F2", width=6)
    d.text((256, 256), "OPEN", font=font(92), fill="#FFFFFF", anchor="mm")
    return img


def circle_blue() -> Image.Image:
    """A red disc centred on a flat deep blue background."""
    img, d = canvas(DEEP_BLUE)
    d.ellipse((146, 146, 366, 366), fill="#D62828")
    return img


def shapes_white() -> Image.Image:
    """A blue square, a green triangle and an orange circle in a row on white."""
    img, d = canvas(WHITE)
    d.rectangle((48, 200, 160, 312), fill="#1F77B4")
    d.polygon([(256, 196), (312, 312), (200, 312)], fill="#2CA02C")
    d.ellipse((352, 200, 464, 312), fill="#FF7F0E")
    return img


def sale_poster() -> Image.Image:
    """A red poster: SALE above 50% OFF in white."""
    img, d = canvas(SALE_RED)
    d.text((256, 210), "SALE", font=font(120), fill="#FFFFFF", anchor="mm")
    d.text((256, 330), "50% OFF", font=font(64), fill="#FFFFFF", anchor="mm")
    return img


def mug_coffee() -> Image.Image:
    """A white mug with COFFEE on it on a flat cream background."""
    img, d = canvas(CREAM)
    d.ellipse((330, 230, 420, 350), outline="#3A3A3A", width=14)            # handle
    d.rounded_rectangle((130, 170, 370, 410), radius=22, fill="#FFFFFF", outline="#3A3A3A", width=6)
    d.text((250, 290), "COFFEE", font=font(44), fill="#6B3E26", anchor="mm")
    return img


def street_sign() -> Image.Image:
    """A green street sign reading MAIN ST on a grey pole against a flat sky."""
    img, d = canvas(SKY)
    d.rectangle((244, 250, 268, 512), fill="#7A7A7A")
    d.rectangle((86, 170, 426, 260), fill="#1B7340", outline="#FFFFFF", width=5)
    d.text((256, 215), "MAIN ST", font=font(58), fill="#FFFFFF", anchor="mm")
    return img


def price_tag() -> Image.Image:
    """A yellow price tag reading $9.99 on white."""
    img, d = canvas(WHITE)
    d.polygon([(96, 256), (156, 176), (416, 176), (416, 336), (156, 336)], fill="#F6C90E",
              outline="#3A3A3A")
    d.ellipse((132, 244, 156, 268), fill=WHITE, outline="#3A3A3A", width=3)  # string hole
    d.text((288, 256), "$9.99", font=font(70), fill="#111111", anchor="mm")
    return img


def landscape() -> Image.Image:
    """Flat sky over green ground, a yellow sun top right and a small house bottom left."""
    img, d = canvas(LANDSCAPE_SKY)
    d.rectangle((0, 320, 512, 512), fill="#5DAA4F")
    d.ellipse((372, 52, 460, 140), fill="#FFD23F")
    d.rectangle((80, 300, 200, 400), fill="#C0392B")
    d.polygon([(64, 300), (140, 236), (216, 300)], fill="#7B4A2A")
    d.rectangle((126, 350, 154, 400), fill="#5A3A22")
    return img


def zh_banner() -> Image.Image:
    """A red banner reading 欢迎光临 in gold on a pale cream background."""
    img, d = canvas(PALE_CREAM)
    d.rectangle((56, 196, 456, 316), fill="#B22222")
    d.text((256, 256), "欢迎光临", font=font(84, cjk=True), fill="#FFD700", anchor="mm")
    return img


def name_badge() -> Image.Image:
    """A name badge: HELLO on a blue band, ANNA on white, on a flat light grey background."""
    img, d = canvas(BADGE_GREY)
    d.rounded_rectangle((76, 136, 436, 376), radius=20, fill="#FFFFFF", outline="#1D4E89", width=6)
    d.rounded_rectangle((76, 136, 436, 216), radius=20, fill="#1D4E89")
    d.rectangle((79, 190, 433, 216), fill="#1D4E89")
    d.text((256, 178), "HELLO", font=font(52), fill="#FFFFFF", anchor="mm")
    d.text((256, 298), "ANNA", font=font(88), fill="#111111", anchor="mm")
    return img


SCENES: dict[str, Callable[[], Image.Image]] = {
    "sign_open.png": sign_open,
    "circle_blue.png": circle_blue,
    "shapes_white.png": shapes_white,
    "sale_poster.png": sale_poster,
    "mug_coffee.png": mug_coffee,
    "street_sign.png": street_sign,
    "price_tag.png": price_tag,
    "landscape.png": landscape,
    "zh_banner.png": zh_banner,
    "name_badge.png": name_badge,
}


def make_all(out: Path) -> list[Path]:
    """Draw every scene into `out` and return the written paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in SCENES.items():
        path = out / name
        draw().save(path, format="PNG")
        written.append(path)
        logger.info("wrote %s", path)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    make_all(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
