"""Render with any local diffusers pipeline folder (model_index.json), optionally with a LoRA.

Loading is lazy: `from_checkpoint` only reads model_index.json and sampler.json, and
`fingerprint()` / `describe()` hash files without importing diffusers, so a fully cached re-run
never loads a model. The pipeline is loaded on the first `render()`.

Settings resolve in this order: explicit options > the folder's `sampler.json` > the pipeline's
own `__call__` defaults. See docs/renderers.md.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalsuite.renderers.base import Renderer, check_options
from evalsuite.renderers.hashing import files_digest
from evalsuite.types import EvalsuiteError, Rendered, RenderRequest

logger = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf")
DTYPES = ("float32", "bfloat16", "float16")
# Pipelines whose real classifier-free guidance is `true_cfg_scale` + a negative prompt
# (their `guidance_scale` is an embedded-guidance input for guidance-distilled transformers).
TRUE_CFG_PREFIXES = ("QwenImage", "Flux", "Chroma")


@dataclass(frozen=True)
class SamplerSettings:
    """Everything besides the weights that changes the pixels; part of the fingerprint."""

    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    shift: float | None = None
    width: int | None = None
    height: int | None = None
    negative_prompt: str = " "
    dtype: str | None = None
    device: str | None = None
    batch_size: int = 4
    lora: str | None = None
    lora_scale: float = 1.0
    weights: str | None = None
    call_kwargs: dict[str, Any] = field(default_factory=dict)
    # placement only (same pixels, so not in the fingerprint): spread over GPUs / offload to CPU
    device_map: str | None = None
    cpu_offload: bool = False


_INT_KEYS = {"num_inference_steps", "width", "height", "batch_size"}
_FLOAT_KEYS = {"guidance_scale", "shift", "lora_scale"}
_STR_KEYS = {"negative_prompt", "dtype", "device", "lora", "weights", "device_map"}
_BOOL_KEYS = {"cpu_offload"}
OPTION_KEYS = _INT_KEYS | _FLOAT_KEYS | _STR_KEYS | _BOOL_KEYS | {"call_kwargs"}


def _coerce(key: str, value: Any, where: str) -> Any:
    """Check one option's type; raise a one-line error naming where it came from."""
    if value is None:
        return None
    try:
        if key in _INT_KEYS:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            v = int(value)
            if v < 1:
                raise ValueError
            return v
        if key in _FLOAT_KEYS:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if key in _STR_KEYS:
            if not isinstance(value, str):
                raise ValueError
            return value
        if key in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise ValueError
            return value
        if key == "call_kwargs":
            if not isinstance(value, dict):
                raise ValueError
            return dict(value)
    except (TypeError, ValueError):
        kind = ("a positive integer" if key in _INT_KEYS else "a number" if key in _FLOAT_KEYS
                else "a string" if key in _STR_KEYS else "true or false" if key in _BOOL_KEYS
                else "a JSON object")
        raise EvalsuiteError(f"{where}: option '{key}' must be {kind}, got {value!r}") from None
    raise EvalsuiteError(f"{where}: unknown option '{key}'")


def _check_keys(opts: dict[str, Any], where: str) -> None:
    check_options(opts, set(OPTION_KEYS), where)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise EvalsuiteError(f"cannot read {path}: {e.strerror or e}") from e
    except ValueError as e:
        raise EvalsuiteError(f"{path}: not valid JSON ({e}); fix or re-save the file") from e
    if not isinstance(data, dict):
        raise EvalsuiteError(f"{path}: expected a JSON object")
    return data


def _default_device() -> str:
    """'cuda' when torch is a GPU build and a GPU device node is visible, else 'cpu'.

    Decided without importing torch (importing it costs seconds, and describe()/fingerprint()
    must stay cheap for fully cached re-runs), and the same way in every process so the
    fingerprint is stable; `load()` double-checks with torch.cuda.is_available().
    """
    import importlib.util
    import os

    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return "cpu"
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return "cpu"
    try:
        version = (Path(list(spec.submodule_search_locations)[0]) / "version.py").read_text()
    except OSError:
        return "cpu"
    gpu_build = any(line.startswith(("cuda", "hip")) and "None" not in line for line in version.splitlines())
    nodes = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg", "/dev/kfd")
    return "cuda" if gpu_build and any(Path(n).exists() for n in nodes) else "cpu"


