"""evalsuite.sweep: checkpoint discovery, append-only sweep.json, watch mode, CLI."""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from evalsuite import sweep as sw
from evalsuite.types import EvalsuiteError


def _ckpt(root: Path, step: int, recipe: str = "r") -> Path:
    d = root / f"step-{step:06d}"
    d.mkdir(parents=True)
    (d / "model_index.json").write_text("{}")
    (d / "train_config.json").write_text(json.dumps({"step": step, "config": {"name": recipe}}))
    return d


@pytest.fixture
def fake_runner(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fast double of evalsuite.runner.run_eval: records calls, returns a summary whose score
    is the checkpoint's step (so ordering and curves can be checked)."""
    calls: list[Any] = []

    def run_eval(cfg: Any) -> dict[str, Any]:
        calls.append(cfg)
        cfg.run_dir.mkdir(parents=True, exist_ok=True)
        step = sw.checkpoint_step(Path(cfg.model)) if Path(cfg.model).is_dir() else -1
        return {"metrics": {"student": {"ocr.word_recall": {"mean": step / 100, "ci": [0, 1], "n": 4,
                                                             "failures": 0}}},
                "models": {"student": {"latency_ms_per_image": 5.0}}}

    import evalsuite.runner
    monkeypatch.setattr(evalsuite.runner, "run_eval", run_eval)
    monkeypatch.setattr(sw, "export_images", lambda run_dir, role, dest: 0)
    return calls


def test_find_checkpoints_orders_by_step_and_skips_partial(tmp_path: Path) -> None:
    for s in (200, 0, 50):
        _ckpt(tmp_path, s)
    (tmp_path / ".tmp-step-000300").mkdir()
    (tmp_path / "step-000400").mkdir()            # no model_index.json yet: still being written
    assert [p.name for p in sw.find_checkpoints(tmp_path)] == ["step-000000", "step-000050", "step-000200"]
    with pytest.raises(EvalsuiteError, match="does not exist"):
        sw.find_checkpoints(tmp_path / "nope")


def test_sweep_appends_and_resumes(tmp_path: Path, fake_runner: list[Any]) -> None:
    ck = tmp_path / "ckpts"
    _ckpt(ck, 10), _ckpt(ck, 20)
    cfg = sw.SweepConfig(checkpoints=ck, sweep_dir=tmp_path / "sweep", pack="typography-mini",
                         teacher="T", tags=["quick"])
    data = sw.run_sweep(cfg)
    assert [c["step"] for c in data["checkpoints"]] == [10, 20]
    assert data["teacher"]["checkpoint"] == "T" and data["kind"] == "sweep"
    # the teacher is rendered once; checkpoints compare with its exported images
    assert [c.model for c in fake_runner] == ["T", str(ck / "step-000010"), str(ck / "step-000020")]
    assert fake_runner[1].teacher == f"images:{tmp_path / 'sweep' / 'teacher' / 'by-case'}"
    assert fake_runner[1].tags == ["quick"]
    assert sw.curves(data, "ocr.word_recall") == [(10, 0.1), (20, 0.2)]
    on_disk = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert on_disk["checkpoints"][1]["recipe"] == "r" and on_disk["checkpoints"][1]["run_dir"] == "step-000020"
    # a second sweep over the same dir evaluates only the new checkpoint
    _ckpt(ck, 30)
    fake_runner.clear()
    data = sw.run_sweep(cfg)
    assert [c.model for c in fake_runner] == ["T", str(ck / "step-000030")]
    assert [c["step"] for c in data["checkpoints"]] == [10, 20, 30]


def test_sweep_refuses_other_pack_or_teacher(tmp_path: Path, fake_runner: list[Any]) -> None:
    ck = tmp_path / "ckpts"
    _ckpt(ck, 1)
    sw.run_sweep(sw.SweepConfig(checkpoints=ck, sweep_dir=tmp_path / "s", pack="typography-mini", teacher="T"))
    with pytest.raises(EvalsuiteError, match="sweep is for pack 'typography-mini', not 'edit-mini'"):
        sw.run_sweep(sw.SweepConfig(checkpoints=ck, sweep_dir=tmp_path / "s", pack="edit-mini"))
    with pytest.raises(EvalsuiteError, match="teacher was T, not U"):
        sw.run_sweep(sw.SweepConfig(checkpoints=ck, sweep_dir=tmp_path / "s", pack="typography-mini", teacher="U"))


def test_watch_picks_up_checkpoints_written_later(tmp_path: Path, fake_runner: list[Any]) -> None:
    ck = tmp_path / "ckpts"
    _ckpt(ck, 0)

    def trainer() -> None:
        for s in (5, 10):
            time.sleep(0.3)
            _ckpt(ck, s)
        (ck / sw.DONE_MARKER).write_text("{}")

    t = threading.Thread(target=trainer)
    t.start()
    data = sw.run_sweep(sw.SweepConfig(checkpoints=ck, sweep_dir=tmp_path / "s", pack="typography-mini",
                                       watch=True, poll_s=0.05, idle_timeout_s=20))
    t.join()
    assert [c["step"] for c in data["checkpoints"]] == [0, 5, 10]


def test_watch_idle_timeout(tmp_path: Path, fake_runner: list[Any]) -> None:
    ck = tmp_path / "ckpts"
    _ckpt(ck, 0)
    t0 = time.time()
    data = sw.run_sweep(sw.SweepConfig(checkpoints=ck, sweep_dir=tmp_path / "s", pack="typography-mini",
                                       watch=True, poll_s=0.05, idle_timeout_s=0.3))
    assert len(data["checkpoints"]) == 1 and time.time() - t0 < 5


def test_corrupt_sweep_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "sweep.json").write_text("{oops")
    with pytest.raises(EvalsuiteError, match="sweep.json: not valid JSON"):
        sw.load_sweep(tmp_path)


