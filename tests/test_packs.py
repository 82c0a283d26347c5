"""The shipped benchmark packs and the pack loader's validation.

Shipped packs: each loads, covers the categories the issue asks for, and is internally consistent
(quoted text in prompts = expected text, plain-background prompts carry a background spec, edit
sources really are flat where the spec says so, sizes suit Qwen-Image). Malformed packs built in
tmp_path: each raises EvalsuiteError with one line naming the file, the line and the field.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evalsuite.runner import judge_verdicts
from evalsuite.packs import Pack, load_pack
from evalsuite.types import EvalsuiteError, JudgeInput, image_sha256
from tests.requirements import require

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
SHIPPED = ("typography", "flat-background", "edit", "t2i-general")
QUOTED = re.compile(r'"([^"]+)"')
PLAIN_BG = re.compile(r"\b(plain|solid|seamless|pure)\b[\w\s-]{0,30}\b(background|backdrop|canvas|wall|surface)\b"
                      r"|[纯白]色背景|白色背景")


def is_cjk(s: str) -> bool:
    return any(0x4E00 <= ord(ch) <= 0x9FFF for ch in s)


@pytest.fixture(scope="module")
def packs() -> dict[str, Pack]:
    return {name: load_pack(BENCH / name) for name in SHIPPED}


def tag_counts(pack: Pack) -> Counter:
    return Counter(t for c in pack.cases for t in c.tags)


# --- shipped packs ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_pack_loads_and_declares_judges(name: str, packs: dict[str, Pack]) -> None:
    pack = packs[name]
    assert pack.name == name and pack.version >= 1 and pack.description.strip()
    assert pack.judges, "a pack must name its default judges"
    assert not {"vlm-t2i", "vlm-edit", "vlm-pairwise", "vlm-yesno"} & set(pack.judges), \
        "VLM judges are opt-in (--judges), not pack defaults"
    assert pack.defaults.get("width") == 512 and pack.defaults.get("height") == 512
    # Re-loading gives the same content hash: the pack hash is deterministic.
    assert load_pack(BENCH / name).hash == pack.hash
    # Every tag used is declared with a description in pack.yaml (the loader enforces it).
    assert set(tag_counts(pack)) <= set(pack.summary()["tags"])


@pytest.mark.parametrize("name", SHIPPED)
def test_sizes_suit_qwen_image(name: str, packs: dict[str, Pack]) -> None:
    """Qwen-Image needs sides divisible by 16 (VAE factor 8 x patch 2)."""
    for c in packs[name].cases:
        assert c.width and c.height and c.width % 16 == 0 and c.height % 16 == 0, c.id
        assert 256 <= min(c.width, c.height) and max(c.width, c.height) <= 1024, c.id


@pytest.mark.parametrize("name", SHIPPED)
def test_every_case_has_yes_no_questions(name: str, packs: dict[str, Pack]) -> None:
    for c in packs[name].cases:
        assert len(c.questions) >= 2, c.id
        assert all(q.endswith("?") for q in c.questions), c.id
        assert len(set(c.questions)) == len(c.questions), c.id


def test_typography_covers_categories(packs: dict[str, Pack]) -> None:
    pack = packs["typography"]
    counts = tag_counts(pack)
    for tag in ("single-word", "multi-word", "multi-line", "numbers", "small-text", "chinese"):
        assert counts[tag] >= 5, f"typography has only {counts[tag]} '{tag}' cases"
    assert len(pack.cases) >= 300
    assert {c.kind for c in pack.cases} == {"t2i"}
    assert all(c.seeds == (0, 1) for c in pack.cases)
    for c in pack.cases:
        assert c.expected_text, c.id
        if "multi-line" in c.tags:
            assert len(c.expected_text) >= 2, f"{c.id}: multi-line needs one entry per line"
        if "chinese" in c.tags:
            assert any(is_cjk(t) for t in c.expected_text), c.id
        if "numbers" in c.tags:
            assert any(ch.isdigit() for t in c.expected_text for ch in t), c.id
    assert sum(c.background is not None for c in pack.cases) >= 10


@pytest.mark.parametrize("name", ["typography", "t2i-general", "flat-background"])
def test_quoted_prompt_text_is_the_expected_text(name: str, packs: dict[str, Pack]) -> None:
    """Whatever a t2i prompt puts in quotes must be written, so it is the expected text, in order."""
    for c in packs[name].cases:
        quoted = QUOTED.findall(c.prompt)
        if c.expected_text or quoted:
            assert tuple(quoted) == c.expected_text, c.id


@pytest.mark.parametrize("name", ["typography", "flat-background"])
def test_plain_background_prompts_have_a_background_spec(name: str, packs: dict[str, Pack]) -> None:
    n = 0
    for c in packs[name].cases:
        if PLAIN_BG.search(c.prompt):
            n += 1
            assert c.background is not None and c.background.color is not None, c.id
    assert n >= 10


def test_flat_background_pack(packs: dict[str, Pack]) -> None:
    pack = packs["flat-background"]
    counts = tag_counts(pack)
    assert len(pack.cases) >= 150
    for tag in ("product-shot", "logo", "flat-illustration"):
        assert counts[tag] >= 5, tag
    assert counts["dark"] >= 5 and counts["light"] >= 5
    for c in pack.cases:
        if "gradient" in c.tags:
            assert c.background is None, f"{c.id}: a gradient has no flat colour"
        else:
            assert c.background is not None and c.background.color is not None, c.id
    assert sum(c.background is not None and c.background.region is not None for c in pack.cases) >= 15


def test_edit_pack_categories_and_sources(packs: dict[str, Pack]) -> None:
    pack = packs["edit"]
    counts = tag_counts(pack)
    assert len(pack.cases) >= 150
    assert {c.kind for c in pack.cases} == {"edit"}
    for tag in ("recolour-background", "recolour-object", "replace-text", "add-element",
                "remove-element", "style", "replace-subject", "material-alter", "tone-transfer"):
        assert counts[tag] >= 8, tag
    assert sum("replace-text" in c.tags and "chinese" in c.tags for c in pack.cases) >= 10
    assets = (pack.root / "assets").resolve()
    for c in pack.cases:
        assert c.source is not None and assets in c.source.parents, c.id
        with Image.open(c.source) as im:
            assert im.mode == "RGB" and max(im.size) <= 512, c.id
        if "replace-text" in c.tags:
            assert c.expected_text, f"{c.id}: a text replacement has known text"
    # Every asset is used by some case.
    used = {c.source for c in pack.cases}
    assert used == {p.resolve() for p in assets.rglob("*.png")}


def test_edit_backgrounds_match_the_sources(packs: dict[str, Pack]) -> None:
    """Where an edit keeps the background, the spec's region of the source is exactly its colour."""
    checked = 0
    for c in packs["edit"].cases:
        if c.background is None or c.background.color is None or c.background.region is None:
            continue
        if {"recolour-background", "style", "remove-element"} & set(c.tags):
            continue   # the source's background differs from the result's by design
        a = np.asarray(Image.open(c.source).convert("RGB"))
        h, w = a.shape[:2]
        x0, y0, x1, y1 = c.background.region
        region = a[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)].reshape(-1, 3)
        assert region.size and (region == np.array(c.background.color)).all(), c.id
        checked += 1
    assert checked >= 100


