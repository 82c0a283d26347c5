"""The judge contract (v2). A judge returns values; the runner owns verdicts.

A judge declares its metrics (direction and range), a version, a granularity and whether it uses
the teacher's image (`reference`). Per item it returns `Scores` (metric -> value or `Failure`);
the runner stamps case, seed, judge id and version into Verdicts, catches exceptions once and
records failures (never a zero). Configuration is captured from `__init__`'s signature (the
diffusers `register_to_config` idea), validated once with "did you mean", and hashed, minus the
declared `cache_ignore` keys, into the judge id that keys the verdict cache. See docs/contracts.md.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from abc import ABC
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from evalsuite.registry import did_you_mean
from evalsuite.types import Case, EvalsuiteError, JudgeInput, MetricSpec

Granularity = Literal["image", "case", "pack"]
Reference = Literal["none", "optional", "required"]
T = TypeVar("T")


@dataclass(frozen=True)
class Failure:
    """One item (or one metric of it) could not be judged; recorded as a failed verdict."""

    error: str                 # one line, e.g. "ConnectError: http://...: connection refused"
    kind: str = "error"        # "error" | "unreachable" | "parse" | "missing_image" | ...

    @classmethod
    def from_exception(cls, e: BaseException, kind: str = "error") -> "Failure":
        """The one formatting of an exception into a failure (ValueError: the message alone)."""
        msg = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
        return cls((msg.splitlines() or [""])[0][:500], kind)


@dataclass
class Scores:
    """What a judge returns for one item (or one case / the whole pack)."""

    values: dict[str, float | Failure]
    detail: dict[str, Any] = field(default_factory=dict)   # stored with every verdict of the item
    # extra detail for one metric's verdict only (e.g. that metric's values across repeats)
    metric_detail: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def failed(cls, metrics: Sequence[str], error: str, kind: str = "error",
               detail: dict[str, Any] | None = None) -> "Scores":
        """Every metric of `metrics` failed with the same error."""
        f = Failure(error, kind)
        return cls({m: f for m in metrics}, dict(detail or {}))


def attempt(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | Failure:
    """fn(*args) or the Failure it raised: for a judge whose one metric may fail while the others
    stand (e.g. a ratio to the teacher image). Whole-item failures need nothing: the runner
    catches them."""
    try:
        return fn(*args, **kwargs)
    except EvalsuiteError:
        raise
    except Exception as e:  # noqa: BLE001 - turned into a recorded failure, never a zero
        return Failure.from_exception(e)


def _coerce(judge: str, key: str, value: Any, annotation: Any) -> Any:
    """Coerce a scalar option to its annotated type (int/float/bool), so that 16 and 16.0 give the
    same config and cache key; a value that does not convert is a one-line error."""
    ann = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    if value is None or ann not in ("int", "float", "bool"):
        return value
    try:
        if ann == "bool":
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            return bool(value)
        if ann == "int" and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(value) if ann == "int" else float(value)
    except (TypeError, ValueError):
        raise EvalsuiteError(f"{judge} judge: option '{key}' must be {ann}, got {value!r}") from None


class Judge(ABC):
    """Base of every judge. Subclasses set the ClassVars and implement `score` (image/case
    granularity) or `update`/`compute` (pack granularity)."""

    name: ClassVar[str]
    version: ClassVar[int]
    metrics: ClassVar[dict[str, MetricSpec]]
    # "image": one Scores per (case, seed); "case": one per case across its seeds (seed=-1);
    # "pack": update() over batches of the whole selection, compute() once (case "*", seed=-1).
    granularity: ClassVar[Granularity] = "image"
    # The same-seed teacher image: "none" (never given), "optional" (given when there is one; such
    # verdicts are cached per (image, teacher image)), "required" (items without one are skipped,
    # and so are the teacher's own images). Per case: override reference_for.
    reference: ClassVar[Reference] = "none"
    # Config keys that do not change verdicts (thread counts, urls); dropped from the cache key.
    cache_ignore: ClassVar[frozenset[str]] = frozenset()
    # Option names accepted through **kwargs of __init__ beyond its named parameters (None: the
    # judge checks its **kwargs itself).
    extra_options: ClassVar[frozenset[str] | None] = None
    # Preferred batch size for the runner.
    batch_size: ClassVar[int] = 16
    # The judge family (evalsuite.family.JudgeFamily.name) this judge belongs to, if any.
    family: ClassVar[str | None] = None

    config: dict[str, Any]

    def __init_subclass__(cls, **kw: Any) -> None:
        """Wrap the subclass's own __init__ so that its options are validated and captured once."""
        super().__init_subclass__(**kw)
        if "__init__" in cls.__dict__:
            cls.__init__ = _capture_config(cls.__dict__["__init__"])  # type: ignore[method-assign]

    def __init__(self, **config: Any) -> None:
        """Judges with a derived config (e.g. an auto-resolved backend) pass it here explicitly;
        a judge without an __init__ of its own has no options."""
        if config and not any("__init__" in k.__dict__ for k in type(self).__mro__[:type(self).__mro__.index(Judge)]):
            k = next(iter(config))
            raise EvalsuiteError(f"{self.name} judge: unknown setting '{k}' (this judge has no options)")
        self.config = dict(config)

    # --- options ----------------------------------------------------------------------------
    @classmethod
    def options(cls) -> dict[str, Any]:
        """Option name -> default (inspect.Parameter.empty when required), from __init__."""
        out: dict[str, Any] = {}
        for p in option_params(cls)[0]:
            out[p.name] = p.default
        for k in sorted(cls.extra_options or ()):
            out.setdefault(k, None)
        return out

    # --- selection --------------------------------------------------------------------------
    def applies_to(self, case: Case) -> bool:
        return True

    def reference_for(self, case: Case) -> Reference:
        """The teacher-image requirement for `case` (default: the class's `reference`)."""
        return self.reference

    def metrics_for(self, item: JudgeInput) -> list[str]:
        """The metrics an item gets (failed together when score() raises); default: all."""
        return list(self.metrics)

    # --- scoring ----------------------------------------------------------------------------
    def score(self, items: Sequence[JudgeInput]) -> list[Scores | None]:
        """One Scores per item (None: nothing to measure, an abstention). Case granularity: the
        items are all seeds of one case and the list holds one Scores."""
        raise NotImplementedError(f"{self.name}: score() is not implemented")

    def update(self, items: Sequence[JudgeInput]) -> None:
        """Pack granularity: accumulate a batch of the selection's images."""
        raise NotImplementedError(f"{self.name}: update() is not implemented")

    def compute(self) -> Scores:
        """Pack granularity: the metrics over everything update() saw; then reset."""
        raise NotImplementedError(f"{self.name}: compute() is not implemented")

    # --- identity ---------------------------------------------------------------------------
    def cache_config(self) -> dict[str, Any]:
        """The part of the config that changes verdicts: config minus `cache_ignore`."""
        return {k: v for k, v in self.config.items() if k not in self.cache_ignore}

    def judge_id(self) -> str:
        blob = json.dumps(self.cache_config(), sort_keys=True, default=str).encode()
        return f"{self.name}@v{self.version}:{hashlib.sha256(blob).hexdigest()[:12]}"

    def spec(self) -> dict[str, Any]:
        """How to rebuild this judge in another process: JUDGES.get(name)(**config)."""
        return {"name": self.name, "config": dict(self.config)}

    def fingerprint(self) -> dict[str, Any] | None:
        """Who judges and how, where that lies outside the code (a served model and its revision,
        prompt texts, decoding): recorded in run.json as judges[i].fingerprint, and compare/gate
        refuse to compare a judge's metrics across runs whose fingerprints differ
        (evalsuite.judge_fingerprint). None (default): the name, version and config say it all."""
        return None

    def preflight(self) -> None:
        """Check, before any model loads or image renders, that the judge can work (e.g. its
        server answers and serves the model); raise a one-line EvalsuiteError when it cannot.
        The runner calls it for every selected judge. Default: nothing to check."""

    def describe(self) -> dict[str, Any]:
        out = {"name": self.name, "version": self.version, "id": self.judge_id(),
               "config": self.cache_config(),
               "metrics": {m: {"higher_is_better": s.higher_is_better, "range": list(s.range),
                               "description": s.description} for m, s in self.metrics.items()}}
        fp = self.fingerprint()
        if fp is not None:
            out["fingerprint"] = fp
        return out

    def close(self) -> None:
        """Release models, pools or clients."""


