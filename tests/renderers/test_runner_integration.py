"""The runner with a real tiny diffusers pipeline: a cached re-run never loads the model."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from evalsuite.registry import JUDGES
from evalsuite.renderers.diffusers_renderer import DiffusersRenderer
from evalsuite.runner import RunConfig, run_eval
from tests.core.doubles import MeanJudge
from tests.fixtures import tiny_pipelines

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def _pack(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "pack.yaml").write_text("name: tiny\nversion: 1\ndescription: tiny pack\njudges: [mean]\n"
                                    "defaults:\n  width: 32\n  height: 32\n")
    rows = [{"id": f"c{i}", "kind": "t2i", "prompt": p, "seeds": [0, 1]}
            for i, p in enumerate(["a red poster", "the word OPEN", "blue"])]
    (root / "cases.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root


@pytest.mark.slow
def test_cached_rerun_loads_no_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    torch.set_num_threads(1)
    JUDGES.register("mean", MeanJudge)
    pipe = tiny_pipelines.write_qwen_image(tmp_path / "pipe", sampler={"num_inference_steps": 2,
                                                                      "guidance_scale": 1.0})
    cfg = RunConfig(run_dir=tmp_path / "run", pack=str(_pack(tmp_path / "pack")), model=str(pipe),
                    teacher=str(pipe), teacher_opts={"num_inference_steps": 4, "guidance_scale": 2.0},
                    progress=False)
    t0 = time.perf_counter()
    first = run_eval(cfg)
    t_first = time.perf_counter() - t0
    assert first["timing"]["rendered"] == 12
    assert first["models"]["student"]["nfe"] == 2 and first["models"]["teacher"]["nfe"] == 8

    def boom(self: DiffusersRenderer) -> None:
        raise AssertionError("a cached re-run must not load the pipeline")

    monkeypatch.setattr(DiffusersRenderer, "load", boom)
    t0 = time.perf_counter()
    second = run_eval(cfg)
    t_second = time.perf_counter() - t0
    assert second["timing"]["rendered"] == 0 and second["timing"]["render_cached"] == 12
    assert second["metrics"] == first["metrics"]
    assert t_second < t_first
