"""Python API for training scripts: `evalsuite.evaluate(model, pack=..., teacher=..., run_dir=...)`.

A training loop calls it at its own checkpoints and gets the run's summary (the dict written to
`<run_dir>/summary.json`, docs/run-format.md) back, so it can log or early-stop on it. It is the
same run as `evalsuite run`: the same cache, so a repeated call on unchanged weights renders
nothing; the same judges and CIs. See docs/sweeps.md.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from evalsuite.types import EvalsuiteError

logger = logging.getLogger(__name__)


def _model_spec(model: Any, base: str | Path | None) -> tuple[str, dict[str, Any]]:
    """The runner's checkpoint string and extra renderer options for `model`."""
    from evalsuite.sweep import resolve_checkpoint

    path = Path(model)
    if str(model).startswith("images:") or not path.exists():
        return str(model), {}               # images:DIR, or a name the renderer registry explains
    spec = resolve_checkpoint(path, Path(base) if base is not None else None)
    if spec is None:
        return str(model), {}               # e.g. a folder of images
    return spec.model, dict(spec.opts)


def evaluate(model: Any, pack: str = "typography-mini", teacher: str | Path | None = None,
             run_dir: str | Path | None = None, *, base: str | Path | None = None,
             judges: list[str] | None = None, judge_opts: dict[str, dict[str, Any]] | None = None,
             teacher_opts: dict[str, Any] | None = None, limit: int | None = None,
             tags: list[str] | None = None, progress: bool = False, step: int | None = None,
             tensorboard: str | Path | None = None, **opts: Any) -> dict[str, Any]:
    """Evaluate one model on a pack and return the summary dict.

    model: a diffusers pipeline folder; `images:DIR`; a LoRA `.safetensors` file or an
        accelerate `checkpoint-N/` folder (with `base=` the pipeline they apply to); or an
        in-memory diffusers pipeline (saved to a temporary folder first: it costs one save).
    teacher: the teacher's pipeline folder (or images:DIR), rendered beside it in the same run.
    run_dir: where the run goes (required; a re-run there resumes and reuses the cache).
    opts: renderer options of the model (num_inference_steps, guidance_scale, shift, width,
        height, dtype, device, batch_size, lora_scale, ...; docs/renderers.md).
    step, tensorboard: with both, the metric means are also written as TensorBoard scalars at
        `step` (the sweep's `eval/<metric>` tags), beside the trainer's own curves.
    """
    from evalsuite.runner import RunConfig, run_eval

    if run_dir is None:
        raise EvalsuiteError("evaluate: pass run_dir=DIR (where the run's results and cache go)")
    if (step is None) != (tensorboard is None):
        raise EvalsuiteError("evaluate: pass step= and tensorboard= together (the scalars need a step)")
    with tempfile.TemporaryDirectory(prefix="evalsuite-model-") as tmp:
        if hasattr(model, "save_pretrained") and not isinstance(model, (str, Path)):
            model.save_pretrained(tmp)
            model = tmp
        ckpt, extra = _model_spec(model, base)
        summary = run_eval(RunConfig(
            run_dir=Path(run_dir), pack=pack, model=ckpt, teacher=str(teacher) if teacher is not None else None,
            model_opts={**opts, **extra}, teacher_opts=dict(teacher_opts or {}), judges=judges,
            # options named per judge: one for a judge that is not selected is an error, as --judge-opt
            judge_opts=dict(judge_opts or {}), explicit_judge_opts=frozenset(judge_opts or {}),
            limit=limit, tags=tags, progress=progress, command=f"evalsuite.evaluate({ckpt!r})"))
    if tensorboard is not None and step is not None:
        from evalsuite.sweep import write_scalars

        write_scalars(Path(tensorboard), step, summary.get("metrics", {}).get("student", {}))
    return summary
