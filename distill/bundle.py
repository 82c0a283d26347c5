"""Copy a training checkpoint into distill/models/<name> as the bundled model: float16
safetensors (upcast to float32 on load), sampler.json and train_config.json kept.

Command: python -m distill.bundle distill/runs/teacher-base-stage2/step-000XXX distill/models/teacher-base
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch

from distill.pipeline import TinyFlowPipeline


def bundle(src: Path, dst: Path) -> Path:
    pipe = TinyFlowPipeline.from_pretrained(src, dtype=torch.float16)
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    sampler = json.loads((src / "sampler.json").read_text())
    pipe.save_pretrained(tmp, sampler=sampler)
    meta = json.loads((src / "train_config.json").read_text())
    meta["bundled_from"] = str(src)
    (tmp / "train_config.json").write_text(json.dumps(meta, indent=2) + "\n")
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)
    return dst


if __name__ == "__main__":
    print(bundle(Path(sys.argv[1]), Path(sys.argv[2])))
