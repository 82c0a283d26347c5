"""CVTG-2K (TextCrafter): `CVTG-2K/{CVTG,CVTG-Style}/{2,3,4,5}.json`.

Each file is {"data_list": [{"index", "prompt", "carrier_list": [...], "sentence_list": [...]}, ...]}
where the file name is the number of text regions and `sentence_list` holds the text of each
region. SRC is the CVTG-2K folder, one of its two subfolders, or one N.json. (`N_combined.json`
files lack the per-region annotations and are rejected with a pointer to N.json.) Official
metrics cvtg.word_accuracy and cvtg.ned: judges/parity/text.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evalsuite.importers import Imported, field_of
from evalsuite.types import EvalsuiteError

SUBSETS = {"CVTG": "plain", "CVTG-Style": "style", "CVTG-style": "style"}


def _files(src: Path) -> list[Path]:
    if src.is_file():
        return [src]
    dirs = [src / d for d in SUBSETS if (src / d).is_dir()] or [src]
    files = [d / f"{n}.json" for d in dirs for n in (2, 3, 4, 5) if (d / f"{n}.json").is_file()]
    if not files:
        raise EvalsuiteError(f"{src}: no CVTG-2K N.json files (expected CVTG/2.json ... CVTG-Style/5.json)")
    return files


def _line_of(text: str, needle: str, start: int = 0) -> tuple[int, int]:
    pos = text.find(needle, start)
    return (text.count("\n", 0, pos) + 1 if pos >= 0 else 1), max(pos, start)


def read(src: Path, **options: Any) -> Imported:
    cases: list[dict[str, Any]] = []
    files = _files(src)
    tags: dict[str, str] = {}
    for path in files:
        if path.stem.endswith("_combined"):
            raise EvalsuiteError(f"{path}:1: '_combined' files have no per-region text; import {path.stem.split('_')[0]}.json")
        if not path.stem.isdigit() or int(path.stem) not in (2, 3, 4, 5):
            raise EvalsuiteError(f"{path}:1: unknown CVTG-2K file (expected 2.json ... 5.json)")
        text = path.read_text(encoding="utf-8-sig")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise EvalsuiteError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from e
        items = data.get("data_list") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise EvalsuiteError(f"{path}:1: expected an object with a 'data_list' list")
        subset = SUBSETS.get(path.parent.name, "plain")
        n = int(path.stem)
        pos = 0
        for rec in items:
            line, pos = _line_of(text, '"index"', pos + 1)
            where = f"{path}:{line}"
            if not isinstance(rec, dict):
                raise EvalsuiteError(f"{where}: each data_list entry must be an object")
            idx = field_of(rec, "index", int, where)
            sentences = field_of(rec, "sentence_list", list, where)
            if len(sentences) != n or not all(isinstance(s, str) and s.strip() for s in sentences):
                raise EvalsuiteError(f"{where}: field 'sentence_list' must hold {n} non-empty strings "
                                     f"(the file name is the region count), got {len(sentences)}")
            case_tags = [f"regions:{n}", subset]
            for t in case_tags:
                tags.setdefault(t, f"CVTG-2K {t}")
            cases.append({"id": f"cvtg-{subset}-{n}-{idx}", "kind": "t2i",
                          "prompt": field_of(rec, "prompt", str, where), "tags": case_tags,
                          "expected_text": [s.strip() for s in sentences],
                          "meta": {"index": idx, "regions": n, "carrier_list": rec.get("carrier_list"),
                                   "source_line": line}})
    return Imported(name="cvtg-2k", version="CVTG-2K (TextCrafter, 2025-04)",
                    description="CVTG-2K complex visual text generation (2-5 text regions); official "
                                "metrics cvtg.word_accuracy and cvtg.ned (judges/parity).",
                    judges=["ocr"], cases=cases, files=files, tags=tags,
                    defaults={"seeds": [0], "width": 1024, "height": 1024})
