"""Registries with lazy "module:attr" targets and "did you mean" errors (the pyiqa pattern).

Nothing is imported until a name is looked up, so `import evalsuite` stays cheap and the core
never imports judges, renderers or distill modules directly.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any, Generic, TypeVar

from evalsuite.types import EvalsuiteError

T = TypeVar("T")


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
            close = difflib.get_close_matches(name, self._targets, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise EvalsuiteError(
                f"unknown {self.kind} '{name}'{hint} (known: {', '.join(self.names())})")
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

for _name, _target in {
    "ocr": "judges.ocr:OCRJudge",
    "flatbg": "judges.flatbg:FlatBackgroundJudge",
    "fidelity": "judges.fidelity:FidelityJudge",
    "diversity": "judges.diversity:DiversityJudge",
    "vlm-t2i": "judges.vlm.t2i:VLMT2IJudge",
    "vlm-edit": "judges.vlm.edit:VLMEditJudge",
    "vlm-pairwise": "judges.vlm.pairwise:VLMPairwiseJudge",
    "vlm-yesno": "judges.vlm.yesno:VLMYesNoJudge",
    "parity-text": "judges.parity.judge:ParityTextJudge",
}.items():
    JUDGES.register(_name, _target)

for _name, _target in {
    "diffusers": "evalsuite.renderers.diffusers_renderer:DiffusersRenderer",
    "images": "evalsuite.renderers.images:ImagesRenderer",
}.items():
    RENDERERS.register(_name, _target)

PIPELINES.register("TinyFlowPipeline", "distill.pipeline:TinyFlowPipeline")


def _load_entry_points() -> None:
    """Third-party plugins: entry-point groups evalsuite.judges / evalsuite.renderers."""
    from importlib.metadata import entry_points

    for group, reg in (("evalsuite.judges", JUDGES), ("evalsuite.renderers", RENDERERS),
                       ("evalsuite.pipelines", PIPELINES)):
        for ep in entry_points(group=group):
            if ep.name not in reg:
                reg.register(ep.name, ep.value)


_load_entry_points()
