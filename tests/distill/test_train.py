"""A few steps of the teacher and student loops on CPU, with toy sizes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
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
    small = train.pool_keys(config.load_recipe(config.REPO_ROOT / "distill/recipes/ablate-budget.yaml"))
    assert len(small) < len(keys) and set(small) <= set(keys)   # cached trajectories are shared
    clean = config.load_recipe(config.REPO_ROOT / "distill/recipes/ablate-clean.yaml")
    ck = train.pool_keys(clean)
    assert clean.budget == mixed.budget and len(ck) == len(keys)  # equal budget, other composition
    assert not any(k[0] == "cluttered" for k in ck) and any(k[0] == "cluttered" for k in keys)
    score = config.load_recipe(config.REPO_ROOT / "distill/recipes/score.yaml")
    assert score.objective == "score" and train.pool_keys(score) == keys


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


def test_teacher_loop_char_aware_with_text_layout(tmp_path: Path, tiny_pipe_dir: Path) -> None:
    """char_aware + text_layout warm-start a word-level init (the shared weights copied, the
    character modules new); the flags are saved with the model and t2i batches carry the
    letter-free layout map in the source channels."""
    cfg = config.parse_teacher_config({
        "name": "tc", "out_dir": str(tmp_path / "tc"), "init": str(tiny_pipe_dir), "batch_size": 4,
        "max_steps": 2, "num_inference_steps": 4, "warmup_steps": 1, "channels": [16, 32],
        "text_dim": 16, "arch_from_config": True, "char_aware": True, "text_layout": True,
        "layout_dropout": 0.5, "categories": {"typography": 1.0}, "edit_fraction": 0.0})
    lines: list[str] = []
    last = train.train_teacher(cfg, log=lines.append)
    assert any("text layout" in ln for ln in lines)
    assert any(ln.startswith("warm start text_encoder") and " 0 new" not in ln for ln in lines)
    new = TinyFlowPipeline.from_pretrained(last)
    assert new.text_layout and new.text_encoder.config.char_aware
    assert not TinyFlowPipeline.from_pretrained(tiny_pipe_dir).text_layout
    from distill import data
    s = data.make_sample(0, 0, "typography", "t2i")
    assert torch.count_nonzero(train.collate([s])[2]) == 0
    assert train.collate([s], layout=True)[2].min() == -1


def _score_recipe(tmp_path: Path, pipe_dir: Path, objective: str) -> config.Recipe:
    return config.parse_recipe({
        "name": objective, "out_dir": str(tmp_path / objective), "init": str(pipe_dir),
        "teachers": [
            {"name": "base", "path": str(pipe_dir), "schedule": [[0, 1], [1, 0.2]]},
            {"name": "typo", "path": str(pipe_dir), "schedule": [[0, 0], [1, 0.8]],
             "tasks": ["t2i"], "categories": ["typography"]}],
        "nfe": 2, "teacher_steps": 4, "budget": 6, "batch_size": 3, "steps": 4,
        "checkpoint_every": 2, "objective": objective, "teacher_guidance": 2.0})


def test_score_objective_few_steps(tiny_pipe_dir: Path, tmp_path: Path) -> None:
    """objective: score trains (no trajectory bank), logs the fake-score loss and the mean
    lambda of every teacher (base high early, the expert phased in), and moves the student."""
    recipe = _score_recipe(tmp_path, tiny_pipe_dir, "score")
    lines: list[str] = []
    last = train.train_student(recipe, log=lines.append, cache_root=tmp_path / "bank")
    assert not (tmp_path / "bank").exists() and last.name == "step-000004"
    log = [json.loads(x) for x in (tmp_path / "score" / "train_log.jsonl").read_text().splitlines()]
    assert all(r["fake_loss"] == r["fake_loss"] and r["loss"] == r["loss"] for r in log)
    w0 = log[0]["teacher_weights"]
    assert w0[0] > 0.99 and w0[1] < 0.01
    a = TinyFlowPipeline.from_pretrained(tmp_path / "score" / "step-000000").unet
    b = TinyFlowPipeline.from_pretrained(last).unet
    assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_score_gradient_is_fake_minus_weighted_teachers(tiny_pipe_dir: Path, tmp_path: Path) -> None:
    """The student surrogate's gradient w.r.t. its sample is (x0_fake - sum_m lambda_m x0_m) /
    normaliser: with a fake network equal to the teachers' mix the gradient vanishes, and every
    teacher with a weight is evaluated (the weighted sum, not a sampled teacher)."""
    recipe = _score_recipe(tmp_path, tiny_pipe_dir, "score")
    pipe = TinyFlowPipeline.from_pretrained(tiny_pipe_dir)
    from distill.pipeline import sigma_grid
    d = train.ScoreDistiller(recipe, pipe, sigma_grid(pipe.scheduler, 2))
    calls = []
    for m, tp in enumerate(d.teachers):
        orig = tp.guided_velocity
        tp.guided_velocity = (lambda o, m: lambda *a, **k: (calls.append(m), o(*a, **k))[1])(orig, m)  # type: ignore[method-assign]
    xt = torch.randn(2, 12, 16, 48)
    t = torch.tensor([0.3, 0.7])
    prompts = ['"CAT" in large red sans letters on a white background, left'] * 2
    src = torch.zeros(2, 12, 16, 48)
    both = d.real_x0(xt, t, prompts, src, torch.tensor([[0.5, 0.5], [0.5, 0.5]]))
    assert calls == [0, 1]
    one = d.real_x0(xt, t, prompts, src, torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
    assert calls == [0, 1, 0] and torch.allclose(both, one, atol=1e-5)   # same weights, same net
    # fake == teacher mix (both copies of the init, CFG 1) -> zero gradient on the sample
    recipe1 = config.parse_recipe({**json.loads(config.to_json(recipe)), "teacher_guidance": 1.0,
                                   "teachers": [{"name": "base", "path": str(tiny_pipe_dir)}]})
    d1 = train.ScoreDistiller(recipe1, pipe, sigma_grid(pipe.scheduler, 2))
    model = torch.nn.ModuleDict({"unet": pipe.unet, "text": pipe.text_encoder})
    loss, _ = d1.student_loss(model, prompts, src, torch.ones(2, 1), np.random.default_rng(0))
    loss.backward()
    assert loss.item() < 1e-6
