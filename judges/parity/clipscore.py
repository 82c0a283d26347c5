"""CLIPScore (Hessel et al.; torchmetrics' definition, used by CVTG-2K and others):
100 * max(cos(image embedding, text embedding), 0), averaged over pairs.

The weights (e.g. openai/clip-vit-large-patch14) cannot be shipped: `clip_score` takes the path of
a local checkpoint folder (CLIPModel + CLIPProcessor files) and never downloads
(local_files_only). torch and transformers are imported only when it is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evalsuite.types import EvalsuiteError


def clip_score_from_embeddings(image_emb: np.ndarray, text_emb: np.ndarray) -> float:
    """Mean over rows of 100 * max(cosine(image_i, text_i), 0)."""
    a = np.asarray(image_emb, dtype=np.float64)
    b = np.asarray(text_emb, dtype=np.float64)
    cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return float(np.mean(np.maximum(100.0 * cos, 0.0)))


def clip_score(images: Sequence[Any], texts: Sequence[str], model_path: str | Path, device: str = "cpu",
               batch_size: int = 16) -> float:
    """CLIPScore of (image, text) pairs with the CLIP checkpoint at `model_path` (a local folder)."""
    if len(images) != len(texts) or not images:
        raise EvalsuiteError(f"clip_score: need as many texts as images (got {len(images)} and {len(texts)})")
    path = Path(model_path)
    if not (path / "config.json").is_file():
        raise EvalsuiteError(f"{path}: not a local CLIP checkpoint folder (no config.json); nothing is downloaded")
    import torch
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(path, local_files_only=True).to(device).eval()
    proc = CLIPProcessor.from_pretrained(path, local_files_only=True)
    img_out, txt_out = [], []
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            batch = proc(text=list(texts[i:i + batch_size]), images=list(images[i:i + batch_size]),
                         return_tensors="pt", padding=True, truncation=True,
                         max_length=model.config.text_config.max_position_embeddings)
            batch = {k: v.to(device) for k, v in batch.items()}
            out = model(**batch)
            img_out.append(out.image_embeds.float().cpu().numpy())
            txt_out.append(out.text_embeds.float().cpu().numpy())
    return clip_score_from_embeddings(np.concatenate(img_out), np.concatenate(txt_out))
