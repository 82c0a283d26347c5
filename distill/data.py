"""Synthetic training data for the tiny flow models, generated on the fly and deterministic by seed.

Categories (t2i):
  typography  a word in one of 4 fonts, 3 sizes, 8 colours, 3 positions on a flat background
  figures     a single flat shape on a flat background (the clean, "portraits"-role category)
  cluttered   typography drawn over random shapes (the mixed/cluttered category)
Edit triplets (source, instruction, target) on typography images:
  recolour the background, recolour the text, replace the word.

Prompts follow a small grammar (`prompt_for`, `edit_prompt`) that the shipped packs use too. The
same (seed, index) always yields the same sample on every machine: the fonts ship in
distill/assets/fonts and all randomness comes from numpy Generators seeded by the key.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

logger = logging.getLogger(__name__)

HEIGHT, WIDTH = 32, 96
FONT_DIR = Path(__file__).resolve().parent / "assets" / "fonts"

WORDS: tuple[str, ...] = (
    "CAT", "DOG", "SUN", "MAP", "BOX", "FOX", "OWL", "BUS", "KEY", "PEN", "CUP", "HAT",
    "SALE", "OPEN", "STOP", "MENU", "TAXI", "CAFE", "BOOK", "FISH", "LAMP", "ROSE", "MILK", "JAZZ",
)
# Never in training data: the held-out words of benchmarks/typography-heldout (same letters as
# WORDS, new spellings), to tell spelling apart from memorised word pictures.
HELDOUT_WORDS: tuple[str, ...] = (
    "BEAR", "CODE", "LION", "NOTE", "MOON", "FROG", "DUCK", "STAR", "TREE", "WOLF", "SHIP", "GOLD",
    "RAIN", "SNOW", "BIKE", "CAKE",
)
FONTS: dict[str, str] = {
    "sans": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf",
    "serif": "DejaVuSerif.ttf", "mono": "DejaVuSansMono.ttf",
}
SIZES: dict[str, int] = {"small": 11, "medium": 14, "large": 18}
COLORS: dict[str, tuple[int, int, int]] = {
    "white": (245, 245, 240), "black": (20, 20, 25), "red": (215, 40, 40),
    "green": (30, 150, 60), "blue": (40, 70, 210), "yellow": (245, 205, 40),
    "orange": (240, 130, 30), "purple": (130, 50, 180),
}
POSITIONS: tuple[str, ...] = ("left", "center", "right")
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "ring")
CATEGORIES: tuple[str, ...] = ("typography", "figures", "cluttered")
EDIT_OPS: tuple[str, ...] = ("background", "textcolor", "word")
Task = Literal["t2i", "edit"]

# Grammar words (besides WORDS, COLORS, FONTS, SIZES, POSITIONS, SHAPES) for the text encoder vocab.
GRAMMAR_WORDS: tuple[str, ...] = (
    "in", "letters", "on", "a", "background", "with", "clutter", "change", "the", "to", "make",
    "text", "replace", "word",
)


def _luma(rgb: tuple[int, int, int]) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def contrasts(fg: str, bg: str) -> bool:
    """Whether text colour `fg` is legible on background `bg` (luma gap of at least 60)."""
    return fg != bg and abs(_luma(COLORS[fg]) - _luma(COLORS[bg])) >= 60


def vocabulary() -> list[str]:
    """All prompt tokens of the grammar, in a fixed order (index 0-1 reserved by the encoder)."""
    words = [w.lower() for w in WORDS] + list(COLORS) + list(FONTS) + list(SIZES)
    words += list(POSITIONS) + list(SHAPES) + list(GRAMMAR_WORDS)
    seen: dict[str, None] = {}
    for w in words:
        seen.setdefault(w, None)
    return list(seen)


@dataclass(frozen=True)
class TextSpec:
    """What a typography image shows; the prompt is a function of it alone."""

    word: str
    font: str
    size: str
    color: str
    bg: str
    pos: str
    clutter: bool = False


@dataclass(frozen=True)
class FigureSpec:
    shape: str
    color: str
    bg: str
    pos: str


def prompt_for(spec: TextSpec | FigureSpec) -> str:
    """The canonical prompt of a spec (the grammar the packs use)."""
    if isinstance(spec, FigureSpec):
        return f"a {spec.color} {spec.shape} on a {spec.bg} background, {spec.pos}"
    extra = " with clutter" if spec.clutter else ""
    return (f'"{spec.word}" in {spec.size} {spec.color} {spec.font} letters on a {spec.bg} '
            f"background{extra}, {spec.pos}")


def edit_prompt(op: str, value: str) -> str:
    if op == "background":
        return f"change the background to {value}"
    if op == "textcolor":
        return f"make the text {value}"
    if op == "word":
        return f'replace the word with "{value}"'
    raise ValueError(f"unknown edit op '{op}' (known: {', '.join(EDIT_OPS)})")


def edit_target(src: TextSpec, op: str, value: str) -> TextSpec:
    if op == "background":
        return replace(src, bg=value)
    if op == "textcolor":
        return replace(src, color=value)
    return replace(src, word=value)


@lru_cache(maxsize=32)
def _font(name: str, px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / FONTS[name]), px)


def sample_text_spec(rng: np.random.Generator, clutter: bool = False,
                     words: tuple[str, ...] = WORDS) -> TextSpec:
    bg = str(rng.choice(list(COLORS)))
    fgs = [c for c in COLORS if contrasts(c, bg)]
    return TextSpec(word=str(rng.choice(words)), font=str(rng.choice(list(FONTS))),
                    size=str(rng.choice(list(SIZES))), color=str(rng.choice(fgs)), bg=bg,
                    pos=str(rng.choice(POSITIONS)), clutter=clutter)


def sample_figure_spec(rng: np.random.Generator) -> FigureSpec:
    bg = str(rng.choice(list(COLORS)))
    fgs = [c for c in COLORS if contrasts(c, bg)]
    return FigureSpec(shape=str(rng.choice(SHAPES)), color=str(rng.choice(fgs)), bg=bg,
                      pos=str(rng.choice(POSITIONS)))


def text_box(spec: TextSpec, jitter: tuple[int, int] = (0, 0)) -> tuple[int, int, int, int]:
    """Pixel box (x0, y0, x1, y1) of the rendered word for a layout jitter (dx, dy)."""
    font = _font(spec.font, SIZES[spec.size])
    l, t, r, b = font.getbbox(spec.word)
    w, h = r - l, b - t
    margin = 5
    x = {"left": margin, "center": (WIDTH - w) // 2, "right": WIDTH - margin - w}[spec.pos]
    y = (HEIGHT - h) // 2
    x, y = x + jitter[0], y + jitter[1]
    return x, y, x + w, y + h


MAX_JITTER = 3


def free_region(spec: TextSpec) -> tuple[float, float, float, float]:
    """A rectangle (fractions of W, H) that stays pure background for every layout jitter."""
    x0, y0, x1, y1 = text_box(spec)
    x0, x1 = x0 - MAX_JITTER - 2, x1 + MAX_JITTER + 2
    left, right = max(0, x0), max(0, WIDTH - x1)
    if left >= right:
        return (0.0, 0.0, round(left / WIDTH, 4), 1.0)
    return (round(x1 / WIDTH, 4), 0.0, 1.0, 1.0)


def render_text(spec: TextSpec, layout_seed: int) -> Image.Image:
    """Render a typography spec; `layout_seed` picks the jitter and the clutter."""
    img = Image.new("RGB", (WIDTH, HEIGHT), COLORS[spec.bg])
    jitter = _layout(spec, layout_seed, ImageDraw.Draw(img))
    return _draw_word(img, spec, jitter, COLORS[spec.color])


def layout_map(spec: TextSpec, layout_seed: int | None = None) -> np.ndarray:
    """The letter-free layout condition of a typography spec, float32 [3, HEIGHT, WIDTH] in [-1, 1]:
    channel 0 is the word's box (1 inside, -1 outside), channel 1 the horizontal position across
    the box (-1 at its left edge to 1 at its right, 0 outside), channel 2 the vertical one. It says
    where the text goes and how big, never which letters: spelling reaches the model only through
    the text encoder (TinyTextEncoder's per-character tokens). With `layout_seed` the box is where
    render_text(spec, layout_seed) draws the word (training); without, at the nominal place of its
    position (what a prompt alone says: inference)."""
    jitter = (0, 0) if layout_seed is None else _layout(spec, layout_seed)
    x0, y0, x1, y1 = text_box(spec, jitter)
    out = np.zeros((3, HEIGHT, WIDTH), dtype=np.float32)
    out[0] = -1.0
    xa, xb, ya, yb = max(0, x0), min(WIDTH, x1 + 1), max(0, y0), min(HEIGHT, y1 + 1)
    if xb <= xa or yb <= ya:
        return out
    out[0, ya:yb, xa:xb] = 1.0
    xs = (np.arange(xa, xb, dtype=np.float32) + 0.5 - x0) / max(1, x1 + 1 - x0) * 2 - 1
    ys = (np.arange(ya, yb, dtype=np.float32) + 0.5 - y0) / max(1, y1 + 1 - y0) * 2 - 1
    out[1, ya:yb, xa:xb] = xs[None, :]
    out[2, ya:yb, xa:xb] = ys[:, None]
    return out


def _layout(spec: TextSpec, layout_seed: int, draw: ImageDraw.ImageDraw | None = None) -> tuple[int, int]:
    """The word's jitter (dx, dy) for `layout_seed`; with `draw`, also draws the clutter (the same
    random draws either way, so a layout map and its image agree)."""
    rng = np.random.default_rng([layout_seed, 7])
    if spec.clutter:
        others = [c for c in COLORS if c not in (spec.bg, spec.color)]
        for _ in range(int(rng.integers(3, 7))):
            col = COLORS[str(rng.choice(others))]
            cx, cy = int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT))
            r = int(rng.integers(2, 7))
            ellipse = rng.random() < 0.5
            if draw is not None:
                (draw.ellipse if ellipse else draw.rectangle)((cx - r, cy - r, cx + r, cy + r), fill=col)
    dx, dy = (int(v) for v in rng.integers(-MAX_JITTER, MAX_JITTER + 1, size=2))
    return dx, dy


def _draw_word(img: Image.Image, spec: TextSpec, jitter: tuple[int, int],
               fill: tuple[int, int, int]) -> Image.Image:
    x0, y0, _, _ = text_box(spec, jitter)
    font = _font(spec.font, SIZES[spec.size])
    l, t, _, _ = font.getbbox(spec.word)
    ImageDraw.Draw(img).text((x0 - l, y0 - t), spec.word, font=font, fill=fill)
    return img


_PROMPT_RE = re.compile(
    r'^"(?P<word>[^"]+)" in (?P<size>\w+) (?P<color>\w+) (?P<font>\w+) letters on an? (?P<bg>\w+) '
    r"background(?P<clutter> with clutter)?, (?P<pos>\w+)$")


def parse_text_prompt(prompt: str) -> TextSpec | None:
    """The TextSpec a typography prompt of the grammar describes (prompt_for's inverse), or None
    for any other prompt. The quoted text may be any word, not only the training words."""
    m = _PROMPT_RE.match(prompt.strip())
    if not m or m["size"] not in SIZES or m["font"] not in FONTS or m["pos"] not in POSITIONS:
        return None
    return TextSpec(word=m["word"], font=m["font"], size=m["size"], color=m["color"], bg=m["bg"],
                    pos=m["pos"], clutter=bool(m["clutter"]))


def render_figure(spec: FigureSpec, layout_seed: int) -> Image.Image:
    rng = np.random.default_rng([layout_seed, 11])
    img = Image.new("RGB", (WIDTH, HEIGHT), COLORS[spec.bg])
    draw = ImageDraw.Draw(img)
    r = int(rng.integers(7, 13))
    cx = {"left": 18, "center": WIDTH // 2, "right": WIDTH - 18}[spec.pos] + int(rng.integers(-4, 5))
    cy = HEIGHT // 2 + int(rng.integers(-2, 3))
    col = COLORS[spec.color]
    if spec.shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=col)
    elif spec.shape == "square":
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=col)
    elif spec.shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=col)
    else:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=col, width=3)
    return img


@dataclass(frozen=True)
class Sample:
    """One training example: prompt, target image, optional edit source (PIL RGB, WIDTHxHEIGHT)."""

    prompt: str
    target: Image.Image
    source: Image.Image | None
    category: str
    task: Task
    layout: np.ndarray | None = None    # t2i text: the word's layout_map at its exact place


def sample_edit(rng: np.random.Generator, layout_seed: int) -> tuple[TextSpec, str, str, TextSpec]:
    """An edit triplet spec: (source spec, op, value, target spec)."""
    src = sample_text_spec(rng)
    op = str(rng.choice(EDIT_OPS))
    if op == "background":
        value = str(rng.choice([c for c in COLORS if c != src.bg and contrasts(src.color, c)]))
    elif op == "textcolor":
        value = str(rng.choice([c for c in COLORS if c != src.color and contrasts(c, src.bg)]))
    else:
        value = str(rng.choice([w for w in WORDS if w != src.word]))
    return src, op, value, edit_target(src, op, value)


def make_sample(seed: int, index: int, category: str, task: Task) -> Sample:
    """The sample with key (seed, index, category, task); identical on every machine."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown data category '{category}' (known: {', '.join(CATEGORIES)})")
    cat_id = CATEGORIES.index(category)
    rng = np.random.default_rng([seed, index, cat_id, 0 if task == "t2i" else 1])
    layout_seed = int(rng.integers(0, 2**31))
    if task == "edit":
        src, op, value, tgt = sample_edit(rng, layout_seed)
        return Sample(edit_prompt(op, value), render_text(tgt, layout_seed),
                      render_text(src, layout_seed), "edit", "edit")
    if category == "figures":
        fspec = sample_figure_spec(rng)
        return Sample(prompt_for(fspec), render_figure(fspec, layout_seed), None, category, task)
    tspec = sample_text_spec(rng, clutter=category == "cluttered")
    return Sample(prompt_for(tspec), render_text(tspec, layout_seed), None, category, task,
                  layout_map(tspec, layout_seed))


def to_tensor_array(img: Image.Image) -> np.ndarray:
    """PIL RGB → float32 CHW array in [-1, 1]."""
    a = np.asarray(img.convert("RGB"), dtype=np.float32) / 127.5 - 1.0
    return a.transpose(2, 0, 1).copy()
