"""CLI behaviour: exit codes, one-line errors, --json, resume."""

from __future__ import annotations

import json

from evalsuite.cli.main import main
from tests.core.conftest import write_pack
from tests.core.doubles import PatternRenderer


def test_run_json_and_rerun(tmp_path, capsys):
    pack = write_pack(tmp_path / "p", n=3)
    argv = ["run", "--model", "pattern:0", "--teacher", "pattern:3", "--pack", str(pack),
            "--runs-root", str(tmp_path / "runs"), "--json"]
    assert main(argv) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["timing"]["rendered"] == 12 and s["metrics"]["student"]["mean.brightness"]["n"] == 6
    assert main(argv) == 0
    s2 = json.loads(capsys.readouterr().out)
    assert s2["timing"]["rendered"] == 0 and s2["timing"]["judged"] == 0
    assert (tmp_path / "runs" / "p__pattern-0__vs__pattern-3" / "results.db").exists()


def test_table_output(tmp_path, capsys):
    pack = write_pack(tmp_path / "p", n=2)
    assert main(["run", "--model", "pattern:0", "--teacher", "pattern:3", "--pack", str(pack),
                 "--run-dir", str(tmp_path / "r"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "mean.brightness" in out and "student − teacher" in out


def test_unknown_judge_did_you_mean(tmp_path, capsys):
    pack = write_pack(tmp_path / "p", n=2)
    rc = main(["run", "--model", "pattern:0", "--pack", str(pack), "--judges", "flatbgg",
               "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown judge 'flatbgg'" in err and "did you mean 'flatbg'" in err


def test_malformed_pack_names_line(tmp_path, capsys):
    pack = write_pack(tmp_path / "p", n=2)
    with open(pack / "cases.jsonl", "a") as f:
        f.write('{"id": "x", "kind": "t2i"}\n')
    rc = main(["packs", "validate", str(pack)])
    err = capsys.readouterr().err
    assert rc == 1 and "cases.jsonl:3" in err and "'prompt'" in err
    assert len([line for line in err.strip().splitlines() if line]) == 1


def test_judge_failure_exit_code(tmp_path, capsys):
    pack = write_pack(tmp_path / "p", n=2, judges=("mean", "crash"))
    rc = main(["run", "--model", "pattern:0", "--pack", str(pack), "--run-dir", str(tmp_path / "r"), "--json"])
    assert rc == 3
    s = json.loads(capsys.readouterr().out)
    assert s["metrics"]["student"]["crash.x"]["failures"] == 4


def test_unknown_renderer_prefix_and_missing_checkpoint(tmp_path, capsys):
    pack = write_pack(tmp_path / "p", n=1)
    rc = main(["run", "--model", str(tmp_path / "nope"), "--pack", str(pack), "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "nope" in err


def test_mistyped_renderer_name_did_you_mean(tmp_path, capsys):
    pack = write_pack(tmp_path / "p", n=1)
    folder = tmp_path / "imgs"
    folder.mkdir()
    rc = main(["run", "--model", f"imags:{folder}", "--pack", str(pack), "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "unknown renderer 'imags'" in err and f"did you mean 'images:{folder}'" in err
    assert "does not exist" not in err.split("unknown renderer")[0]
    # a name close to nothing: no suggestion, still one line naming the checkpoint
    rc = main(["run", "--model", "qqqqq:x", "--pack", str(pack), "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "unknown renderer 'qqqqq'" in err and "did you mean" not in err
    assert "known: " in err and "images" in err


def test_judge_option_for_an_unknown_judge_is_an_error(tmp_path, capsys):
    pack = write_pack(tmp_path / "p", n=1)
    base = ["run", "--model", "pattern:0", "--pack", str(pack), "--run-dir", str(tmp_path / "r"),
            "--judges", "mean,ocr"]
    rc = main(base + ["--judge-opt", "ocrr.x=1"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "--judge-opt 'ocrr.x'" in err and "unknown judge 'ocrr'" in err and "did you mean 'ocr'" in err
    assert not (tmp_path / "r").exists()                 # refused before anything ran


def test_judge_option_for_an_unselected_judge_is_an_error(tmp_path, capsys):
    """--judge-opt for a registered judge that the run does not select is a typo or a forgotten
    --judges entry: refused before anything renders (family flags such as --vlm-url are not)."""
    pack = write_pack(tmp_path / "p", n=1)
    rc = main(["run", "--model", "pattern:0", "--pack", str(pack), "--run-dir", str(tmp_path / "r"),
               "--judges", "mean", "--judge-opt", "ocr.backend=tesseract"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "judge 'ocr' is not selected" in err and "selected judges: mean" in err
    assert PatternRenderer.calls == [] and not (tmp_path / "r").exists()


def test_unknown_ocr_backend_fails_before_rendering(tmp_path, capsys):
    pack = write_pack(tmp_path / "p", n=2)
    rc = main(["run", "--model", "pattern:0", "--pack", str(pack), "--run-dir", str(tmp_path / "r"),
               "--judges", "mean,ocr", "--judge-opt", "ocr.backend=tesserac"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "unknown backend 'tesserac'" in err and "did you mean 'tesseract'" in err
    assert PatternRenderer.calls == [] and not (tmp_path / "r").exists()


def test_pack_text_with_rich_markup_is_printed_literally(tmp_path, capsys):
    """Prompts, descriptions and error messages are user data: '[bold]' or a stray '[/]' in them is
    printed as written, never parsed as rich markup (which would restyle it or crash the printer)."""
    pack = write_pack(tmp_path / "p", n=1, extra=[
        {"id": "c-markup", "kind": "t2i", "prompt": 'a sign reading "[/]" and [bold]x[/bold]', "seeds": [0]}])
    assert main(["packs", "show", str(pack)]) == 0
    out = capsys.readouterr().out
    assert "[/]" in out and "[bold]x[/bold]" in out
    bad = tmp_path / "bad[red]x"
    bad.mkdir()
    (bad / "pack.yaml").write_text("name: bad\nversion: 1\njudges: [mean]\n")
    (bad / "cases.jsonl").write_text('{"id": "c0", "kind": "t2i"}\n')
    rc = main(["packs", "validate", str(bad)])
    err = capsys.readouterr().err
    assert rc == 1 and "invalid" in err and "bad[red]x" in err
