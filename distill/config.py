"""Frozen configs for the teacher loop and the student recipes, parsed from YAML with clear errors.

A config is saved inside every checkpoint (train_config.json), so a checkpoint says how it was made.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from distill.data import CATEGORIES
from evalsuite.types import EvalsuiteError

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class TeacherConfig:
    """Teacher training: rectified flow with CFG dropout, AdamW, EMA; time- or step-budgeted."""

    name: str
    out_dir: str                                  # where checkpoints go (relative to repo root)
    init: str | None = None                       # pipeline folder to fine-tune from
    categories: dict[str, float] = field(default_factory=lambda: {c: 1.0 for c in CATEGORIES})
    edit_fraction: float = 0.5                    # share of edit triplets in each batch
    seed: int = 0
    batch_size: int = 32
    lr: float = 1e-3
    warmup_steps: int = 100
    lr_decay: str = "constant"                    # or "cosine": to lr_min over the budget
    lr_min: float = 0.0                           # (progress = the larger of steps/max_steps and
                                                  #  minutes/max_minutes)
    ema: float = 0.999
    cfg_dropout: float = 0.1
    max_steps: int = 100000
    max_minutes: float = 20.0
    checkpoint_minutes: float = 4.0               # also save every this many minutes
    guidance_scale: float = 3.0                   # sampler.json defaults of the saved pipeline
    num_inference_steps: int = 32
    channels: tuple[int, ...] = (32, 64, 128)
    text_dim: int = 128
    attn_levels: int = 1                          # cross-attention at this many lowest resolutions
    pooled_text: bool = False                     # pooled prompt embedding into every ResNet
    char_aware: bool = False                      # text encoder also embeds the quoted text by character
    text_layout: bool = False                     # t2i also conditions on the letter-free layout map
                                                  # (in the edit-source channels; see data.layout_map)
    layout_dropout: float = 0.0                   # share of t2i samples trained with a zero layout
    text_loss_weight: float = 1.0                 # loss weight inside the word's box (t2i text)
    arch_from_config: bool = False                # with init: build this config's architecture and
                                                  # copy the init's matching weights (warm start)
    threads: int = 1


OBJECTIVES = ("trajectory", "trajectory+direct", "score")


@dataclass(frozen=True)
class TeacherRef:
    """A teacher of the student loop with its weight schedule lambda(progress)."""

    name: str
    path: str
    schedule: tuple[tuple[float, float], ...] = ((0.0, 1.0), (1.0, 1.0))  # piecewise-linear
    tasks: tuple[str, ...] = ("t2i", "edit")
    categories: tuple[str, ...] = CATEGORIES


@dataclass(frozen=True)
class Recipe:
    """A student recipe: objective, NFE, data composition, teacher schedule, task mixture."""

    name: str
    out_dir: str
    init: str
    teachers: tuple[TeacherRef, ...]
    nfe: int = 4
    objective: str = "trajectory"                 # trajectory | trajectory+direct | score
    direct_from: float = 0.75                     # progress at which the direct phase starts
    fake_lr: float = 4e-4                         # score: the online fake-score network's lr
    fake_updates: int = 1                         # score: fake-score steps per student step
    teacher_steps: int = 32                       # fine Euler steps of the teacher ODE
    teacher_guidance: float = 3.0
    categories: dict[str, float] = field(default_factory=lambda: {c: 1.0 for c in CATEGORIES})
    budget: int = 2000                            # unique data samples (trajectories) drawn
    t2i_edit: tuple[float, float] = (0.5, 0.5)    # task mixture T2I:edit
    seed: int = 1
    batch_size: int = 16
    lr: float = 2e-4
    ema: float = 0.995
    steps: int = 400
    checkpoint_every: int = 100
    max_minutes: float = 60.0
    threads: int = 1


def _fail(path: Path | str, msg: str) -> EvalsuiteError:
    return EvalsuiteError(f"{path}: {msg}")


def _build(cls: type, raw: dict[str, Any], path: Path | str) -> Any:
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(raw) - set(names)
    if unknown:
        raise _fail(path, f"unknown key(s) {sorted(unknown)} for {cls.__name__} "
                          f"(known: {', '.join(sorted(names))})")
    missing = [n for n, f in names.items() if f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING and n not in raw]  # type: ignore[misc]
    if missing:
        raise _fail(path, f"missing required key(s) {missing} for {cls.__name__}")
    return raw


def _weights(raw: Any, path: Path | str, key: str) -> dict[str, float]:
    if not isinstance(raw, dict) or not raw:
        raise _fail(path, f"'{key}' must be a non-empty mapping category -> weight")
    out: dict[str, float] = {}
    for k, v in raw.items():
        if k not in CATEGORIES:
            raise _fail(path, f"'{key}': unknown category '{k}' (known: {', '.join(CATEGORIES)})")
        if not isinstance(v, (int, float)) or v < 0:
            raise _fail(path, f"'{key}.{k}' must be a weight >= 0, got {v!r}")
        out[k] = float(v)
    if sum(out.values()) <= 0:
        raise _fail(path, f"'{key}': weights sum to 0")
    return out


def _load_yaml(path: Path | str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise EvalsuiteError(f"{p}: no such config file")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise _fail(p, f"invalid YAML: {str(e).splitlines()[0]}") from e
    if not isinstance(raw, dict):
        raise _fail(p, "must be a YAML mapping")
    return raw


def parse_teacher_config(raw: dict[str, Any], path: Path | str = "<config>") -> TeacherConfig:
    raw = dict(_build(TeacherConfig, raw, path))
    if "categories" in raw:
        raw["categories"] = _weights(raw["categories"], path, "categories")
    if "channels" in raw:
        raw["channels"] = tuple(int(c) for c in raw["channels"])
    if not 0.0 <= float(raw.get("edit_fraction", 0.5)) <= 1.0:
        raise _fail(path, "'edit_fraction' must be in [0, 1]")
    if raw.get("lr_decay", "constant") not in ("constant", "cosine"):
        raise _fail(path, f"'lr_decay' must be 'constant' or 'cosine', got {raw['lr_decay']!r}")
    return TeacherConfig(**raw)


def load_teacher_config(path: Path | str) -> TeacherConfig:
    return parse_teacher_config(_load_yaml(path), path)


def _schedule(raw: Any, path: Path | str, who: str) -> tuple[tuple[float, float], ...]:
    if isinstance(raw, (int, float)):
        return ((0.0, float(raw)), (1.0, float(raw)))
    pts: list[tuple[float, float]] = []
    if not isinstance(raw, list) or not raw:
        raise _fail(path, f"teacher '{who}': schedule must be a number or a list of [progress, weight]")
    for pt in raw:
        if not (isinstance(pt, (list, tuple)) and len(pt) == 2
                and all(isinstance(v, (int, float)) for v in pt)):
            raise _fail(path, f"teacher '{who}': schedule point {pt!r} is not [progress, weight]")
        p, w = float(pt[0]), float(pt[1])
        if not 0.0 <= p <= 1.0 or w < 0:
            raise _fail(path, f"teacher '{who}': schedule point {pt!r} needs 0<=progress<=1, weight>=0")
        pts.append((p, w))
    if [p for p, _ in pts] != sorted(p for p, _ in pts):
        raise _fail(path, f"teacher '{who}': schedule progress values must increase")
    return tuple(pts)


def parse_recipe(raw: dict[str, Any], path: Path | str = "<recipe>") -> Recipe:
    raw = dict(_build(Recipe, raw, path))
    teachers = raw.get("teachers")
    if not isinstance(teachers, list) or not teachers:
        raise _fail(path, "'teachers' must be a non-empty list of {name, path, schedule}")
    refs = []
    for t in teachers:
        if not isinstance(t, dict) or "name" not in t or "path" not in t:
            raise _fail(path, f"teacher entry {t!r} needs 'name' and 'path'")
        _build(TeacherRef, t, path)
        cats = tuple(t.get("categories", CATEGORIES))
        for c in cats:
            if c not in CATEGORIES:
                raise _fail(path, f"teacher '{t['name']}': unknown category '{c}'")
        tasks = tuple(t.get("tasks", ("t2i", "edit")))
        for k in tasks:
            if k not in ("t2i", "edit"):
                raise _fail(path, f"teacher '{t['name']}': unknown task '{k}' (t2i, edit)")
        refs.append(TeacherRef(name=str(t["name"]), path=str(t["path"]),
                               schedule=_schedule(t.get("schedule", 1.0), path, t["name"]),
                               tasks=tasks, categories=cats))
    raw["teachers"] = tuple(refs)
    if raw.get("nfe", 4) not in (1, 2, 4):
        raise _fail(path, f"'nfe' must be 1, 2 or 4, got {raw.get('nfe')!r}")
    if raw.get("objective", "trajectory") not in OBJECTIVES:
        raise _fail(path, f"'objective' must be one of {', '.join(OBJECTIVES)}, got {raw['objective']!r}")
    if "categories" in raw:
        raw["categories"] = _weights(raw["categories"], path, "categories")
    if "t2i_edit" in raw:
        mix = raw["t2i_edit"]
        if (not isinstance(mix, (list, tuple)) or len(mix) != 2
                or any(not isinstance(v, (int, float)) or v < 0 for v in mix) or sum(mix) <= 0):
            raise _fail(path, f"'t2i_edit' must be [t2i_weight, edit_weight] with a positive sum, got {mix!r}")
        raw["t2i_edit"] = (float(mix[0]), float(mix[1]))
    nfe = int(raw.get("nfe", 4))
    if int(raw.get("teacher_steps", 32)) % nfe:
        raise _fail(path, f"'teacher_steps' ({raw.get('teacher_steps')}) must be a multiple of nfe ({nfe})")
    for key in ("steps", "checkpoint_every", "budget", "batch_size", "fake_updates"):
        if key in raw and (not isinstance(raw[key], int) or raw[key] < 1):
            raise _fail(path, f"'{key}' must be a positive integer, got {raw[key]!r}")
    return Recipe(**raw)


def load_recipe(path: Path | str) -> Recipe:
    return parse_recipe(_load_yaml(path), path)


def teacher_weights(teachers: tuple[TeacherRef, ...], progress: float, task: str,
                    category: str) -> list[float]:
    """lambda_m(progress) for each teacher, zero where a teacher does not cover the sample's
    task/category, normalised to sum 1 (falls back to the first covering teacher if all are 0)."""
    ws = []
    for t in teachers:
        covers = task in t.tasks and (task == "edit" or category in t.categories)
        ws.append(interp(t.schedule, progress) if covers else 0.0)
    total = sum(ws)
    if total <= 0:
        covering = [i for i, t in enumerate(teachers)
                    if task in t.tasks and (task == "edit" or category in t.categories)]
        if not covering:
            raise EvalsuiteError(f"no teacher covers task '{task}' category '{category}'; "
                                 "add one to the recipe's teachers")
        ws = [1.0 if i == covering[0] else 0.0 for i in range(len(teachers))]
        total = 1.0
    return [w / total for w in ws]


def interp(points: tuple[tuple[float, float], ...], x: float) -> float:
    """Piecewise-linear interpolation, constant outside the points."""
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


def to_json(cfg: Any) -> str:
    return json.dumps(dataclasses.asdict(cfg), indent=2, default=list)
