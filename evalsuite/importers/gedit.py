"""GEdit-Bench (stepfun-ai/GEdit-Bench on the Hugging Face hub): parquet shards `data/*.parquet`.

Columns used: key, task_type (one of the 11 groups), instruction, instruction_language ("en" or
"cn"), input_image_raw (the source fed to the editor; input_image when absent), Intersection_exist.
The requested size follows the official generate_image_example.py: about 512x512 pixels of area
at the source's aspect ratio, each side rounded to a multiple of 32. SRC is the dataset folder (its
`data/` shards) or one .parquet file; `--subset en|cn|all` picks the instruction language. The
source images are written to assets/<key>.png. Official aggregation (gedit.sc/pq/o per group and
their macro average): judges/parity/gedit.py. Reading parquet needs pyarrow.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from evalsuite.importers import Imported, slug
from evalsuite.types import EvalsuiteError

GROUPS = ("background_change", "color_alter", "material_alter", "motion_change", "ps_human", "style_change",
          "subject-add", "subject-remove", "subject-replace", "text_change", "tone_transfer")
COLUMNS = ("key", "task_type", "instruction", "instruction_language", "input_image")


def gedit_size(width: int, height: int, area: int = 512 * 512) -> tuple[int, int]:
    """The editor's output size as in the official example: sqrt(area * ratio) wide, rounded to 32."""
    ratio = width / height
    w = math.sqrt(area * ratio)
    return max(32, round(w / 32) * 32), max(32, round(w / ratio / 32) * 32)


def read(src: Path, subset: str = "all", **options: Any) -> Imported:
    if subset not in ("en", "cn", "all"):
        raise EvalsuiteError(f"gedit: unknown subset '{subset}' (known: en, cn, all)")
    try:
        import pyarrow.parquet as pq
    except ImportError as e:
        raise EvalsuiteError("gedit importer needs pyarrow (pip install pyarrow)") from e
    from PIL import Image

    files = sorted((src / "data").glob("*.parquet")) or sorted(src.glob("*.parquet")) if src.is_dir() else [src]
    if not files:
        raise EvalsuiteError(f"{src}: no .parquet shards (expected data/*.parquet as on the hub)")
    cases: list[dict[str, Any]] = []
    assets: dict[str, bytes] = {}
    for path in files:
        try:
            table = pq.read_table(path)
        except Exception as e:   # pyarrow raises several types for a bad file
            raise EvalsuiteError(f"{path}:1: not a readable parquet file ({type(e).__name__}: {str(e).splitlines()[0]})") from e
        missing = [c for c in COLUMNS if c not in table.column_names]
        if missing:
            raise EvalsuiteError(f"{path}:1: missing column(s) {', '.join(missing)} (found: {', '.join(table.column_names)})")
        for row_no, row in enumerate(table.to_pylist(), 1):
            where = f"{path}:row {row_no}"
            lang = row["instruction_language"]
            if lang not in ("en", "cn"):
                raise EvalsuiteError(f"{where}: field 'instruction_language' must be 'en' or 'cn', got {lang!r}")
            if subset != "all" and lang != subset:
                continue
            group = row["task_type"]
            if group not in GROUPS:
                raise EvalsuiteError(f"{where}: field 'task_type': unknown GEdit group {group!r} (known: {', '.join(GROUPS)})")
            img = row.get("input_image_raw") or row["input_image"]
            data = img.get("bytes") if isinstance(img, dict) else img
            if not isinstance(data, (bytes, bytearray)) or not str(row.get("instruction") or "").strip():
                raise EvalsuiteError(f"{where}: field 'input_image' has no image bytes or 'instruction' is empty")
            try:
                im = Image.open(io.BytesIO(data)).convert("RGB")
            except Exception as e:
                raise EvalsuiteError(f"{where}: field 'input_image' is not an image ({e})") from e
            buf = io.BytesIO()
            im.save(buf, format="PNG")
            rel = f"assets/{slug(row['key'])}.png"
            assets[rel] = buf.getvalue()
            w, h = gedit_size(*im.size)
            cases.append({"id": f"gedit-{lang}-{slug(row['key'])}", "kind": "edit", "source": rel,
                          "prompt": row["instruction"], "tags": [group, lang],
                          "width": w, "height": h,
                          "meta": {"key": row["key"], "task_type": group, "instruction_language": lang,
                                   "intersection_exist": bool(row.get("Intersection_exist")),
                                   "source_row": row_no}})
    tags = {g: f"GEdit-Bench group {g}" for g in GROUPS} | {"en": "English instruction", "cn": "Chinese instruction"}
    return Imported(name=f"gedit-bench-{subset}", version="GEdit-Bench (stepfun-ai/GEdit-Bench)",
                    description="GEdit-Bench real-world edit instructions (11 groups, EN and CN); official "
                                "aggregation gedit.sc / gedit.pq / gedit.o (judges/parity/gedit.py).",
                    judges=["fidelity"], cases=cases, files=files, tags=tags, assets=assets,
                    defaults={"seeds": [0]})
