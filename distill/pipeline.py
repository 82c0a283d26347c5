"""TinyFlowPipeline: the bundled tiny text-to-image / edit flow model as a diffusers pipeline.

Components: `unet` (UNet2DConditionModel on 2x2-folded RGB), `text_encoder` (TinyTextEncoder,
word-level, optionally character-aware) and `scheduler` (FlowMatchEulerDiscreteScheduler, whose sigmas give the Euler grid).
Rectified flow: x_sigma = (1 - sigma) * x0 + sigma * noise, the model predicts noise - x0.
Editing conditions on the source image (concatenated channels); text-to-image passes zeros, or,
for a text-layout model (text_encoder.config.text_layout), the prompt's letter-free layout map
(the word's box and the position across it: where the text goes, never which letters).
Per-item noise is drawn from that item's own generator in pixel space, so an image depends only
on its prompt, source, seed and sampler settings — never on what else is in the batch.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import DiffusionPipeline, FlowMatchEulerDiscreteScheduler, UNet2DConditionModel
from diffusers.utils import BaseOutput
from PIL import Image

from distill.modeling import TinyTextEncoder, fold, unfold, velocity

logger = logging.getLogger(__name__)


@dataclass
class TinyFlowOutput(BaseOutput):
    images: list[Image.Image]


def sigma_grid(scheduler: FlowMatchEulerDiscreteScheduler, steps: int) -> torch.Tensor:
    """The Euler grid for `steps` steps: steps + 1 noise levels from 1 down to 0."""
    scheduler.set_timesteps(steps, device="cpu")
    return scheduler.sigmas.detach().clone().float()


def pil_to_tensor(images: list[Image.Image], height: int, width: int) -> torch.Tensor:
    arrs = []
    for im in images:
        im = im.convert("RGB")
        if im.size != (width, height):
            im = im.resize((width, height), Image.BICUBIC)
        arrs.append(np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 127.5 - 1.0)
    return torch.from_numpy(np.stack(arrs))


def tensor_to_pil(x: torch.Tensor) -> list[Image.Image]:
    a = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return [Image.fromarray(im) for im in a]


class TinyFlowPipeline(DiffusionPipeline):
    """Tiny rectified-flow generator; `__call__` takes the evalsuite renderer's canonical request."""

    model_cpu_offload_seq = "text_encoder->unet"

    def __init__(self, unet: UNet2DConditionModel, text_encoder: TinyTextEncoder,
                 scheduler: FlowMatchEulerDiscreteScheduler) -> None:
        super().__init__()
        self.register_modules(unet=unet, text_encoder=text_encoder, scheduler=scheduler)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, **kwargs: Any) -> "TinyFlowPipeline":
        """diffusers loading; bundled weights are stored in float16 (half the repo size) and are
        upcast to float32 unless a dtype is asked for."""
        if "torch_dtype" not in kwargs and "dtype" not in kwargs:
            kwargs["dtype"] = torch.float32
        return super().from_pretrained(pretrained_model_name_or_path, **kwargs)

    @property
    def text_layout(self) -> bool:
        """Whether text-to-image conditions on the prompt's layout map (the text encoder's config)."""
        return bool(getattr(self.text_encoder.config, "text_layout", False))

    @property
    def default_size(self) -> tuple[int, int]:
        h, w = self.unet.config.sample_size
        return 2 * h, 2 * w

    def save_pretrained(self, save_directory: str | Path, *args: Any,
                        sampler: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """diffusers save (safetensors) plus `sampler.json`, the renderer's default settings."""
        kwargs.setdefault("safe_serialization", True)
        super().save_pretrained(save_directory, *args, **kwargs)
        if sampler is not None:
            Path(save_directory, "sampler.json").write_text(json.dumps(sampler, indent=2) + "\n")

    @torch.no_grad()
    def sample_folded(self, noise: torch.Tensor, prompts: list[str], source: torch.Tensor,
                      steps: int, guidance_scale: float) -> torch.Tensor:
        """Euler-integrate folded `noise` from sigma 1 to 0 on the scheduler's grid."""
        sigmas = sigma_grid(self.scheduler, steps).to(noise.device)
        return self.integrate(noise, prompts, source, sigmas, guidance_scale)[-1]

    @torch.no_grad()
    def integrate(self, noise: torch.Tensor, prompts: list[str], source: torch.Tensor,
                  sigmas: torch.Tensor, guidance_scale: float) -> list[torch.Tensor]:
        """Euler on an explicit decreasing sigma grid; returns the state at every grid point."""
        text, mask, source = self.encode_guided(prompts, source, guidance_scale)
        x = noise
        states = [x]
        for i in range(len(sigmas) - 1):
            v = self.guided_velocity(x, sigmas[i].expand(x.shape[0]), source, text, mask, guidance_scale)
            x = x + (sigmas[i + 1] - sigmas[i]) * v
            states.append(x)
        return states

    def encode_guided(self, prompts: list[str], source: torch.Tensor,
                      guidance_scale: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Text states and sources for guided_velocity: the prompts' (with their routed letters,
        TinyTextEncoder.condition), then with CFG the empty prompt's (the same source, no letters)."""
        text, mask, routed = self.text_encoder.condition(prompts, source)
        if guidance_scale > 1.0:
            utext, umask = self.text_encoder.encode([""] * len(prompts))
            text, mask = torch.cat([text, utext]), torch.cat([mask, umask])
            routed = torch.cat([routed, source])
        return text, mask, routed

    def guided_velocity(self, x: torch.Tensor, sigma: torch.Tensor, source: torch.Tensor,
                        text: torch.Tensor, mask: torch.Tensor, guidance_scale: float) -> torch.Tensor:
        """The velocity at (x, sigma), with classifier-free guidance when guidance_scale > 1
        (then text, mask and source hold the conditional and unconditional halves: encode_guided)."""
        if guidance_scale <= 1.0:
            return velocity(self.unet, x, sigma, source, text, mask)
        v = velocity(self.unet, torch.cat([x, x]), torch.cat([sigma, sigma]), source, text, mask)
        vc, vu = v.chunk(2)
        return vu + guidance_scale * (vc - vu)

    @torch.no_grad()
    def __call__(self, prompt: list[str] | str, image: list[Image.Image] | None = None,
                 num_inference_steps: int = 32, guidance_scale: float = 3.0,
                 generator: list[torch.Generator] | torch.Generator | None = None,
                 height: int | None = None, width: int | None = None,
                 output_type: str = "pil", layout: torch.Tensor | None = None) -> TinyFlowOutput:
        """`layout` ([B, 3, height, width]) replaces a text-layout model's layout maps (another
        prompt's box, or zeros for none); the prompt alone says what is written."""
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        n = len(prompts)
        dh, dw = self.default_size
        height, width = height or dh, width or dw
        if height % 8 or width % 8:
            raise ValueError(f"height/width must be multiples of 8, got {height}x{width}")
        if num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be >= 1, got {num_inference_steps}")
        if generator is None or isinstance(generator, torch.Generator):
            generator = [generator] * n  # type: ignore[list-item]
        if len(generator) != n:
            raise ValueError(f"{len(generator)} generators for {n} prompts; pass one per prompt")
        if image is not None and len(image) != n:
            raise ValueError(f"{len(image)} source images for {n} prompts")
        device = self.unet.device
        noise = torch.stack([torch.randn((3, height, width), generator=g) for g in generator])
        noise = fold(noise).to(device)
        if image is None and layout is not None:
            source = fold(layout.float()).to(device)
        elif image is None and self.text_layout:
            source = fold(self.text_encoder.layout_maps(prompts, height, width)).to(device)
        elif image is None:
            source = torch.zeros_like(noise)
        else:
            source = fold(pil_to_tensor(image, height, width)).to(device)
        x0 = self.sample_folded(noise, prompts, source, num_inference_steps, guidance_scale)
        out = unfold(x0.float().cpu())
        if output_type == "pt":
            return TinyFlowOutput(images=out)  # type: ignore[arg-type]
        return TinyFlowOutput(images=tensor_to_pil(out))
