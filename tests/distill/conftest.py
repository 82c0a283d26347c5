"""Tiny pipelines for the distill tests: the real classes at toy sizes, so loops run in seconds."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def tiny_pipe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved TinyFlowPipeline with a toy UNet (channels 16/32) and a 16-d text encoder."""
    from distill.train import new_pipeline

    torch.manual_seed(0)
    pipe = new_pipeline(channels=(16, 32), text_dim=16)
    out = tmp_path_factory.mktemp("tiny") / "pipe"
    pipe.save_pretrained(out, sampler={"num_inference_steps": 4, "guidance_scale": 2.0})
    return out
