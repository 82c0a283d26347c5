"""Generate benchmarks/t2i-general/cases.jsonl: hand-written cases plus composed ones.

Three equal categories (portrait, landscape, text-centric; 67 each) and one ladder, `detail`:
detail:low (a subject and one attribute), detail:mid (two or three), detail:high (four or more,
or several subjects). Four seeds per case (pack default) for seed diversity.

    python scripts/make_packs_t2i_general.py [--out FILE]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from packgen import Picker, add_tags, generator_main, cjk, read_handwritten  # noqa: E402

PACK = "t2i-general"
PER_CATEGORY = 67
PEOPLE = ["an elderly beekeeper", "a young violinist", "a street food chef", "an astronaut without a helmet",
          "a marathon runner", "a potter at her wheel", "a teenage skateboarder", "a retired sea captain",
          "a flamenco dancer", "a night-shift nurse", "a calligrapher", "a mountain guide", "a jazz drummer",
          "a florist", "a glassblower", "a tea farmer", "a librarian", "a surfer", "a blacksmith", "a ballet teacher"]
P_ATTRS = ["with freckles and curly red hair", "wearing a knitted green scarf", "laughing with eyes half closed",
           "with silver-rimmed glasses", "holding a steaming cup", "in a denim jacket", "with a thoughtful gaze",
           "with paint-stained hands", "wearing a wide straw hat", "with a short grey beard",
           "lit by a single window", "against a blurred city street", "in a sunlit workshop",
           "with rain droplets on the shoulders", "framed by hanging plants"]
P_STYLE = ["85mm portrait photograph, shallow depth of field", "oil painting in the style of a Dutch master",
           "black-and-white film photograph", "soft pastel illustration", "cinematic still, teal and orange grade",
           "environmental documentary photo", "studio headshot with a grey backdrop"]
PLACES = ["an alpine lake", "desert dunes at dawn", "rice terraces on a hillside", "a Norwegian fjord",
          "a bamboo forest path", "a volcanic black-sand beach", "a lavender field", "a rainy Tokyo side street",
          "a lighthouse on a rocky cape", "an autumn birch forest", "a frozen waterfall", "a Mediterranean harbour",
          "a canyon at sunset", "a misty tea plantation", "a prairie under storm clouds", "a coral reef lagoon",
          "a snowy mountain village", "a canal in Amsterdam at night"]
L_ATTRS = ["with low fog over the water", "under a sky full of stars", "with a lone hiker in red",
           "with golden evening light", "after heavy rain, puddles reflecting the sky", "with migrating birds overhead",
           "seen from a high drone view", "with wildflowers in the foreground", "with a wooden boat moored nearby",
           "under a double rainbow", "in deep winter snow", "with lanterns glowing along a path"]
L_STYLE = ["wide-angle landscape photograph", "Chinese ink-wash painting", "matte painting, epic scale",
           "gouache travel illustration", "long-exposure photo", "impressionist oil painting"]
TEXT_THINGS = [("a bookstore window decal", "window decal"), ("a vintage airline poster", "poster"),
               ("a farmers market chalkboard", "chalkboard"), ("a hardcover book jacket", "book jacket"),
               ("a concert ticket", "ticket"), ("a cafe menu board", "menu board"), ("a protest placard", "placard"),
               ("a subway station sign", "station sign"), ("a birthday cake with piped icing", "cake"),
               ("a neon motel sign", "motel sign"), ("a vinyl record sleeve", "record sleeve"),
               ("a magazine cover", "magazine cover")]
TEXTS = [["NORTHERN LIGHTS"], ["Happy 30th Birthday"], ["GATE 12"], ["Fresh Figs $4"], ["THE LAST SUMMER"],
         ["Vacancy"], ["Save The Bees"], ["CITY MARATHON", "May 18"], ["Moonlight Jazz"], ["Open Mic Night"],
         ["Wild Honey"], ["Platform 3"], ["春日限定"], ["欢迎回家"], ["GOLDEN HOUR", "Issue 27"], ["Paper Moon"],
         ["Sold Out"], ["LOCAL APPLES", "2 for $5"], ["Bon Voyage"], ["Slow Coffee"], ["Route 66"], ["Lucky Cat"],
         ["Stay Curious"], ["平安喜乐"]]
T_ATTRS = ["in warm afternoon light", "photographed at a slight angle", "with hand-drawn ornaments",
           "next to a potted fern", "with coffee rings on it", "in a crowded street scene", "under neon reflections",
           "on a rainy evening", "with a torn corner"]
DETAIL = ("detail:low", "detail:mid", "detail:high")
SHAPES = [(512, 512), (432, 576), (768, 432)]


def compose(p: Picker, lead: str, attrs: list[str], style: list[str], detail: str) -> str:
    k = {"detail:low": 1, "detail:mid": 2, "detail:high": 4}[detail]
    chosen: list[str] = []
    while len(chosen) < k:
        a = p.one(attrs)
        if a not in chosen:
            chosen.append(a)
    form = p.any((0, 1, 2))
    st = p.one(style)
    listed = chosen[0] if len(chosen) == 1 else ", ".join(chosen[:-1]) + " and " + chosen[-1]
    if form == 0:
        return f"{lead[0].upper() + lead[1:]} {', '.join(chosen)}; {st}."
    if form == 1:
        return f"{st[0].upper() + st[1:]} of {lead}, {listed}."
    return f"{lead[0].upper() + lead[1:]}. Details: {'; '.join(chosen)}. Rendered as a {st}."


def generated(p: Picker, counts: dict[str, int]) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for cat, n in counts.items():
        for i in range(n):
            detail = DETAIL[i % 3]
            w, h = SHAPES[(i + len(cases)) % 3]
            case: dict[str, Any] = {"kind": "t2i", "tags": [cat, detail], "width": w, "height": h}
            if cat == "portrait":
                who = p.one(PEOPLE)
                if detail == "detail:high" and p.any((0, 1)):
                    who = f"{who} and {p.one(PEOPLE)}"
                case["prompt"] = compose(p, who, P_ATTRS, P_STYLE, detail)
                case["questions"] = [f"Is there {who}?", "Is a person the main subject?"]
                stem = who.split()[-1]
            elif cat == "landscape":
                where = p.one(PLACES)
                case["prompt"] = compose(p, where, L_ATTRS, L_STYLE, detail)
                case["questions"] = [f"Does the image show {where}?", "Is it a landscape without text?"]
                stem = where.split()[-1]
            else:
                thing, noun = p.one(TEXT_THINGS)
                lines = p.one(TEXTS)
                quoted = " and ".join(f'"{t}"' for t in lines)
                lead = f"{thing} that reads {quoted}"
                case["prompt"] = compose(p, lead, T_ATTRS, ["sharp photograph", "flat graphic", "editorial photo",
                                                            "3D render", "risograph print"], detail)
                case["expected_text"] = lines
                case["questions"] = [f'Does the {noun} read "{lines[0]}"?', f"Is there {thing}?"]
                if any(cjk(t) for t in lines):
                    case["tags"].append("chinese")
                if any(ch.isdigit() for t in lines for ch in t):
                    case["tags"].append("numbers")
                stem = noun.split()[-1]
            case = {"id": f"gen-g{len(cases):03d}-{cat}-{stem}", **case}
            cases.append(case)
    return cases


def ladder_handwritten(case: dict[str, Any]) -> dict[str, Any]:
    """detail bucket of a hand-written case by rule: commas in its prompt (<= 2 low, 3-4 mid, else high)."""
    n = case["prompt"].count(",") + case["prompt"].count("，")
    return add_tags(case, "detail:low" if n <= 2 else "detail:mid" if n <= 4 else "detail:high")


def build() -> list[dict[str, Any]]:
    hand = [ladder_handwritten(c) for c in read_handwritten(PACK)]
    counts = {cat: PER_CATEGORY - sum(cat in c["tags"] for c in hand) for cat in ("portrait", "landscape", "text-centric")}
    return hand + generated(Picker(20260315), counts)


def main(argv: list[str] | None = None) -> None:
    generator_main(PACK, build, __doc__, argv)


if __name__ == "__main__":
    main()
