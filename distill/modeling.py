"""Model components of the tiny flow models: a word-level (optionally character-aware) text
encoder and the UNet factory.

The text encoder is a diffusers `ModelMixin` + `ConfigMixin`, so it saves and loads with the
pipeline (safetensors + config.json); its vocabulary lives in its config, so a checkpoint folder
is self-contained. Images are 2x2 pixel-folded (3xHxW -> 12xH/2xW/2) before the UNet.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import torch
from diffusers import UNet2DConditionModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

logger = logging.getLogger(__name__)

PAD, BOS, UNK = 0, 1, 2
ROUTE_CHANNELS = 12   # the folded source channels the routed letter states are added to
_TOKEN_RE = re.compile(r"[a-z]+")


_QUOTE_RE = re.compile(r'"([^"]*)"')


def quoted(prompt: str) -> str | None:
    """The prompt's first quoted text (the word to draw), or None."""
    m = _QUOTE_RE.search(prompt)
    return m.group(1) if m else None


def _rel_features(n: int, max_chars: int, freqs: int = 8) -> torch.Tensor:
    """[max_chars, 2*freqs] sinusoidal features of each character's relative centre (k + 0.5) / n
    mapped to [-1, 1], the same coordinate the layout map's channel 1 gives across the word's box."""
    k = torch.arange(max_chars, dtype=torch.float32)
    r = ((k + 0.5) / max(n, 1)) * 2 - 1
    f = torch.pi * (2.0 ** torch.arange(freqs, dtype=torch.float32)) / 2
    ang = r[:, None] * f[None, :]
    return torch.cat([ang.sin(), ang.cos()], dim=1)


