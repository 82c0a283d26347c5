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
        self._loaders: list[Any] = []     # called once, at the first lookup (lazy bundled entries)

    def add_loader(self, loader: Any) -> None:
        """`loader(registry)` registers entries at the first lookup (keeps imports lazy)."""
        self._loaders.append(loader)

    def _load(self) -> None:
        while self._loaders:
            self._loaders.pop(0)(self)

    def register(self, name: str, target: str | T) -> None:
        """Register `target` (an object, or a lazy "package.module:attr" string) under `name`."""
        self._targets[name] = target

    def names(self) -> list[str]:
        self._load()
        return sorted(self._targets)

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._targets

    def get(self, name: str) -> T:
        self._load()
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


def _bundled(attr: str) -> Any:
    """A loader registering judges.catalog.<attr> (the bundled judges or families; a dict of lazy
    targets), at the first lookup so that importing evalsuite imports no judges package."""
    def load(reg: Registry[Any]) -> None:
        try:
            from judges import catalog
        except ImportError:   # evalsuite installed without the bundled judges
            return
        for name, target in getattr(catalog, attr).items():
            if name not in reg._targets:
                reg.register(name, target)
    return load


# known-truth suites of `evalsuite validate`, by judge name (a callable (judge_factory, quick,
# seed) -> list of checks; judges/validity/)
VALIDITY: Registry[Any] = Registry("validity suite")

JUDGES.add_loader(_bundled("JUDGES"))
FAMILIES.add_loader(_bundled("FAMILIES"))
VALIDITY.add_loader(_bundled("VALIDITY"))

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
                       ("evalsuite.default_models", DEFAULT_MODELS),
                       ("evalsuite.validity", VALIDITY)):
        for ep in entry_points(group=group):
            if ep.name not in reg._targets:   # no lookup: keeps the bundled loaders lazy
                reg.register(ep.name, ep.value)


_load_entry_points()
