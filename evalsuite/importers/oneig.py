"""OneIG-Bench (`OneIG-Bench.csv` / `OneIG-Bench-ZH.csv`, `scripts/text/text_content[_zh].csv`).

Native layout: the prompt CSV has columns category, id, prompt_en (prompt_cn in the ZH file), ...;
the text subset's ground truth is scripts/text/text_content.csv with columns `,id,prompt_en,
text_content` where text_content is a Python list literal of the strings to render. SRC is the
repository folder or one prompt CSV (the text CSV is then looked up beside it, as in the repo).

Subsets (`--subset`): `text` (Text_Rendering, with expected_text), `diversity` (every category,
four seeds: OneIG's diversity is the mean pairwise distance between the four images of a prompt),
`all`. Official scores: judges/parity/text.py (oneig.text) and judges/parity/diversity.py.
"""

from __future__ import annotations

import ast
import csv
import io
from pathlib import Path
from typing import Any

from evalsuite.importers import Imported
from evalsuite.types import EvalsuiteError

CLASSES = {"Anime_Stylization": "anime", "Portrait": "human", "General_Object": "object",
           "Text_Rendering": "text", "Knowledge_Reasoning": "reasoning", "Multilingualism": "multilingualism"}
SUBSETS = ("text", "diversity", "all")


def _rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """CSV rows with their physical line numbers; a missing column or bad row names file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise EvalsuiteError(f"{path}:1: not valid UTF-8 ({e.reason})") from e
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise EvalsuiteError(f"{path}:1: missing column(s) {', '.join(missing)} "
                             f"(found: {', '.join(reader.fieldnames or [])})")
    out = []
    line = 2
    for row in reader:
        if None in row or any(v is None for v in row.values()):
            raise EvalsuiteError(f"{path}:{line}: wrong number of fields")
        out.append((line, row))
        line = reader.line_num + 1
    return out


def read(src: Path, subset: str = "text", **options: Any) -> Imported:
    if subset not in SUBSETS:
        raise EvalsuiteError(f"oneig: unknown subset '{subset}' (known: {', '.join(SUBSETS)})")
    if src.is_dir():
        root, prompt_csv = src, src / "OneIG-Bench.csv"
    else:
        root, prompt_csv = src.parent, src
    zh = prompt_csv.name.endswith("-ZH.csv")
    if prompt_csv.name not in ("OneIG-Bench.csv", "OneIG-Bench-ZH.csv"):
        raise EvalsuiteError(f"{prompt_csv}:1: unknown OneIG-Bench file (expected OneIG-Bench.csv or OneIG-Bench-ZH.csv)")
    if not prompt_csv.is_file():
        raise EvalsuiteError(f"{prompt_csv}: not found (OneIG-Bench prompt CSV)")
    pcol = "prompt_cn" if zh else "prompt_en"
    lang = "zh" if zh else "en"
    files = [prompt_csv]
    texts: dict[str, list[str]] = {}
    if subset in ("text", "all"):
        text_csv = root / "scripts" / "text" / ("text_content_zh.csv" if zh else "text_content.csv")
        if not text_csv.is_file():
            raise EvalsuiteError(f"{text_csv}: not found (OneIG-Bench text ground truth; needed by --subset {subset})")
        files.append(text_csv)
        for line, row in _rows(text_csv, ("id", "text_content")):
            try:
                val = ast.literal_eval(row["text_content"])
            except (ValueError, SyntaxError) as e:
                raise EvalsuiteError(f"{text_csv}:{line}: field 'text_content' is not a list literal ({e})") from e
            if not isinstance(val, list) or not all(isinstance(t, str) for t in val):
                raise EvalsuiteError(f"{text_csv}:{line}: field 'text_content' must be a list of strings")
            texts[row["id"]] = val
    cases: list[dict[str, Any]] = []
    tags: dict[str, str] = {}
    for line, row in _rows(prompt_csv, ("category", "id", pcol)):
        cls = CLASSES.get(row["category"])
        if cls is None:
            raise EvalsuiteError(f"{prompt_csv}:{line}: field 'category': unknown OneIG category "
                                 f"{row['category']!r} (known: {', '.join(CLASSES)})")
        if subset == "text" and cls != "text":
            continue
        case: dict[str, Any] = {"id": f"oneig-{lang}-{cls}-{row['id']}", "kind": "t2i", "prompt": row[pcol],
                                "tags": [cls], "meta": {"oneig_id": row["id"], "category": row["category"],
                                                        "lang": lang, "source_line": line}}
        tags[cls] = f"OneIG-Bench {row['category']}"
        if cls == "text" and texts:
            if row["id"] not in texts:
                raise EvalsuiteError(f"{prompt_csv}:{line}: text prompt id {row['id']!r} has no row in {files[-1]}")
            gt = [t for t in texts[row["id"]] if t.strip()]
            if gt:
                case["expected_text"] = gt
        cases.append(case)
    return Imported(name=f"oneig-{subset}-{lang}", version="OneIG-Bench (OneIG-Bench/OneIG-Benchmark)",
                    description=f"OneIG-Bench {lang.upper()} ({subset} subset); official scores oneig.text "
                                "and oneig.diversity (judges/parity).",
                    judges=["ocr", "diversity"] if subset != "text" else ["ocr"], cases=cases, files=files,
                    tags=tags, defaults={"seeds": [0, 1, 2, 3], "width": 1024, "height": 1024})