class TinyTextEncoder(ModelMixin, ConfigMixin):
    """Prompt encoder: word embeddings + a small transformer; [BOS] is always present.

    With `char_aware` (as in "Character-Aware Models Improve Visual Text Rendering", Liu et al.
    2023), the prompt's quoted text is also embedded character by character (an embedding per byte,
    its index, and its relative place in the word) and appended to the word tokens before the
    transformer; the quoted text is then left out of the word tokens (one [UNK] stands in its
    place), so a trained word and an unseen one reach the model the same way: as letters.
    With `text_layout`, text-to-image also conditions on the letter-free layout map of a grammar
    prompt (data.layout_map: the word's box and the position across it; zeros for other prompts).
    """

    @register_to_config
    def __init__(self, vocab: list[str] | None = None, dim: int = 128, layers: int = 2,
                 heads: int = 4, max_tokens: int = 16, char_aware: bool = False,
                 max_chars: int = 12, text_layout: bool = False) -> None:
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
        if char_aware:
            self.char_embed = nn.Embedding(257, dim)          # byte + 1; 0 = padding
            self.char_pos = nn.Parameter(torch.randn(max_chars, dim) * 0.02)
            self.char_rel = nn.Linear(16, dim)
        if char_aware and text_layout:
            # Initialised large enough (output std ~1, like the layout channels) that letters
            # differ at the UNet's input from the first step: at std 0.02 (output ~0.03) a
            # 20-minute run drew the same letters for every word (stage 6b).
            self.route_proj = nn.Linear(dim, ROUTE_CHANNELS - 1)
            self.route_sharpness = nn.Parameter(torch.tensor(2.0))   # log of the logit scale
            nn.init.normal_(self.route_proj.weight, std=dim ** -0.5)
            nn.init.zeros_(self.route_proj.bias)

    def tokenize(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompts → (token ids [B, T], mask [B, T] with 1 for real tokens)."""
        max_tokens = self.config.max_tokens
        ids = torch.full((len(prompts), max_tokens), PAD, dtype=torch.long)
        for i, p in enumerate(prompts):
            if self.config.char_aware:
                p = _QUOTE_RE.sub(" qquoted ", p, count=1)    # the quoted text -> one [UNK]
            toks = [BOS] + [self.index.get(w, UNK) for w in _TOKEN_RE.findall(p.lower())]
            toks = toks[:max_tokens]
            ids[i, : len(toks)] = torch.tensor(toks)
        return ids, (ids != PAD).long()

    def char_tokenize(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """The quoted text's UTF-8 bytes (+1; 0 = padding) [B, max_chars] and each prompt's
        character count [B] (0 without quoted text)."""
        n = self.config.max_chars
        ids = torch.zeros((len(prompts), n), dtype=torch.long)
        lens = torch.zeros(len(prompts), dtype=torch.long)
        for i, p in enumerate(prompts):
            q = quoted(p)
            if not q:
                continue
            b = list(q.encode("utf-8"))[:n]
            ids[i, : len(b)] = torch.tensor(b) + 1
            lens[i] = len(b)
        return ids, lens

    def forward(self, ids: torch.Tensor, mask: torch.Tensor,
                chars: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.embed(ids) + self.pos[: ids.shape[1]]
        if chars is not None:
            cids, lens = chars
            rel = torch.stack([_rel_features(int(n), cids.shape[1]) for n in lens.tolist()]).to(x)
            c = self.char_embed(cids) + self.char_pos[: cids.shape[1]] + self.char_rel(rel)
            x = torch.cat([x, c], dim=1)
            mask = torch.cat([mask, (cids != 0).long()], dim=1)
        x = self.encoder(x, src_key_padding_mask=mask == 0)
        return self.norm(x), mask

    def encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        ids, mask = self.tokenize(prompts)
        chars = None
        if self.config.char_aware:
            cids, lens = self.char_tokenize(prompts)
            chars = (cids.to(self.device), lens)
        return self.forward(ids.to(self.device), mask.to(self.device), chars)

    def condition(self, prompts: list[str], source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """encode() plus the folded source with the routed letter states added (route())."""
        text, mask = self.encode(prompts)
        return text, mask, self.route(prompts, text, source)

    def route(self, prompts: list[str], text: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        """Add each letter's encoder state where the layout map puts it (a char-aware, text-layout
        model; otherwise `source` unchanged). For a grammar text-to-image prompt, the folded
        `source` [B, 12, h, w] holds its layout map; every cell inside the box attends to the
        quoted word's character states with logits that fall with the distance between the cell's
        place across the box and the character's place in the word (learned sharpness), and gets
        a learned projection of them plus its place within that character's slot (-0.5 .. 0.5). Which letter goes where thus comes from the prompt through the encoder; the layout
        map only says where the word is. Zero layout or no quoted text: nothing is added."""
        if not (self.config.char_aware and self.config.text_layout):
            return source
        from distill import data

        rows = [i for i, p in enumerate(prompts) if data.parse_text_prompt(p) is not None]
        if not rows:
            return source
        _, lens = self.char_tokenize([prompts[i] for i in rows])
        idx = torch.tensor(rows, device=source.device)
        lay = torch.nn.functional.avg_pool2d(unfold(source[idx, :12].float()), 2)  # [R, 3, h, w]
        inside = (lay[:, :1] > 0).to(source.dtype)
        r = lay[:, 1:2]                                                 # -1 .. 1 across the box
        n = lens.clamp(min=1).to(source.device, source.dtype).view(-1, 1, 1, 1)
        c = self.config.max_chars
        k = torch.arange(c, device=source.device, dtype=source.dtype).view(1, c, 1, 1)
        centre = (k + 0.5) / n * 2 - 1                                  # [R, C, 1, 1]
        off = (r - centre) * n / 2                                      # letter widths
        logits = -self.route_sharpness.exp() * off ** 2
        valid = (k < lens.to(source.device).view(-1, 1, 1, 1))
        logits = logits.masked_fill(~valid, float("-inf"))
        attn = torch.nan_to_num(torch.softmax(logits, dim=1))          # [R, C, h, w]
        chars = text[rows, self.config.max_tokens: self.config.max_tokens + c]   # [R, C, D]
        val = self.route_proj(chars)                                   # [R, C, 11]
        routed = torch.einsum("rchw,rcd->rdhw", attn, val)
        offset = torch.remainder((r + 1) / 2 * n, 1.0) - 0.5             # within the letter's slot
        add = torch.cat([routed, offset], dim=1) * inside * (lens > 0).to(source).view(-1, 1, 1, 1)
        out = source.clone()
        out[idx, :ROUTE_CHANNELS] = out[idx, :ROUTE_CHANNELS] + add.to(out.dtype)
        return out

    def layout_maps(self, prompts: list[str], height: int, width: int) -> torch.Tensor:
        """[B, 3, height, width] in [-1, 1]: each typography prompt's letter-free layout map at the
        nominal place of its position (data.layout_map), zeros for any other prompt."""
        from distill import data

        out = torch.zeros(len(prompts), 3, height, width)
        for i, p in enumerate(prompts):
            spec = data.parse_text_prompt(p)
            if spec is None:
                continue
            m = torch.from_numpy(data.layout_map(spec))
            if m.shape[1:] != (height, width):
                m = torch.nn.functional.interpolate(m[None], size=(height, width), mode="nearest")[0]
            out[i] = m
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
