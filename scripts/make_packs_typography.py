"""Generate benchmarks/typography/cases.jsonl: the hand-written cases plus composed ladder cases.

Every case carries one bucket tag on each of four ladders (declared in pack.yaml `ladders`):
  length  len:1, len:2-3, len:4-8, len:9-20, len:21-40, len:41+   (words; a CJK character = half a word)
  size    size:headline (>15% of the image height), size:large (8-15%), size:medium (4-8%),
          size:small (2-4%), size:fine-print (<2%)
  script  script:latin, script:digits-symbols, script:diacritics, script:mixed, script:chinese
  layout  layout:poster, layout:sign, layout:label, layout:ui, layout:infographic,
          layout:multi-line, layout:curved-rotated
plus the pack's earlier category tags (single-word, multi-word, multi-line, numbers, small-text,
chinese). Prompts are composed from independent parts (scene frame, text clause, size clause,
type style, background), so no template covers more than 5% of the pack.

    python scripts/make_packs_typography.py [--out FILE]
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from packgen import Picker, add_tags, generator_main, cjk, read_handwritten  # noqa: E402

PACK = "typography"
N_GENERATED = 276
LENGTHS = ("len:1", "len:2-3", "len:4-8", "len:9-20", "len:21-40", "len:41+")
SIZES = ("size:headline", "size:large", "size:medium", "size:small", "size:fine-print")
SCRIPTS = ("script:latin", "script:digits-symbols", "script:diacritics", "script:mixed", "script:chinese")
LAYOUTS = ("layout:poster", "layout:sign", "layout:label", "layout:ui", "layout:infographic", "layout:multi-line",
           "layout:curved-rotated")

LATIN_WORDS = """SUMMIT VELVET ORBIT CANYON LANTERN MARKET PIXEL ECHO NORTH BLOOM RIVER ATLAS FORGE SPARK
HONEY TIDE GARDEN METRO CINEMA LIBRARY STUDIO ARCADE HOTEL FERRY SALON GALLERY PHARMACY BISTRO THEATER
MUSEUM STATION HARBOR NOODLES TACOS VINYL BOUTIQUE CAMPUS KITCHEN MEADOW COMET""".split()
LATIN_PHRASES = ["FRESH COFFEE", "GRAND OPENING", "NO PARKING", "SALE TODAY", "Quiet Please", "Welcome Home",
                 "Keep Calm", "Night Market", "Mind The Gap", "Exit Only", "Live Music Tonight", "Deep Focus",
                 "Winter Sale", "Morning Run Club", "Ocean Breeze", "Staff Only", "Hot Soup", "Free Refills",
                 "Slow Down", "Lost And Found"]
LATIN_SENTENCES = [
    "Fresh bread is baked here every single morning", "Please keep this door closed at all times",
    "Join us for live jazz every Friday night", "Reading is a window to the whole wide world",
    "Turn off the lights when you leave the room", "All proceeds support the local animal shelter",
    "Our workshop repairs bicycles of every size and age", "The garden opens at sunrise and closes at dusk",
    "Handmade candles poured in small batches with natural wax", "Walk slowly and enjoy the view from the top",
    "Every great journey begins with a single small step", "Bring your own cup and save the planet",
    "The library is a quiet place for thinking", "Tickets are available at the front desk",
    "Wash your hands before returning to work", "Members receive early access to every new release",
    "Our chefs cook with seasonal vegetables from nearby farms", "Please return your tray after your meal",
    "The museum tour starts in the main entrance hall", "Keep the trail clean for the next hikers",
    "Children must be accompanied by an adult at all times", "Photography without flash is allowed in this room",
    "This lighthouse guided sailors home for two centuries", "Try our famous lemon cake with a cup of tea",
]
DIGIT_ITEMS = [["$49.99"], ["50% OFF"], ["10:30 AM"], ["2025-06-01"], ["No. 42"], ["Gate B12"], ["24/7"],
               ["3 for $10"], ["Room 404"], ["ISO 9001"], ["v2.0.1"], ["#1 BEST SELLER"], ["100 km/h"],
               ["Tel 020 8123 4567"], ["Open 9-5"], ["Flight UA 857"], ["Table 12"], ["Save 30%"],
               ["Platform 9"], ["Aisle 7"]]
DIACRITIC_ITEMS = [["Café"], ["Crème Brûlée"], ["Señor Taco"], ["Zürich"], ["São Paulo"], ["Fête de la Musique"],
                   ["Mañana"], ["Über Cool"], ["Jalapeño"], ["Smörgåsbord"], ["Naïve Art"], ["Kraków"], ["Déjà Vu"],
                   ["Piña Colada"], ["Bon Appétit"], ["Ça Va"], ["Crêperie"], ["Façade"], ["Köln"], ["Málaga"]]
DIACRITIC_SENTENCES = ["Le café est ouvert tous les jours", "Crème brûlée et café au lait",
                       "Bienvenue à la fête du village", "Die Bäckerei öffnet um sieben Uhr",
                       "La señora vende piñatas en el mercado", "Smörgåsbord served every Sunday in Malmö",
                       "Über den Wolken fliegt ein Flugzeug", "Ação e emoção no coração de São Paulo"]
MIXED_ITEMS = [["Café 咖啡"], ["OPEN 营业中"], ["Hello 你好"], ["Tokyo 东京 2025"], ["Sale 特价 50%"], ["Wi-Fi 无线网络"],
               ["Tea House 茶馆"], ["Exit 出口"], ["Books 书店"], ["Noodle Bar 面馆"], ["Welcome 欢迎"], ["Taxi 出租车"]]
CHINESE_WORDS = ["咖啡", "书店", "茶馆", "面包房", "电影院", "图书馆", "花店", "出口", "营业中", "欢迎光临", "新年快乐", "安全第一",
                 "今日特价", "禁止停车", "请勿吸烟", "小心地滑", "每日新鲜烘焙", "春季新品", "限时优惠", "自助餐厅"]
CHINESE_SENTENCES = ["春眠不觉晓处处闻啼鸟", "欢迎来到我们的小书店", "本店所有面包每天早上新鲜出炉", "请保持安静谢谢合作",
                     "周末全场商品八折优惠", "山高水长风景如画", "读书使人进步", "今天的天气非常晴朗适合出游",
                     "请排队等候叫号", "会员每月享受免费咖啡一杯", "夜市每晚六点开始营业", "感谢您的光临欢迎下次再来"]

FRAMES = {
    "layout:poster": ["a {style} poster", "a vintage travel poster", "a concert poster pinned to a corkboard",
                      "a minimalist art-print poster framed on a wall", "a movie poster in a glass display case",
                      "an exhibition poster pasted on a concrete pillar"],
    "layout:sign": ["a painted wooden shop sign above a doorway", "an enamel street sign on a brick wall",
                    "a glowing neon sign in a bar window", "a hand-painted sign at a roadside farm stand",
                    "a metal road sign beside a country lane", "an illuminated lightbox sign over a pharmacy"],
    "layout:label": ["a glass jar with a paper label", "a wine bottle with a front label",
                     "a cardboard shipping box with a printed label", "a cosmetic tube lying on a counter",
                     "a kraft-paper coffee bag with a sticker label", "a tin can with a wraparound label"],
    "layout:ui": ["a smartphone app screen", "the hero section of a landing page on a laptop",
                  "a dark-mode settings dialog", "a login screen on a tablet", "a smartwatch face",
                  "a flat web banner with a call-to-action button"],
    "layout:infographic": ["an infographic panel with simple icons", "a presentation slide with a bar chart",
                           "a timeline infographic with three milestones", "a dashboard tile with one large statistic",
                           "a pie chart card in flat design", "a printed flowchart on a whiteboard"],
    "layout:multi-line": ["a page of a printed restaurant menu", "a handwritten letter on lined paper",
                          "an open hardcover book", "a chalkboard in a cafe", "a typed memo on a clipboard",
                          "a museum wall plaque"],
    "layout:curved-rotated": ["a round badge with the text curving along its upper edge",
                              "a paper coffee cup with the text wrapping around it",
                              "a ribbon banner whose lettering follows its curve",
                              "a street sign tilted thirty degrees", "a circular rubber stamp with text around its rim",
                              "a signpost photographed at a steep diagonal angle"],
}
STYLES = ["bold sans-serif", "elegant serif", "condensed grotesque", "rounded geometric", "slab-serif",
          "art-deco", "stencil", "monospaced", "wide extended", "clean humanist", "high-contrast didone",
          "playful bubbly"]
CJK_STYLES = ["Song-style", "bold Hei-style", "Kai calligraphy-style", "rounded Yuan-style"]
SIZE_CLAUSES = {
    "size:headline": ["in huge letters filling most of the width", "as a giant headline taking up the top third",
                      "in enormous type, more than a fifth of the image tall"],
    "size:large": ["in large letters about a tenth of the image height", "in big clear type",
                   "in large capitals roughly one tenth as tall as the image"],
    "size:medium": ["in medium-sized type about one twentieth of the image height",
                    "in regular body-size lettering", "at a moderate size, about 5% of the image height"],
    "size:small": ["in small type about 3% of the image height", "in small print beneath a larger picture",
                   "in a small caption font"],
    "size:fine-print": ["as tiny fine print under 2% of the image height",
                        "in very small legal-style print along the bottom edge",
                        "as a minute footnote, less than 2% of the image height"],
}
SIZE_WORD = {"size:headline": "very large", "size:large": "large", "size:medium": "medium-sized",
             "size:small": "small", "size:fine-print": "tiny"}
COLOURS = [("white", "#FFFFFF"), ("cream", "#F5F0E1"), ("light grey", "#D3D3D3"), ("black", "#000000"),
           ("navy", "#000080"), ("charcoal", "#36454F"), ("mustard", "#FFDB58"), ("teal", "#008080"),
           ("coral", "#FF7F50"), ("forest green", "#228B22"), ("pale blue", "#AEC6CF"), ("beige", "#F5F5DC")]
INK = ["black", "white", "red", "navy", "gold", "dark green", "orange", "deep purple"]
SKELETONS = [
    "{Frame}{bg}, showing {text} {size}, set in {style} {ink} letters.",
    "Close-up of {frame}{bg}. It reads {text} {size} in {ink} {style} type.",
    "{Frame}{bg}; the text {text} is printed {size} in a {style} face, {ink} on the surface.",
    "Photo of {frame}{bg} with {text} written {size}, {ink} {style} lettering, sharp focus.",
    "Flat graphic design of {frame}{bg}: {text} {size}, {style}, {ink}.",
    "{Frame}{bg}. Exactly this text appears {size}: {text}. Typeface: {style}, colour {ink}.",
    "Editorial photograph, {frame}{bg}, the copy {text} {size} in crisp {style} {ink} type, natural light.",
]


def words_of(lines: list[str]) -> float:
    n = 0.0
    for line in lines:
        latin = re.sub(r"[\u4e00-\u9fff]", " ", line).split()
        n += len(latin) + sum(1 for ch in line if cjk(ch)) / 2
    return n


def length_bucket(lines: list[str]) -> str:
    w = math.ceil(words_of(lines))
    for tag, hi in zip(LENGTHS, (1, 3, 8, 20, 40, math.inf)):
        if w <= hi:
            return tag
    return LENGTHS[-1]


def script_bucket(lines: list[str]) -> str:
    text = " ".join(lines)
    has_cjk = any(cjk(ch) for ch in text)
    has_latin = bool(re.search(r"[A-Za-z]", text))
    if has_cjk and has_latin:
        return "script:mixed"
    if has_cjk:
        return "script:chinese"
    if any(ord(ch) > 127 and ch.isalpha() for ch in text):
        return "script:diacritics"
    if any(ch.isdigit() or ch in "$%#@&+/=*" for ch in text):      # sentence punctuation does not count
        return "script:digits-symbols"
    return "script:latin"


def wrap(words: list[str], per_line: int) -> list[str]:
    return [" ".join(words[i:i + per_line]) for i in range(0, len(words), per_line)]


def make_text(script: str, length: str, p: Picker) -> list[str]:
    """Lines of text for one (script, length) bucket; the text is composed, so rarely repeated."""
    lo, hi = {"len:1": (1, 1), "len:2-3": (2, 3), "len:4-8": (4, 8), "len:9-20": (9, 20), "len:21-40": (21, 40),
              "len:41+": (41, 60)}[length]
    if script == "script:chinese":
        if length == "len:1":
            return [p.one([w for w in CHINESE_WORDS if len(w) == 2])]
        if length == "len:2-3":
            return [p.one([w for w in CHINESE_WORDS if 3 <= len(w) <= 6])]
        lines: list[str] = []
        while words_of(lines) < lo:
            lines.append(p.one(CHINESE_SENTENCES))
        return lines if words_of(lines) <= hi else lines[:-1] or lines
    if script == "script:mixed":
        base = list(p.one(MIXED_ITEMS))
        if length in ("len:1", "len:2-3"):
            return base
        extra = (p.one(LATIN_SENTENCES) + ".").split()
        lines = base + wrap(extra, 7)
        while words_of(lines) < lo:
            lines.append(p.one(CHINESE_SENTENCES))
            lines += wrap((p.one(LATIN_SENTENCES) + ".").split(), 7)
        return lines
    if script == "script:digits-symbols":
        base = list(p.one(DIGIT_ITEMS))
        if length in ("len:1", "len:2-3"):
            return base
        lines = base
        while words_of(lines) < lo:
            lines = lines + [f"{p.one(LATIN_PHRASES)} {p.any(range(2, 99))}", f"Call {p.any(range(100, 999))} {p.any(range(1000, 9999))}"]
        while words_of(lines) > hi and len(lines) > 1:
            lines = lines[:-1]
        return lines
    if script == "script:diacritics":
        if length in ("len:1", "len:2-3"):
            items = [i for i in DIACRITIC_ITEMS if (len(i[0].split()) == 1) == (length == "len:1")]
            return list(p.one(items))
        words: list[str] = []
        while len(words) < lo:
            words += (p.one(DIACRITIC_SENTENCES) + ".").split()
        return wrap(words[:hi], 6)
    if length == "len:1":
        return [p.one(LATIN_WORDS)]
    if length == "len:2-3":
        return [p.one(LATIN_PHRASES)]
    words = []
    while len(words) < lo:
        words += (p.one(LATIN_SENTENCES) + ".").split()
    words = words[:hi]
    return [" ".join(words)] if len(words) <= 8 else wrap(words, 7)


def quote(lines: list[str]) -> str:
    q = [f'"{line}"' for line in lines]
    if len(q) == 1:
        return q[0]
    return f"{len(q)} lines of text, " + ", ".join(q[:-1]) + " and " + q[-1]


def fit_sizes(length: str) -> tuple[str, ...]:
    if length in ("len:21-40", "len:41+"):
        return ("size:medium", "size:small", "size:fine-print")
    if length == "len:9-20":
        return ("size:large", "size:medium", "size:small", "size:fine-print")
    return SIZES


def generated(p: Picker) -> list[dict[str, Any]]:
    cases = []
    combos = [(s, length) for s in SCRIPTS for length in LENGTHS
              if not (s in ("script:diacritics", "script:mixed", "script:digits-symbols") and length == "len:41+")]
    for i in range(N_GENERATED):
        script, length = combos[i % len(combos)]
        lines = make_text(script, length, p)
        length = length_bucket(lines)
        script = script_bucket(lines)
        size = p.one(fit_sizes(length))
        layout = "layout:multi-line" if len(lines) >= 4 and p.any((0, 1)) else p.one(LAYOUTS)
        frame = p.one(FRAMES[layout])
        style = p.one(STYLES if script not in ("script:chinese", "script:mixed") else CJK_STYLES + STYLES[:4])
        case: dict[str, Any] = {}
        bg = ""
        if p.any((0, 1, 2)) == 0:
            name, hexv = p.one(COLOURS)
            bg = f" on a plain {name} background"
            case["background"] = {"color": hexv}
        ink = p.one(INK)
        skeleton = p.one(SKELETONS)
        prompt = skeleton.format(Frame=frame[0].upper() + frame[1:], frame=frame, bg=bg, text=quote(lines),
                                 size=p.one(SIZE_CLAUSES[size]), style=style.replace("{style}", ""), ink=ink)
        prompt = prompt.replace("{style}", style)
        if "{style}" in frame:
            prompt = prompt.replace("{style}", style)
        noun = frame.split(" with ")[0].split(",")[0]
        questions = [f'Does the image show the text "{lines[0]}"?', f"Is the text {SIZE_WORD[size]}?",
                     f"Is this {noun}?"]
        if bg:
            questions.append(f"Is the background plain {name}?")
        tags = [length, size, script, layout]
        words = words_of(lines)
        tags.append("multi-line" if len(lines) >= 2 else "single-word" if words <= 1 else "multi-word")
        if any(ch.isdigit() for line in lines for ch in line):
            tags.append("numbers")
        if size in ("size:small", "size:fine-print"):
            tags.append("small-text")
        if script in ("script:chinese", "script:mixed"):
            tags.append("chinese")
        first = re.sub(r"[^a-z0-9]+", "-", " ".join(lines).lower()).strip("-")[:24].strip("-") or "zh"
        case.update({"id": f"typo-g{i:03d}-{first}", "kind": "t2i", "tags": tags,
                     "prompt": prompt.replace("{frame}", frame), "expected_text": lines, "questions": questions})
        if layout == "layout:ui" and p.any((0, 1)):
            case.update({"width": 768, "height": 432})
        elif layout == "layout:label" and p.any((0, 1)):
            case.update({"width": 432, "height": 576})
        cases.append(case)
    return cases


def ladder_handwritten(case: dict[str, Any]) -> dict[str, Any]:
    """Ladder tags for a hand-written case, by rule: length and script from its expected text; size
    from its category (small-text -> small, single-word -> headline, multi-line -> medium, else
    large); layout from words in its prompt (poster, sign/neon/storefront, label/bottle/jar/mug/
    box/package, app/screen/website/button, chart/infographic/diagram; else multi-line for two or
    more lines, else poster)."""
    lines = case["expected_text"]
    tags = case.get("tags", [])
    size = ("size:small" if "small-text" in tags else "size:headline" if "single-word" in tags
            else "size:medium" if "multi-line" in tags else "size:large")
    pr = case["prompt"].lower()
    rules = [("layout:infographic", ("chart", "infographic", "diagram")),
             ("layout:ui", ("app ", "screen", "website", "button")),
             ("layout:label", ("label", "bottle", "jar", "mug", "box", "package", "can ")),
             ("layout:sign", ("sign", "neon", "storefront")), ("layout:poster", ("poster",))]
    layout = next((t for t, kws in rules if any(k in pr for k in kws)),
                  "layout:multi-line" if len(lines) >= 2 else "layout:poster")
    return add_tags(case, length_bucket(lines), size, script_bucket(lines), layout)


def build() -> list[dict[str, Any]]:
    p = Picker(20260312)
    return [ladder_handwritten(c) for c in read_handwritten(PACK)] + generated(p)


def main(argv: list[str] | None = None) -> None:
    generator_main(PACK, build, __doc__, argv)


if __name__ == "__main__":
    main()