def _params(init: Any) -> list[inspect.Parameter]:
    sig = inspect.signature(getattr(init, "__wrapped__", init))
    return [p for p in list(sig.parameters.values())[1:]
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def option_params(cls: type[Judge]) -> tuple[list[inspect.Parameter], bool]:
    """The named options of `cls` (its __init__'s, and its bases' where **kwargs passes them on)
    and whether the options are open (a **kwargs the judge checks itself: extra_options is None)."""
    out: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        if klass is Judge or not (isinstance(klass, type) and issubclass(klass, Judge)):
            break
        if "__init__" not in klass.__dict__:
            continue
        init = klass.__dict__["__init__"]
        for p in _params(init):
            out.setdefault(p.name, p)
        sig = inspect.signature(getattr(init, "__wrapped__", init))
        if not any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
            return list(out.values()), False
    return list(out.values()), cls.extra_options is None


def _capture_config(init: Callable[..., None]) -> Callable[..., None]:
    """The register_to_config idea: bind the call to the signature (defaults filled in), reject
    unknown options with "did you mean", coerce scalars to their annotations, and set self.config
    before the judge's own __init__ runs (which may still replace it via Judge.__init__)."""
    sig = inspect.signature(init)
    own = _params(init)

    @functools.wraps(init)
    def wrapper(self: Judge, *args: Any, **kwargs: Any) -> None:
        if self.__dict__.get("_config_captured"):      # a subclass's wrapper already did it
            init(self, *args, **kwargs)
            return
        self.__dict__["_config_captured"] = True
        cls = type(self)
        params, open_ = option_params(cls)
        allowed = sorted({p.name for p in params} | set(cls.extra_options or ()))
        if not open_:
            for k in kwargs:
                if k not in allowed:
                    raise EvalsuiteError(f"{cls.name} judge: unknown setting '{k}'{did_you_mean(k, allowed)} "
                                         f"(known: {', '.join(allowed)})")
        try:
            bound = sig.bind(self, *args, **kwargs)
        except TypeError as e:
            raise EvalsuiteError(f"{cls.name} judge: {e}") from None
        bound.apply_defaults()
        cfg: dict[str, Any] = {}
        for p in own:
            cfg[p.name] = _coerce(cls.name, p.name, bound.arguments[p.name], p.annotation)
        for p in sig.parameters.values():
            if p.kind == p.VAR_KEYWORD:
                cfg.update(bound.arguments.get(p.name, {}))
        self.config = cfg
        init(self, **cfg)

    return wrapper
