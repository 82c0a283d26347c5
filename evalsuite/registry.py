"""Registries with lazy "module:attr" targets and "did you mean" errors (the pyiqa pattern).

Nothing is imported until a name is looked up, so `import evalsuite` stays cheap and the core
never imports judges, renderers or distill modules directly.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from evalsuite.types import EvalsuiteError

T = TypeVar("T")


def did_you_mean(name: str, choices: Iterable[str], cutoff: float = 0.5) -> str:
    """The one "did you mean" hint: "; did you mean 'x'?" for the closest choice, or ""."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=cutoff)
    return f"; did you mean '{close[0]}'?" if close else ""


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._targets: dict[str, str | T] = {}

    def register(self, name: str, target: str | T) -> None:
        """Register `target` (an object, or a lazy "package.module:attr" string) under `name`."""
        self._targets[name] = target

    def names(self) -> list[str]:
        return sorted(self._targets)

    def __contains__(self, name: str) -> bool:
        return name in self._targets

    def get(self, name: str) -> T:
        if name not in self._targets:
            raise EvalsuiteError(f"unknown {self.kind} '{name}'{did_you_mean(name, self._targets)} "
                                 f"(known: {', '.join(self.names())})")
        target = self._targets[name]
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            try:
                obj = getattr(importlib.import_module(module), attr)
            except ImportError as e:
                raise EvalsuiteError(
                    f"{self.kind} '{name}' needs a package that is not installed: {e}") from e
            self._targets[name] = obj
            return obj
        return target


# --- the built-in entries --------------------------------------------------------------------
JUDGES: Registry[Any] = Registry("judge")
RENDERERS: Registry[Any] = Registry("renderer")
# diffusers pipeline classes that are not part of diffusers itself (looked up by model_index.json
# `_class_name`).
PIPELINES: Registry[Any] = Registry("pipeline class")

# judge families (evalsuite.family.JudgeFamily): plugins that own a group of judges
FAMILIES: Registry[Any] = Registry("judge family")


def _load_bundled() -> None:
    """The bundled judges and families (judges.catalog: a dict of lazy targets, imports nothing)."""
    try:
        from judges import catalog
    except ImportError:   # evalsuite installed without the bundled judges
        return
    for name, target in catalog.JUDGES.items():
        JUDGES.register(name, target)
    for name, target in catalog.FAMILIES.items():
        FAMILIES.register(name, target)


_load_bundled()

for _name, _target in {
    "diffusers": "evalsuite.renderers.diffusers_renderer:DiffusersRenderer",
    "images": "evalsuite.renderers.images:ImagesRenderer",
}.items():
    RENDERERS.register(_name, _target)

PIPELINES.register("TinyFlowPipeline", "distill.pipeline:TinyFlowPipeline")
# what `evalsuite run` evaluates with no --model: a callable returning {"student": ckpt,
# "teacher": ckpt}; supplied by the package that bundles the models (the first name wins)
DEFAULT_MODELS: Registry[Any] = Registry("default model set")
DEFAULT_MODELS.register("bundled", "distill.defaults:default_models")


def _load_entry_points() -> None:
    """Third-party plugins: entry-point groups evalsuite.judges / evalsuite.renderers."""
    from importlib.metadata import entry_points

    for group, reg in (("evalsuite.judges", JUDGES), ("evalsuite.renderers", RENDERERS),
                       ("evalsuite.pipelines", PIPELINES), ("evalsuite.families", FAMILIES),
                       ("evalsuite.default_models", DEFAULT_MODELS)):
        for ep in entry_points(group=group):
            if ep.name not in reg:
                reg.register(ep.name, ep.value)


_load_entry_points()
