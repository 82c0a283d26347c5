"""Scale path: the student objective of distill/train.py on a real Qwen-Image transformer + LoRA.

Same objective as the tiny loop — trajectory-segment velocity regression onto teacher ODE states
at the student's grid — but driving a diffusers QwenImageTransformer2DModel with a peft LoRA under
accelerate (one process per GPU: `accelerate launch -m distill.scale --config C.yaml`).

* Teacher = the base transformer with the LoRA disabled, so the weights exist once in memory
  (Qwen-Image is 20B parameters); it integrates `teacher_steps` Euler steps with true CFG, each
  student segment subdivided evenly, so the states at the student's grid are exact teacher states.
* Student = base + LoRA (zero-initialised, so it starts as the teacher); for each segment it
  predicts one velocity at the segment start and regresses onto the teacher's secant
  (x_{i+1} - x_i) / (sigma_{i+1} - sigma_i).
* The student grid is the pipeline's own: `num_inference_steps = nfe` sigmas with its
  (dynamic or static) shift, so the saved LoRA loaded with `DiffusersRenderer(lora=…)` at
  `num_inference_steps=nfe, guidance_scale=1` samples on exactly the grid it was trained on.
* Output: OUT/step-NNNNNN/pytorch_lora_weights.safetensors (diffusers LoRA format, the way
  Qwen-Image-Lightning ships) + scale_config.json (the config, the step and renderer options).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evalsuite.types import EvalsuiteError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScaleConfig:
    """Everything that defines a scale-path run; saved beside every LoRA checkpoint."""

    pipeline: str                                 # base pipeline folder (QwenImagePipeline)
    out_dir: str
    prompts: tuple[str, ...] = ()                 # training prompts (or prompts_file)
    prompts_file: str | None = None               # .txt (one per line) or .jsonl with "prompt"
    nfe: int = 4
    teacher_steps: int = 16                       # multiple of nfe
    teacher_guidance: float = 4.0                 # true_cfg_scale of the teacher
    negative_prompt: str = " "
    width: int = 1024
    height: int = 1024
    shift: float | None = None                    # static scheduler shift; None = the pipeline's own
    lora_rank: int = 32
    lora_alpha: float = 32.0
    lora_targets: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0",
                                     "add_q_proj", "add_k_proj", "add_v_proj", "to_add_out")
    lr: float = 1e-4
    weight_decay: float = 0.0
    steps: int = 1000
    batch_size: int = 1                           # per process
    grad_accum: int = 1
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"                   # accelerate: no | bf16 | fp16
    dtype: str = "float32"                        # base weights: float32 | bfloat16
    gradient_checkpointing: bool = False
    save_every: int = 250
    seed: int = 0
    max_sequence_length: int = 512

    def validate(self, where: str = "scale config") -> None:
        if self.nfe < 1 or self.teacher_steps % self.nfe:
            raise EvalsuiteError(f"{where}: teacher_steps ({self.teacher_steps}) must be a positive multiple of nfe ({self.nfe})")
        if self.dtype not in ("float32", "bfloat16", "float16"):
            raise EvalsuiteError(f"{where}: dtype must be float32, bfloat16 or float16, got {self.dtype!r}")
        if not self.prompts and not self.prompts_file:
            raise EvalsuiteError(f"{where}: give prompts or prompts_file")
        if not (Path(self.pipeline) / "model_index.json").is_file():
            raise EvalsuiteError(f"{where}: pipeline {self.pipeline} is not a diffusers pipeline folder (no model_index.json)")


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> ScaleConfig:
    """ScaleConfig from YAML/JSON; unknown keys are one-line errors naming the file."""
    import yaml

    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise EvalsuiteError(f"{path}: cannot read scale config ({e})") from e
    raw.update(overrides or {})
    return config_from_dict(raw, str(path))


def config_from_dict(raw: dict[str, Any], where: str = "scale config") -> ScaleConfig:
    names = {f.name for f in dataclasses.fields(ScaleConfig)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise EvalsuiteError(f"{where}: unknown key '{unknown[0]}' (known: {', '.join(sorted(names))})")
    raw = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    try:
        cfg = ScaleConfig(**raw)
    except TypeError as e:
        raise EvalsuiteError(f"{where}: {e}") from e
    cfg.validate(where)
    return cfg


def read_prompts(cfg: ScaleConfig) -> list[str]:
    prompts = list(cfg.prompts)
    if cfg.prompts_file:
        p = Path(cfg.prompts_file)
        try:
            lines = [ln.strip() for ln in p.read_text().splitlines() if ln.strip()]
        except OSError as e:
            raise EvalsuiteError(f"{p}: cannot read prompts ({e.strerror})") from e
        for i, ln in enumerate(lines, 1):
            if p.suffix == ".jsonl":
                try:
                    prompts.append(str(json.loads(ln)["prompt"]))
                except (ValueError, KeyError, TypeError) as e:
                    raise EvalsuiteError(f"{p}:{i}: expected a JSON object with a 'prompt'") from e
            else:
                prompts.append(ln)
    if not prompts:
        raise EvalsuiteError("scale config: no training prompts")
    return prompts


# --- the objective -----------------------------------------------------------------------------
@dataclass
class Geometry:
    """Latent layout and the student/teacher sigma grids for one image size."""

    latent_h: int            # packed-token grid (latent // 2)
    latent_w: int
    channels: int            # packed channels (in_channels of the transformer)
    grid: torch.Tensor       # [nfe + 1] student sigmas, 1 -> 0
    fine: torch.Tensor       # [teacher_steps + 1] teacher sigmas, each segment split evenly
    every: int               # teacher steps per student segment
    img_shapes: list[Any] = field(default_factory=list)


def student_grid(pipe: Any, nfe: int, seq_len: int, shift: float | None) -> torch.Tensor:
    """The sigmas QwenImagePipeline uses for `nfe` steps at this image size (terminal 0 included)."""
    from diffusers.pipelines.qwenimage.pipeline_qwenimage import calculate_shift

    sched = type(pipe.scheduler).from_config(pipe.scheduler.config)
    if shift is not None:
        sched = type(pipe.scheduler).from_config(pipe.scheduler.config, shift=shift, use_dynamic_shifting=False)
    c = sched.config
    mu = calculate_shift(seq_len, c.get("base_image_seq_len", 256), c.get("max_image_seq_len", 4096),
                         c.get("base_shift", 0.5), c.get("max_shift", 1.15))
    sched.set_timesteps(sigmas=np.linspace(1.0, 1 / nfe, nfe), mu=mu, device="cpu")
    return sched.sigmas.detach().clone().float()


def make_geometry(pipe: Any, cfg: ScaleConfig) -> Geometry:
    vsf = pipe.vae_scale_factor
    lh, lw = 2 * (cfg.height // (vsf * 2)) // 2, 2 * (cfg.width // (vsf * 2)) // 2
    grid = student_grid(pipe, cfg.nfe, lh * lw, cfg.shift)
    k = cfg.teacher_steps // cfg.nfe
    fine = [grid[i] + (grid[i + 1] - grid[i]) * j / k for i in range(cfg.nfe) for j in range(k)] + [grid[-1]]
    return Geometry(lh, lw, pipe.transformer.config.in_channels, grid, torch.stack(fine).float(), k)


def velocity(transformer: Any, x: torch.Tensor, sigma: torch.Tensor, embeds: torch.Tensor, mask: torch.Tensor,
             geo: Geometry) -> torch.Tensor:
    """Flow velocity exactly as QwenImagePipeline calls the transformer (timestep = sigma)."""
    img_shapes = [[(1, geo.latent_h, geo.latent_w)]] * x.shape[0]
    return transformer(hidden_states=x, timestep=sigma.to(x.dtype), encoder_hidden_states=embeds,
                       encoder_hidden_states_mask=mask, img_shapes=img_shapes, return_dict=False)[0]


@torch.no_grad()
def teacher_states(transformer: Any, noise: torch.Tensor, cond: tuple[torch.Tensor, torch.Tensor],
                   uncond: tuple[torch.Tensor, torch.Tensor] | None, guidance: float, geo: Geometry) -> torch.Tensor:
    """Euler-integrate the teacher (true CFG with norm rescale, as the pipeline) over the fine grid;
    return its states at the student grid: [B, nfe + 1, L, C]."""
    x = noise
    states = [x]
    n = x.shape[0]
    for i in range(len(geo.fine) - 1):
        s = geo.fine[i].expand(n).to(x.device)
        v = velocity(transformer, x, s, *cond, geo)
        if uncond is not None and guidance > 1.0:
            vu = velocity(transformer, x, s, *uncond, geo)
            comb = vu + guidance * (v - vu)
            v = comb * (v.norm(dim=-1, keepdim=True) / comb.norm(dim=-1, keepdim=True))
        x = x + (geo.fine[i + 1] - geo.fine[i]).to(x.device) * v
        if (i + 1) % geo.every == 0:
            states.append(x)
    return torch.stack(states, dim=1)


def segment_loss(transformer: Any, states: torch.Tensor, cond: tuple[torch.Tensor, torch.Tensor],
                 geo: Geometry) -> torch.Tensor:
    """Trajectory-segment velocity regression: one student step per segment onto the teacher secant."""
    n, nfe = states.shape[0], states.shape[1] - 1
    grid = geo.grid.to(states.device)
    dsig = (grid[1:] - grid[:-1]).view(1, -1, 1, 1)
    target = ((states[:, 1:] - states[:, :-1]) / dsig).flatten(0, 1)
    x_in = states[:, :nfe].flatten(0, 1)
    sig = grid[:nfe].repeat(n)
    emb, mask = (t.repeat_interleave(nfe, dim=0) for t in cond)
    v = velocity(transformer, x_in, sig, emb, mask, geo)
    return torch.nn.functional.mse_loss(v.float(), target.float())


def encode(pipe: Any, prompts: list[str], device: torch.device, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        emb, mask = pipe.encode_prompt(prompt=prompts, device=device, max_sequence_length=max_len)
    if mask is None:
        mask = torch.ones(emb.shape[:2], dtype=torch.long, device=emb.device)
    return emb, mask


def make_noise(geo: Geometry, n: int, seed: int, step: int, rank: int, dtype: torch.dtype) -> torch.Tensor:
    g = torch.Generator("cpu").manual_seed(int(np.random.SeedSequence([seed, step, rank]).generate_state(1)[0]))
    return torch.randn((n, geo.latent_h * geo.latent_w, geo.channels), generator=g).to(dtype)


EVAL_STREAM = 2**31 - 1   # noise/prompt stream of the held-out eval batch (never a training step)


# --- the loop ----------------------------------------------------------------------------------
def load_pipeline(cfg: ScaleConfig) -> Any:
    import diffusers

    dtype = getattr(torch, cfg.dtype)
    try:
        pipe = diffusers.DiffusionPipeline.from_pretrained(cfg.pipeline, dtype=dtype)
    except Exception as e:  # noqa: BLE001
        raise EvalsuiteError(f"cannot load pipeline {cfg.pipeline}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from e
    if type(pipe.transformer).__name__ != "QwenImageTransformer2DModel" or not hasattr(pipe, "encode_prompt"):
        raise EvalsuiteError(f"{cfg.pipeline}: the scale path needs a QwenImagePipeline "
                             f"(got {type(pipe).__name__} with {type(pipe.transformer).__name__})")
    return pipe


def add_lora(transformer: Any, cfg: ScaleConfig) -> list[torch.nn.Parameter]:
    """Attach a zero-initialised LoRA (student == teacher at step 0); freeze everything else."""
    from peft import LoraConfig

    transformer.requires_grad_(False)
    transformer.add_adapter(LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, init_lora_weights=True,
                                       target_modules=list(cfg.lora_targets)))
    params = [p for n, p in transformer.named_parameters() if "lora_" in n]
    for p in params:
        p.requires_grad_(True)
        p.data = p.data.float()      # trainable LoRA weights in fp32 even on a bf16 base
    if not params:
        raise EvalsuiteError(f"LoRA targets {cfg.lora_targets} matched no module of the transformer")
    return params


def save_lora(transformer: Any, out: Path, cfg: ScaleConfig, step: int, extra: dict[str, Any]) -> Path:
    """diffusers LoRA format (loadable with pipe.load_lora_weights / the renderer's `lora`)."""
    from diffusers import QwenImagePipeline
    from peft import get_peft_model_state_dict

    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().float().cpu().contiguous() for k, v in get_peft_model_state_dict(transformer).items()}
    QwenImagePipeline.save_lora_weights(out, transformer_lora_layers=state)
    renderer = {"lora": str(out / "pytorch_lora_weights.safetensors"), "num_inference_steps": cfg.nfe,
                "guidance_scale": 1.0, **({"shift": cfg.shift} if cfg.shift is not None else {})}
    (out / "scale_config.json").write_text(json.dumps(
        {"config": dataclasses.asdict(cfg), "step": step, "renderer_options": renderer, **extra}, indent=2) + "\n")
    return out


