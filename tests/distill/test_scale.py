"""Scale path: a few LoRA distillation steps on a tiny random Qwen-Image transformer (CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from distill import scale
from evalsuite.types import EvalsuiteError, RenderRequest
from tests.fixtures import tiny_pipelines

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture(scope="module")
def pipe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_pipelines.write_qwen_image(tmp_path_factory.mktemp("scale") / "pipe",
                                           sampler={"num_inference_steps": 2, "guidance_scale": 1.0,
                                                    "width": 32, "height": 32})


def _cfg(pipe_dir: Path, out: Path, **kw: object) -> scale.ScaleConfig:
    raw = dict(pipeline=str(pipe_dir), out_dir=str(out), prompts=["a red poster", "blue sky text", "the word OPEN"],
               nfe=2, teacher_steps=4, teacher_guidance=3.0, width=32, height=32, lora_rank=4, lora_alpha=4,
               lr=3e-3, steps=10, batch_size=2, save_every=5, seed=0)
    raw.update(kw)
    return scale.config_from_dict(raw)


@pytest.mark.slow
def test_loss_decreases_only_lora_changes_and_renderer_loads_it(pipe_dir: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    from diffusers import QwenImageTransformer2DModel

    res = scale.train(_cfg(pipe_dir, tmp_path / "out", steps=30, save_every=15), log=lambda s: None)
    before, after = res["eval_loss"]
    assert after < 0.8 * before, (before, after)
    assert len(res["losses"]) == 30 and all(np.isfinite(res["losses"]))

    # Only LoRA parameters moved: every base weight equals the saved pipeline's.
    trained = res["transformer"]
    ref = QwenImageTransformer2DModel.from_pretrained(pipe_dir / "transformer").state_dict()
    lora, base = {}, {}
    for name, p in trained.named_parameters():
        (lora if "lora_" in name else base)[name] = p.detach()
    assert lora and base
    for name, p in base.items():
        key = name.replace(".base_layer", "")
        torch.testing.assert_close(p, ref[key], rtol=0, atol=0, msg=name)
    assert any(n for n, p in lora.items() if "lora_B" in n and p.abs().max() > 0)   # B starts at 0
    assert [Path(c).name for c in res["checkpoints"]] == ["step-000015", "step-000030"]

    # The saved LoRA loads through the renderer's `lora` option and changes the pixels.
    ck = Path(res["checkpoints"][-1])
    meta = json.loads((ck / "scale_config.json").read_text())
    assert meta["step"] == 30 and meta["config"]["nfe"] == 2 and meta["renderer_options"]["num_inference_steps"] == 2
    from evalsuite.renderers import load_renderer

    req = [RenderRequest("c0", "a red poster", 3, 32, 32)]
    plain = load_renderer(str(pipe_dir)).render(req)[0].image
    student = load_renderer(str(pipe_dir), **meta["renderer_options"])
    out = student.render(req)[0].image
    assert np.abs(np.asarray(out, np.int16) - np.asarray(plain, np.int16)).max() > 0
    assert student.describe()["nfe"] == 2
    # Through the renderer, on held-out seeds, the 2-step student is closer to the teacher
    # (4 steps, CFG 3) than the undistilled base at 2 steps.
    reqs = [RenderRequest(f"c{i}", p, 1000 + i, 32, 32) for i, p in enumerate(["a red poster", "the word OPEN"] * 3)]
    teacher = load_renderer(str(pipe_dir), num_inference_steps=4, guidance_scale=3.0, batch_size=6).render(reqs)
    base2 = load_renderer(str(pipe_dir), num_inference_steps=2, batch_size=6).render(reqs)
    stud2 = load_renderer(str(pipe_dir), batch_size=6, **meta["renderer_options"]).render(reqs)

    def dist(a: list, b: list) -> float:
        return float(np.mean([np.abs(np.asarray(x.image, float) - np.asarray(y.image, float)).mean()
                              for x, y in zip(a, b)]))

    assert dist(stud2, teacher) < 0.9 * dist(base2, teacher), (dist(stud2, teacher), dist(base2, teacher))
    # The loaded adapter holds exactly the trained LoRA weights.
    loaded = {n: p for n, p in student._pipe.transformer.named_parameters() if "lora_B" in n}
    trained_b = {n.replace(".default.", ".evalsuite."): p for n, p in lora.items() if "lora_B" in n}
    assert loaded.keys() == trained_b.keys()
    for n in loaded:
        torch.testing.assert_close(loaded[n], trained_b[n])


def test_student_grid_matches_the_pipeline(pipe_dir: Path) -> None:
    """The grid the loss trains on is the one QwenImagePipeline samples with at nfe steps."""
    from diffusers import QwenImagePipeline

    pipe = QwenImagePipeline.from_pretrained(pipe_dir)
    geo = scale.make_geometry(pipe, _cfg(pipe_dir, pipe_dir.parent / "unused"))
    seen = []
    pipe.set_progress_bar_config(disable=True)
    pipe(prompt=["x"], num_inference_steps=2, height=32, width=32, true_cfg_scale=1.0,
         callback_on_step_end=lambda p, i, t, kw: (seen.append(float(p.scheduler.sigmas[i])), kw)[1])
    torch.testing.assert_close(geo.grid[:2], torch.tensor(seen))
    assert float(geo.grid[-1]) == 0.0 and geo.every == 2 and len(geo.fine) == 5
    # Teacher states at the student grid are exact points of its fine trajectory.
    torch.testing.assert_close(geo.fine[::geo.every], geo.grid)


def test_config_errors(pipe_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(EvalsuiteError, match="multiple of nfe"):
        _cfg(pipe_dir, tmp_path, teacher_steps=5)
    with pytest.raises(EvalsuiteError, match="unknown key 'lr_rate'"):
        _cfg(pipe_dir, tmp_path, lr_rate=1.0)
    with pytest.raises(EvalsuiteError, match="no model_index.json"):
        _cfg(tmp_path, tmp_path)
    f = tmp_path / "c.yaml"
    f.write_text(f"pipeline: {pipe_dir}\nout_dir: {tmp_path}\nprompts_file: {tmp_path / 'p.jsonl'}\nnfe: 4\n")
    (tmp_path / "p.jsonl").write_text('{"prompt": "a"}\n{"id": 2}\n')
    with pytest.raises(EvalsuiteError, match=r"p.jsonl:2: expected a JSON object with a 'prompt'"):
        scale.read_prompts(scale.load_config(f))


@pytest.mark.slow
def test_two_process_ddp_run_on_cpu(pipe_dir: Path, tmp_path: Path) -> None:
    """The multi-GPU path, on CPU: torchrun with 2 processes (gloo DDP) through the CLI."""
    import os
    import subprocess
    import sys

    import yaml

    cfg = {"pipeline": str(pipe_dir), "out_dir": str(tmp_path / "out"), "prompts": ["a red poster", "blue", "OPEN", "x"],
           "nfe": 2, "teacher_steps": 4, "teacher_guidance": 3.0, "width": 32, "height": 32, "lora_rank": 4,
           "lora_alpha": 4, "lr": 3e-3, "steps": 4, "batch_size": 1, "save_every": 0}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "-m", "distill.scale", "--config", str(tmp_path / "c.yaml")],
                         capture_output=True, text=True, timeout=600, env=env, cwd=Path(__file__).parents[2])
    assert out.returncode == 0, out.stderr[-3000:]
    assert "2 process(es)" in out.stderr
    log = [json.loads(x) for x in (tmp_path / "out" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [0, 1, 2, 3]          # written once, by the main process
    assert (tmp_path / "out" / "step-000004" / "pytorch_lora_weights.safetensors").is_file()
