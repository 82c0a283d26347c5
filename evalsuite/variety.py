"""Prompt variety of a pack: no prompt template may cover more than a share of the cases.

Definition (what `evalsuite packs validate` checks). The *template* of a prompt is the prompt with
  1. every quoted span ("...", “...”, '...' around two or more characters, 「...」, «...») -> `Q`,
  2. every number (digits with , . : / % - inside) -> `N`,
  3. every colour word (`COLOUR_WORDS`, English and Chinese) -> `C`,
  4. every object word (`OBJECT_WORDS`: common nouns a generator would slot in) -> `O`,
then lower-cased with runs of whitespace collapsed and trailing punctuation dropped. Two prompts
share a template when these strings are equal; a pack fails when one template covers more than
`max_share` (default 5%) of its cases. So "A red mug with the word "A" on a white table." and
"A blue lamp with the word "B" on a grey table." are the same template; changing the layout,
sentence structure, style or setting words makes a new one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

COLOUR_WORDS = frozenset("""
white black grey gray silver red crimson scarlet maroon burgundy pink magenta purple violet lilac
lavender indigo navy blue cobalt azure cyan teal turquoise aqua mint green emerald olive lime
sage yellow gold golden mustard amber orange coral peach tan beige cream ivory brown chocolate
charcoal bronze copper rose ochre terracotta sand khaki mauve plum slate
""".split()) | frozenset("白 黑 灰 红 粉 紫 蓝 青 绿 黄 金 橙 棕 银 白色 黑色 灰色 红色 粉色 紫色 蓝色 青色 绿色 黄色 金色 橙色 棕色 银色".split())

OBJECT_WORDS = frozenset("""
mug cup bottle jar can box bag book notebook card poster sign signboard banner flyer label tag
sticker badge button lamp chair table sofa bed door window wall shelf clock watch phone laptop
screen monitor tablet car bus truck train bicycle boat plane kite balloon cake cookie bread apple
orange lemon banana coffee tea pizza burger bowl plate vase plant flower tree cactus candle
shoe sneaker hat cap shirt t-shirt hoodie jacket dress umbrella backpack suitcase bottle perfume
soap shampoo cream lotion tube headphones speaker camera guitar piano ball helmet cat dog bird
fox owl bear rabbit horse fish whale robot rocket star moon sun heart leaf house tower bridge
storefront shop cafe truck van sailboat envelope ticket receipt menu map calendar tote pillow
blanket rug towel napkin crate barrel jar teapot kettle bowl spoon fork knife glass can tin
""".split())

_QUOTED = re.compile(r'"[^"]*"|“[^”]*”|「[^」]*」|«[^»]*»|‘[^’]*’|(?<![A-Za-z])\'[^\']{2,}\'(?![A-Za-z])')
_NUMBER = re.compile(r"\d(?:[\d,.:/%\-]*\d)?%?")
_WORD = re.compile(r"[A-Za-z][A-Za-z\-]*|[\u4e00-\u9fff]+")


def template_of(prompt: str) -> str:
    """The prompt's template (see the module docstring for the exact masking rules)."""
    s = _QUOTED.sub(" Q ", prompt)
    s = _NUMBER.sub("N", s)

    def mask(m: re.Match[str]) -> str:
        w = m.group(0)
        lw = w.lower()
        if lw in COLOUR_WORDS:
            return "C"
        if lw in OBJECT_WORDS or (lw.endswith("s") and lw[:-1] in OBJECT_WORDS):
            return "O"
        if w in ("Q", "N"):
            return w
        return lw

    s = _WORD.sub(mask, s)
    s = re.sub(r"\s+", " ", s).strip().rstrip(".!?。！？ ")
    return s


@dataclass(frozen=True)
class Variety:
    """How often the most common template occurs."""

    n: int
    templates: int
    top_template: str
    top_count: int

    @property
    def top_share(self) -> float:
        return self.top_count / self.n if self.n else 0.0


def variety(prompts: Iterable[str]) -> Variety:
    """Count templates over prompts."""
    counts = Counter(template_of(p) for p in prompts)
    n = sum(counts.values())
    if not counts:
        return Variety(0, 0, "", 0)
    top, k = counts.most_common(1)[0]
    return Variety(n, len(counts), top, k)