def train(cfg: ScaleConfig, log: Callable[[str], None] = logger.info, accelerator: Any = None) -> dict[str, Any]:
    """Run the scale-path loop; returns {'losses', 'checkpoints', 'eval_loss': (before, after), 'transformer'}.

    eval_loss is the objective on a fixed held-out batch (same prompts and noise) before the first
    and after the last step — a noise-free measure of progress.
    """
    from accelerate import Accelerator, DistributedDataParallelKwargs

    cfg.validate()
    # cpu=True on GPU-less hosts lets torchrun/accelerate run several CPU processes (gloo DDP).
    # find_unused_parameters: the last block's text-stream output (and its LoRA) never reaches the
    # image prediction, so DDP must not wait for its gradients.
    acc = accelerator or Accelerator(mixed_precision=cfg.mixed_precision, gradient_accumulation_steps=cfg.grad_accum,
                                     cpu=not torch.cuda.is_available(),
                                     kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    torch.manual_seed(cfg.seed)
    prompts = read_prompts(cfg)
    pipe = load_pipeline(cfg)
    pipe.set_progress_bar_config(disable=True)
    pipe.text_encoder.requires_grad_(False)
    pipe.to(acc.device)
    transformer = pipe.transformer
    geo = make_geometry(pipe, cfg)
    params = add_lora(transformer, cfg)
    if cfg.gradient_checkpointing:
        transformer.enable_gradient_checkpointing()
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    student, opt = acc.prepare(transformer, opt)
    base = acc.unwrap_model(student)
    dtype = next(base.parameters()).dtype if cfg.dtype == "float32" else getattr(torch, cfg.dtype)
    uncond_cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def conds(batch_prompts: list[str]) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor] | None]:
        cond = encode(pipe, batch_prompts, acc.device, cfg.max_sequence_length)
        uncond = None
        if cfg.teacher_guidance > 1.0:
            n = len(batch_prompts)
            if n not in uncond_cache:
                uncond_cache[n] = encode(pipe, [cfg.negative_prompt] * n, acc.device, cfg.max_sequence_length)
            uncond = uncond_cache[n]
        return cond, uncond

    def batch_states(step: int, rank: int, rng: np.random.Generator) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        idx = rng.choice(len(prompts), cfg.batch_size, replace=len(prompts) < cfg.batch_size)
        cond, uncond = conds([prompts[i] for i in idx])
        noise = make_noise(geo, cfg.batch_size, cfg.seed, step, rank, dtype).to(acc.device)
        base.disable_adapters()                     # the teacher is the base model
        try:
            states = teacher_states(base, noise, cond, uncond, cfg.teacher_guidance, geo)
        finally:
            base.enable_adapters()
        return states, cond

    # A fixed held-out batch (its own noise stream) measures progress without sampling noise.
    eval_states, eval_cond = batch_states(EVAL_STREAM, 0, np.random.default_rng([cfg.seed, EVAL_STREAM]))

    def eval_loss() -> float:
        with torch.no_grad():
            return float(segment_loss(base, eval_states, eval_cond, geo).item())

    before = eval_loss()
    out = Path(cfg.out_dir)
    if acc.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        log(f"scale: {len(prompts)} prompts, nfe {cfg.nfe}, teacher {cfg.teacher_steps} steps cfg {cfg.teacher_guidance}, "
            f"{sum(p.numel() for p in params)} LoRA params, {acc.num_processes} process(es), eval loss {before:.5f}")
    log_f = (out / "train_log.jsonl").open("a") if acc.is_main_process else None
    losses: list[float] = []
    checkpoints: list[str] = []
    t0 = time.time()
    student.train()
    for step in range(cfg.steps):
        rng = np.random.default_rng([cfg.seed, step, acc.process_index])
        states, cond = batch_states(step, acc.process_index, rng)
        with acc.accumulate(student):
            loss = segment_loss(student, states, cond, geo)
            acc.backward(loss)
            if acc.sync_gradients and cfg.max_grad_norm > 0:
                acc.clip_grad_norm_(params, cfg.max_grad_norm)
            opt.step()
            opt.zero_grad(set_to_none=True)
        val = float(acc.gather(loss.detach().reshape(1)).mean().item())
        losses.append(val)
        if log_f is not None:
            log_f.write(json.dumps({"step": step, "loss": round(val, 6), "time": round(time.time() - t0, 3)}) + "\n")
            log_f.flush()
        last = step == cfg.steps - 1
        if (cfg.save_every and (step + 1) % cfg.save_every == 0) or last:
            acc.wait_for_everyone()
            if acc.is_main_process:
                ck = save_lora(base, out / f"step-{step + 1:06d}", cfg, step + 1, {"loss": val})
                checkpoints.append(str(ck))
                log(f"scale: step {step + 1} loss {val:.5f} -> {ck}")
    after = eval_loss()
    if log_f is not None:
        log_f.close()
        log(f"scale: eval loss {before:.5f} -> {after:.5f} in {time.time() - t0:.1f}s")
    return {"losses": losses, "checkpoints": checkpoints, "eval_loss": (before, after), "transformer": base,
            "main_process": acc.is_main_process, "num_processes": acc.num_processes}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m distill.scale", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, help="YAML with ScaleConfig fields (pipeline, out_dir, prompts, ...)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import yaml

    overrides = {}
    for kv in args.set:
        if "=" not in kv:
            p.error(f"--set {kv}: expected KEY=VALUE")
        k, v = kv.split("=", 1)
        overrides[k] = yaml.safe_load(v)
    try:
        res = train(load_config(args.config, overrides))
    except EvalsuiteError as e:
        logger.error("%s", e)
        return e.exit_code
    before, after = res["eval_loss"]
    if not res["main_process"]:
        return 0 if math.isfinite(after) else 1
    logger.info("done: eval loss %.5f -> %.5f; last checkpoint %s", before, after,
                res["checkpoints"][-1] if res["checkpoints"] else None)
    return 0 if math.isfinite(after) else 1


if __name__ == "__main__":
    raise SystemExit(main())
