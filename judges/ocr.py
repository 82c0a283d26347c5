"""OCR typography judge: does the image contain the expected text, and nothing else?

Metrics per image (all in [0, 1], higher is better):
  word_recall     expected words found among the recognised words (multiset, one-to-one)
  word_precision  recognised words that were expected (penalises hallucinated text, which
                  LongText-Bench and OneIG do not); 0 when nothing is read
  ned             1 - Levenshtein(expected, recognised) / max(len) over the normalised full
                  strings (expected strings joined in order; OCR lines in reading order)
  exact_match     1.0 when the normalised full strings are equal, else 0.0

Normalisation (judges.textnorm.TextNorm) is explicit and configurable through the `norm` kwarg,
e.g. OCRJudge(norm={"casefold": False}). The engine is a separate backend (judges.ocr_backends).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from evalsuite.judge import Judge, Scores
from evalsuite.registry import did_you_mean
from evalsuite.types import Case, EvalsuiteError, JudgeInput, MetricSpec
from judges.ocr_backends import BACKENDS, OCRBackend, OCRResult, importable, make_backend, reading_order
from judges.textnorm import TextNorm, match_words, ned, ned_string, tokenize

logger = logging.getLogger(__name__)

METRICS = ("word_recall", "word_precision", "ned", "exact_match")


def ocr_scores(expected: Sequence[str], recognised: str, norm: TextNorm = TextNorm(),
               min_word_similarity: float = 1.0) -> dict[str, float]:
    """The four metrics for one image: a pure function of expected strings and the OCR text."""
    exp_text = " ".join(expected)
    m = match_words(tokenize(exp_text, norm), tokenize(recognised, norm), min_word_similarity)
    ref, hyp = ned_string(exp_text, norm), ned_string(recognised, norm)
    return {"word_recall": m.recall, "word_precision": m.precision, "ned": ned(ref, hyp),
            "exact_match": float(ref == hyp)}


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
    letter in five). TextNorm fields and backend options may also be given as flat kwargs.
    """

    name = "ocr"
    version = 1
    batch_size = 16
    metrics = {
        "word_recall": MetricSpec(True, (0.0, 1.0), "fraction of expected words read"),
        "word_precision": MetricSpec(True, (0.0, 1.0), "fraction of read words that were expected"),
        "ned": MetricSpec(True, (0.0, 1.0), "1 - normalised edit distance of the full text"),
        "exact_match": MetricSpec(True, (0.0, 1.0), "normalised full text equal"),
    }

    def __init__(self, backend: str = "auto", backend_options: dict[str, Any] | None = None,
                 norm: dict[str, Any] | None = None, min_word_similarity: float = 1.0,
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
                known = ["backend", "backend_options", "norm", "min_word_similarity",
                         *TextNorm.__dataclass_fields__, *sorted(backend_params)]
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
        super().__init__(backend=backend, backend_options=backend_options,
                         norm=self.norm.to_dict(), min_word_similarity=float(min_word_similarity))
        # Built now (cheap: no engine is loaded before the first read) so that a bad option or a
        # missing model folder is a one-line error before rendering starts.
        self._backend: OCRBackend | None = make_backend(backend, **backend_options)

    @property
    def backend(self) -> OCRBackend:
        """The OCR backend, built on first use (model load happens on the first read)."""
        if self._backend is None:
            self._backend = make_backend(self.config["backend"], **self.config["backend_options"])
        return self._backend

    def cache_config(self) -> dict[str, Any]:
        """Config minus settings that do not change verdicts (engine thread count)."""
        cfg = dict(self.config)
        cfg["backend_options"] = {k: v for k, v in cfg["backend_options"].items() if k != "threads"}
        cfg["engine_version"] = _engine_version(cfg["backend"])
        return cfg

    def applies_to(self, case: Case) -> bool:
        return any(t.strip() for t in case.expected_text)

    def score(self, items: Sequence[JudgeInput]) -> list[Scores | None]:
        results = self.backend.read([it.image for it in items])
        return [self._scores(it, res) for it, res in zip(items, results, strict=True)]

    def _scores(self, it: JudgeInput, res: OCRResult) -> Scores:
        lines = reading_order(res.lines)
        text = " ".join(ln.text for ln in lines)
        scores = ocr_scores(it.case.expected_text, text, self.norm, self.config["min_word_similarity"])
        detail = {"text": text, "expected": list(it.case.expected_text),
                  "lines": [{"text": ln.text, "box": ln.box, "score": round(ln.score, 4)} for ln in lines],
                  # the same, column-wise, for consumers that want plain lists
                  "boxes": [ln.box for ln in lines], "confidences": [round(ln.score, 4) for ln in lines]}
        return Scores({m: float(v) for m, v in scores.items()}, detail)

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None
