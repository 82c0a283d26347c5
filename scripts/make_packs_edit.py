"""Generate the edit pack's composed cases and their source images.

Sources: 30 parametric scenes (signs, posters, jars, Chinese banners, shape groups) drawn with PIL
into benchmarks/edit/assets/gen/ (fonts as scripts/make_edit_assets.py), each with a flat
background whose top quarter is always empty, so an edit that keeps the background has a known
flat region. Edits follow GEdit-Bench's groups: replace-text (text_change, with Chinese text
edits), recolour-object (color_alter), recolour-background (background_change), add-element
(subject-add), remove-element (subject-remove), replace-subject (subject-replace), material-alter
(material_alter), style (style_change), tone-transfer (tone_transfer). cases.jsonl = the
hand-written cases (benchmarks/edit/handwritten.jsonl) + the composed ones.

    python scripts/make_packs_edit.py [--out FILE] [--assets DIR]
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from packgen import BENCH, Picker, add_tags, cjk, generator_main, read_handwritten  # noqa: E402

PACK = "edit"
SIZE = 512
ASSETS = BENCH / PACK / "assets" / "gen"
REGION = [0.0, 0.0, 1.0, 0.25]          # empty in every generated source

_spec = importlib.util.spec_from_file_location("make_edit_assets", Path(__file__).resolve().parent / "make_edit_assets.py")
mea = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mea)

BGS = [("light grey", "#D9D9D9"), ("cream", "#EFE6D8"), ("pale blue", "#CFE3F2"), ("white", "#FFFFFF"),
       ("navy", "#1F2A44"), ("sage green", "#B7C9A8"), ("charcoal", "#333333"), ("peach", "#F6D5C3"),
       ("mustard", "#E1B12C"), ("lavender", "#DDD5EE")]
PANELS = [("green", "#1E6B3A"), ("red", "#B22222"), ("blue", "#1D4E89"), ("black", "#111111"), ("orange", "#D9741A"),
          ("purple", "#5B2A86")]
LATIN = ["OPEN", "BAKERY", "EXIT", "HOTEL", "BOOKS", "TAXI", "CAFE", "SALE", "PARK", "MUSEUM", "FRESH", "STUDIO"]
LATIN_NEW = {"OPEN": "CLOSED", "BAKERY": "PASTRY", "EXIT": "ENTRANCE", "HOTEL": "HOSTEL", "BOOKS": "MUSIC",
             "TAXI": "BUS", "CAFE": "BAR", "SALE": "NEW", "PARK": "GARDEN", "MUSEUM": "GALLERY", "FRESH": "LOCAL",
             "STUDIO": "OFFICE"}
CHINESE = ["营业中", "书店", "出口", "咖啡", "新年快乐", "今日特价"]
CHINESE_NEW = {"营业中": "休息中", "书店": "花店", "出口": "入口", "咖啡": "奶茶", "新年快乐": "中秋快乐", "今日特价": "明日上新"}
CHINESE_EN = {"营业中": "OPEN", "书店": "BOOKS", "出口": "EXIT", "咖啡": "COFFEE", "新年快乐": "HAPPY NEW YEAR",
              "今日特价": "SPECIAL OFFER"}
SHAPES = ["circle", "square", "triangle"]
SHAPE_COLOURS = [("red", "#D62828"), ("blue", "#1F77B4"), ("green", "#2CA02C"), ("orange", "#FF7F0E"),
                 ("yellow", "#F6C90E"), ("purple", "#7B2CBF")]


def scene_specs() -> list[dict[str, Any]]:
    """The 30 scenes: 12 Latin signs/posters/jars, 6 Chinese banners, 12 shape groups."""
    specs: list[dict[str, Any]] = []
    for i, word in enumerate(LATIN):
        specs.append({"name": f"text_{word.lower()}.png", "kind": ("sign", "poster", "jar")[i % 3], "text": word,
                      "bg": BGS[i % len(BGS)], "panel": PANELS[i % len(PANELS)]})
    for i, word in enumerate(CHINESE):
        specs.append({"name": f"zh_{i}.png", "kind": "banner", "text": word, "bg": BGS[(i + 3) % len(BGS)],
                      "panel": PANELS[(i + 1) % len(PANELS)]})
    for i in range(12):
        n = 1 + i % 3
        shapes = [(SHAPES[(i + k) % 3], SHAPE_COLOURS[(i + 2 * k) % len(SHAPE_COLOURS)]) for k in range(n)]
        specs.append({"name": f"shapes_{i:02d}.png", "kind": "shapes", "shapes": shapes,
                      "bg": BGS[(i + 5) % len(BGS)]})
    return specs


def ink_for(hexv: str) -> str:
    r, g, b = (int(hexv[k:k + 2], 16) for k in (1, 3, 5))
    return "#111111" if r * 0.299 + g * 0.587 + b * 0.114 > 140 else "#FFFFFF"


def draw(spec: dict[str, Any]) -> Image.Image:
    img = Image.new("RGB", (SIZE, SIZE), spec["bg"][1])
    d = ImageDraw.Draw(img)
    kind = spec["kind"]
    if kind in ("sign", "banner"):
        panel = spec["panel"][1]
        d.rounded_rectangle((72, 200, 440, 360), radius=16, fill=panel, outline="#F2F2F2", width=5)
        size = 84 if len(spec["text"]) <= 5 else 60
        d.text((256, 280), spec["text"], font=mea.font(size, cjk=cjk(spec["text"])), fill="#FFFFFF", anchor="mm")
    elif kind == "poster":
        d.rectangle((96, 160, 416, 480), fill=spec["panel"][1])
        d.text((256, 300), spec["text"], font=mea.font(64 if len(spec["text"]) <= 5 else 50), fill="#FFFFFF",
               anchor="mm")
    elif kind == "jar":
        d.rounded_rectangle((156, 170, 356, 470), radius=30, fill="#E8E8E8", outline="#555555", width=5)
        d.rectangle((176, 150, 336, 182), fill="#8B5A2B")
        d.rectangle((166, 270, 346, 370), fill=spec["panel"][1])
        d.text((256, 320), spec["text"], font=mea.font(44 if len(spec["text"]) <= 5 else 32), fill="#FFFFFF",
               anchor="mm")
    else:
        n = len(spec["shapes"])
        for k, (shape, (_, col)) in enumerate(spec["shapes"]):
            cx = int(SIZE * (k + 1) / (n + 1))
            r = 70 if n == 1 else 56 if n == 2 else 44
            box = (cx - r, 330 - r, cx + r, 330 + r)
            if shape == "circle":
                d.ellipse(box, fill=col)
            elif shape == "square":
                d.rectangle(box, fill=col)
            else:
                d.polygon([(cx, 330 - r), (cx + r, 330 + r), (cx - r, 330 + r)], fill=col)
    return img


def make_assets(out: Path = ASSETS) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in scene_specs():
        p = out / spec["name"]
        draw(spec).save(p, format="PNG")
        written.append(p)
    return written


STYLES = ["a watercolour painting", "a pencil sketch", "pixel art", "an oil painting with thick brush strokes",
          "a comic-book illustration", "a linocut print"]
TONES = ["golden-hour evening light", "a cold blue winter morning", "a neon-lit night", "a faded vintage photo"]
MATERIALS = ["brushed metal", "polished wood", "frosted glass", "knitted wool", "marble", "gold leaf"]
ADDS = ["a small yellow star", "a tiny potted plant", "a little paper airplane", "a small red heart",
        "a coffee cup", "a round clock"]
NEW_BG = [("pure white", "#FFFFFF"), ("black", "#000000")]
KEEP = ["Keep everything else unchanged.", "Do not change anything else.", "Leave the rest of the image as it is.",
        "Everything else must stay exactly the same.", ""]


def edits_for(spec: dict[str, Any], p: Picker) -> list[dict[str, Any]]:
    """Five or six edits of one scene, each a case dict (without id)."""
    bg_name, bg_hex = spec["bg"]
    keep = {"color": bg_hex, "region": REGION}
    out: list[dict[str, Any]] = []

    def add(tag: str, prompt: str, expected: list[str] | None, background: dict[str, Any] | None,
            questions: list[str], extra_tags: tuple[str, ...] = ()) -> None:
        k = p.one(KEEP)
        c: dict[str, Any] = {"kind": "edit", "source": f"assets/gen/{spec['name']}", "tags": [tag, *extra_tags],
                             "prompt": (prompt + " " + k).strip(), "questions": questions}
        if expected:
            c["expected_text"] = expected
        if background:
            c["background"] = background
        out.append(c)

    if spec["kind"] != "shapes":
        w = spec["text"]
        zh = cjk(w)
        obj = {"sign": "sign", "banner": "banner", "poster": "poster", "jar": "jar label"}[spec["kind"]]
        panel = spec["panel"][0]
        zt = ("chinese",) if zh else ()
        new = CHINESE_NEW[w] if zh else LATIN_NEW[w]
        add("replace-text", p.one([f'Change the text "{w}" on the {obj} to "{new}".',
                                   f'Replace the word "{w}" with "{new}", same font and colour.',
                                   f'Edit the {obj} so that it reads "{new}" instead of "{w}".']),
            [new], keep, [f'Does the {obj} say "{new}"?', f'Is the word "{w}" gone?', f"Is the background still {bg_name}?"], zt)
        if zh:
            en = CHINESE_EN[w]
            add("replace-text", f'Translate the Chinese text on the {obj} into English: "{en}".', [en], keep,
                [f'Does the {obj} say "{en}"?', "Is the Chinese text gone?"], ("chinese",))
        colour = p.one([c for c in ("yellow", "teal", "pink", "brown", "grey") if c != panel])
        add("recolour-object", p.one([f"Make the {obj} {colour} instead of {panel}.", f"Recolour the {panel} {obj} to {colour}."]),
            [w], keep, [f"Is the {obj} {colour}?", f'Does it still say "{w}"?', f"Is the background still {bg_name}?"], zt)
        nb_name, nb_hex = p.one(NEW_BG)
        add("recolour-background", p.one([f"Change the {bg_name} background to {nb_name}.",
                                          f"Paint the background {nb_name}; the {obj} stays as it is."]),
            [w], {"color": nb_hex, "region": REGION}, [f"Is the background {nb_name}?", f'Does the {obj} still say "{w}"?'], zt)
        thing = p.one(ADDS)
        add("add-element", f"Add {thing} in the bottom-right corner.", [w], keep,
            [f"Is there {thing} in the bottom-right corner?", f'Does the {obj} still say "{w}"?'], zt)
        which = p.one(["style", "tone-transfer", "material-alter"])
        if which == "style":
            s = p.one(STYLES)
            add("style", f"Redraw the whole image as {s}.", None, None, [f"Does the image look like {s}?",
                                                                          f"Is there still a {obj}?"], zt)
        elif which == "tone-transfer":
            t = p.one(TONES)
            add("tone-transfer", f"Relight the scene as if in {t}.", None, None,
                [f"Does the scene look like {t}?", f"Is the {obj} still there?"], zt)
        else:
            m = p.one(MATERIALS)
            add("material-alter", f"Make the {obj} look like it is made of {m}.", [w], keep,
                [f"Does the {obj} look like {m}?", f'Does it still say "{w}"?'], zt)
    else:
        shapes = spec["shapes"]
        shape, (cname, _) = shapes[0]
        desc = f"{cname} {shape}"
        colour = p.one([c for c, _ in SHAPE_COLOURS if c != cname])
        add("recolour-object", p.one([f"Make the {desc} {colour}.", f"Change the colour of the {desc} to {colour}."]),
            None, keep, [f"Is the {shape} {colour} now?", f"Is the background still {bg_name}?"])
        other = p.one([s for s in ("star", "heart", "hexagon", "diamond") if s != shape])
        add("replace-subject", f"Replace the {desc} with a {cname} {other} of the same size.", None, keep,
            [f"Is there a {cname} {other}?", f"Is the {shape} gone?"])
        m = p.one(MATERIALS)
        add("material-alter", p.one([f"Turn the {desc} into {m}.", f"Give the {desc} a {m} texture."]), None, keep,
            [f"Does the {shape} look like {m}?", f"Is the background still {bg_name}?"])
        thing = p.one(ADDS)
        add("add-element", f"Add {thing} next to the {desc}.", None, keep,
            [f"Is there {thing}?", f"Is the {desc} still there?"])
        if len(shapes) > 1:
            s2, (c2, _) = shapes[-1]
            add("remove-element", f"Remove the {c2} {s2}.", None, keep, [f"Is the {c2} {s2} gone?",
                                                                         f"Is the {desc} still there?"])
        else:
            nb_name, nb_hex = p.one(NEW_BG)
            add("recolour-background", f"Change the background to {nb_name}.", None,
                {"color": nb_hex, "region": REGION}, [f"Is the background {nb_name}?", f"Is the {desc} unchanged?"])
        if p.any((0, 1)):
            s = p.one(STYLES)
            add("style", f"Render the picture as {s}.", None, None, [f"Is it {s}?", f"Is there still a {shape}?"])
        else:
            t = p.one(TONES)
            add("tone-transfer", f"Change the mood to {t}.", None, None, [f"Does it look like {t}?",
                                                                           f"Is the {shape} still there?"])
    return out


GEDIT_GROUP = {"replace-text": "text_change", "recolour-object": "color_alter", "recolour-background": "background_change",
               "add-element": "subject-add", "remove-element": "subject-remove", "replace-subject": "subject-replace",
               "material-alter": "material_alter", "style": "style_change", "tone-transfer": "tone_transfer"}


def build() -> list[dict[str, Any]]:
    p = Picker(20260314)
    cases = read_handwritten(PACK)
    n = 0
    for spec in scene_specs():
        for c in edits_for(spec, p):
            stem = spec["name"].removesuffix(".png").replace("_", "-")
            c = {"id": f"edit-g{n:03d}-{stem}-{c['tags'][0]}", **c}
            c.setdefault("meta", {})["gedit_group"] = GEDIT_GROUP[c["tags"][0]]
            cases.append(c)
            n += 1
    return [add_tags(c) for c in cases]


def main(argv: list[str] | None = None) -> None:
    generator_main(PACK, build, __doc__, argv, before=lambda a: make_assets(a.assets),
                   extra=lambda ap: ap.add_argument("--assets", type=Path, default=ASSETS))


if __name__ == "__main__":
    main()
