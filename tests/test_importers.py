"""`evalsuite packs import`: each benchmark's native layout (small fixtures in tests/fixtures/
benchmarks/, copied from the layout and field names of each official repository) becomes a valid
pack that records its source files' hashes; malformed sources are one-line errors naming file and line."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest

from evalsuite.importers import IMPORTERS, import_pack
from evalsuite.packs import load_pack
from evalsuite.types import EvalsuiteError

FIX = Path(__file__).resolve().parent / "fixtures" / "benchmarks"


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_registry_names_and_did_you_mean(tmp_path: Path) -> None:
    assert set(IMPORTERS.names()) == {"longtext", "oneig", "cvtg", "gedit", "dpg", "geneval"}
    with pytest.raises(EvalsuiteError, match="did you mean 'oneig'"):
        import_pack("oneigg", FIX / "OneIG-Benchmark", tmp_path / "p")


def test_longtext_both_languages(tmp_path: Path) -> None:
    pack = load_pack(import_pack("longtext", FIX / "X-Omni" / "textbench", tmp_path / "lt"))
    assert [c.id for c in pack.cases] == ["longtext-en-000", "longtext-en-001", "longtext-zh-000"]
    c = pack.case("longtext-en-000")
    assert c.expected_text == ("FRESH BREWS DAILY", "Since 1998")
    assert set(c.tags) == {"en", "category:sign", "length:short"}
    assert pack.case("longtext-zh-000").expected_text == ("每日新鲜烘焙",)
    files = {Path(f["path"]).name: f["sha256"] for f in pack.source["files"]}
    assert files == {"text_prompts.jsonl": sha(FIX / "X-Omni/textbench/text_prompts.jsonl"),
                     "text_prompts_zh.jsonl": sha(FIX / "X-Omni/textbench/text_prompts_zh.jsonl")}
    assert pack.source["format"] == "longtext" and "X-Omni" in pack.source["version"]


def test_oneig_text_and_diversity_subsets(tmp_path: Path) -> None:
    text = load_pack(import_pack("oneig", FIX / "OneIG-Benchmark", tmp_path / "t", subset="text"))
    assert [c.id for c in text.cases] == ["oneig-en-text-000", "oneig-en-text-001"]
    assert text.case("oneig-en-text-000").expected_text == ("The Impact of 5G", "Telecom Report, 2025")
    assert len(text.source["files"]) == 2
    div = load_pack(import_pack("oneig", FIX / "OneIG-Benchmark" / "OneIG-Bench.csv", tmp_path / "d",
                                subset="diversity"))
    assert [c.id for c in div.cases] == ["oneig-en-anime-000", "oneig-en-text-000", "oneig-en-text-001"]
    assert all(c.seeds == (0, 1, 2, 3) for c in div.cases)
    assert len(div.source["files"]) == 1


def test_cvtg_regions_and_style(tmp_path: Path) -> None:
    pack = load_pack(import_pack("cvtg", FIX / "CVTG-2K", tmp_path / "c"))
    assert [c.id for c in pack.cases] == ["cvtg-plain-2-1", "cvtg-plain-2-2", "cvtg-style-3-7"]
    assert pack.case("cvtg-style-3-7").expected_text == ("Ocean Tales", "Volume Two", "Penguin Press")
    assert set(pack.case("cvtg-plain-2-1").tags) == {"regions:2", "plain"}


def test_dpg_questions_dependencies_and_official_first_row_skip(tmp_path: Path) -> None:
    pack = load_pack(import_pack("dpg", FIX / "ELLA" / "dpg_bench", tmp_path / "g"))
    a1 = pack.case("dpg-a1")
    # the CSV's first data row is skipped as compute_dpg_bench.py does; the fixture repeats it, so
    # a1 still has propositions 1, 2, 3 (and the repeated question is not doubled)
    assert a1.meta["qids"] == [1, 2, 3]
    assert a1.meta["dependency"] == {"1": [0], "2": [1], "3": [1]}
    assert a1.questions == ("Are there cabbages?", "Are there eight cabbages?", "Are the cabbages green?")
    assert a1.prompt.startswith("An expansive field")
    assert set(pack.case("dpg-b2").tags) == {"entity", "relation"}
    assert len(pack.source["files"]) == 3      # the CSV and two prompt files


def test_geneval_tasks_and_four_seeds(tmp_path: Path) -> None:
    pack = load_pack(import_pack("geneval", FIX / "geneval", tmp_path / "ge"))
    assert [c.id for c in pack.cases] == ["geneval-00000", "geneval-00001", "geneval-00002"]
    assert pack.case("geneval-00001").meta["exclude"] == [{"class": "cow", "count": 3}]
    assert pack.case("geneval-00002").tags == ("color_attr",)
    assert all(c.seeds == (0, 1, 2, 3) for c in pack.cases)


def write_gedit(root: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    (root / "data").mkdir(parents=True)
    for r in rows:
        buf = io.BytesIO()
        Image.new("RGB", (64, 48), r.pop("color")).save(buf, format="PNG")
        r["input_image"] = {"bytes": buf.getvalue(), "path": None}
    pq.write_table(pa.Table.from_pylist(rows), root / "data" / "train-00000-of-00001.parquet")
    return root


def gedit_row(key: str, lang: str, task: str = "text_change", color: str = "red") -> dict:
    return {"key": key, "task_type": task, "instruction": f"edit {key}", "instruction_language": lang,
            "Intersection_exist": key != "k2", "color": color}


def test_gedit_parquet_languages_and_sources(tmp_path: Path) -> None:
    src = write_gedit(tmp_path / "GEdit-Bench", [gedit_row("k1", "en"), gedit_row("k2", "cn", "color_alter", "blue")])
    both = load_pack(import_pack("gedit", src, tmp_path / "all"))
    assert [c.id for c in both.cases] == ["gedit-en-k1", "gedit-cn-k2"]
    c = both.case("gedit-cn-k2")
    assert c.kind == "edit" and set(c.tags) == {"color_alter", "cn"} and c.meta["intersection_exist"] is False
    from PIL import Image

    with Image.open(c.source) as im:
        assert im.size == (64, 48) and im.getpixel((0, 0)) == (0, 0, 255)
    # 4:3 at ~512x512 area: width sqrt(262144 * 4/3) = 591.2, /32 = 18.48 -> 18 x 32 = 576;
    # height 591.2 / (4/3) = 443.4, /32 = 13.86 -> 14 x 32 = 448
    assert (c.width, c.height) == (576, 448)
    cn = load_pack(import_pack("gedit", src, tmp_path / "cn", subset="cn"))
    assert [c.id for c in cn.cases] == ["gedit-cn-k2"]


def test_gedit_unknown_group_names_file_and_row(tmp_path: Path) -> None:
    src = write_gedit(tmp_path / "G", [gedit_row("k1", "en"), gedit_row("k3", "en", "recolour")])
    with pytest.raises(EvalsuiteError, match=r"train-00000-of-00001\.parquet:row 2: field 'task_type': unknown GEdit group 'recolour'"):
        import_pack("gedit", src, tmp_path / "x")


@pytest.mark.parametrize("fmt,rel,content,line,words", [
    ("longtext", "textbench/text_prompts.jsonl",
     '{"category": "sign", "length": "short", "prompt": "p", "text": ["A"], "prompt_id": 0}\n{"category": "sign"',
     2, "invalid JSON"),
    ("longtext", "textbench/text_prompts.jsonl",
     '\n{"category": "sign", "length": "short", "prompt": "p", "text": [], "prompt_id": 0}\n', 2, "field 'text'"),
    ("longtext", "textbench/text_prompts.jsonl",
     '{"category": "sign", "length": "short", "prompt": "p", "text": ["A"]}\n', 1, "missing field 'prompt_id'"),
    ("geneval", "prompts/evaluation_metadata.jsonl",
     '{"tag": "single_object", "include": [{"class": "cat"}], "prompt": "a"}\n{"tag": "colour", "include": [], "prompt": "b"}\n',
     2, "unknown GenEval task 'colour'"),
    ("cvtg", "CVTG/3.json",
     '{"data_list": [\n  {"index": 1, "prompt": "p", "sentence_list": ["A", "B", "C"]},\n  {"index": 2, "prompt": "q", "sentence_list": ["A"]}\n]}',
     3, "'sentence_list' must hold 3"),
    ("cvtg", "CVTG/2.json", '{"data_list": [\n  {"index": 1,, }]}', 2, "invalid JSON"),
])
def test_malformed_source_is_one_line_naming_file_and_line(fmt: str, rel: str, content: str, line: int,
                                                           words: str, tmp_path: Path) -> None:
    p = tmp_path / "src" / rel
    p.parent.mkdir(parents=True)
    p.write_text(content)
    with pytest.raises(EvalsuiteError) as e:
        import_pack(fmt, p, tmp_path / "out")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{p}:{line}:") and words in msg, msg


def test_oneig_bad_text_literal_and_unknown_category(tmp_path: Path) -> None:
    root = tmp_path / "OneIG"
    shutil.copytree(FIX / "OneIG-Benchmark", root)
    t = root / "scripts/text/text_content.csv"
    t.write_text(t.read_text().replace("['Mental Health Awareness']", "['Mental Health"))
    with pytest.raises(EvalsuiteError, match=rf"^{t}:3: field 'text_content' is not a list literal"):
        import_pack("oneig", root, tmp_path / "o")
    csv_path = root / "OneIG-Bench.csv"
    csv_path.write_text(csv_path.read_text().replace("Anime_Stylization", "Anime"))
    with pytest.raises(EvalsuiteError, match=rf"^{csv_path}:2: field 'category': unknown OneIG category 'Anime'"):
        import_pack("oneig", csv_path, tmp_path / "o2", subset="diversity")


def test_unknown_file_name_is_rejected(tmp_path: Path) -> None:
    p = tmp_path / "prompts.jsonl"
    p.write_text('{"a": 1}\n')
    with pytest.raises(EvalsuiteError, match=rf"^{p}:1: unknown LongText-Bench file"):
        import_pack("longtext", p, tmp_path / "o")


def test_cli_import_and_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evalsuite.cli.main import main

    rc = main(["packs", "import", "cvtg", str(FIX / "CVTG-2K"), "-o", str(tmp_path / "cv")])
    assert rc == 0 and "3 cases" in capsys.readouterr().out
    assert main(["packs", "validate", str(tmp_path / "cv")]) == 0
    rc = main(["packs", "import", "cvtg", str(tmp_path / "missing"), "-o", str(tmp_path / "x")])
    assert rc == 2 and "not found" in capsys.readouterr().err
    meta = json.loads(json.dumps(load_pack(tmp_path / "cv").source))
    assert meta["files"][0]["sha256"] == sha(FIX / "CVTG-2K/CVTG/2.json")
