"""CLIPScore: the formula by hand, and the checkpoint path wiring with a tiny random-weight CLIP
built in the test (real weights cannot be shipped; nothing is downloaded)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evalsuite.types import EvalsuiteError
from judges.parity.clipscore import clip_score, clip_score_from_embeddings


def test_formula_by_hand() -> None:
    # pair 1: (1,0) vs (1,1): cos = 1/sqrt 2 -> 70.7107 ; pair 2: (1,0) vs (-1,0): cos -1 -> max(-100, 0) = 0
    s = clip_score_from_embeddings(np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[1.0, 1.0], [-1.0, 0.0]]))
    assert s == pytest.approx((100 / np.sqrt(2) + 0) / 2)


def tiny_clip(path: Path) -> None:
    from transformers import (CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer)

    import torch

    torch.manual_seed(0)
    cfg = CLIPConfig(text_config={"vocab_size": 64, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                                  "num_attention_heads": 2, "max_position_embeddings": 16},
                     vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                                    "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
                     projection_dim=8)
    CLIPModel(cfg).save_pretrained(path)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in letters:
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    (path / "vocab.json").write_text(json.dumps(vocab))
    (path / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(path / "vocab.json"), str(path / "merges.txt"))
    CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
                  tokenizer=tok).save_pretrained(path)


def test_tiny_random_clip_from_a_local_path(tmp_path: Path) -> None:
    import torch
    from PIL import Image
    from transformers import CLIPModel, CLIPProcessor

    tiny_clip(tmp_path)
    images = [Image.new("RGB", (40, 40), c) for c in ("red", "blue", "white")]
    texts = ["a red square", "a blue square", "snow"]
    s = clip_score(images, texts, tmp_path, batch_size=2)
    # the same embeddings computed directly, then the formula
    model = CLIPModel.from_pretrained(tmp_path).eval()
    proc = CLIPProcessor.from_pretrained(tmp_path)
    with torch.no_grad():
        out = model(**proc(text=texts, images=images, return_tensors="pt", padding=True))
    a, b = out.image_embeds.numpy(), out.text_embeds.numpy()
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    assert s == pytest.approx(float(np.mean(np.maximum(100 * cos, 0))), abs=1e-4)
    assert 0.0 <= s <= 100.0


def test_missing_checkpoint_is_one_line_error(tmp_path: Path) -> None:
    from PIL import Image

    with pytest.raises(EvalsuiteError, match="not a local CLIP checkpoint folder"):
        clip_score([Image.new("RGB", (8, 8))], ["x"], tmp_path / "nope")
