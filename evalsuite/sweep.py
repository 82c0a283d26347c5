"""Sweeps: evaluate every checkpoint of a training run on one pack and append to one sweep.

Checkpoints (docs/sweeps.md): diffusers pipeline folders (model_index.json); with `base`, LoRA
files (`step-1000.safetensors`, as Qwen-Image-Lightning and DiffSynth-Studio write them) and
accelerate-style `checkpoint-N/` folders holding a LoRA or the denoiser's weights, each applied
over the base pipeline. The step number in the name (or train_config.json's `step`) orders them.

Layout (docs/run-format.md "Sweeps"): `<sweep>/sweep.json`, `<sweep>/teacher/` (the teacher's run,
rendered once) and one ordinary run directory per checkpoint. The teacher's images are exported
to `<sweep>/teacher/by-case/<case>_s<seed>.png` and passed to every checkpoint run as
`images:DIR`, so distance-to-teacher judges compare against the same pixels without re-rendering.

With `watch=True` the sweep polls the checkpoint directory, which another process (the training
loop) writes, and evaluates each new checkpoint as it appears; it stops when the trainer writes
`done.json` and every checkpoint is evaluated, or after `idle_timeout_s` with nothing new. It runs
in its own process, so training never waits on evaluation.

After each checkpoint the sweep flags, per metric, whether it is significantly worse than the
best checkpoint before it (`regressions`), writes one TensorBoard scalar per metric at the
checkpoint's step, and leaves each results.db as one self-contained SQLite file (no WAL), so a
sweep directory can be committed without its images and still open in `evalsuite compare` and
`evalsuite report`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evalsuite.types import EvalsuiteError

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
DONE_MARKER = "done.json"
LORA_NAMES = ("pytorch_lora_weights.safetensors", "adapter_model.safetensors")


@dataclass
class SweepConfig:
    """What to sweep: checkpoints under `checkpoints`, results into `sweep_dir`."""

    checkpoints: Path
    sweep_dir: Path
    pack: str
    teacher: str | None = None
    name: str | None = None
    tags: list[str] | None = None
    limit: int | None = None
    judges: list[str] | None = None
    judge_opts: dict[str, dict[str, Any]] = field(default_factory=dict)
    explicit_judge_opts: frozenset[str] | None = None   # as RunConfig: judges given options one by one
    model_opts: dict[str, Any] = field(default_factory=dict)
    teacher_opts: dict[str, Any] = field(default_factory=dict)
    watch: bool = False
    poll_s: float = 10.0
    idle_timeout_s: float = 1800.0
    base: Path | None = None                 # the pipeline LoRA files / weights are applied over
    tensorboard: Path | None = None          # event files go here (None: <sweep_dir>/tensorboard)
    write_tensorboard: bool = True
    exec: Any = None                         # evalsuite.executors.ExecOptions (None: local)


@dataclass(frozen=True)
class CheckpointSpec:
    """One checkpoint: what the runner loads (`model` plus renderer `opts`) and where it came from."""

    path: Path                      # the file or folder found in the checkpoint directory
    name: str                       # its run directory inside the sweep
    step: int
    kind: str                       # "pipeline", "lora" or "weights"
    model: str                      # the pipeline folder the runner loads
    opts: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


def checkpoint_step(path: Path) -> int:
    """Training step: train_config.json's `step`, else the last number in the name (without
    extension: `step-1000.safetensors`, `checkpoint-1000`, `epoch-4.safetensors`), else -1."""
    meta = path / "train_config.json"
    if meta.is_file():
        try:
            return int(json.loads(meta.read_text()).get("step", -1))
        except (ValueError, json.JSONDecodeError):
            pass
    stem = path.name[: -len(".safetensors")] if path.name.endswith(".safetensors") else path.name
    numbers = re.findall(r"\d+", stem)
    return int(numbers[-1]) if numbers else -1


def _is_lora(keys: list[str]) -> bool:
    return any("lora_" in k or k.endswith(".alpha") for k in keys)


def _folder_weights(folder: Path) -> tuple[str, Path] | None:
    """What an accelerate-style checkpoint folder holds: a LoRA file, a denoiser model folder
    (diffusers' training scripts save `transformer/` or `unet/`) or accelerate's raw
    `model.safetensors`; None while it holds none of these (still being written)."""
    from evalsuite.renderers.diffusers_renderer import check_safetensors

    for name in LORA_NAMES:
        if (folder / name).is_file():
            return "lora", folder / name
    for sub in ("transformer", "unet"):
        d = folder / sub
        if (d / "config.json").is_file() and any(d.glob("*.safetensors")):
            return "weights", d
    raw = sorted(folder.glob("model*.safetensors"))
    if raw:
        return ("lora" if _is_lora(check_safetensors(raw[0])) else "weights"), raw[0]
    return None


def _need_base(item: Path, base: Path | None) -> Path:
    if base is None:
        raise EvalsuiteError(f"{item} holds LoRA or denoiser weights, not a pipeline; pass the pipeline "
                             "they apply to with --base DIR (evaluate(..., base=DIR))")
    return base


def resolve_checkpoint(p: Path, base: Path | None = None, check: bool = True) -> CheckpointSpec | None:
    """What the runner loads for one checkpoint file or folder; None for something that is not
    (yet) a checkpoint. With `check`, weight files' headers are read (a corrupt file: one-line
    error naming it)."""
    from evalsuite.renderers.diffusers_renderer import check_safetensors

    step = checkpoint_step(p)
    if p.is_dir() and (p / "model_index.json").is_file():
        return CheckpointSpec(p, p.name, step, "pipeline", str(p))
    if p.is_dir():
        held = _folder_weights(p)
        if held is None:
            return None
        kind, weights = held
        model = str(_need_base(p, base))
        if check:
            for f in ([weights] if weights.is_file() else sorted(weights.glob("*.safetensors"))):
                check_safetensors(f)
        return CheckpointSpec(p, p.name, step, kind, model, {kind: str(weights)})
    if p.is_file() and p.suffix == ".safetensors":
        model = str(_need_base(p, base))
        if check:
            keys = check_safetensors(p)
            if not _is_lora(keys):
                raise EvalsuiteError(f"{p}: no LoRA keys (lora_A/lora_B, lora_down/lora_up) in its "
                                     f"{len(keys)} tensors, e.g. '{keys[0]}'; only LoRA files are swept "
                                     "over --base (full weights go in checkpoint-N/ folders)")
        return CheckpointSpec(p, p.name[: -len(".safetensors")], step, "lora", model, {"lora": str(p)})
    return None


def find_checkpoints(root: Path, base: Path | None = None, check: bool = True,
                     skip_unreadable: bool = False) -> list[CheckpointSpec]:
    """Complete checkpoints under `root` (hidden/temp names skipped), ordered by step.

    Pipeline folders stand alone; `*.safetensors` files and `checkpoint-N/` folders are LoRAs or
    weights over `base`. With `check`, every weight file's header is read first, so a corrupt
    file stops the sweep before anything is computed, with an error naming it; with
    `skip_unreadable` (watching a trainer) such a checkpoint is left out for now instead.
    """
    if not root.is_dir():
        raise EvalsuiteError(f"checkpoint directory {root} does not exist")
    if base is not None and not (base / "model_index.json").is_file():
        raise EvalsuiteError(f"--base {base} is not a diffusers pipeline folder (no model_index.json)")
    found: list[CheckpointSpec] = []
    for p in root.iterdir():
        if p.name.startswith(".") or p.name == DONE_MARKER:
            continue
        try:
            spec = resolve_checkpoint(p, base, check)
        except EvalsuiteError as e:
            if not skip_unreadable or base is None:
                raise
            logger.info("not yet: %s", e)
            continue
        if spec is not None:
            found.append(spec)
    return sorted(found, key=lambda c: (c.step, c.name))


def write_scalars(log_dir: Path, step: int, metrics: dict[str, Any],
                  flags: dict[str, bool] | None = None) -> None:
    """TensorBoard event file: `eval/<metric>` = mean at `step`, and `eval_worse_than_best/<metric>`
    = 1/0 where a worse-than-best-so-far test was made (torch.utils.tensorboard's writer)."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(log_dir))
    try:
        for key, m in metrics.items():
            if m.get("mean") is not None:
                writer.add_scalar(f"eval/{key}", float(m["mean"]), global_step=max(int(step), 0))
        for key, worse in (flags or {}).items():
            writer.add_scalar(f"eval_worse_than_best/{key}", float(worse), global_step=max(int(step), 0))
    finally:
        writer.close()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def load_sweep(sweep_dir: Path) -> dict[str, Any] | None:
    f = sweep_dir / "sweep.json"
    if not f.is_file():
        return None
    try:
        data = json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise EvalsuiteError(f"{f}: not valid JSON ({e.msg} at line {e.lineno}); fix or remove it") from e
    if data.get("kind") != "sweep":
        raise EvalsuiteError(f"{f}: not a sweep file (kind={data.get('kind')!r})")
    return data


def save_sweep(sweep_dir: Path, data: dict[str, Any]) -> None:
    """Atomic write, so a reader never sees a half-written sweep.json."""
    tmp = sweep_dir / f".sweep.json.{os.getpid()}"
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(sweep_dir / "sweep.json")


def _metric_means(summary: dict[str, Any], role: str = "student") -> dict[str, Any]:
    out = {}
    for key, m in summary.get("metrics", {}).get(role, {}).items():
        out[key] = {k: m.get(k) for k in ("mean", "ci", "n", "failures")}
    return out


def export_images(run_dir: Path, role: str, dest: Path) -> int:
    """Copy a run's images for `role` to `dest/<case>_s<seed>.png` (the `images` renderer layout)."""
    from evalsuite.store import RunReader

    with RunReader(run_dir) as reader:
        dest.mkdir(parents=True, exist_ok=True)
        n = 0
        for item in reader.items(role):
            target = dest / f"{item.case_id}_s{item.seed}.png"
            if not target.exists():
                shutil.copyfile(reader.image_path(item.image_hash), target)
            n += 1
        return n


def regressions(runs: list[tuple[str, Any]], role: str = "student") -> dict[str, Any]:
    """Per metric, each checkpoint against the best checkpoint before it, without selecting and
    testing on the same data: the cases are split in two halves by a hash of their ids
    (`compare.split_cases`, the split of `compare --pick best`), the best so far is chosen on the
    selection half (mean over its images) and the paired difference is measured on the test half
    (`stats.paired_keyed_delta`: CI resampling cases, seeds nested; pairs whose case content
    changed between the runs are left out). A checkpoint is flagged when that CI excludes 0 in the
    metric's bad direction.

    `runs`: (checkpoint name, compare.RunData) in step order. Returns the split and, per
    checkpoint name, its comparisons ({metric: {...}}) and the metrics it is flagged on.
    """
    from evalsuite.compare import mismatched_keys, split_cases
    from evalsuite.stats import paired_keyed_delta

    keys = sorted({k for _, run in runs for k in run.metric_keys(role)})
    sel, test = split_cases(cid for _, run in runs for (cid, _s) in run.items.get(role, {}))
    out: dict[str, Any] = {"split": "cases", "selection_cases": len(sel), "test_cases": len(test),
                           "method": "best so far chosen on the selection half of the cases; "
                           "paired difference on the other half, 95% bootstrap CI resampling cases "
                           "(seeds nested)", "checkpoints": {}}
    for i, (name, run) in enumerate(runs):
        entry: dict[str, Any] = {"compared": {}, "worse_than_best": []}
        for key in keys:
            if i == 0:
                continue
            hib = run.higher_is_better(key)
            best_name, best_run, best_score = None, None, None
            for prev_name, prev in runs[:i]:
                on_sel = [v for k, v in prev.values(role, key).items() if k[0] in sel]
                if not on_sel:
                    continue
                score = sum(on_sel) / len(on_sel)
                if best_score is None or (score > best_score if hib else score < best_score):
                    best_name, best_run, best_score = prev_name, prev, score
            if best_run is None:
                continue
            a, b = best_run.values(role, key), run.values(role, key)
            skip = mismatched_keys(best_run, role, run, role)      # case content changed between runs
            shared = [k for k in set(a) & set(b) if k[0] in test and k not in skip]
            if not shared:
                continue
            ci = paired_keyed_delta(b, a, shared)
            worse = ci.excludes_zero and ((ci.mean < 0) if hib else (ci.mean > 0))
            entry["compared"][key] = {"best": best_name, "delta": round(ci.mean, 6),
                                      "ci": [round(ci.lo, 6), round(ci.hi, 6)],
                                      "p_value": None if math.isnan(ci.p_value) else round(ci.p_value, 6),
                                      "n_cases": ci.n_cases, "higher_is_better": hib, "worse": worse}
            if worse:
                entry["worse_than_best"].append(key)
        out["checkpoints"][name] = entry
    return out


class Sweep:
    """One sweep directory; evaluates checkpoints through the core runner."""

    def __init__(self, cfg: SweepConfig, log: Callable[[str], None] | None = None) -> None:
        self.cfg = cfg
        self.log = log or logger.info
        cfg.sweep_dir.mkdir(parents=True, exist_ok=True)
        existing = load_sweep(cfg.sweep_dir)
        if existing and existing.get("pack") != cfg.pack:
            raise EvalsuiteError(f"{cfg.sweep_dir / 'sweep.json'}: sweep is for pack "
                                 f"'{existing.get('pack')}', not '{cfg.pack}'; use another sweep dir")
        self.data: dict[str, Any] = existing or {
            "format_version": FORMAT_VERSION, "kind": "sweep",
            "name": cfg.name or cfg.sweep_dir.name, "pack": cfg.pack, "teacher": None,
            "selection": {"tags": cfg.tags, "limit": cfg.limit}, "checkpoints": []}
        if cfg.base is not None:
            self.data["base"] = str(cfg.base)
        self.teacher_images: Path | None = None
        self._runs: dict[str, Any] = {}          # run_dir name -> compare.RunData (finished runs)

    def _run(self, run_dir: Path, model: str, teacher: str | None, opts: dict[str, Any],
             teacher_opts: dict[str, Any]) -> dict[str, Any]:
        from evalsuite.runner import RunConfig, run_eval
        from evalsuite.store import compact_run

        summary = run_eval(RunConfig(run_dir=run_dir, pack=self.cfg.pack, model=model, teacher=teacher,
                                     model_opts=opts, teacher_opts=teacher_opts, judges=self.cfg.judges,
                                     judge_opts=self.cfg.judge_opts,
                                     explicit_judge_opts=self.cfg.explicit_judge_opts, limit=self.cfg.limit,
                                     tags=self.cfg.tags, progress=False,
                                     command=f"evalsuite sweep {self.cfg.checkpoints}",
                                     **({"exec": self.cfg.exec} if self.cfg.exec is not None else {})))
        compact_run(run_dir)
        return summary

    def prepare_teacher(self) -> None:
        """Render the teacher once (its own run dir) and export its images for the checkpoints."""
        if not self.cfg.teacher:
            return
        run_dir = self.cfg.sweep_dir / "teacher"
        prev = self.data.get("teacher")
        if prev and prev.get("checkpoint") != self.cfg.teacher:
            raise EvalsuiteError(f"{self.cfg.sweep_dir / 'sweep.json'}: teacher was "
                                 f"{prev.get('checkpoint')}, not {self.cfg.teacher}; use another sweep dir")
        t0 = time.time()
        summary = self._run(run_dir, self.cfg.teacher, None, self.cfg.teacher_opts, {})
        self.teacher_images = run_dir / "by-case"
        export_images(run_dir, "student", self.teacher_images)
        self.data["teacher"] = {"checkpoint": self.cfg.teacher, "run_dir": "teacher",
                                "metrics": _metric_means(summary)}
        save_sweep(self.cfg.sweep_dir, self.data)
        self.log(f"teacher evaluated in {time.time() - t0:.1f}s")

    def evaluated(self) -> set[str]:
        return {c["checkpoint"] for c in self.data["checkpoints"]}

    def evaluate(self, ckpt: CheckpointSpec | Path) -> dict[str, Any]:
        """Evaluate one checkpoint and append it to the sweep."""
        if isinstance(ckpt, Path):
            ckpt = CheckpointSpec(ckpt, ckpt.name, checkpoint_step(ckpt), "pipeline", str(ckpt))
        t0 = time.time()
        name = ckpt.name
        if ckpt.path.parent.resolve() != self.cfg.checkpoints.resolve():
            name = f"{ckpt.path.parent.name}-{ckpt.name}"
        teacher = f"images:{self.teacher_images}" if self.teacher_images else None
        summary = self._run(self.cfg.sweep_dir / name, ckpt.model, teacher,
                            {**self.cfg.model_opts, **ckpt.opts}, {})
        recipe = None
        meta = ckpt.path / "train_config.json"
        if meta.is_file():
            recipe = json.loads(meta.read_text()).get("config", {}).get("name")
        entry = {"name": name, "step": ckpt.step, "run_dir": name, "kind": ckpt.kind,
                 "checkpoint": str(ckpt.path), "recipe": recipe, "evaluated": _now(),
                 "eval_s": round(time.time() - t0, 2), "metrics": _metric_means(summary),
                 "latency_ms_per_image": summary.get("models", {}).get("student", {}).get(
                     "latency_ms_per_image")}
        self.data["checkpoints"].append(entry)
        self.data["checkpoints"].sort(key=lambda c: (c["step"], c["name"]))
        self.update_regressions()
        save_sweep(self.cfg.sweep_dir, self.data)
        self.write_tensorboard(entry)
        flagged = entry.get("worse_than_best") or []
        self.log(f"evaluated {name} (step {entry['step']}) in {entry['eval_s']}s: "
                 + ", ".join(f"{k}={v['mean']:.4g}" for k, v in entry["metrics"].items()
                             if v.get("mean") is not None)
                 + (f"; significantly worse than the best so far on {', '.join(flagged)}" if flagged else ""))
        return entry

    def _run_data(self, name: str) -> Any:
        from evalsuite.compare import load_run

        if name not in self._runs:
            self._runs[name] = load_run(self.cfg.sweep_dir / name)
        return self._runs[name]

    def update_regressions(self) -> None:
        """Recompute the worse-than-best-so-far flags of every checkpoint (in step order)."""
        cps = [c for c in self.data["checkpoints"] if (self.cfg.sweep_dir / c["run_dir"] / "results.db").is_file()]
        if not cps:
            return
        reg = regressions([(c["name"], self._run_data(c["run_dir"])) for c in cps])
        per = reg.pop("checkpoints")
        self.data["regressions"] = reg
        for c in cps:
            got = per.get(c["name"], {})
            c["vs_best_so_far"] = got.get("compared", {})
            c["worse_than_best"] = got.get("worse_than_best", [])

    def tensorboard_dir(self) -> Path:
        return self.cfg.tensorboard or self.cfg.sweep_dir / "tensorboard"

    def write_tensorboard(self, entry: dict[str, Any]) -> None:
        if self.cfg.write_tensorboard:
            write_scalars(self.tensorboard_dir(), entry["step"], entry["metrics"],
                          {k: k in entry.get("worse_than_best", []) for k in entry.get("vs_best_so_far", {})})

    def pending(self, check: bool = True, skip_unreadable: bool = False) -> list[CheckpointSpec]:
        done = self.evaluated()
        return [c for c in find_checkpoints(self.cfg.checkpoints, self.cfg.base, check=check,
                                            skip_unreadable=skip_unreadable)
                if str(c.path) not in done]

    def _pending_watching(self) -> list[CheckpointSpec]:
        """While watching, a weight file that does not read yet is being written: it waits (the
        others go on) until it reads, or the trainer is done and it is an error."""
        return self.pending(skip_unreadable=not (self.cfg.checkpoints / DONE_MARKER).is_file())

    def run(self) -> dict[str, Any]:
        """Evaluate all checkpoints present (and, watching, those that appear later)."""
        if not self.cfg.watch:
            self.pending()        # every checkpoint checked before anything is computed
        self.prepare_teacher()
        last_new = time.time()
        while True:
            todo = self._pending_watching() if self.cfg.watch else self.pending(check=False)
            for ckpt in todo:
                self.evaluate(ckpt)
            if todo:
                last_new = time.time()
            if not self.cfg.watch:
                break
            finished = (self.cfg.checkpoints / DONE_MARKER).is_file()
            if finished and not self.pending():
                self.log("trainer finished; all checkpoints evaluated")
                break
            if time.time() - last_new > self.cfg.idle_timeout_s:
                self.log(f"no new checkpoint for {self.cfg.idle_timeout_s:.0f}s; stopping")
                break
            time.sleep(self.cfg.poll_s)
        return self.data


def run_sweep(cfg: SweepConfig, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Evaluate every checkpoint folder under cfg.checkpoints into cfg.sweep_dir's sweep."""
    return Sweep(cfg, log).run()


def curves(sweep: dict[str, Any], metric: str) -> list[tuple[int, float | None]]:
    """(step, mean) points of one metric across a sweep's checkpoints."""
    return [(c["step"], c.get("metrics", {}).get(metric, {}).get("mean"))
            for c in sweep.get("checkpoints", [])]