class DiffusersRenderer(Renderer):
    """A local diffusers pipeline folder; batched, one torch.Generator per request seed."""

    name = "diffusers"
    options = frozenset(OPTION_KEYS)

    def __init__(self, path: Path, class_name: str, settings: SamplerSettings,
                 model_index: dict[str, Any]) -> None:
        self.path = path
        self.class_name = class_name
        self.settings = settings
        self.model_index = model_index
        self._pipe: Any = None
        self._fingerprint: str | None = None
        self._call_params: dict[str, inspect.Parameter] | None = None
        self._auto_device: str | None = None

    # --- construction (cheap: no weights are read) ---------------------------------------------
    @classmethod
    def from_checkpoint(cls, ckpt: str, **opts: Any) -> "DiffusersRenderer":
        path = Path(ckpt).expanduser()
        if not path.exists():
            raise EvalsuiteError(f"checkpoint {path} does not exist; pass a diffusers pipeline folder "
                                 "(with model_index.json) or images:DIR")
        if not path.is_dir() or not (path / "model_index.json").is_file():
            raise EvalsuiteError(f"checkpoint {path} is not a diffusers pipeline folder (no model_index.json); "
                                 "save one with pipe.save_pretrained(DIR)")
        index = _read_json(path / "model_index.json")
        class_name = index.get("_class_name")
        if not isinstance(class_name, str) or not class_name:
            raise EvalsuiteError(f"{path / 'model_index.json'}: missing '_class_name'")
        merged: dict[str, Any] = {}
        sampler_file = path / "sampler.json"
        if sampler_file.is_file():
            sampler = _read_json(sampler_file)
            _check_keys(sampler, str(sampler_file))
            merged.update({k: _coerce(k, v, str(sampler_file)) for k, v in sampler.items()})
        if merged.get("lora") and not Path(merged["lora"]).expanduser().is_absolute():
            merged["lora"] = str(path / merged["lora"])   # sampler.json paths are relative to the folder
        _check_keys(opts, f"renderer options for {path}")
        merged.update({k: _coerce(k, v, f"renderer option for {path}") for k, v in opts.items() if v is not None})
        if merged.get("shift") is not None and merged["shift"] <= 0:
            raise EvalsuiteError(f"{path}: shift must be > 0, got {merged['shift']}")
        if merged.get("dtype") is not None and merged["dtype"] not in DTYPES:
            raise EvalsuiteError(f"{path}: dtype '{merged['dtype']}' is not one of {', '.join(DTYPES)}")
        if merged.get("lora"):
            lora = Path(merged["lora"]).expanduser()
            if not lora.exists():
                raise EvalsuiteError(f"LoRA {lora} does not exist; pass a .safetensors file or a folder holding one")
            if lora.is_dir() and not _lora_files(lora):
                raise EvalsuiteError(f"LoRA folder {lora} holds no .safetensors/.bin weights")
            merged["lora"] = str(lora.resolve())
        if merged.get("weights"):
            weights = Path(merged["weights"]).expanduser()
            _weight_files(weights)          # exists and holds safetensors
            merged["weights"] = str(weights.resolve())
        return cls(path.resolve(), class_name, SamplerSettings(**merged), index)

    # --- settings that need no model ------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        return self.settings.batch_size

    def _device(self) -> str:
        if self.settings.device:
            return self.settings.device
        if self._auto_device is None:
            self._auto_device = _default_device()
        return self._auto_device

    def threads_matter(self) -> bool:
        return self._device().split(":")[0] == "cpu"

    def _dtype(self) -> str:
        if self.settings.dtype:
            return self.settings.dtype
        return "bfloat16" if self._device().startswith("cuda") else "float32"

    def _transformer_config(self) -> dict[str, Any]:
        for comp in ("transformer", "unet"):
            f = self.path / comp / "config.json"
            if f.is_file():
                return _read_json(f)
        return {}

    def _scheduler_config(self) -> dict[str, Any]:
        f = self.path / "scheduler" / "scheduler_config.json"
        return _read_json(f) if f.is_file() else {}

    def guidance_mode(self) -> str:
        """'true_cfg' (true_cfg_scale + negative prompt), 'embedded' (guidance is a model input,
        one pass) or 'cfg' (classic guidance_scale CFG, two passes when > 1)."""
        if self.class_name.startswith("QwenImage"):
            return "true_cfg"
        embedded = bool(self._transformer_config().get("guidance_embeds", False))
        if self.class_name.startswith(TRUE_CFG_PREFIXES):
            return "embedded" if embedded else "true_cfg"
        return "embedded" if embedded else "cfg"

    def _resolved(self) -> dict[str, Any]:
        """Steps, guidance and shift as they will be used (pipeline defaults read if unset)."""
        s = self.settings
        steps, guidance, shift = s.num_inference_steps, s.guidance_scale, s.shift
        if steps is None or guidance is None:
            params = self._signature()
            if steps is None:
                steps = _param_default(params, "num_inference_steps")
            if guidance is None:
                key = "true_cfg_scale" if self.guidance_mode() == "true_cfg" else "guidance_scale"
                guidance = _param_default(params, key)
        if shift is None:
            sched = self._scheduler_config()
            if not sched.get("use_dynamic_shifting", False):
                shift = sched.get("shift")
        return {"num_inference_steps": steps, "guidance_scale": guidance, "shift": shift}

    def nfe(self) -> int | None:
        """Network evaluations per image: steps x 2 when CFG runs a second (negative) pass."""
        r = self._resolved()
        steps, g = r["num_inference_steps"], r["guidance_scale"]
        if steps is None:
            return None
        doubles = self.guidance_mode() in ("true_cfg", "cfg") and g is not None and g > 1.0
        return int(steps) * (2 if doubles else 1)

    def fingerprint(self) -> str:
        """sha256 over the pipeline's files (weights by content), LoRA, sampler settings, class."""
        if self._fingerprint is None:
            files = [f for f in self.path.rglob("*") if f.is_file() and _counts_for_fingerprint(f, self.path)]
            h = hashlib.sha256()
            h.update(f"class={self.class_name}\n".encode())
            h.update(f"files={files_digest(files, self.path)}\n".encode())
            if self.settings.lora:
                lora = Path(self.settings.lora)
                root = lora if lora.is_dir() else lora.parent
                h.update(f"lora={files_digest(_lora_files(lora) if lora.is_dir() else [lora], root)}\n".encode())
            if self.settings.weights:
                w = Path(self.settings.weights)
                h.update(f"weights={files_digest(_weight_files(w), w if w.is_dir() else w.parent)}\n".encode())
            sampler = {**self._resolved(), "width": self.settings.width, "height": self.settings.height,
                       "negative_prompt": self.settings.negative_prompt if self.guidance_mode() == "true_cfg" else None,
                       "lora_scale": self.settings.lora_scale if self.settings.lora else None,
                       "dtype": self._dtype(), "device_type": self._device().split(":")[0],
                       "call_kwargs": self.settings.call_kwargs}
            h.update(json.dumps(sampler, sort_keys=True, default=str).encode())
            self._fingerprint = h.hexdigest()[:32]
        return self._fingerprint

    def describe(self) -> dict[str, Any]:
        r = self._resolved()
        return {
            "renderer": self.name, "checkpoint": str(self.path), "pipeline": self.class_name,
            "fingerprint": self.fingerprint(), "nfe": self.nfe(),
            "num_inference_steps": r["num_inference_steps"], "guidance_scale": r["guidance_scale"],
            "guidance_mode": self.guidance_mode(), "shift": r["shift"],
            "dtype": self._dtype(), "device": self._device(), "batch_size": self.batch_size,
            "lora": self.settings.lora, "lora_scale": self.settings.lora_scale if self.settings.lora else None,
            "weights": self.settings.weights,
            **({"device_map": self.settings.device_map} if self.settings.device_map else {}),
            **({"cpu_offload": True} if self.settings.cpu_offload else {}),
        }

    # --- loading -------------------------------------------------------------------------------
    def pipeline_class(self) -> type:
        """The pipeline class named by model_index.json: diffusers' own, else evalsuite's PIPELINES."""
        import diffusers

        cls = getattr(diffusers, self.class_name, None)
        if cls is not None:
            return cls
        from evalsuite.registry import PIPELINES

        if self.class_name in PIPELINES:
            return PIPELINES.get(self.class_name)
        raise EvalsuiteError(f"{self.path / 'model_index.json'}: pipeline class '{self.class_name}' is neither "
                             f"in diffusers {diffusers.__version__} nor registered in evalsuite.registry.PIPELINES")

    def _signature(self) -> dict[str, inspect.Parameter]:
        if self._call_params is None:
            self._call_params = dict(inspect.signature(self.pipeline_class().__call__).parameters)
        return self._call_params

    def load(self) -> Any:
        """Load the pipeline (weights, LoRA, scheduler shift) onto the device; idempotent."""
        if self._pipe is not None:
            return self._pipe
        import torch

        cls = self.pipeline_class()
        dtype = getattr(torch, self._dtype())
        if self._device().startswith("cuda") and not torch.cuda.is_available():
            raise EvalsuiteError(f"{self.path}: device '{self._device()}' requested but torch sees no CUDA GPU; "
                                 "pass device=cpu (--device cpu)")
        t0 = time.perf_counter()
        try:
            extra = {"device_map": self.settings.device_map} if self.settings.device_map else {}
            pipe = cls.from_pretrained(str(self.path), dtype=dtype, **extra)
        except EvalsuiteError:
            raise
        except Exception as e:  # noqa: BLE001 - any load failure is a user-facing checkpoint problem
            logger.debug("loading %s failed", self.path, exc_info=True)
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise EvalsuiteError(f"cannot load pipeline {self.path}: {type(e).__name__}: {msg}; "
                                 "check that its weight files are complete (re-download or re-save them)") from e
        if self.settings.shift is not None:
            self._apply_shift(pipe, self.settings.shift)
        if self.settings.weights:
            self._load_weights(pipe)
        if self.settings.lora:
            self._load_lora(pipe)
        if self.settings.cpu_offload:
            # weights stay in CPU memory, each component moves to the GPU while it runs
            pipe.enable_model_cpu_offload(device=self._device())
        elif not self.settings.device_map:    # device_map already placed the components
            pipe = pipe.to(self._device())
        if hasattr(pipe, "set_progress_bar_config"):
            pipe.set_progress_bar_config(disable=True)
        logger.info("loaded %s (%s) in %.1fs", self.path, self.class_name, time.perf_counter() - t0)
        self._pipe = pipe
        return pipe

    def _apply_shift(self, pipe: Any, shift: float) -> None:
        sched = getattr(pipe, "scheduler", None)
        if sched is None or "shift" not in getattr(sched, "config", {}):
            raise EvalsuiteError(f"{self.path}: option 'shift' needs a flow-matching scheduler with a shift "
                                 f"setting; this pipeline uses {type(sched).__name__}")
        # A static shift replaces resolution-dependent (dynamic) shifting.
        pipe.scheduler = type(sched).from_config(sched.config, shift=shift, use_dynamic_shifting=False)

    def _load_lora(self, pipe: Any) -> None:
        lora = Path(self.settings.lora or "")
        if not hasattr(pipe, "load_lora_weights"):
            raise EvalsuiteError(f"{self.path}: pipeline {self.class_name} cannot load LoRAs (no load_lora_weights)")
        if lora.is_dir():
            files = _lora_files(lora)
            preferred = [f for f in files if f.name.startswith("pytorch_lora_weights")]
            weight = (preferred or files)[0]
            if len(files) > 1 and not preferred:
                raise EvalsuiteError(f"LoRA folder {lora} holds {len(files)} weight files; pass one file as lora=FILE")
        else:
            weight = lora
        keys = check_safetensors(weight) if weight.suffix == ".safetensors" else []
        try:
            # diffusers converts the common namings itself: diffusers/peft (`transformer.` prefix),
            # kohya (`lora_unet_`, lora_down/lora_up/alpha), ComfyUI (`diffusion_model.`) and
            # DiffSynth-Studio (bare module names, `lora_A.default.weight`).
            pipe.load_lora_weights(str(weight.parent), weight_name=weight.name, adapter_name="evalsuite")
            if self.settings.lora_scale != 1.0:
                pipe.set_adapters(["evalsuite"], adapter_weights=[self.settings.lora_scale])
        except Exception as e:  # noqa: BLE001
            logger.debug("loading LoRA %s failed", weight, exc_info=True)
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise EvalsuiteError(f"cannot load LoRA {weight} into {self.path}: {type(e).__name__}: {msg}") from e
        # load_lora_weights only warns when no key matches a module; a LoRA that changes nothing
        # would then be evaluated as the base model.
        denoiser = _denoiser(pipe)
        adapted = sum(1 for m in denoiser.modules() if "evalsuite" in (getattr(m, "lora_A", None) or {}))
        if adapted == 0:
            example = f" (keys look like '{keys[0]}')" if keys else ""
            raise EvalsuiteError(f"LoRA {weight}: none of its keys match a layer of {self.path}'s "
                                 f"{type(denoiser).__name__}{example}; is it for another model?")

    def _load_weights(self, pipe: Any) -> None:
        """Replace the denoiser's weights with `weights` (a model folder or a state-dict file, as
        accelerate's save_state writes `model.safetensors`); every key must match."""
        import torch
        from safetensors.torch import load_file

        w = Path(self.settings.weights or "")
        denoiser = _denoiser(pipe)
        state: dict[str, Any] = {}
        for f in _weight_files(w):
            check_safetensors(f)
            state.update(load_file(str(f)))
        own = denoiser.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if missing or unexpected:
            ex = f"missing e.g. '{missing[0]}'" if missing else f"unexpected e.g. '{unexpected[0]}'"
            raise EvalsuiteError(f"weights {w} do not fit {self.path}'s {type(denoiser).__name__}: "
                                 f"{len(missing)} keys missing, {len(unexpected)} unexpected ({ex})")
        bad = next((k for k in own if tuple(own[k].shape) != tuple(state[k].shape)), None)
        if bad is not None:
            raise EvalsuiteError(f"weights {w}: '{bad}' has shape {tuple(state[bad].shape)}, "
                                 f"{type(denoiser).__name__} expects {tuple(own[bad].shape)}")
        with torch.no_grad():
            denoiser.load_state_dict(state, strict=True)

    # --- rendering -----------------------------------------------------------------------------
    def render(self, requests: Sequence[RenderRequest]) -> list[Rendered]:
        """Render requests in sub-batches that share kind and size; output order = input order."""
        if not requests:
            return []
        groups: dict[tuple[str, int | None, int | None], list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault((r.kind, r.width, r.height), []).append(i)
        out: list[Rendered | None] = [None] * len(requests)
        for (kind, _, _), idx in groups.items():
            # Multi-image edit pipelines (EditPlus) read a list of images as references for every
            # prompt, not one per prompt: edit requests go one at a time there.
            step = 1 if kind == "edit" and "EditPlus" in self.class_name else self.batch_size
            for j in range(0, len(idx), step):
                chunk = idx[j:j + step]
                for i, rendered in zip(chunk, self._render_batch([requests[i] for i in chunk])):
                    out[i] = rendered
        return [r for r in out if r is not None]

    def _call_kwargs(self, reqs: Sequence[RenderRequest]) -> dict[str, Any]:
        import torch

        params = self._signature()
        r0 = reqs[0]
        r = self._resolved()
        kw: dict[str, Any] = {"prompt": [q.prompt for q in reqs], "output_type": "pil",
                              # CPU generators: the same noise on every device.
                              "generator": [torch.Generator("cpu").manual_seed(int(q.seed)) for q in reqs]}
        if r["num_inference_steps"] is not None:
            kw["num_inference_steps"] = int(r["num_inference_steps"])
        g = r["guidance_scale"]
        if g is not None:
            if self.guidance_mode() == "true_cfg" and "true_cfg_scale" in params:
                kw["true_cfg_scale"] = float(g)
                if g > 1.0 and "negative_prompt" in params:
                    kw["negative_prompt"] = [self.settings.negative_prompt] * len(reqs)
            elif "guidance_scale" in params:
                kw["guidance_scale"] = float(g)
        width = r0.width or self.settings.width
        height = r0.height or self.settings.height
        if width is not None:
            kw["width"] = int(width)
        if height is not None:
            kw["height"] = int(height)
        if r0.kind == "edit":
            if "image" not in params:
                raise EvalsuiteError(f"case '{r0.case_id}' is an edit case but {self.class_name} "
                                     f"({self.path}) takes no source image; use an edit pipeline")
            missing = [q.case_id for q in reqs if q.source is None]
            if missing:
                raise EvalsuiteError(f"edit case '{missing[0]}' has no source image")
            kw["image"] = [q.source.convert("RGB") for q in reqs]  # type: ignore[union-attr]
        kw.update(self.settings.call_kwargs)
        return kw

    def _render_batch(self, reqs: Sequence[RenderRequest]) -> list[Rendered]:
        import torch

        pipe = self.load()
        kw = self._call_kwargs(reqs)
        t0 = time.perf_counter()
        try:
            with torch.inference_mode():
                result = pipe(**kw)
        except EvalsuiteError:
            raise
        except Exception as e:  # noqa: BLE001
            logger.debug("pipeline call failed", exc_info=True)
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise EvalsuiteError(f"{self.class_name} ({self.path}) failed on case '{reqs[0].case_id}' "
                                 f"seed {reqs[0].seed}: {type(e).__name__}: {msg}") from e
        per_image = (time.perf_counter() - t0) / len(reqs)
        images = getattr(result, "images", None)
        if images is None and isinstance(result, (tuple, list)):
            images = result[0]
        if images is None or len(images) != len(reqs):
            raise EvalsuiteError(f"{self.class_name} ({self.path}) returned "
                                 f"{len(images) if images is not None else 'no'} images for {len(reqs)} prompts")
        out = []
        for q, im in zip(reqs, images):
            im = im.convert("RGB")
            want = (kw.get("width"), kw.get("height"))
            if want[0] is not None and want[1] is not None and im.size != want:
                raise EvalsuiteError(f"{self.class_name} ({self.path}) rendered {im.size[0]}x{im.size[1]} for case "
                                     f"'{q.case_id}' which asks for {want[0]}x{want[1]}; use a size the pipeline "
                                     "supports (usually a multiple of 16)")
            out.append(Rendered(q, im, per_image))
        return out

    def close(self) -> None:
        if self._pipe is not None:
            self._pipe = None
            try:
                import torch

                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
            except ImportError:
                pass


def _param_default(params: dict[str, inspect.Parameter], key: str) -> Any:
    p = params.get(key)
    if p is None or p.default is inspect.Parameter.empty:
        return None
    return p.default


def _denoiser(pipe: Any) -> Any:
    for name in ("transformer", "unet"):
        if getattr(pipe, name, None) is not None:
            return getattr(pipe, name)
    raise EvalsuiteError(f"pipeline {type(pipe).__name__} has neither a transformer nor a unet")


def check_safetensors(path: Path) -> list[str]:
    """The tensor names of a .safetensors file, reading only its header; a truncated or corrupt
    file raises a one-line error naming it (the usual fate of a checkpoint copied mid-write)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            keys = list(f.keys())
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise EvalsuiteError(f"{path}: not a readable .safetensors file ({msg}); was it copied "
                             "completely?") from e
    if not keys:
        raise EvalsuiteError(f"{path}: holds no tensors")
    return keys


def _weight_files(path: Path) -> list[Path]:
    """Denoiser weights: a .safetensors file, or a model folder's (sharded) safetensors files."""
    if not path.exists():
        raise EvalsuiteError(f"weights {path} do not exist; pass a .safetensors state dict or a model folder")
    if path.is_file():
        if path.suffix != ".safetensors":
            raise EvalsuiteError(f"weights {path}: only .safetensors files are read (pickles can run code)")
        return [path]
    files = sorted(f for f in path.iterdir() if f.is_file() and f.suffix == ".safetensors")
    if not files:
        raise EvalsuiteError(f"weights folder {path} holds no .safetensors files")
    return files


def _lora_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.is_file() and f.suffix in (".safetensors", ".bin"))


def _counts_for_fingerprint(f: Path, root: Path) -> bool:
    """Weights and configs count; docs, sampler.json (its settings are hashed resolved) and dotfiles don't."""
    rel = f.relative_to(root)
    if any(part.startswith(".") for part in rel.parts):
        return False
    if rel.as_posix() == "sampler.json" or f.suffix.lower() in (".md", ".png", ".jpg", ".jpeg"):
        return False
    return True
