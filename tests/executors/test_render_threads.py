"""CPU pixels depend on torch's thread count, so the render thread count is a constant default
(not the caller's torch setting or the machine's cores), and any other count is part of the render
key: a run resumed with another count re-renders instead of mixing pixels of two thread counts."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from evalsuite.executors import DEFAULT_RENDER_THREADS, ExecOptions
from evalsuite.runner import RunConfig, run_eval
from evalsuite.store import RunStore


def _run(run_dir: Path, **exec_kw) -> tuple[dict, dict]:
    cfg = RunConfig(run_dir=run_dir, limit=1, judges=[], progress=False,
                    teacher_opts={"num_inference_steps": 4}, exec=ExecOptions(judge_workers=0, **exec_kw))
    summary = run_eval(cfg)
    store = RunStore(run_dir)
    try:
        items = {(i.role, i.case_id, i.seed): (i.image_hash, i.fingerprint) for i in store.items()}
    finally:
        store.close()
    return summary, items


def test_default_threads_ignore_the_callers_torch_setting_and_are_restored(tmp_path: Path) -> None:
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        _, at_one = _run(tmp_path / "a")
        torch.set_num_threads(2)            # what an earlier caller may leave behind
        _, at_two = _run(tmp_path / "b")
        assert torch.get_num_threads() == 2, "the local executor left its render thread count behind"
    finally:
        torch.set_num_threads(before)
    assert DEFAULT_RENDER_THREADS == 1
    assert len(at_one) == 8 and at_one == at_two          # same image hashes and render keys
    run_json = json.loads((tmp_path / "b" / "run.json").read_text())
    assert {m["cpu_threads"] for m in run_json["models"].values()} == {1}


def test_another_thread_count_is_part_of_the_render_key(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _, first = _run(run_dir)
    summary, second = _run(run_dir, render_threads=2)      # same directory, another thread count
    assert summary["timing"]["render_cached"] == 0 and summary["timing"]["rendered"] == 8
    assert {k for k in second} == {k for k in first}
    for key, (_, fp) in second.items():
        assert fp == f"{first[key][1]}-t2"
    run_json = json.loads((run_dir / "run.json").read_text())
    assert {m["render_key"].rsplit("-", 1)[1] for m in run_json["models"].values()} == {"t2"}
    summary, third = _run(run_dir, render_threads=2)        # and that key is cached as usual
    assert summary["timing"]["render_cached"] == 8 and third == second
