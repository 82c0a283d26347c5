"""The training loops: teachers (rectified flow) and students (few-step distillation).

Read top to bottom: data batches → teacher loop → student loop. Every checkpoint is a complete
TinyFlowPipeline folder (EMA weights, safetensors) with `train_config.json` and `sampler.json`,
so `evalsuite run --model CKPT` and `evalsuite sweep` can evaluate it directly.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from distill import data
from distill.config import REPO_ROOT, Recipe, TeacherConfig, teacher_weights, to_json
from distill.modeling import TinyTextEncoder, build_unet, fold, velocity
from distill.pipeline import TinyFlowPipeline, sigma_grid

logger = logging.getLogger(__name__)


# --- data -------------------------------------------------------------------------------------
def pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def batch_keys(seed: int, step: int, size: int, categories: dict[str, float],
               edit_fraction: float) -> list[tuple[int, str, str]]:
    """Sample keys (index, category, task) of one batch; a pure function of (seed, step)."""
    rng = np.random.default_rng([seed, step, 99])
    keys = []
    for i in range(size):
        task = "edit" if rng.random() < edit_fraction else "t2i"
        keys.append((step * size + i, pick(rng, categories), task))
    return keys


def collate(samples: list[data.Sample], layout: bool = False) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """Samples → (prompts, folded targets, folded sources: the edit source; for t2i zeros, or with
    `layout` (a text-layout model) the sample's letter-free layout map where it has one)."""
    def source(s: data.Sample) -> torch.Tensor:
        if s.source is not None:
            return torch.from_numpy(data.to_tensor_array(s.source))
        if layout and s.layout is not None:
            return torch.from_numpy(s.layout)
        return torch.zeros(3, data.HEIGHT, data.WIDTH)

    tgt = torch.from_numpy(np.stack([data.to_tensor_array(s.target) for s in samples]))
    src = torch.stack([source(s) for s in samples])
    return [s.prompt for s in samples], fold(tgt), fold(src)


def text_weights(samples: list[data.Sample], weight: float) -> torch.Tensor:
    """Folded per-pixel loss weights [B, 12, h, w]: `weight` inside a t2i text sample's word box
    (its layout map at the sample's own jitter), 1 elsewhere and for other samples."""
    w = torch.ones(len(samples), 3, data.HEIGHT, data.WIDTH)
    for i, s in enumerate(samples):
        if s.layout is not None:
            w[i, :, torch.from_numpy(s.layout[0] > 0)] = weight
    return fold(w)


# --- shared helpers ---------------------------------------------------------------------------
def new_pipeline(channels: tuple[int, ...] = (32, 64, 128), text_dim: int = 128,
                 attn_levels: int = 1, pooled_text: bool = False, char_aware: bool = False,
                 text_layout: bool = False) -> TinyFlowPipeline:
    """A fresh pipeline. Cross-attention at the `attn_levels` lowest resolutions (cheap on a CPU);
    `pooled_text` also adds an attention-pooled prompt embedding to the time embedding of every
    ResNet block (diffusers' addition_embed_type="text"), so global attributes (colours, font,
    size, position, the word) reach the high-resolution path too, not only the bottleneck."""
    n = len(channels)
    k = max(1, min(attn_levels, n - 1)) if n > 1 else 0
    extra: dict[str, Any] = {}
    if pooled_text:
        extra = {"addition_embed_type": "text", "addition_embed_type_num_heads": 4}
    unet = build_unet(
        channels=channels, cross_attention_dim=text_dim, norm_num_groups=min(16, channels[0]),
        down_block_types=["DownBlock2D"] * (n - k) + ["CrossAttnDownBlock2D"] * k,
        up_block_types=["CrossAttnUpBlock2D"] * k + ["UpBlock2D"] * (n - k), **extra)
    text = TinyTextEncoder(vocab=data.vocabulary(), dim=text_dim, char_aware=char_aware,
                           text_layout=text_layout)
    return TinyFlowPipeline(unet=unet, text_encoder=text,
                            scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0))


