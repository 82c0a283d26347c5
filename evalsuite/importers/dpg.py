"""DPG-Bench (ELLA, `dpg_bench/`): `prompts/<item_id>.txt` (one prompt each) and `dpg_bench.csv`
with columns item_id, text, keywords, proposition_id, dependency, category_broad,
category_detailed, tuple, question_natural_language (one row per question).

SRC is the dpg_bench folder. Like the official compute_dpg_bench.py, the first data row of the CSV
is skipped (its loop starts with `if i == 0: continue`); docs/parity.md lists this. Each case
keeps its questions (for a VQA judge) and, in meta, the proposition ids, dependencies and tuples
the official score needs (judges/parity/dpg.py).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from evalsuite.importers import Imported, slug
from evalsuite.types import EvalsuiteError

COLUMNS = ("item_id", "proposition_id", "dependency", "tuple", "question_natural_language")


def read(src: Path, **options: Any) -> Imported:
    root = src if src.is_dir() else src.parent
    csv_path = root / "dpg_bench.csv"
    if not csv_path.is_file():
        raise EvalsuiteError(f"{csv_path}: not found (DPG-Bench dpg_bench.csv)")
    text = csv_path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise EvalsuiteError(f"{csv_path}:1: missing column(s) {', '.join(missing)}")
    items: dict[str, dict[str, Any]] = {}
    line = 2
    for i, row in enumerate(reader):
        where = f"{csv_path}:{line}"
        line = reader.line_num + 1
        if i == 0:
            continue          # as the official script
        try:
            qid = int(row["proposition_id"])
            deps = [int(d.strip()) for d in str(row["dependency"]).split(",")]
        except (TypeError, ValueError) as e:
            raise EvalsuiteError(f"{where}: field 'proposition_id'/'dependency' must be integers ({e})") from e
        if not row["tuple"] or not row["question_natural_language"]:
            raise EvalsuiteError(f"{where}: field 'tuple' and 'question_natural_language' must not be empty")
        it = items.setdefault(row["item_id"], {"qids": [], "deps": {}, "tuples": {}, "questions": [], "line": where})
        it["qids"].append(qid)
        it["deps"][str(qid)] = deps
        it["tuples"][str(qid)] = row["tuple"]
        it["questions"].append(row["question_natural_language"])
    files = [csv_path]
    cases = []
    tags: dict[str, str] = {}
    for item_id, it in items.items():
        p = root / "prompts" / f"{item_id}.txt"
        if not p.is_file():
            raise EvalsuiteError(f"{it['line']}: item '{item_id}' has no prompt file {p}")
        files.append(p)
        prompt = p.read_text(encoding="utf-8").strip()
        if not prompt:
            raise EvalsuiteError(f"{p}:1: empty prompt")
        cats = sorted({t.split("(")[0].strip().split("-")[0].strip() for t in it["tuples"].values()})
        for c in cats:
            tags[c] = f"DPG-Bench L1 category {c}"
        qs = [q if q.endswith("?") else q + "?" for q in dict.fromkeys(it["questions"])]
        cases.append({"id": f"dpg-{slug(item_id)}", "kind": "t2i", "prompt": prompt, "tags": cats, "questions": qs,
                      "meta": {"item_id": item_id, "qids": it["qids"], "dependency": it["deps"],
                               "tuple": it["tuples"], "question": dict(zip(map(str, it["qids"]), it["questions"]))}})
    return Imported(name="dpg-bench", version="DPG-Bench (ELLA)",
                    description="DPG-Bench dense prompts with dependent yes/no propositions; official score "
                                "in judges/parity/dpg.py (mPLUG VQA answers, weights not shipped).",
                    judges=[], cases=cases, files=files, tags=tags,
                    defaults={"seeds": [0, 1, 2, 3], "width": 512, "height": 512})
