"""DiffusersRenderer call mapping with a recording pipeline double (fast; no diffusers model).

The real pipelines are exercised end to end in test_diffusers_renderer.py; this double checks
what the renderer passes for pipeline kinds that cannot be built here (EditPlus needs torchvision).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from evalsuite.registry import PIPELINES
from evalsuite.renderers import load_renderer
from evalsuite.types import RenderRequest


class _Out:
    def __init__(self, images: list[Image.Image]) -> None:
        self.images = images


class RecordingPipeline:
    """Stands in for a diffusers pipeline: records calls, paints the seed into the pixels."""

    calls: list[dict[str, Any]] = []

    @classmethod
    def from_pretrained(cls, path: str, **kw: Any) -> "RecordingPipeline":
        return cls()

    def to(self, device: str) -> "RecordingPipeline":
        return self

    def set_progress_bar_config(self, **kw: Any) -> None:
        pass

    def __call__(self, prompt: list[str], image: list[Image.Image] | None = None, num_inference_steps: int = 30,
                 guidance_scale: float = 5.0, generator: Any = None, height: int = 64, width: int = 64,
                 output_type: str = "pil") -> _Out:
        type(self).calls.append({"prompt": prompt, "image": image, "steps": num_inference_steps,
                                 "guidance_scale": guidance_scale, "height": height, "width": width,
                                 "seeds": [g.initial_seed() for g in generator]})
        return _Out([Image.fromarray(np.full((height, width, 3), g.initial_seed() % 256, np.uint8))
                     for g in generator])


class RecordingEditPlusPipeline(RecordingPipeline):
    calls: list[dict[str, Any]] = []


@pytest.fixture()
def folders(tmp_path: Path) -> dict[str, Path]:
    PIPELINES.register("RecordingPipeline", RecordingPipeline)
    PIPELINES.register("RecordingEditPlusPipeline", RecordingEditPlusPipeline)
    RecordingPipeline.calls.clear()
    RecordingEditPlusPipeline.calls.clear()
    out = {}
    for name in ("RecordingPipeline", "RecordingEditPlusPipeline"):
        d = tmp_path / name
        (d / "unet").mkdir(parents=True)
        (d / "model_index.json").write_text(json.dumps({"_class_name": name}))
        (d / "unet" / "config.json").write_text("{}")
        (d / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(name.encode())
        out[name] = d
    return out


def test_cfg_pipeline_mapping_grouping_and_defaults(folders: dict[str, Path]) -> None:
    r = load_renderer(str(folders["RecordingPipeline"]), batch_size=2)
    d = r.describe()
    # Pipeline defaults (no sampler.json): 30 steps, guidance 5 -> classic CFG doubles the NFE.
    assert (d["num_inference_steps"], d["guidance_scale"], d["guidance_mode"], d["nfe"]) == (30, 5.0, "cfg", 60)
    reqs = [RenderRequest("a", "p", 1, 16, 16), RenderRequest("b", "q", 2, 32, 16),
            RenderRequest("c", "r", 3, 16, 16), RenderRequest("d", "s", 4, 16, 16)]
    out = r.render(reqs)
    assert [o.request.case_id for o in out] == ["a", "b", "c", "d"]
    assert [int(np.asarray(o.image)[0, 0, 0]) for o in out] == [1, 2, 3, 4]
    calls = RecordingPipeline.calls
    assert [c["seeds"] for c in calls] == [[1, 3], [4], [2]]          # size groups, then batches of 2
    assert calls[0]["guidance_scale"] == 5.0 and calls[0]["steps"] == 30 and calls[2]["width"] == 32
    assert load_renderer(str(folders["RecordingPipeline"]), guidance_scale=1.0).nfe() == 30


def test_edit_plus_renders_edits_one_at_a_time(folders: dict[str, Path]) -> None:
    r = load_renderer(str(folders["RecordingEditPlusPipeline"]), batch_size=4, num_inference_steps=2)
    srcs = [Image.new("RGB", (8, 8), (i, 0, 0)) for i in range(3)]
    reqs = [RenderRequest(f"e{i}", "edit", i, 16, 16, srcs[i], "edit") for i in range(3)]
    r.render(reqs)
    calls = RecordingEditPlusPipeline.calls
    assert len(calls) == 3 and all(len(c["image"]) == 1 for c in calls)
    assert [c["image"][0].getpixel((0, 0))[0] for c in calls] == [0, 1, 2]
    r.render([RenderRequest(f"t{i}", "t2i", i, 16, 16) for i in range(3)])
    assert len(calls) == 4 and calls[-1]["image"] is None               # t2i still batched
