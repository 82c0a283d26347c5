"""A few steps of the teacher and student loops on CPU, with toy sizes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch

from distill import config, train
from distill.pipeline import TinyFlowPipeline


def test_teacher_loop_few_steps(tmp_path: Path) -> None:
    cfg = config.parse_teacher_config({
        "name": "t", "out_dir": str(tmp_path / "teacher"), "batch_size": 4, "max_steps": 3,
        "channels": [16, 32], "text_dim": 16, "num_inference_steps": 8, "warmup_steps": 1})
    lines: list[str] = []
    last = train.train_teacher(cfg, log=lines.append)
    assert last.name == "step-000003"
    meta = json.loads((last / "train_config.json").read_text())
    assert meta["step"] == 3 and meta["config"]["name"] == "t"
    assert json.loads((last / "sampler.json").read_text())["num_inference_steps"] == 8
    assert json.loads((tmp_path / "teacher" / "done.json").read_text())["steps"] == 3
    assert "loss" in lines[0]
    TinyFlowPipeline.from_pretrained(last)   # loads back


def test_warm_start_into_a_better_conditioned_architecture(tmp_path: Path, tiny_pipe_dir: Path) -> None:
    """arch_from_config: the init's weights are copied where names and shapes match, the added
    modules (pooled text, a second cross-attention level) start fresh, and the prompt now changes
    the velocity through the pooled path."""
    cfg = config.parse_teacher_config({
        "name": "t3", "out_dir": str(tmp_path / "t3"), "init": str(tiny_pipe_dir), "batch_size": 4,
        "max_steps": 2, "channels": [16, 32, 32], "text_dim": 16, "num_inference_steps": 4,
        "warmup_steps": 1, "attn_levels": 2, "pooled_text": True, "arch_from_config": True})
    init = TinyFlowPipeline.from_pretrained(tiny_pipe_dir)
    new = train.new_pipeline((16, 32, 32), 16, attn_levels=2, pooled_text=True)
    lines: list[str] = []
    train.warm_start(new, init, log=lines.append)
    own, src = new.unet.state_dict(), init.unet.state_dict()
    copied = [k for k in own if k in src and own[k].shape == src[k].shape]
    assert copied and all(torch.equal(own[k], src[k]) for k in copied)
    assert any(k.startswith("add_embedding") for k in own) and not any(k.startswith("add_embedding") for k in src)
    assert new.unet.config.down_block_types[-2:] == ["CrossAttnDownBlock2D"] * 2
    assert "new" in lines[0]
    last = train.train_teacher(cfg, log=lines.append)
    reloaded = TinyFlowPipeline.from_pretrained(last)
    assert reloaded.unet.config.addition_embed_type == "text"


def test_batches_are_deterministic() -> None:
    w = {"typography": 1.0, "figures": 1.0}
    assert train.batch_keys(0, 5, 8, w, 0.5) == train.batch_keys(0, 5, 8, w, 0.5)
    assert train.batch_keys(0, 5, 8, w, 0.5) != train.batch_keys(0, 6, 8, w, 0.5)
    tasks = Counter(k[2] for s in range(50) for k in train.batch_keys(0, s, 8, w, 0.25))
    assert 0.15 < tasks["edit"] / 400 < 0.35


def test_pool_keys_follow_budget_mixture_and_share_prefixes() -> None:
    mixed = config.load_recipe(config.REPO_ROOT / "distill/recipes/default.yaml")
    keys = train.pool_keys(mixed)
    assert len(keys) == mixed.budget and len(set(keys)) == len(keys)
    c = Counter(k[1] for k in keys)
    assert c["edit"] == c["t2i"] == mixed.budget // 2
    for name in ("ablate-clean", "ablate-t2i", "ablate-edit"):
        other = train.pool_keys(config.load_recipe(config.REPO_ROOT / f"distill/recipes/{name}.yaml"))
        assert set(other) <= set(keys), name   # cached teacher trajectories are shared
    assert all(k[1] == "t2i" for k in train.pool_keys(
        config.load_recipe(config.REPO_ROOT / "distill/recipes/ablate-t2i.yaml")))


def test_student_loop_few_steps(tiny_pipe_dir: Path, tmp_path: Path) -> None:
    recipe = config.parse_recipe({
        "name": "s", "out_dir": str(tmp_path / "student"), "init": str(tiny_pipe_dir),
        "teachers": [
            {"name": "base", "path": str(tiny_pipe_dir), "schedule": [[0, 1], [1, 0.5]]},
            {"name": "typo", "path": str(tiny_pipe_dir), "schedule": [[0, 0], [1, 0.5]],
             "tasks": ["t2i"], "categories": ["typography"]}],
        "nfe": 2, "teacher_steps": 4, "budget": 6, "batch_size": 3, "steps": 4,
        "checkpoint_every": 2, "objective": "trajectory+direct", "direct_from": 0.5})
    bank = tmp_path / "bank"
    lines: list[str] = []
    last = train.train_student(recipe, log=lines.append, cache_root=bank)
    names = sorted(p.name for p in (tmp_path / "student").iterdir() if p.name.startswith("step-"))
    assert names == ["step-000000", "step-000002", "step-000004"] and last.name == "step-000004"
    assert json.loads((last / "sampler.json").read_text()) == {"num_inference_steps": 2,
                                                                "guidance_scale": 1.0}
    log = [json.loads(line) for line in (tmp_path / "student" / "train_log.jsonl").read_text().splitlines()]
    assert log[-1]["direct"] > 0 and all(r["loss"] == r["loss"] for r in log)
    assert (tmp_path / "student" / "done.json").is_file()
    # the trajectory bank is on disk; a second run computes nothing new
    assert list(bank.rglob("*.pt"))
    lines2: list[str] = []
    train.train_student(recipe, log=lines2.append, cache_root=bank)
    assert not any(line.startswith("bank ") for line in lines2)
    # the student moved away from its initialisation
    a = TinyFlowPipeline.from_pretrained(tmp_path / "student" / "step-000000").unet
    b = TinyFlowPipeline.from_pretrained(last).unet
    assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_bank_states_match_teacher_integration(tiny_pipe_dir: Path, tmp_path: Path) -> None:
    """States at the student's grid are the teacher's fine Euler states at those sigmas."""
    pipe = TinyFlowPipeline.from_pretrained(tiny_pipe_dir)
    from distill.pipeline import sigma_grid

    grid = sigma_grid(pipe.scheduler, 2)
    bank = train.TrajectoryBank(pipe, tiny_pipe_dir, grid, 4, 1.0, tmp_path)
    key = ("figures", "t2i", 0)
    bank.fill([key], log=lambda m: None)
    st = bank.get(key)
    assert st.shape[0] == 3
    assert torch.allclose(st[0], train.key_noise(key), atol=1e-2)
    s = train.key_sample(key)
    prompts, _, src = train.collate([s])
    full = pipe.integrate(train.key_noise(key)[None], prompts, src, bank.fine, 1.0)
    assert torch.allclose(st[-1], full[-1][0], atol=2e-2)
    assert bank.fine.tolist()[0] == pytest.approx(1.0) and bank.fine.tolist()[-1] == 0.0


def test_teacher_loop_with_glyph_layout(tmp_path: Path, tiny_pipe_dir: Path) -> None:
    """glyph_layout: true turns an init into a glyph-conditioned model; the flag is saved with it
    and its batches carry the glyph maps in the source channels."""
    cfg = config.parse_teacher_config({
        "name": "tg", "out_dir": str(tmp_path / "tg"), "init": str(tiny_pipe_dir), "batch_size": 4,
        "max_steps": 2, "num_inference_steps": 4, "warmup_steps": 1, "glyph_layout": True,
        "categories": {"typography": 1.0}, "edit_fraction": 0.0})
    lines: list[str] = []
    last = train.train_teacher(cfg, log=lines.append)
    assert any("glyph layout" in ln for ln in lines)
    assert TinyFlowPipeline.from_pretrained(last).glyph_layout
    assert not TinyFlowPipeline.from_pretrained(tiny_pipe_dir).glyph_layout
    from distill import data
    s = data.make_sample(0, 0, "typography", "t2i")
    assert torch.count_nonzero(train.collate([s])[2]) == 0
    assert train.collate([s], glyph=True)[2].min() == -1
