"""CLI behaviour: exit codes, one-line errors, --json, resume."""

from __future__ import annotations

import json

from evalsuite.cli.main import main
from tests.core.conftest import write_pack


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
