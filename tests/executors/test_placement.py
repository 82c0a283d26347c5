"""Placement of large models: `--gpus-per-worker K` (K > 1: the pipeline spread with diffusers
device_map="balanced", one Ray actor per K GPUs) and `--cpu-offload`. This machine has no GPU, so
what is checked here is the wiring: the flags reach the renderer, the renderer loads and renders
through those diffusers paths (on CPU they must give the same pixels as a plain load), run.json
records them, and the Ray placement asks for the right resources. Spreading over real GPUs is not
measured here (docs/scale.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalsuite.cli.main import main
from evalsuite.executors import ExecOptions, render_placement


@pytest.mark.parametrize("gpus, cpus, kw, n_judge, want", [
    (8, 64, {"gpus_per_worker": 2}, 1, (4, {"num_gpus": 2.0, "num_cpus": 0})),
    (8, 64, {"gpus_per_worker": 3}, 1, (2, {"num_gpus": 3.0, "num_cpus": 0})),
    (1, 16, {"gpus_per_worker": 2}, 1, (1, {"num_gpus": 2.0, "num_cpus": 0})),   # Ray then waits for 2
    (0, 2, {}, 1, (1, {"num_gpus": 0, "num_cpus": 1.0})),
    (0, 8, {"cpus_per_worker": 2}, 2, (3, {"num_gpus": 0, "num_cpus": 2})),
    (0, 8, {"workers": 2}, 1, (2, {"num_gpus": 0, "num_cpus": 1.0})),
])
def test_render_placement(gpus, cpus, kw, n_judge, want):
    assert render_placement(gpus, cpus, ExecOptions(executor="ray", **kw), n_judge) == want


def _run(run_dir: Path, *flags: str) -> dict:
    argv = ["run", "--run-dir", str(run_dir), "--limit", "1", "--teacher-steps", "4", "--judges", "colorfulness",
            "--no-progress", *flags]
    assert main(argv) == 0
    run_json = json.loads((run_dir / "run.json").read_text())
    from evalsuite.store import RunStore

    store = RunStore(run_dir)
    try:
        return {"models": run_json["models"],
                "items": {(i.role, i.case_id, i.seed): i.image_hash for i in store.items()}}
    finally:
        store.close()


def test_multi_gpu_and_offload_flags_load_through_diffusers_and_keep_pixels(tmp_path: Path) -> None:
    plain = _run(tmp_path / "plain")
    placed = _run(tmp_path / "placed", "--gpus-per-worker", "2", "--cpu-offload")
    for role in ("student", "teacher"):
        m = placed["models"][role]
        assert m["device_map"] == "balanced" and m["cpu_offload"] is True
        assert "device_map" not in plain["models"][role]
    assert len(plain["items"]) == 8 and placed["items"] == plain["items"]
