"""Renderers: turn cases into images. `load_renderer` picks one from a checkpoint string.

Cheap by design: no renderer loads weights before its first `render()` call.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from evalsuite.renderers.base import Renderer
from evalsuite.types import EvalsuiteError

logger = logging.getLogger(__name__)

__all__ = ["Renderer", "load_renderer"]


def load_renderer(ckpt: str, **opts: Any) -> Renderer:
    """"images:DIR" or a folder of images -> ImagesRenderer; a folder with model_index.json ->
    DiffusersRenderer; "NAME:ARG" with a registered renderer NAME -> that renderer."""
    cls, arg = resolve(ckpt)
    return cls.from_checkpoint(arg, **cls.take(opts))


def resolve(ckpt: str) -> tuple[type[Renderer], str]:
    """(renderer class, its checkpoint argument) for a checkpoint string."""
    from evalsuite.registry import RENDERERS, did_you_mean

    name, sep, rest = ckpt.partition(":")
    if sep and len(name) > 1 and name in RENDERERS:   # len > 1 keeps Windows drive letters as paths
        return RENDERERS.get(name), rest
    path = Path(ckpt).expanduser()
    if not path.exists():
        if sep and len(name) > 1 and "/" not in name and "\\" not in name:
            # "NAME:ARG" with an unregistered NAME: most likely a typo of a renderer name
            hint = did_you_mean(name, RENDERERS.names())
            hint = hint.replace("'?", f":{rest}'?")
            raise EvalsuiteError(f"checkpoint {ckpt}: unknown renderer '{name}'{hint} (known: "
                                 f"{', '.join(RENDERERS.names())}); and no file or folder {ckpt} exists")
        raise EvalsuiteError(f"checkpoint {ckpt} does not exist; pass a diffusers pipeline folder "
                             "(with model_index.json) or images:DIR")
    if path.is_dir() and (path / "model_index.json").is_file():
        return RENDERERS.get("diffusers"), str(path)
    if path.is_dir():
        from evalsuite.renderers.images import EXTENSIONS

        if any(f.suffix.lower() in EXTENSIONS for f in path.iterdir() if f.is_file()) or \
                any(f.suffix.lower() in EXTENSIONS for d in path.iterdir() if d.is_dir() for f in d.iterdir()):
            return RENDERERS.get("images"), str(path)
        raise EvalsuiteError(f"checkpoint {path} has neither model_index.json nor images; pass a diffusers "
                             "pipeline folder (pipe.save_pretrained(DIR)) or a folder of <case_id>_s<seed>.png")
    raise EvalsuiteError(f"checkpoint {path} is a file; pass a diffusers pipeline folder (with model_index.json); "
                         "a LoRA file goes in the lora option (--lora FILE) on its base pipeline")
