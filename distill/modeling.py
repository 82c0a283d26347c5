"""Model components of the tiny flow models: a word-level text encoder and the UNet factory.

The text encoder is a diffusers `ModelMixin` + `ConfigMixin`, so it saves and loads with the
pipeline (safetensors + config.json); its vocabulary lives in its config, so a checkpoint folder
is self-contained. Images are 2x2 pixel-folded (3xHxW -> 12xH/2xW/2) before the UNet.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import torch
from PIL import Image
from diffusers import UNet2DConditionModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

logger = logging.getLogger(__name__)

PAD, BOS, UNK = 0, 1, 2
_TOKEN_RE = re.compile(r"[a-z]+")


class TinyTextEncoder(ModelMixin, ConfigMixin):
    """Word-level prompt encoder: embeddings + a small transformer; [BOS] is always present."""

    @register_to_config
    def __init__(self, vocab: list[str] | None = None, dim: int = 128, layers: int = 2,
                 heads: int = 4, max_tokens: int = 16, glyph_layout: bool = False) -> None:
        # glyph_layout: text-to-image also conditions on the prompt's glyph map (glyph_maps), passed
        # in the source-image channels that edits use; prompts outside the grammar get zeros.
        super().__init__()
        self.words = list(vocab or [])
        self.index = {w: i + 3 for i, w in enumerate(self.words)}
        self.embed = nn.Embedding(len(self.words) + 3, dim)
        self.pos = nn.Parameter(torch.zeros(max_tokens, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        nn.init.normal_(self.pos, std=0.02)

    def tokenize(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompts → (token ids [B, T], mask [B, T] with 1 for real tokens)."""
        max_tokens = self.config.max_tokens
        ids = torch.full((len(prompts), max_tokens), PAD, dtype=torch.long)
        for i, p in enumerate(prompts):
            toks = [BOS] + [self.index.get(w, UNK) for w in _TOKEN_RE.findall(p.lower())]
            toks = toks[:max_tokens]
            ids[i, : len(toks)] = torch.tensor(toks)
        return ids, (ids != PAD).long()

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids) + self.pos[: ids.shape[1]]
        x = self.encoder(x, src_key_padding_mask=mask == 0)
        return self.norm(x)

    def encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        ids, mask = self.tokenize(prompts)
        ids, mask = ids.to(self.device), mask.to(self.device)
        return self.forward(ids, mask), mask

    def glyph_maps(self, prompts: list[str], height: int, width: int) -> torch.Tensor:
        """[B, 3, height, width] in [-1, 1]: each typography prompt's glyph map (its quoted text in
        the named font and size, white on black, at the nominal place of its position; the layout
        stage of glyph-conditioned text rendering), zeros (= no source) for any other prompt."""
        from distill import data

        out = torch.zeros(len(prompts), 3, height, width)
        for i, p in enumerate(prompts):
            spec = data.parse_text_prompt(p)
            if spec is None:
                continue
            g = data.render_glyph(spec)
            if g.size != (width, height):
                g = g.resize((width, height), Image.BICUBIC)
            out[i] = torch.from_numpy(data.to_tensor_array(g))
        return out


def build_unet(sample_size: tuple[int, int] = (16, 48), in_channels: int = 24,
               out_channels: int = 12, channels: tuple[int, ...] = (64, 128, 160),
               cross_attention_dim: int = 128, **overrides: Any) -> UNet2DConditionModel:
    """The tiny UNet: noisy image (12 folded ch) + edit source (12 ch) in, velocity out."""
    cfg: dict[str, Any] = dict(
        sample_size=list(sample_size), in_channels=in_channels, out_channels=out_channels,
        block_out_channels=list(channels), layers_per_block=1,
        down_block_types=["DownBlock2D"] + ["CrossAttnDownBlock2D"] * (len(channels) - 1),
        up_block_types=["CrossAttnUpBlock2D"] * (len(channels) - 1) + ["UpBlock2D"],
        cross_attention_dim=cross_attention_dim, attention_head_dim=8, norm_num_groups=16,
        transformer_layers_per_block=1,
    )
    cfg.update(overrides)
    return UNet2DConditionModel(**cfg)


def fold(x: torch.Tensor) -> torch.Tensor:
    """[B, 3, H, W] → [B, 12, H/2, W/2] (2x2 pixel folding)."""
    return torch.nn.functional.pixel_unshuffle(x, 2)


def unfold(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.pixel_shuffle(x, 2)


def velocity(unet: UNet2DConditionModel, x: torch.Tensor, sigma: torch.Tensor,
             source: torch.Tensor, text: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Velocity v = noise - x0 predicted at noise level `sigma` ([B] in [0, 1]) on folded tensors."""
    inp = torch.cat([x, source], dim=1)
    return unet(inp, sigma * 1000.0, encoder_hidden_states=text,
                encoder_attention_mask=mask).sample