def warm_start(pipe: TinyFlowPipeline, init: TinyFlowPipeline,
               log: Callable[[str], None] = print) -> TinyFlowPipeline:
    """Copy every weight of `init` whose name and shape match into `pipe` (an architecture that adds
    modules, e.g. more cross-attention levels or pooled text); new modules keep their fresh init."""
    for name in ("unet", "text_encoder"):
        dst, src = getattr(pipe, name), getattr(init, name).state_dict()
        own = dst.state_dict()
        same = {k: v for k, v in src.items()      # (meta: a module the init's folder lacks)
                if k in own and own[k].shape == v.shape and not v.is_meta}
        dst.load_state_dict(same, strict=False)
        log(f"warm start {name}: {len(same)}/{len(own)} tensors copied, "
            f"{len(own) - len(same)} new")
    return pipe


def resolve(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else REPO_ROOT / p


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.lerp_(pm.detach(), 1.0 - decay)


def save_checkpoint(pipe: TinyFlowPipeline, out: Path, cfg: Any, step: int,
                    sampler: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    """Write a complete pipeline folder + train_config.json; written to a temp name then renamed,
    so a watcher never sees a half-written checkpoint."""
    final = out / f"step-{step:06d}"
    tmp = out / f".tmp-step-{step:06d}"
    pipe.save_pretrained(tmp, sampler=sampler)
    meta = {"kind": type(cfg).__name__, "step": step, "config": json.loads(to_json(cfg))}
    meta.update(extra or {})
    (tmp / "train_config.json").write_text(json.dumps(meta, indent=2) + "\n")
    if final.exists():
        import shutil
        shutil.rmtree(final)
    tmp.rename(final)
    logger.info("checkpoint %s", final)
    return final


def lr_at(step: int, base: float, warmup: int, progress: float = 0.0, decay: str = "constant",
          lr_min: float = 0.0) -> float:
    """Linear warm-up, then constant or cosine decay to `lr_min` as `progress` goes 0 -> 1."""
    lr = base
    if decay == "cosine":
        p = min(1.0, max(0.0, progress))
        lr = lr_min + (base - lr_min) * 0.5 * (1.0 + math.cos(math.pi * p))
    return lr * min(1.0, (step + 1) / max(1, warmup))


# --- teacher loop -----------------------------------------------------------------------------
def train_teacher(cfg: TeacherConfig, log: Callable[[str], None] = print) -> Path:
    """Rectified-flow training with CFG dropout; returns the last checkpoint folder."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out = resolve(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "done.json").unlink(missing_ok=True)
    arch = (cfg.channels, cfg.text_dim, cfg.attn_levels, cfg.pooled_text, cfg.char_aware,
            cfg.text_layout)
    if cfg.init and cfg.arch_from_config:
        pipe = warm_start(new_pipeline(*arch), TinyFlowPipeline.from_pretrained(resolve(cfg.init)), log)
    elif cfg.init:
        pipe = TinyFlowPipeline.from_pretrained(resolve(cfg.init))
    else:
        pipe = new_pipeline(*arch)
    layout = pipe.text_layout
    if layout:
        log(f"text layout: t2i conditions on the letter-free layout map "
            f"(dropped for {cfg.layout_dropout:.0%} of samples)")
    model = torch.nn.ModuleDict({"unet": pipe.unet, "text": pipe.text_encoder}).train()
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(cfg.seed)
    sampler = {"num_inference_steps": cfg.num_inference_steps, "guidance_scale": cfg.guidance_scale}
    ema_pipe = TinyFlowPipeline(unet=ema["unet"], text_encoder=ema["text"], scheduler=pipe.scheduler)

    t_start = last_ckpt_t = time.time()
    last = out
    step = 0
    for step in range(cfg.max_steps):
        keys = batch_keys(cfg.seed, step, cfg.batch_size, cfg.categories, cfg.edit_fraction)
        samples = [data.make_sample(cfg.seed, i, c, t) for i, c, t in keys]
        prompts, x0, src = collate(samples, layout)
        if layout and cfg.layout_dropout > 0:   # learn to write from the prompt alone too
            t2i = torch.tensor([s.source is None for s in samples])
            off = (torch.rand(len(prompts), generator=gen) < cfg.layout_dropout) & t2i
            src[off] = 0.0
        drop = torch.rand(len(prompts), generator=gen) < cfg.cfg_dropout
        prompts = ["" if d else p for p, d in zip(prompts, drop.tolist())]
        noise = torch.randn(x0.shape, generator=gen)
        u = torch.rand(len(prompts), generator=gen)
        sigma = torch.where(torch.rand(len(prompts), generator=gen) < 0.2, u,
                            torch.sigmoid(torch.randn(len(prompts), generator=gen)))
        s = sigma.view(-1, 1, 1, 1)
        xt = (1 - s) * x0 + s * noise
        text, mask, src = model["text"].condition(prompts, src)
        v = velocity(model["unet"], xt, sigma, src, text, mask)
        err = (v - (noise - x0)) ** 2
        if cfg.text_loss_weight != 1.0:   # the word's box (exact jitter) weighs more
            err = err * text_weights(samples, cfg.text_loss_weight)
        loss = err.mean()
        progress = max(step / cfg.max_steps, (time.time() - t_start) / 60 / cfg.max_minutes)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg.lr, cfg.warmup_steps, progress, cfg.lr_decay, cfg.lr_min)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema_update(ema, model, min(cfg.ema, (1 + step) / (10 + step)))
        now = time.time()
        if step % 25 == 0:
            log(f"teacher {cfg.name} step {step} loss {loss.item():.4f} "
                f"{(step + 1) / (now - t_start):.2f} steps/s")
        out_of_time = (now - t_start) / 60 >= cfg.max_minutes
        if now - last_ckpt_t >= cfg.checkpoint_minutes * 60 or out_of_time:
            last = save_checkpoint(ema_pipe, out, cfg, step + 1, sampler)
            last_ckpt_t = now
        if out_of_time:
            break
    else:
        last = save_checkpoint(ema_pipe, out, cfg, step + 1, sampler)
    mark_done(out, last, step + 1, time.time() - t_start)
    return last


def mark_done(out: Path, last: Path, steps: int, seconds: float) -> None:
    """`done.json` tells a watching sweep (evalsuite sweep --watch) that no checkpoint will follow."""
    (out / "done.json").write_text(json.dumps(
        {"last": last.name, "steps": steps, "seconds": round(seconds, 1)}) + "\n")


# --- student loop -----------------------------------------------------------------------------
BANK_SEED = 1234
PoolKey = tuple[str, str, int]  # (category, task, n): the n-th sample of that category/task


def pool_keys(recipe: Recipe) -> list[PoolKey]:
    """The recipe's `budget` unique samples, split by task mixture and category weights.

    Keys are prefixes of fixed per-(category, task) streams, so recipes that differ only in
    composition share samples (and cached teacher trajectories)."""
    t2i_w, edit_w = recipe.t2i_edit
    n_edit = round(recipe.budget * edit_w / (t2i_w + edit_w))
    n_t2i = recipe.budget - n_edit
    cats = {c: w for c, w in recipe.categories.items() if w > 0}
    total = sum(cats.values())
    raw = {c: n_t2i * w / total for c, w in cats.items()}
    counts = {c: int(math.floor(v)) for c, v in raw.items()}
    for c in sorted(raw, key=lambda c: raw[c] - counts[c], reverse=True)[: n_t2i - sum(counts.values())]:
        counts[c] += 1
    keys: list[PoolKey] = [(c, "t2i", n) for c, k in counts.items() for n in range(k)]
    keys += [("typography", "edit", n) for n in range(n_edit)]
    return keys


def key_sample(key: PoolKey) -> data.Sample:
    return data.make_sample(BANK_SEED, key[2], key[0], key[1])  # type: ignore[arg-type]


def key_noise(key: PoolKey) -> torch.Tensor:
    """Folded starting noise of a pool sample, a pure function of the key."""
    import zlib
    g = torch.Generator().manual_seed(zlib.crc32(f"{BANK_SEED}/{key[0]}/{key[1]}/{key[2]}".encode()))
    return fold(torch.randn((1, 3, data.HEIGHT, data.WIDTH), generator=g))[0]


def folder_id(path: Path) -> str:
    """Content id of a pipeline folder (hash of its weight files)."""
    import hashlib
    h = hashlib.sha256()
    for f in sorted(path.rglob("*.safetensors")):
        h.update(f.relative_to(path).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


class TrajectoryBank:
    """Teacher ODE states at the student's grid for pool samples, cached on disk per teacher.

    The teacher integrates `steps` Euler steps with CFG; the fine grid subdivides each student
    segment evenly, so states at the student's grid points are exact teacher states."""

    def __init__(self, pipe: TinyFlowPipeline, path: Path, student_grid: torch.Tensor, steps: int,
                 guidance: float, cache_root: Path) -> None:
        self.pipe, self.guidance = pipe, guidance
        nfe = len(student_grid) - 1
        k = steps // nfe
        fine = [student_grid[i] + (student_grid[i + 1] - student_grid[i]) * j / k
                for i in range(nfe) for j in range(k)] + [student_grid[-1]]
        self.fine = torch.stack([torch.as_tensor(f) for f in fine]).float()
        self.every = k
        self.dir = cache_root / f"{folder_id(path)}-s{steps}-g{guidance:g}-n{nfe}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.mem: dict[PoolKey, torch.Tensor] = {}

    def _file(self, category: str, task: str) -> Path:
        return self.dir / f"{category}-{task}.pt"

    def load(self) -> None:
        for f in self.dir.glob("*.pt"):
            category, task = f.stem.split("-")
            for n, t in torch.load(f).items():
                self.mem[(category, task, n)] = t

    def _persist(self, keys: list[PoolKey]) -> None:
        for category, task in {(k[0], k[1]) for k in keys}:
            f = self._file(category, task)
            stored = torch.load(f) if f.exists() else {}
            stored.update({k[2]: v for k, v in self.mem.items() if k[0] == category and k[1] == task})
            tmp = f.with_suffix(f".tmp{id(self)}")
            torch.save(stored, tmp)
            tmp.replace(f)

    def fill(self, keys: list[PoolKey], batch: int = 32, log: Callable[[str], None] = print) -> None:
        """Compute the missing trajectories (in batches), saving to disk every few batches."""
        missing = [k for k in keys if k not in self.mem]
        t0 = time.time()
        for b in range(0, len(missing), batch):
            part = missing[b: b + batch]
            samples = [key_sample(k) for k in part]
            prompts, _, src = collate(samples, self.pipe.text_layout)
            noise = torch.stack([key_noise(k) for k in part])
            states = self.pipe.integrate(noise, prompts, src, self.fine, self.guidance)
            grid_states = torch.stack(states[:: self.every], dim=1).half()  # [B, nfe+1, ...]
            for k, st in zip(part, grid_states):
                self.mem[k] = st.clone()
            done = b + len(part)
            if (b // batch) % 8 == 7 or done == len(missing):
                self._persist(part if done < len(missing) else missing)
                log(f"bank {self.dir.name}: {done}/{len(missing)} trajectories "
                    f"({done / max(time.time() - t0, 1e-9):.1f}/s)")

    def get(self, key: PoolKey) -> torch.Tensor:
        return self.mem[key].float()


def load_frozen(path: Path) -> TinyFlowPipeline:
    """A pipeline for inference only (a teacher): eval mode, no gradients."""
    pipe = TinyFlowPipeline.from_pretrained(path)
    pipe.unet.eval().requires_grad_(False)
    pipe.text_encoder.eval().requires_grad_(False)
    return pipe


def fill_banks(recipe: Recipe, grid: torch.Tensor, keys: list[PoolKey], cache_root: Path,
               log: Callable[[str], None] = print, only: str | None = None) -> list[TrajectoryBank]:
    """One trajectory bank per teacher, filled for the pool samples that teacher can be drawn for."""
    banks = []
    for t in recipe.teachers:
        tpath = resolve(t.path)
        tpipe = load_frozen(tpath)
        bank = TrajectoryBank(tpipe, tpath, grid, recipe.teacher_steps, recipe.teacher_guidance,
                              cache_root)
        bank.load()
        used = max(w for _, w in t.schedule) > 0 and (only is None or only == t.name)
        needed = [k for k in keys if used and k[1] in t.tasks
                  and (k[1] == "edit" or k[0] in t.categories)]
        bank.fill(needed, log=log)
        banks.append(bank)
    return banks


def precompute_banks(recipe: Recipe, only: str | None = None,
                     log: Callable[[str], None] = print) -> None:
    """Fill a recipe's trajectory banks ahead of training (one process per teacher in parallel)."""
    torch.set_num_threads(recipe.threads)
    pipe = TinyFlowPipeline.from_pretrained(resolve(recipe.init))
    grid = sigma_grid(pipe.scheduler, recipe.nfe)
    fill_banks(recipe, grid, pool_keys(recipe), REPO_ROOT / "distill" / "runs" / "bank", log, only)


class ScoreDistiller:
    """Score distillation for flow matching (the DMD / SiD family), the `score` objective.

    A fake-score network (a copy of the student's initialisation) is trained online, by flow
    matching, on the student's own samples, so it tracks the score of the student's distribution.
    The student's gradient at a sample x0 = G(z) is E_t[w_t (s_fake(x_t) - sum_m lambda_m s_m(x_t))
    dx_t/dtheta] at x_t = (1 - t) x0 + t eps: every teacher m that covers the sample is evaluated
    (with CFG) and weighted by its normalised schedule lambda_m(progress), as written, not sampled.
    For rectified flow s(x_t) = -(x_t - (1 - t) x0_pred) / t^2 with x0_pred = x_t - t v, so
    s_fake - s_real = (1 - t) / t^2 (x0_fake - x0_real); w_t folds in t^2 / (1 - t) and DMD's
    per-sample normalisation by mean |x0 - x0_real|. The student is a few-step sampler: its sample
    comes from a random step i of its own grid (steps before i without gradient, DMD2's backward
    simulation), x0 = x_i - sigma_i v_theta(x_i, sigma_i)."""

    def __init__(self, recipe: Recipe, init: TinyFlowPipeline, grid: torch.Tensor) -> None:
        self.recipe, self.grid = recipe, grid
        self.teachers = [load_frozen(resolve(t.path)) for t in recipe.teachers]
        self.fake = torch.nn.ModuleDict({"unet": copy.deepcopy(init.unet),
                                         "text": copy.deepcopy(init.text_encoder)}).train()
        self.fake_opt = torch.optim.AdamW(self.fake.parameters(), lr=recipe.fake_lr, weight_decay=0.0)
        self.gen = torch.Generator().manual_seed(recipe.seed)
        self.fake_loss = float("nan")

    def student_sample(self, model: torch.nn.ModuleDict, prompts: list[str], src: torch.Tensor,
                       rng: np.random.Generator) -> torch.Tensor:
        """x0 from the student's few-step sampler with gradient through its last step only."""
        n, nfe = len(prompts), len(self.grid) - 1
        x = torch.randn((n, 12, data.HEIGHT // 2, data.WIDTH // 2), generator=self.gen)
        i = int(rng.integers(0, nfe))
        text, mask, srcr = model["text"].condition(prompts, src)
        with torch.no_grad():
            for j in range(i):
                v = velocity(model["unet"], x, self.grid[j].expand(n), srcr.detach(), text.detach(), mask)
                x = x + (self.grid[j + 1] - self.grid[j]) * v
        v = velocity(model["unet"], x, self.grid[i].expand(n), srcr, text, mask)
        return x - self.grid[i] * v

    def noised(self, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = x0.shape[0]
        t = 0.02 + 0.96 * torch.rand(n, generator=self.gen)
        eps = torch.randn(x0.shape, generator=self.gen)
        tt = t.view(-1, 1, 1, 1)
        return (1 - tt) * x0 + tt * eps, t, eps

    @torch.no_grad()
    def real_x0(self, xt: torch.Tensor, t: torch.Tensor, prompts: list[str], src: torch.Tensor,
                weights: torch.Tensor) -> torch.Tensor:
        """sum_m lambda_m x0_m(x_t): every teacher with a weight on some sample of the batch."""
        out = torch.zeros_like(xt)
        for m, tp in enumerate(self.teachers):
            w = weights[:, m]
            if not bool((w > 0).any()):
                continue
            g = self.recipe.teacher_guidance
            text, mask, srcg = tp.encode_guided(prompts, src, g)
            v = tp.guided_velocity(xt, t, srcg, text, mask, g)
            out += w.view(-1, 1, 1, 1) * (xt - t.view(-1, 1, 1, 1) * v)
        return out

    def fake_velocity(self, xt: torch.Tensor, t: torch.Tensor, prompts: list[str],
                      src: torch.Tensor) -> torch.Tensor:
        text, mask, srcr = self.fake["text"].condition(prompts, src)
        return velocity(self.fake["unet"], xt, t, srcr, text, mask)

    def student_loss(self, model: torch.nn.ModuleDict, prompts: list[str], src: torch.Tensor,
                     weights: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """The surrogate whose gradient is the score-distillation gradient; also returns the
        detached student samples for the fake-score update."""
        x0 = self.student_sample(model, prompts, src, rng)
        xt, t, _ = self.noised(x0.detach())
        with torch.no_grad():
            x0_fake = xt - t.view(-1, 1, 1, 1) * self.fake_velocity(xt, t, prompts, src)
            x0_real = self.real_x0(xt, t, prompts, src, weights)
            norm = (x0.detach() - x0_real).abs().mean(dim=(1, 2, 3), keepdim=True).clamp(min=1e-4)
            grad = (x0_fake - x0_real) / norm
        loss = 0.5 * torch.nn.functional.mse_loss(x0, (x0.detach() - grad), reduction="sum") / x0.shape[0]
        return loss, x0.detach()

    def update_fake(self, x0: torch.Tensor, prompts: list[str], src: torch.Tensor) -> None:
        """Flow matching on the student's samples: the fake score follows the student."""
        for _ in range(self.recipe.fake_updates):
            xt, t, eps = self.noised(x0)
            loss = torch.nn.functional.mse_loss(self.fake_velocity(xt, t, prompts, src), eps - x0)
            self.fake_opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.fake.parameters(), 1.0)
            self.fake_opt.step()
            self.fake_loss = loss.item()


def train_student(recipe: Recipe, log: Callable[[str], None] = print,
                  cache_root: Path | None = None) -> Path:
    """Few-step distillation with one of two objectives:
    `trajectory`: trajectory-segment velocity regression onto teacher ODE states at the student's
    grid (`trajectory+direct`: then also a direct phase backpropagating through all student steps),
    with a per-sample teacher drawn from the normalised schedule lambda_m(progress);
    `score`: score distillation (ScoreDistiller) against the lambda-weighted sum of all covering
    teachers' scores, with an online fake-score network."""
    torch.set_num_threads(recipe.threads)
    torch.manual_seed(recipe.seed)
    out = resolve(recipe.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "done.json").unlink(missing_ok=True)
    cache_root = cache_root or REPO_ROOT / "distill" / "runs" / "bank"
    pipe = TinyFlowPipeline.from_pretrained(resolve(recipe.init))
    grid = sigma_grid(pipe.scheduler, recipe.nfe)
    keys = pool_keys(recipe)
    log(f"student {recipe.name}: {len(keys)} pool samples, nfe {recipe.nfe}, "
        f"{len(recipe.teachers)} teacher(s), objective {recipe.objective}")

    score = recipe.objective == "score"
    banks = [] if score else fill_banks(recipe, grid, keys, cache_root, log)
    distiller = ScoreDistiller(recipe, pipe, grid) if score else None
    layout = pipe.text_layout      # the student's own input convention (its init's)

    model = torch.nn.ModuleDict({"unet": pipe.unet, "text": pipe.text_encoder}).train()
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    ema_pipe = TinyFlowPipeline(unet=ema["unet"], text_encoder=ema["text"], scheduler=pipe.scheduler)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=0.0)
    sampler = {"num_inference_steps": recipe.nfe, "guidance_scale": 1.0}
    samples: dict[PoolKey, tuple[str, torch.Tensor]] = {}
    dsig = grid[1:] - grid[:-1]
    extra = {"recipe": recipe.name}
    save_checkpoint(ema_pipe, out, recipe, 0, sampler, extra)
    log_f = (out / "train_log.jsonl").open("a")
    t_start = time.time()
    t_window, steps_window = t_start, 0
    last = out
    n_teachers = len(recipe.teachers)
    for step in range(recipe.steps):
        progress = step / recipe.steps
        rng = np.random.default_rng([recipe.seed, step])
        batch = [keys[i] for i in rng.choice(len(keys), recipe.batch_size)]
        weights = torch.tensor([teacher_weights(recipe.teachers, progress, k[1], k[0]) for k in batch])
        prompts, srcs = [], []
        for k in batch:
            if k not in samples:
                s = key_sample(k)
                samples[k] = (s.prompt, collate([s], layout)[2][0])
            prompts.append(samples[k][0])
            srcs.append(samples[k][1])
        src = torch.stack(srcs)
        rec: dict[str, Any] = {"step": step}
        if distiller is not None:
            loss, x0 = distiller.student_loss(model, prompts, src, weights, rng)
            rec["teacher_weights"] = [round(w, 4) for w in weights.mean(0).tolist()]
        else:
            who = [int(rng.choice(n_teachers, p=w.numpy() / w.sum().item())) for w in weights]
            loss, direct = trajectory_loss(model, recipe, [banks[m].get(k) for m, k in zip(who, batch)],
                                           prompts, src, grid, dsig, progress)
            rec["direct"] = round(direct.item(), 5)
            rec["teacher_counts"] = np.bincount(who, minlength=n_teachers).tolist()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, recipe.lr, 20)
        opt.step()
        if distiller is not None:
            distiller.update_fake(x0, prompts, src)
            rec["fake_loss"] = round(distiller.fake_loss, 5)
        ema_update(ema, model, min(recipe.ema, (1 + step) / (10 + step)))
        steps_window += 1
        now = time.time()
        if step % 10 == 0 or step == recipe.steps - 1:
            rate = steps_window / max(now - t_window, 1e-9)
            rec.update({"loss": round(loss.item(), 5), "steps_per_s": round(rate, 4),
                        "time": round(now - t_start, 2)})
            log_f.write(json.dumps(rec) + "\n")
            log_f.flush()
            log(f"student {recipe.name} " + json.dumps(rec))
            t_window, steps_window = now, 0
        if (step + 1) % recipe.checkpoint_every == 0 or step == recipe.steps - 1:
            last = save_checkpoint(ema_pipe, out, recipe, step + 1, sampler, extra)
        if (now - t_start) / 60 >= recipe.max_minutes:
            last = save_checkpoint(ema_pipe, out, recipe, step + 1, sampler, extra)
            break
    log_f.close()
    mark_done(out, last, step + 1, time.time() - t_start)
    return last


def trajectory_loss(model: torch.nn.ModuleDict, recipe: Recipe, states: list[torch.Tensor],
                    prompts: list[str], src: torch.Tensor, grid: torch.Tensor, dsig: torch.Tensor,
                    progress: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The `trajectory` objective: each segment's velocity regressed onto the drawn teacher's
    secant between its ODE states at the student's grid (+ the direct phase's end-point error)."""
    st = torch.stack(states)                                  # [B, nfe+1, C, H, W]
    n, nfe = len(prompts), recipe.nfe
    text, mask, src = model["text"].condition(prompts, src)
    x_in = st[:, :nfe].flatten(0, 1)
    target = ((st[:, 1:] - st[:, :-1]) / dsig.view(1, -1, 1, 1, 1)).flatten(0, 1)
    sig = grid[:nfe].repeat(n)
    rep = lambda t: t.repeat_interleave(nfe, dim=0)  # noqa: E731
    v = velocity(model["unet"], x_in, sig, rep(src), rep(text), rep(mask))
    loss = torch.nn.functional.mse_loss(v, target)
    direct = torch.zeros(())
    if recipe.objective == "trajectory+direct" and progress >= recipe.direct_from:
        x = st[:, 0]
        for i in range(nfe):
            x = x + dsig[i] * velocity(model["unet"], x, grid[i].expand(n), src, text, mask)
        direct = torch.nn.functional.mse_loss(x, st[:, -1])
        loss = loss + direct
    return loss, direct
