"""OCR typography judge: does the image contain the expected text, and nothing else?

Headline metrics per image compare text AS WRITTEN (strict: Unicode NFC only, so case,
punctuation, symbols, digits, spacing and diacritics count; judges.textnorm.strict_text):
  word_recall     expected words found among the recognised words (multiset, one-to-one)
  word_precision  recognised words that were expected (penalises hallucinated text, which
                  LongText-Bench and OneIG do not); 0 when nothing is read
  ned             1 - Levenshtein(expected, recognised) / max(len) over the full strings
                  (expected strings joined in order; OCR lines in reading order)
  exact_match     1.0 when the full strings are equal, else 0.0
Loose variants (`*_loose`: the v1 behaviour, normalised by judges.textnorm.TextNorm, configurable
through the `norm` kwarg, e.g. OCRJudge(norm={"casefold": False})) sit beside them, and
`err_<class>` counts the image's typography errors per class (judges.typo_errors). With
`cross_check="tesseract"` a second engine reads every image and `engine_disagreement` flags
images whose two readings differ. The engine is a separate backend (judges.ocr_backends).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from evalsuite.judge import Failure, Judge, Scores, attempt
from evalsuite.registry import did_you_mean
from evalsuite.types import Case, EvalsuiteError, JudgeInput, MetricSpec
from judges.ocr_backends import BACKENDS, OCRBackend, OCRResult, importable, make_backend, reading_order
from judges.textnorm import TextNorm, match_words, ned, ned_string, strict_text, strict_tokens, tokenize
from judges.typo_errors import ERROR_CLASSES, classify_errors, error_counts

logger = logging.getLogger(__name__)

HEADLINE = ("word_recall", "word_precision", "ned", "exact_match")
LOOSE = tuple(f"{m}_loose" for m in HEADLINE)
ERROR_METRICS = tuple(f"err_{k}" for k in ERROR_CLASSES)
METRICS = HEADLINE + LOOSE + ERROR_METRICS   # always emitted; engine_disagreement only with cross_check
CROSS_METRIC = "engine_disagreement"


def strict_scores(expected: Sequence[str], recognised: str, min_word_similarity: float = 1.0) -> dict[str, float]:
    """The four headline metrics on text as written (NFC only; spacing counts, so glued or split
    words do not match)."""
    exp_text = " ".join(expected)
    m = match_words(strict_tokens(exp_text), strict_tokens(recognised), min_word_similarity, join_split=False)
    ref, hyp = strict_text(exp_text), strict_text(recognised)
    return {"word_recall": m.recall, "word_precision": m.precision, "ned": ned(ref, hyp),
            "exact_match": float(ref == hyp)}


def loose_scores(expected: Sequence[str], recognised: str, norm: TextNorm = TextNorm(),
                 min_word_similarity: float = 1.0) -> dict[str, float]:
    """The four metrics after `norm` (casefold, punctuation stripped, ...: the v1 behaviour),
    named `<metric>_loose`."""
    exp_text = " ".join(expected)
    m = match_words(tokenize(exp_text, norm), tokenize(recognised, norm), min_word_similarity)
    ref, hyp = ned_string(exp_text, norm), ned_string(recognised, norm)
    return {"word_recall_loose": m.recall, "word_precision_loose": m.precision, "ned_loose": ned(ref, hyp),
            "exact_match_loose": float(ref == hyp)}


def ocr_scores(expected: Sequence[str], recognised: str, norm: TextNorm = TextNorm(),
               min_word_similarity: float = 1.0) -> tuple[dict[str, float], dict[str, Any]]:
    """Every metric of one image (strict, loose, error counts) and the detail fields they come
    from: a pure function of the expected strings and the OCR text."""
    exp_text = " ".join(expected)
    errors = classify_errors(exp_text, recognised)
    counts = error_counts(errors)
    values = {**strict_scores(expected, recognised, min_word_similarity),
              **loose_scores(expected, recognised, norm, min_word_similarity),
              **{f"err_{k}": float(v) for k, v in counts.items()}}
    detail = {"strict_expected": strict_text(exp_text), "strict_text": strict_text(recognised),
              "error_counts": counts, "errors": [e.to_dict() for e in errors]}
    return values, detail


def cross_check_scores(expected: Sequence[str], primary: str, secondary: str) -> tuple[float, dict[str, Any]]:
    """engine_disagreement (1.0 when the two engines' readings differ as written, else 0.0) and
    the detail: the second reading, its NED to the first and each engine's strict exact match."""
    a, b, ref = strict_text(primary), strict_text(secondary), strict_text(" ".join(expected))
    return float(a != b), {"text": secondary, "ned_between": round(ned(a, b), 4),
                           "exact_match": {"primary": float(a == ref), "secondary": float(b == ref)}}


def _backend_params(backend: str) -> set[str]:
    """Keyword arguments the named backend accepts (empty for an unknown backend)."""
    import inspect
    from judges.ocr_backends import BACKENDS
    cls = BACKENDS.get(backend) if backend in BACKENDS else None
    return set(inspect.signature(cls.__init__).parameters) - {"self"} if cls else set()


def _engine_version(backend: str) -> str | None:
    """Installed version of the backend's package (an engine upgrade must not reuse old verdicts)."""
    from importlib.metadata import PackageNotFoundError, version
    pkg = {"rapidocr": "rapidocr", "paddleocr": "paddleocr", "tesseract": "pytesseract"}.get(backend)
    try:
        return version(pkg) if pkg else None
    except PackageNotFoundError:
        return None


def _auto_backend(backend_options: dict[str, Any], extra: dict[str, Any]) -> str:
    """'auto': paddleocr when it is importable and local PP-OCR model folders are given
    (det_model_dir and rec_model_dir), else rapidocr with its bundled models. Model folders given
    without paddleocr installed are dropped with a warning (rapidocr runs the same PP-OCR family)."""
    keys = ("det_model_dir", "rec_model_dir")
    given = {k for k in keys if backend_options.get(k) or extra.get(k)}
    if given == set(keys) and importable("paddleocr"):
        return "paddleocr"
    if given:
        logger.warning("ocr judge: backend 'auto' uses rapidocr: %s", "paddleocr is not installed"
                       if given == set(keys) else "paddleocr needs both det_model_dir and rec_model_dir")
        for k in keys:
            backend_options.pop(k, None)
            extra.pop(k, None)
    return "rapidocr"


class OCRJudge(Judge):
    """Typography judge on an OCR backend (rapidocr by default).

    Config kwargs: backend ("auto" | "rapidocr" | "paddleocr" | "tesseract"; "auto" = paddleocr
    when it is installed and det_model_dir and rec_model_dir are given, else rapidocr;
    the stored config names the backend actually used), backend_options (dict passed
    to the backend, e.g. {"det_model_dir": ..., "rec_model_dir": ...} for paddleocr), norm (dict
    of TextNorm fields), min_word_similarity (1.0 = exact word match; e.g. 0.8 tolerates one wrong
    letter in five; both strict and loose), cross_check (None, or a second backend name such as
    "tesseract": flags images where the engines disagree), cross_check_options (its options).
    TextNorm fields and backend options may also be given as flat kwargs.
    """

    name = "ocr"
    version = 2   # v2: headline metrics strict (as written); v1's became *_loose
    batch_size = 16
    metrics = {
        "word_recall": MetricSpec(True, (0.0, 1.0), "fraction of expected words read as written"),
        "word_precision": MetricSpec(True, (0.0, 1.0), "fraction of read words that were expected, as written"),
        "ned": MetricSpec(True, (0.0, 1.0), "1 - normalised edit distance of the full text as written"),
        "exact_match": MetricSpec(True, (0.0, 1.0), "full text equal as written (NFC only)"),
        "word_recall_loose": MetricSpec(True, (0.0, 1.0), "word_recall after loose normalisation"),
        "word_precision_loose": MetricSpec(True, (0.0, 1.0), "word_precision after loose normalisation"),
        "ned_loose": MetricSpec(True, (0.0, 1.0), "ned after loose normalisation (spaces ignored)"),
        "exact_match_loose": MetricSpec(True, (0.0, 1.0), "full text equal after loose normalisation"),
        **{f"err_{k}": MetricSpec(False, (0.0, None), f"{k} typography errors per image")
           for k in ERROR_CLASSES},
        CROSS_METRIC: MetricSpec(False, (0.0, 1.0), "1 when a second OCR engine reads other text"),
    }
    family = "typography"   # judges.ocr_family.TypographyFamily: summary["typography"]["ocr"]

    def __init__(self, backend: str = "auto", backend_options: dict[str, Any] | None = None,
                 norm: dict[str, Any] | None = None, min_word_similarity: float = 1.0,
                 cross_check: str | None = None, cross_check_options: dict[str, Any] | None = None,
                 **extra: Any) -> None:
        # Flat keys (handy on the command line: --judge-opt ocr.casefold=false,
        # ocr.det_model_dir=DIR) are folded into norm / backend_options, so the stored config and
        # the cache key are the same whichever way a setting was given.
        norm, backend_options = dict(norm or {}), dict(backend_options or {})
        if backend == "auto":
            backend = _auto_backend(backend_options, extra)
        if backend not in BACKENDS:   # before any rendering, not at the first score()
            make_backend(backend)
        backend_params = _backend_params(backend)
        for k, v in extra.items():
            if k in TextNorm.__dataclass_fields__:
                norm[k] = v
            elif k in backend_params:
                backend_options[k] = v
            else:
                known = ["backend", "backend_options", "norm", "min_word_similarity", "cross_check",
                         "cross_check_options", *TextNorm.__dataclass_fields__, *sorted(backend_params)]
                raise EvalsuiteError(f"ocr judge: unknown setting '{k}'{did_you_mean(k, known)} "
                                     f"(known: {', '.join(known)})")
        try:
            self.norm = TextNorm.from_config(norm)
        except ValueError as e:
            raise EvalsuiteError(f"ocr judge: {e}") from e
        if not 0.0 < float(min_word_similarity) <= 1.0:
            raise EvalsuiteError(f"ocr judge: min_word_similarity must be in (0, 1], got {min_word_similarity}")
        unknown = sorted(set(backend_options) - backend_params)
        if unknown:
            raise EvalsuiteError(f"ocr judge: unknown option(s) {unknown} for backend '{backend}'; "
                                 f"known: {', '.join(sorted(backend_params))}")
        cross: dict[str, Any] = {}
        if cross_check == backend:
            raise EvalsuiteError(f"ocr judge: cross_check '{cross_check}' is the main backend; name another engine")
        if cross_check:   # only in the config (and cache key) when used: v2 ids stay stable
            cross = {"cross_check": str(cross_check), "cross_check_options": dict(cross_check_options or {})}
        super().__init__(backend=backend, backend_options=backend_options,
                         norm=self.norm.to_dict(), min_word_similarity=float(min_word_similarity), **cross)
        # Built now (cheap: no engine is loaded before the first read) so that a bad option or a
        # missing model folder is a one-line error before rendering starts.
        self._backend: OCRBackend | None = make_backend(backend, **backend_options)
        self._cross: OCRBackend | None = make_backend(cross["cross_check"], **cross["cross_check_options"]) \
            if cross else None

    @property
    def backend(self) -> OCRBackend:
        """The OCR backend, built on first use (model load happens on the first read)."""
        if self._backend is None:
            self._backend = make_backend(self.config["backend"], **self.config["backend_options"])
        return self._backend

    @property
    def cross(self) -> OCRBackend | None:
        """The cross-check backend (None without cross_check), built on first use."""
        if self._cross is None and "cross_check" in self.config:
            self._cross = make_backend(self.config["cross_check"], **self.config["cross_check_options"])
        return self._cross

    def cache_config(self) -> dict[str, Any]:
        """Config minus settings that do not change verdicts (engine thread count)."""
        cfg = dict(self.config)
        cfg["backend_options"] = {k: v for k, v in cfg["backend_options"].items() if k != "threads"}
        cfg["engine_version"] = _engine_version(cfg["backend"])
        if "cross_check" in cfg:
            cfg["cross_check_engine_version"] = _engine_version(cfg["cross_check"])
        return cfg

    def applies_to(self, case: Case) -> bool:
        return any(t.strip() for t in case.expected_text)

    def metrics_for(self, item: JudgeInput) -> list[str]:
        """Every metric; engine_disagreement only with a cross_check engine."""
        return [m for m in self.metrics if m != CROSS_METRIC] + \
            ([CROSS_METRIC] if "cross_check" in self.config and CROSS_METRIC in self.metrics else [])

    def score(self, items: Sequence[JudgeInput]) -> list[Scores | None]:
        images = [it.image for it in items]
        results = self.backend.read(images)
        # a failing second engine fails engine_disagreement only; the strict/loose metrics stand
        cross = attempt(self.cross.read, images) if self.cross is not None else None
        per_item = cross if isinstance(cross, list) else [cross] * len(items)
        return [self._scores(it, res, c) for it, res, c in zip(items, results, per_item, strict=True)]

    def _scores(self, it: JudgeInput, res: OCRResult, cross: OCRResult | Failure | None = None) -> Scores:
        lines = reading_order(res.lines)
        text = " ".join(ln.text for ln in lines)
        scores, typo = ocr_scores(it.case.expected_text, text, self.norm, self.config["min_word_similarity"])
        detail = {"text": text, "expected": list(it.case.expected_text),
                  "lines": [{"text": ln.text, "box": ln.box, "score": round(ln.score, 4)} for ln in lines],
                  # the same, column-wise, for consumers that want plain lists
                  "boxes": [ln.box for ln in lines], "confidences": [round(ln.score, 4) for ln in lines],
                  **typo}
        values: dict[str, float | Failure] = {m: float(v) for m, v in scores.items()}
        if isinstance(cross, Failure):
            values[CROSS_METRIC] = cross
        elif cross is not None:
            flag, detail["cross_check"] = cross_check_scores(it.case.expected_text, text, cross.text)
            detail["cross_check"]["backend"] = self.config["cross_check"]
            values[CROSS_METRIC] = flag
        return Scores(values, detail)

    def close(self) -> None:
        for b in (self._backend, self._cross):
            if b is not None:
                b.close()
        self._backend = self._cross = None