def edit_assets_module():
    """scripts/make_edit_assets.py as a module (its scenes and font lookup)."""
    spec = importlib.util.spec_from_file_location("make_edit_assets", REPO / "scripts" / "make_edit_assets.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_edit_assets_are_reproducible(tmp_path: Path) -> None:
    """scripts/make_edit_assets.py redraws the committed PNGs pixel for pixel."""
    require(Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf").is_file(), "DejaVu fonts",
            "apt-get install fonts-dejavu-core")
    mod = edit_assets_module()
    try:
        written = mod.make_all(tmp_path)
    except SystemExit as e:   # no CJK font on this machine
        require(False, "a CJK font", str(e))
    assert len(written) == len(list((BENCH / "edit" / "assets").glob("*.png")))
    if mod.find_font(mod.CJK_FONTS) != mod.CJK_FONTS[0]:   # drawn with another CJK font here
        written = [p for p in written if p.name != "zh_banner.png"]
    for p in written:
        with Image.open(p) as new, Image.open(BENCH / "edit" / "assets" / p.name) as old:
            assert image_sha256(new) == image_sha256(old), p.name


def test_t2i_general_balanced_categories(packs: dict[str, Pack]) -> None:
    pack = packs["t2i-general"]
    counts = tag_counts(pack)
    assert counts["portrait"] == counts["landscape"] == counts["text-centric"] >= 10
    assert counts["portrait"] + counts["landscape"] + counts["text-centric"] == len(pack.cases)
    assert all(len(c.seeds) >= 4 for c in pack.cases), "diversity needs several seeds"
    for c in pack.cases:
        assert bool(c.expected_text) == ("text-centric" in c.tags), c.id
    shapes = Counter((c.width > c.height) - (c.width < c.height) for c in pack.cases)
    assert shapes[1] >= 5 and shapes[-1] >= 5 and shapes[0] >= 5, "wide, tall and square cases"


@pytest.mark.slow
def test_edit_expected_text_separates_edited_from_unedited(packs: dict[str, Pack]) -> None:
    """With the real OCR judge on the *source* images: text an edit must keep is read (recall 1),
    and the new text of a replace-text edit is not there yet (recall < 1), so the check can fail."""
    from evalsuite.registry import JUDGES

    judge = JUDGES.get("ocr")()
    try:
        items = [JudgeInput(c, 0, Image.open(c.source).convert("RGB"), f"src-{c.id}")
                 for c in packs["edit"].cases if c.expected_text]
        recall = {v.case_id: v.value for v in judge_verdicts(judge, items) if v.metric == "word_recall"}
    finally:
        judge.close()
    for it in items:
        c = it.case
        if "replace-text" in c.tags:
            assert recall[c.id] < 1.0, f"{c.id}: the unedited source already shows {c.expected_text}"
        else:
            assert recall[c.id] == 1.0, f"{c.id}: OCR does not read {c.expected_text} in the source"


def render_expected_text(case, mod) -> Image.Image:
    """A perfect image for a case: its expected lines, one under the other, on its background colour."""
    from PIL import ImageDraw, ImageFont

    color = case.background.color if case.background and case.background.color else (255, 255, 255)
    # half size (faster OCR) keeps short text legible; paragraphs of four or more lines at full size
    scale = 1 if len(case.expected_text) >= 4 else 2
    w, h = case.width // scale, case.height // scale
    img = Image.new("RGB", (w, h), color)
    d = ImageDraw.Draw(img)
    n = len(case.expected_text)
    for i, line in enumerate(case.expected_text):
        path = mod.find_font(mod.CJK_FONTS if is_cjk(line) else mod.LATIN_FONTS)
        size = 24
        while d.textlength(line, font=ImageFont.truetype(path, size)) > 0.9 * w:
            size -= 1
        d.text((w / 2, h * (i + 1) / (n + 1)), line, font=ImageFont.truetype(path, size),
               fill="white" if sum(color) < 380 else "black", anchor="mm")
    return img


def per_tag_sample(pack: Pack, k: int) -> list:
    """Cases with expected text: every hand-written one, plus the first k composed cases of each tag
    (every ladder bucket, script and layout), so the composed text banks are all exercised while
    the OCR pass stays a few minutes long."""
    chosen: dict[str, object] = {}
    seen: Counter = Counter()
    for c in pack.cases:
        if not c.expected_text:
            continue
        composed = re.search(r"-g\d{3}-", c.id) is not None
        if not composed or any(seen[t] < k for t in c.tags):
            chosen[c.id] = c
            seen.update(c.tags)
    return list(chosen.values())


@pytest.mark.slow
def test_expected_text_of_every_pack_is_readable_by_the_ocr_judge() -> None:
    """Expected text, rendered cleanly, scores recall = precision = 1 with the real OCR judge: the
    strings survive its normalisation (prices, times, e-mail, Chinese, diacritics) as written.
    Every hand-written case and, for each tag, three composed cases (see `per_tag_sample`)."""
    from evalsuite.registry import JUDGES

    mod = edit_assets_module()
    try:
        mod.find_font(mod.LATIN_FONTS), mod.find_font(mod.CJK_FONTS)
    except SystemExit as e:
        require(False, "the edit assets' fonts", str(e))
    judge = JUDGES.get("ocr")()
    try:
        items = [JudgeInput(c, 0, render_expected_text(c, mod), f"perfect-{c.id}")
                 for name in SHIPPED for c in per_tag_sample(load_pack(BENCH / name), 3)]
        verdicts = judge_verdicts(judge, items)
    finally:
        judge.close()
    assert len(items) >= 60
    bad = [(v.case_id, v.metric, v.value, v.detail.get("text")) for v in verdicts
           if v.metric in ("word_recall", "word_precision") and v.value != 1.0]
    assert not bad, bad


# --- malformed packs -------------------------------------------------------------------------

GOOD_YAML = """name: tiny
version: 1
description: a test pack
judges: [ocr, flatbg]
defaults:
  seeds: [0, 1]
  width: 64
  height: 64
"""
GOOD = {"id": "a", "kind": "t2i", "prompt": 'the word "HI"', "expected_text": ["HI"]}


def make_pack(root: Path, yaml_text: str = GOOD_YAML, lines: list[str] | None = None) -> Path:
    pack = root / "tiny"
    (pack / "assets").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 32), "white").save(pack / "assets" / "src.png")
    Image.new("RGB", (32, 32), "white").save(root / "outside.png")
    (pack / "pack.yaml").write_text(yaml_text, encoding="utf-8")
    if lines is None:
        lines = [json.dumps(GOOD)]
    (pack / "cases.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return pack


def case_line(**kw: object) -> str:
    d = dict(GOOD)
    for k, v in kw.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    return json.dumps(d, ensure_ascii=False)


EDIT = {"kind": "edit", "source": "assets/src.png"}
BAD_CASES = {
    # name: (lines of cases.jsonl, bad line number, words the message must contain)
    "bad-json": ([case_line(), '{"id": "b", "kind": "t2i", "prompt": "x",}'], 2, ["invalid JSON", "column"]),
    "not-an-object": ([case_line(), '["b", "t2i"]'], 2, ["JSON object"]),
    "missing-prompt": ([case_line(), case_line(id="b", prompt=None)], 2, ["'prompt'", "required"]),
    "missing-id": ([case_line(id=None)], 1, ["'id'", "required"]),
    "wrong-type-seeds": ([case_line(seeds="0")], 1, ["'seeds'", "non-negative integers"]),
    "bool-seed": ([case_line(seeds=[True])], 1, ["'seeds'"]),
    "duplicate-seed": ([case_line(seeds=[1, 1])], 1, ["'seeds'", "duplicates"]),
    "wrong-type-tags": ([case_line(tags="poster")], 1, ["'tags'", "must be list"]),
    "wrong-type-expected": ([case_line(expected_text="HI")], 1, ["'expected_text'", "must be list"]),
    "empty-question": ([case_line(questions=[""])], 1, ["'questions'"]),
    "unknown-field": ([case_line(), case_line(id="b", promt="x")], 2, ["'promt'", "did you mean 'prompt'"]),
    "duplicate-id": ([case_line(), case_line(id="b"), case_line()], 3, ["'id'", "duplicate", "line 1"]),
    "bad-id": ([case_line(id="a b")], 1, ["'id'", "'a b'"]),
    "id-with-newline": ([case_line(id="a\n")], 1, ["'id'"]),
    "bad-kind": ([case_line(kind="img2img")], 1, ["'kind'", "img2img"]),
    "edit-without-source": ([case_line(kind="edit")], 1, ["'source'", "required"]),
    "missing-asset": ([case_line(**{**EDIT, "id": "e", "source": "assets/nope.png"})], 1, ["'source'", "not found", "nope.png"]),
    "source-outside-pack": ([case_line(**{**EDIT, "source": "../outside.png"})], 1, ["'source'", "inside the pack"]),
    "source-on-t2i": ([case_line(source="assets/src.png")], 1, ["'source'", "only for edit"]),
    "bad-colour": ([case_line(background={"color": "#12345G"})], 1, ["'background.color'", "#12345G"]),
    "bad-colour-list": ([case_line(background={"color": [0, 300, 0]})], 1, ["'background.color'"]),
    "bad-region": ([case_line(background={"region": [0.5, 0, 0.2, 1]})], 1, ["'background.region'"]),
    "unknown-background-key": ([case_line(background={"colour": "#FFFFFF"})], 1, ["'background.colour'", "did you mean 'color'"]),
    "bad-width": ([case_line(width=4)], 1, ["'width'"]),
    "empty-prompt": ([case_line(prompt="  ")], 1, ["'prompt'", "empty"]),
}


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_malformed_case_names_file_line_field(name: str, tmp_path: Path) -> None:
    lines, lineno, words = BAD_CASES[name]
    pack = make_pack(tmp_path, lines=lines)
    with pytest.raises(EvalsuiteError) as ei:
        load_pack(pack)
    msg = str(ei.value)
    assert "\n" not in msg, msg
    assert msg.startswith(f"{pack / 'cases.jsonl'}:{lineno}: "), msg
    for w in words:
        assert w in msg, (w, msg)


BAD_YAML = {
    # name: (pack.yaml text, bad line, words)
    "unknown-judge": (GOOD_YAML.replace("judges: [ocr, flatbg]", "judges:\n  - ocr\n  - flatbgg"), 6,
                      ["'judges'", "unknown judge 'flatbgg'", "did you mean 'flatbg'"]),
    "unknown-field": (GOOD_YAML + "judge: [ocr]\n", 9, ["unknown field 'judge'", "did you mean 'judges'"]),
    "wrong-type-version": (GOOD_YAML.replace("version: 1", "version: one"), 2, ["'version'", "must be int"]),
    "missing-name": (GOOD_YAML.replace("name: tiny\n", ""), 1, ["'name'", "required"]),
    "judges-not-list": (GOOD_YAML.replace("judges: [ocr, flatbg]", "judges: ocr"), 4, ["'judges'", "list"]),
    "bad-default-key": (GOOD_YAML.replace("  seeds: [0, 1]", "  seed: [0, 1]"), 6, ["'defaults.seed'", "did you mean 'seeds'"]),
    "bad-default-seeds": (GOOD_YAML.replace("  seeds: [0, 1]", "  seeds: [-1]"), 6, ["'defaults.seeds'"]),
    "bad-default-width": (GOOD_YAML.replace("  width: 64", "  width: big"), 7, ["'defaults.width'"]),
    "invalid-yaml": (GOOD_YAML.replace("judges: [ocr, flatbg]", "judges: [ocr, flatbg"), 5, ["invalid YAML"]),
    "tags-not-mapping": (GOOD_YAML + "tags: [poster]\n", 9, ["'tags'", "mapping"]),
}


@pytest.mark.parametrize("name", sorted(BAD_YAML))
def test_malformed_pack_yaml_names_file_line_field(name: str, tmp_path: Path) -> None:
    text, lineno, words = BAD_YAML[name]
    pack = make_pack(tmp_path, yaml_text=text)
    with pytest.raises(EvalsuiteError) as ei:
        load_pack(pack)
    msg = str(ei.value)
    assert "\n" not in msg, msg
    assert msg.startswith(f"{pack / 'pack.yaml'}:{lineno}: "), msg
    for w in words:
        assert w in msg, (w, msg)


def test_undeclared_tag_did_you_mean(tmp_path: Path) -> None:
    pack = make_pack(tmp_path, GOOD_YAML + "tags:\n  single-word: one word\n",
                     [case_line(tags=["single-word"]), case_line(id="b", tags=["singel-word"])])
    with pytest.raises(EvalsuiteError) as ei:
        load_pack(pack)
    msg = str(ei.value)
    assert msg.startswith(f"{pack / 'cases.jsonl'}:2: field 'tags'") and "did you mean 'single-word'" in msg


def test_unknown_pack_name_did_you_mean() -> None:
    from evalsuite.packs import resolve_pack

    assert resolve_pack("typography") == BENCH / "typography"
    with pytest.raises(EvalsuiteError) as ei:
        resolve_pack("typograpy")
    msg = str(ei.value)
    assert msg.startswith("unknown pack 'typograpy'; did you mean 'typography'?") and "\n" not in msg
    assert all(name in msg for name in SHIPPED)          # the known packs are listed
    with pytest.raises(EvalsuiteError) as ei:
        load_pack("zzzzqqq")
    assert "unknown pack 'zzzzqqq'" in str(ei.value) and "did you mean" not in str(ei.value)


def test_non_utf8_line_is_named(tmp_path: Path) -> None:
    pack = make_pack(tmp_path)
    (pack / "cases.jsonl").write_bytes(b"\xef\xbb\xbf" + case_line().encode() + b"\n"
                                       + case_line(id="b", prompt="caf\u00e9").encode("latin-1") + b"\n")
    with pytest.raises(EvalsuiteError) as ei:
        load_pack(pack)
    assert str(ei.value).startswith(f"{pack / 'cases.jsonl'}:2: not valid UTF-8")
    (pack / "cases.jsonl").write_bytes(b"\xef\xbb\xbf" + case_line().encode() + b"\n")
    assert [c.id for c in load_pack(pack).cases] == ["a"]   # a leading BOM is accepted


def test_valid_pack_parses_every_field(tmp_path: Path) -> None:
    """The happy path: defaults fill seeds and size, a case overrides them, comments are skipped."""
    lines = [case_line(tags=["t"], background={"color": "#FFF8E7", "region": [0, 0, 1, 0.25]},
                       questions=["Is it there?"]),
             "// a comment line",
             "",
             case_line(id="e", prompt="make it blue", expected_text=None, seeds=[7], width=48,
                       height=32, **EDIT, meta={"note": "x"})]
    pack = load_pack(make_pack(tmp_path, lines=lines))
    a, e = pack.cases
    assert a.seeds == (0, 1) and (a.width, a.height) == (64, 64) and a.tags == ("t",)
    assert a.background.color == (255, 248, 231) and a.background.region == (0.0, 0.0, 1.0, 0.25)
    assert a.questions == ("Is it there?",) and a.expected_text == ("HI",)
    assert e.kind == "edit" and e.seeds == (7,) and (e.width, e.height) == (48, 32)
    assert e.source == (tmp_path / "tiny" / "assets" / "src.png").resolve() and e.meta == {"note": "x"}
    assert pack.summary()["images_per_model"] == 3
    # Any change to a case changes the pack hash; re-loading the same files does not.
    h = pack.hash
    assert load_pack(tmp_path / "tiny").hash == h
    (tmp_path / "tiny" / "cases.jsonl").write_text(case_line(prompt='the word "HO"') + "\n")
    assert load_pack(tmp_path / "tiny").hash != h


def test_cli_validate_reports_one_line_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evalsuite.cli.main import main

    good = make_pack(tmp_path / "g")
    bad = make_pack(tmp_path / "b", lines=[case_line(), case_line(id="x", promt="y")])
    assert main(["packs", "validate", str(good)]) == 0
    assert main(["packs", "validate", str(good), str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad / 'cases.jsonl'}:2:" in " ".join(err.split()) and "promt" in err


def test_shipped_packs_hash_is_stable_across_runs(packs: dict[str, Pack]) -> None:
    """The pack hash covers pack.yaml and every case; it is what run.json records."""
    for name, pack in packs.items():
        h = hashlib.sha256((BENCH / name / "pack.yaml").read_bytes())
        for c in pack.cases:
            h.update(c.content_hash().encode() + b"|" + ",".join(map(str, c.seeds)).encode())
        assert h.hexdigest()[:16] == pack.hash


# --- ladders, variety and the generators -----------------------------------------------------

LADDERED = {"typography": ("length", "size", "script", "layout"), "flat-background": ("tone", "share", "subject"),
            "t2i-general": ("detail",)}
FLOORS = {"typography": 300, "flat-background": 150, "edit": 150, "t2i-general": 200}


@pytest.mark.parametrize("name", SHIPPED)
def test_floors_and_prompt_variety(name: str, packs: dict[str, Pack]) -> None:
    from evalsuite.packs import check_variety
    from evalsuite.variety import variety

    pack = packs[name]
    assert len(pack.cases) >= FLOORS[name]
    check_variety(pack)
    assert variety(c.prompt for c in pack.cases).top_share <= 0.05


@pytest.mark.parametrize("name", sorted(LADDERED))
def test_every_case_has_one_bucket_per_ladder(name: str, packs: dict[str, Pack]) -> None:
    pack = packs[name]
    assert tuple(pack.ladders) == LADDERED[name]
    for ladder, order in pack.ladders.items():
        counts = Counter()
        for c in pack.cases:
            mine = [t for t in c.tags if t in order]
            assert len(mine) == 1, f"{c.id}: {ladder} buckets {mine}"
            counts[mine[0]] += 1
        assert min(counts[t] for t in order) >= 10, (ladder, counts)


def test_typography_ladder_tags_match_the_text(packs: dict[str, Pack]) -> None:
    """Length bucket = word count of the expected text (CJK character = half a word); the script
    bucket matches the characters; fine-print prompts ask for text under 2% of the height."""
    import math as _m

    for c in packs["typography"].cases:
        words = sum(len(re.sub(r"[\u4e00-\u9fff]", " ", t).split()) + sum(map(is_cjk, t)) / 2 for t in c.expected_text)
        w = _m.ceil(words)
        lo, hi = {"len:1": (1, 1), "len:2-3": (2, 3), "len:4-8": (4, 8), "len:9-20": (9, 20),
                  "len:21-40": (21, 40), "len:41+": (41, 10**6)}[next(t for t in c.tags if t.startswith("len:"))]
        assert lo <= w <= hi, (c.id, w)
        text = " ".join(c.expected_text)
        if "script:chinese" in c.tags:
            assert is_cjk(text) and not re.search(r"[A-Za-z]", text), c.id
        if "script:mixed" in c.tags:
            assert is_cjk(text) and re.search(r"[A-Za-z]", text), c.id
        if "script:diacritics" in c.tags:
            assert any(ord(ch) > 127 and ch.isalpha() and not is_cjk(ch) for ch in text), c.id
        if "script:digits-symbols" in c.tags:
            assert any(ch.isdigit() or ch in "$%#@&+/=*" for ch in text), c.id
        if "script:latin" in c.tags:
            assert text.isascii() and not any(ch.isdigit() for ch in text), c.id
        if "size:fine-print" in c.tags and c.id.startswith("typo-g"):
            assert "2%" in c.prompt or "fine print" in c.prompt or "legal-style" in c.prompt, c.id
    assert packs["typography"].ladders["length"][-1] == "len:41+"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("script,pack", [("make_packs_typography", "typography"), ("make_packs_flatbg", "flat-background"),
                                         ("make_packs_t2i_general", "t2i-general"), ("make_packs_edit", "edit")])
def test_generators_reproduce_the_committed_cases(script: str, pack: str, tmp_path: Path) -> None:
    mod = load_script(script)
    out = tmp_path / "cases.jsonl"
    from packgen import write_cases

    write_cases(pack, mod.build(), out)
    assert out.read_bytes() == (BENCH / pack / "cases.jsonl").read_bytes()
    # the hand-written cases keep their ids (gates and reports refer to them)
    hand = [json.loads(x)["id"] for x in (BENCH / pack / "handwritten.jsonl").read_text().splitlines() if x.strip()]
    ids = [json.loads(x)["id"] for x in out.read_text().splitlines()]
    assert ids[:len(hand)] == hand


def test_generated_edit_sources_are_reproducible(tmp_path: Path) -> None:
    require(Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf").is_file(), "DejaVu fonts",
            "apt-get install fonts-dejavu-core")
    mod = load_script("make_packs_edit")
    try:
        written = mod.make_assets(tmp_path)
    except SystemExit as e:
        require(False, "the edit sources' fonts", str(e))
    assert len(written) == len(list((BENCH / "edit" / "assets" / "gen").glob("*.png"))) == 30
    edit_mod = edit_assets_module()
    same_cjk = edit_mod.find_font(edit_mod.CJK_FONTS) == edit_mod.CJK_FONTS[0]
    for p in written:
        if p.name.startswith("zh_") and not same_cjk:
            continue
        with Image.open(p) as new, Image.open(BENCH / "edit" / "assets" / "gen" / p.name) as old:
            assert image_sha256(new) == image_sha256(old), p.name


def test_variety_check_rejects_a_templated_pack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """40 prompts differing only in quoted text, colour and object words share one template."""
    from evalsuite.cli.main import main
    from evalsuite.variety import template_of

    colours, objects = ["red", "blue", "green", "black"], ["mug", "poster", "sign", "box", "lamp"]
    assert template_of('A red mug with the word "A" on a white table.') == \
        template_of('A blue lamp with the word "Hello there" on a grey table!') == "a C O with the word Q on a C O"
    assert template_of("Price 49.99 at 10:30") == "price N at N"
    lines = [case_line(id=f"c{i}", prompt=f'A {colours[i % 4]} {objects[i % 5]} with the word "W{i}" on a table.')
             for i in range(38)]
    lines += [case_line(id="x1", prompt="A cat."), case_line(id="x2", prompt="A dog asleep.")]
    root = make_pack(tmp_path, lines=lines)
    assert main(["packs", "validate", str(root)]) == 1
    err = capsys.readouterr().err
    assert "prompt variety" in err and "38/40" in err and "e.g. case 'c0'" in err
    (root / "pack.yaml").write_text((root / "pack.yaml").read_text() + "max_template_share: 0.95\n")
    assert main(["packs", "validate", str(root)]) == 0


def test_ladder_bucket_must_be_a_declared_tag(tmp_path: Path) -> None:
    root = make_pack(tmp_path)
    (root / "pack.yaml").write_text((root / "pack.yaml").read_text()
                                    + "tags:\n  a: x\n  b: y\nladders:\n  size: [a, bb]\n")
    with pytest.raises(EvalsuiteError, match=r"pack\.yaml:\d+: field 'ladders.size': bucket 'bb' is not a tag declared"):
        load_pack(root)
