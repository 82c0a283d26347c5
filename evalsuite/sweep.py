"""Sweeps: evaluate every checkpoint folder of a training run on one pack and append to one sweep.

Layout (docs/run-format.md "Sweeps"): `<sweep>/sweep.json`, `<sweep>/teacher/` (the teacher's run,
rendered once) and one ordinary run directory per checkpoint. The teacher's images are exported
to `<sweep>/teacher/by-case/<case>_s<seed>.png` and passed to every checkpoint run as
`images:DIR`, so distance-to-teacher judges compare against the same pixels without re-rendering.

With `watch=True` the sweep polls the checkpoint directory, which another process (the training
loop) writes, and evaluates each new checkpoint as it appears; it stops when the trainer writes
`done.json` and every checkpoint is evaluated, or after `idle_timeout_s` with nothing new. It runs
in its own process, so training never waits on evaluation.
"""

from __future__ import annotations

import json
import logging
import os
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
    model_opts: dict[str, Any] = field(default_factory=dict)
    teacher_opts: dict[str, Any] = field(default_factory=dict)
    watch: bool = False
    poll_s: float = 10.0
    idle_timeout_s: float = 1800.0
    exec: Any = None                     # evalsuite.executors.ExecOptions (None: local)


def checkpoint_step(path: Path) -> int:
    """Training step of a checkpoint folder: train_config.json's `step`, else digits in its name."""
    meta = path / "train_config.json"
    if meta.is_file():
        try:
            return int(json.loads(meta.read_text()).get("step", -1))
        except (ValueError, json.JSONDecodeError):
            pass
    digits = "".join(ch for ch in path.name if ch.isdigit())
    return int(digits) if digits else -1


def find_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoint folders (with model_index.json; hidden/temp names skipped), by step."""
    if not root.is_dir():
        raise EvalsuiteError(f"checkpoint directory {root} does not exist")
    found = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
             and (p / "model_index.json").is_file()]
    return sorted(found, key=lambda p: (checkpoint_step(p), p.name))


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
    from evalsuite.store import RunStore

    store = RunStore(run_dir)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        n = 0
        for item in store.items(role):
            target = dest / f"{item.case_id}_s{item.seed}.png"
            if not target.exists():
                shutil.copyfile(store.image_path(item.image_hash), target)
            n += 1
        return n
    finally:
        store.close()


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
        self.teacher_images: Path | None = None

    def _run(self, run_dir: Path, model: str, teacher: str | None, opts: dict[str, Any],
             teacher_opts: dict[str, Any]) -> dict[str, Any]:
        from evalsuite.runner import RunConfig, run_eval

        return run_eval(RunConfig(run_dir=run_dir, pack=self.cfg.pack, model=model, teacher=teacher,
                                  model_opts=opts, teacher_opts=teacher_opts, judges=self.cfg.judges,
                                  judge_opts=self.cfg.judge_opts, limit=self.cfg.limit,
                                  tags=self.cfg.tags, progress=False,
                                  command=f"evalsuite sweep {self.cfg.checkpoints}",
                                  **({"exec": self.cfg.exec} if self.cfg.exec is not None else {})))

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

    def evaluate(self, ckpt: Path) -> dict[str, Any]:
        """Evaluate one checkpoint and append it to the sweep."""
        t0 = time.time()
        name = ckpt.name
        if ckpt.parent.resolve() != self.cfg.checkpoints.resolve():
            name = f"{ckpt.parent.name}-{ckpt.name}"
        teacher = f"images:{self.teacher_images}" if self.teacher_images else None
        summary = self._run(self.cfg.sweep_dir / name, str(ckpt), teacher, self.cfg.model_opts, {})
        recipe = None
        meta = ckpt / "train_config.json"
        if meta.is_file():
            recipe = json.loads(meta.read_text()).get("config", {}).get("name")
        entry = {"name": name, "step": checkpoint_step(ckpt), "run_dir": name,
                 "checkpoint": str(ckpt), "recipe": recipe, "evaluated": _now(),
                 "eval_s": round(time.time() - t0, 2), "metrics": _metric_means(summary),
                 "latency_ms_per_image": summary.get("models", {}).get("student", {}).get(
                     "latency_ms_per_image")}
        self.data["checkpoints"].append(entry)
        self.data["checkpoints"].sort(key=lambda c: (c["step"], c["name"]))
        save_sweep(self.cfg.sweep_dir, self.data)
        self.log(f"evaluated {name} (step {entry['step']}) in {entry['eval_s']}s: "
                 + ", ".join(f"{k}={v['mean']:.4g}" for k, v in entry["metrics"].items()
                             if v.get("mean") is not None))
        return entry

    def pending(self) -> list[Path]:
        done = self.evaluated()
        return [p for p in find_checkpoints(self.cfg.checkpoints) if str(p) not in done]

    def run(self) -> dict[str, Any]:
        """Evaluate all checkpoints present (and, watching, those that appear later)."""
        self.prepare_teacher()
        last_new = time.time()
        while True:
            todo = self.pending()
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
