"""Generate benchmarks/flat-background/cases.jsonl: hand-written cases plus composed ladder cases.

Ladders (pack.yaml `ladders`):
  tone     tone:white, tone:light, tone:mid, tone:saturated, tone:dark   (grain shows most on dark)
  share    share:30, share:50, share:70, share:90   (share of the frame that is background)
  subject  subject:product, subject:logo, subject:illustration
Designed gradients carry `gradient` and no background spec (flatbg skips them). The earlier
category tags (product-shot, logo, flat-illustration, minimal, light, mid-tone, dark, saturated)
are kept on every case.

    python scripts/make_packs_flatbg.py [--out FILE]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from packgen import Picker, add_tags, generator_main, read_handwritten  # noqa: E402

PACK = "flat-background"
N_GENERATED = 130
TONES = {
    "tone:white": [("pure white", "#FFFFFF"), ("ivory", "#FFFFF0"), ("snow white", "#FFFAFA")],
    "tone:light": [("cream", "#F5F0E1"), ("pale pink", "#FADADD"), ("light grey", "#D3D3D3"), ("pastel mint", "#BDFCC9"),
                   ("pale blue", "#AEC6CF"), ("lavender", "#E6E6FA"), ("beige", "#F5F5DC")],
    "tone:mid": [("mid-grey", "#808080"), ("sage green", "#9CAF88"), ("dusty rose", "#DCAE96"), ("slate blue", "#6A5ACD"),
                 ("taupe", "#8B8589"), ("olive", "#808000"), ("steel blue", "#4682B4")],
    "tone:saturated": [("bright red", "#FF0000"), ("cobalt blue", "#0047AB"), ("sunflower yellow", "#FFDA03"),
                       ("emerald green", "#50C878"), ("hot pink", "#FF69B4"), ("orange", "#FFA500"),
                       ("turquoise", "#40E0D0"), ("purple", "#800080")],
    "tone:dark": [("black", "#000000"), ("charcoal", "#36454F"), ("navy", "#000080"), ("dark brown", "#654321"),
                  ("deep forest green", "#013220"), ("midnight blue", "#191970"), ("espresso", "#4B3621")],
}
OLD_TONE = {"tone:white": "light", "tone:light": "light", "tone:mid": "mid-tone", "tone:saturated": "saturated",
            "tone:dark": "dark"}
SUBJECTS = {
    "subject:product": ["a glass perfume bottle", "a white sneaker", "a steel wristwatch", "over-ear headphones",
                        "a ceramic vase", "a lipstick tube", "a smartphone lying face up", "a coffee grinder",
                        "a reusable water bottle", "a pair of sunglasses", "a leather wallet", "a scented candle",
                        "a skincare jar", "a desk lamp", "a compact camera", "a teapot", "a canvas backpack",
                        "a wine glass", "a bar of soap", "a mechanical keyboard"],
    "subject:logo": ["a minimal fox-head logo", "a geometric mountain icon", "a line-art leaf emblem",
                     "an abstract hexagon mark", "a rounded speech-bubble icon", "a stylised wave symbol",
                     "a paper-plane glyph", "a coffee-bean emblem", "a lightning-bolt badge", "a circular sun mark",
                     "a bird silhouette logo", "a simple key icon"],
    "subject:illustration": ["a flat vector cactus in a pot", "a cartoon cloud", "a flat rocket ship", "a paper boat",
                             "a hot-air balloon", "a sleeping cat", "a slice of watermelon", "a lighthouse",
                             "an open umbrella", "a bicycle", "a potted monstera plant", "a cup of tea"],
}
OLD_SUBJECT = {"subject:product": "product-shot", "subject:logo": "logo", "subject:illustration": "flat-illustration"}
SHARES = {
    "share:90": (["tiny and centered, taking up less than a tenth of the frame, surrounded by vast empty space",
                  "very small in the middle of the frame with almost everything else left empty"], [0.0, 0.0, 1.0, 0.25]),
    "share:70": (["modest in size and centered, about a third of the frame wide, with generous empty space above",
                  "centered at a moderate size, leaving wide empty margins all around"], [0.0, 0.0, 1.0, 0.15]),
    "share:50": (["filling about half of the frame", "medium-sized, covering roughly half of the picture"], None),
    "share:30": (["large, filling most of the frame with only a thin margin of background",
                  "in a tight close crop that covers about two thirds of the image"], None),
}
LEAD = {
    "subject:product": ["Studio product photograph of", "E-commerce packshot of", "Catalogue shot of",
                        "Minimalist still life of", "Clean advertising image of"],
    "subject:logo": ["Brand guideline sheet showing", "Flat logo design:", "A crisp vector rendering of",
                     "App-icon style artwork of"],
    "subject:illustration": ["Flat 2D vector art of", "Poster-style flat illustration of", "A simple sticker-like drawing of",
                             "Children's-book flat illustration of"],
}
SURFACE = ["on a seamless {c} backdrop", "on a plain {c} background", "against a solid {c} canvas",
           "in front of a flat {c} wall with no texture", "on a pure {c} paper sweep"]
LIGHT = ["soft diffused light", "hard side light with a crisp shadow", "even shadowless lighting",
         "gentle top light", "no shadow at all", "warm rim light"]
VIEW = ["shot from the front", "three-quarter view", "top-down view", "slightly low angle", "straight-on orthographic view"]
GRADIENT = ["a smooth gradient backdrop fading from {a} at the top to {b} at the bottom",
            "a soft radial gradient glowing {a} in the centre and {b} at the edges",
            "a diagonal {a}-to-{b} gradient"]


def generated(p: Picker) -> list[dict[str, Any]]:
    cases = []
    for i in range(N_GENERATED):
        tone = p.one(list(TONES))
        subject = p.one(list(SUBJECTS))
        share = p.one(list(SHARES))
        name, hexv = p.one(TONES[tone])
        thing = p.one(SUBJECTS[subject])
        phrases, region = SHARES[share]
        gradient = i % 13 == 5
        lead = p.one(LEAD[subject])
        if gradient:
            other = p.one(TONES[p.one(list(TONES))])[0]
            bg = p.one(GRADIENT).format(a=name, b=other)
            prompt = f"{lead} {thing} on {bg}, {p.one(phrases)}, {p.one(LIGHT)}."
        else:
            prompt = (f"{lead} {thing} {p.one(SURFACE).format(c=name)}, {p.one(phrases)}; "
                      f"{p.one(LIGHT)}, {p.one(VIEW)}.")
        noun = thing.split(" ", 1)[1]
        questions = [f"Is there {thing}?",
                     f"Does the background fade from {name} to another colour?" if gradient
                     else f"Is the background a flat {name}?",
                     "Is the subject small with lots of empty space?" if share in ("share:90", "share:70")
                     else f"Does the {noun} fill a large part of the image?"]
        tags = [tone, share, subject, OLD_TONE[tone], OLD_SUBJECT[subject]]
        if share == "share:90":
            tags.append("minimal")
        case: dict[str, Any] = {"id": f"flat-g{i:03d}-{noun.split()[-1]}-{name.split()[-1]}", "kind": "t2i",
                                "tags": tags + (["gradient"] if gradient else []), "prompt": prompt,
                                "questions": questions}
        if not gradient:
            case["background"] = {"color": hexv} | ({"region": region} if region else {})
        if p.any((0, 1, 2, 3)) == 0:
            case.update({"width": 768, "height": 432} if p.any((0, 1)) else {"width": 432, "height": 576})
        cases.append(case)
    return cases


def ladder_handwritten(case: dict[str, Any]) -> dict[str, Any]:
    """Ladder tags for a hand-written case by rule: tone from its old tone tag (light + 'white' in the
    prompt -> tone:white); share from its prompt (minimal / 'plenty of' / 'lots of' / 'small' ->
    share:90, 'fills' / 'close-up' / 'large' -> share:30, else share:70); subject from its category."""
    tags = case.get("tags", [])
    pr = case["prompt"].lower()
    tone = ("tone:white" if "light" in tags and "white" in pr else "tone:light" if "light" in tags
            else "tone:mid" if "mid-tone" in tags else "tone:dark" if "dark" in tags else "tone:saturated")
    share = ("share:90" if "minimal" in tags or any(k in pr for k in ("plenty of", "lots of", "small", "tiny"))
             else "share:30" if any(k in pr for k in ("fills", "close-up", "large")) else "share:70")
    subject = ("subject:logo" if "logo" in tags else "subject:illustration" if "flat-illustration" in tags
               else "subject:product")
    return add_tags(case, tone, share, subject)


def build() -> list[dict[str, Any]]:
    return [ladder_handwritten(c) for c in read_handwritten(PACK)] + generated(Picker(20260313))


def main(argv: list[str] | None = None) -> None:
    generator_main(PACK, build, __doc__, argv)


if __name__ == "__main__":
    main()
