"""LongText-Bench (X-Omni, `textbench/text_prompts.jsonl` and `text_prompts_zh.jsonl`).

Native record: {"category", "length": "short"|"long", "prompt", "text": [lines], "text_length",
"prompt_id"}. SRC is one of the two files or the `textbench/` folder (both languages). The
official score (`longtext.text_accuracy`) is in judges/parity/text.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalsuite.importers import Imported, field_of, read_jsonl
from evalsuite.types import EvalsuiteError

FILES = {"text_prompts.jsonl": "en", "text_prompts_zh.jsonl": "zh"}


def read(src: Path, **options: Any) -> Imported:
    files = [src / f for f in FILES if (src / f).is_file()] if src.is_dir() else [src]
    if not files:
        raise EvalsuiteError(f"{src}: no {' or '.join(FILES)} in this folder")
    cases: list[dict[str, Any]] = []
    tags: dict[str, str] = {}
    for path in files:
        lang = FILES.get(path.name)
        if lang is None:
            raise EvalsuiteError(f"{path}:1: unknown LongText-Bench file (expected {' or '.join(FILES)})")
        for lineno, rec in read_jsonl(path):
            where = f"{path}:{lineno}"
            pid = field_of(rec, "prompt_id", int, where)
            text = field_of(rec, "text", list, where)
            if not text or not all(isinstance(t, str) and t.strip() for t in text):
                raise EvalsuiteError(f"{where}: field 'text' must be a non-empty list of strings")
            cat = str(field_of(rec, "category", str, where))
            length = str(field_of(rec, "length", str, where))
            case_tags = [lang, f"category:{cat}", f"length:{length}"]
            for t in case_tags:
                tags.setdefault(t, f"LongText-Bench {t}")
            cases.append({"id": f"longtext-{lang}-{pid:03d}", "kind": "t2i",
                          "prompt": field_of(rec, "prompt", str, where), "tags": case_tags,
                          "expected_text": [t.strip() for t in text],
                          "meta": {"prompt_id": pid, "text_length": rec.get("text_length"), "lang": lang,
                                   "source_line": lineno}})
    return Imported(name="longtext-bench", version="X-Omni textbench (2025)",
                    description="LongText-Bench (X-Omni): long and multi-region text rendering, EN and ZH; "
                                "official score longtext.text_accuracy (judges/parity).",
                    judges=["ocr"], cases=cases, files=files, tags=tags,
                    defaults={"seeds": [0], "width": 1024, "height": 1024})