def test_cli_parser_and_run(tmp_path: Path, fake_runner: list[Any]) -> None:
    from evalsuite.cli import sweep as cli

    ck = tmp_path / "ckpts"
    _ckpt(ck, 3)
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers(dest="verb"))
    args = parser.parse_args(["sweep", str(ck), "--pack", "typography-mini", "--teacher", "T",
                              "--sweep-dir", str(tmp_path / "s"), "--steps", "4", "--tags", "quick"])
    assert cli.run(args) == 0
    assert fake_runner[-1].model_opts == {"num_inference_steps": 4}
    table = cli.summary_table(json.loads((tmp_path / "s" / "sweep.json").read_text()))
    assert [c.header for c in table.columns] == ["checkpoint", "step", "ocr.word_recall", "worse than best so far"]
    assert list(table.columns[2].cells) == ["0.03"]
    assert json.loads((tmp_path / "s" / "sweep.json").read_text())["checkpoints"][0]["step"] == 3


@pytest.mark.slow
def test_real_sweep_over_tiny_checkpoints(tmp_path: Path) -> None:
    """The real runner, renderer and judges over two saved tiny pipelines."""
    import torch

    from distill.train import new_pipeline

    ck = tmp_path / "ckpts"
    for step in (0, 1):
        torch.manual_seed(step)
        pipe = new_pipeline(channels=(16, 32), text_dim=16)
        pipe.save_pretrained(ck / f"step-{step:06d}", sampler={"num_inference_steps": 2, "guidance_scale": 1.0})
    teacher = ck / "step-000000"
    data = sw.run_sweep(sw.SweepConfig(checkpoints=ck, sweep_dir=tmp_path / "s", pack="typography-mini",
                                       teacher=str(teacher), limit=2, judges=["flatbg", "fidelity"]))
    assert [c["step"] for c in data["checkpoints"]] == [0, 1]
    psnr0 = data["checkpoints"][0]["metrics"]["fidelity.psnr"]["mean"]
    psnr1 = data["checkpoints"][1]["metrics"]["fidelity.psnr"]["mean"]
    # step 0 is the teacher's own weights at the same sampler: identical pixels (PSNR capped/huge)
    assert psnr0 > psnr1
    assert len(list((tmp_path / "s" / "teacher" / "by-case").glob("*.png"))) == 8


def test_summary_table_turns_to_one_row_per_metric_when_there_are_many() -> None:
    """Past cli.WIDE metrics (OCR alone writes 16) the table has one row per metric and one column per
    checkpoint, so the names stay readable; the flagged metric's cell is marked and counted."""
    from evalsuite.cli import sweep as cli

    metrics = [f"ocr.m{i:02d}" for i in range(cli.WIDE + 1)]
    data = {"name": "s", "checkpoints": [
        {"name": f"step-{s}", "step": s, "metrics": {m: {"mean": s + i / 10} for i, m in enumerate(metrics)},
         "worse_than_best": ["ocr.m03"] if s == 20 else []} for s in (0, 20)]}
    table = cli.summary_table(data)
    assert [c.header for c in table.columns] == ["metric \\ step", "0", "20"]
    assert list(table.columns[0].cells) == metrics + ["worse than best so far"]
    assert list(table.columns[1].cells)[:2] == ["0", "0.1"]
    assert list(table.columns[2].cells)[3] == "[red]20.3[/]" and list(table.columns[2].cells)[-1] == "[red]1[/]"
    narrow = cli.summary_table({"name": "s", "checkpoints": [
        {**c, "metrics": {m: c["metrics"][m] for m in metrics[:2]}} for c in data["checkpoints"]]})
    assert [c.header for c in narrow.columns] == ["checkpoint", "step", "ocr.m00", "ocr.m01", "worse than best so far"]
