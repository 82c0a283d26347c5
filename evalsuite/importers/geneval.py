"""GenEval (`prompts/evaluation_metadata.jsonl`): one object per line
{"tag", "include": [{"class", "count", "color"?, "position"?}], "exclude"?: [...], "prompt"}.

Case ids follow the official output folders (`<line index, 5 digits>`); four seeds per prompt as
the official protocol samples four images. Scoring needs the Mask2Former detector (weights not
shipped); judges/parity/geneval.py aggregates per-image `correct` flags the official way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalsuite.importers import Imported, field_of, read_jsonl
from evalsuite.types import EvalsuiteError

TAGS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")


def read(src: Path, **options: Any) -> Imported:
    path = src / "prompts" / "evaluation_metadata.jsonl" if src.is_dir() else src
    if not path.is_file():
        raise EvalsuiteError(f"{path}: not found (GenEval prompts/evaluation_metadata.jsonl)")
    cases = []
    for i, (lineno, rec) in enumerate(read_jsonl(path)):
        where = f"{path}:{lineno}"
        tag = field_of(rec, "tag", str, where)
        if tag not in TAGS:
            raise EvalsuiteError(f"{where}: field 'tag': unknown GenEval task {tag!r} (known: {', '.join(TAGS)})")
        include = field_of(rec, "include", list, where)
        if not include or not all(isinstance(o, dict) and isinstance(o.get("class"), str) for o in include):
            raise EvalsuiteError(f"{where}: field 'include' must be a list of objects with a 'class'")
        prompt = field_of(rec, "prompt", str, where)
        cases.append({"id": f"geneval-{i:05d}", "kind": "t2i", "prompt": prompt, "tags": [tag],
                      "questions": [f"Is this {prompt}?"],
                      "meta": {"include": include, "exclude": rec.get("exclude", []), "source_line": lineno}})
    return Imported(name="geneval", version="GenEval (djghosh13/geneval, 553 prompts)",
                    description="GenEval object-focused compositional prompts; official score = mean over "
                                "the six tasks of the share of correct images (judges/parity/geneval.py).",
                    judges=[], cases=cases, files=[path], tags={t: f"GenEval task {t}" for t in TAGS},
                    defaults={"seeds": [0, 1, 2, 3], "width": 512, "height": 512})
