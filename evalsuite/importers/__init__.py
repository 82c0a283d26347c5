"""Import public benchmarks from their native files into evalsuite packs (`evalsuite packs import`).

One module per benchmark; each exposes `read(src: Path, **options) -> Imported`. Nothing is
downloaded: SRC is a file or folder the user already has, laid out as the benchmark's repository
publishes it. The written pack records the format, the benchmark version and the sha256 of every
source file read (pack.yaml `source`), so a result names exactly what it was run on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evalsuite.registry import Registry
from evalsuite.types import EvalsuiteError, file_sha256

logger = logging.getLogger(__name__)

IMPORTERS: Registry[Any] = Registry("benchmark format")
for _name, _target in {
    "longtext": "evalsuite.importers.longtext:read",
    "oneig": "evalsuite.importers.oneig:read",
    "cvtg": "evalsuite.importers.cvtg:read",
    "gedit": "evalsuite.importers.gedit:read",
    "dpg": "evalsuite.importers.dpg:read",
    "geneval": "evalsuite.importers.geneval:read",
}.items():
    IMPORTERS.register(_name, _target)


@dataclass
class Imported:
    """What an importer read: cases (dicts in cases.jsonl form) plus pack metadata."""

    name: str
    description: str
    version: str                                  # the benchmark's own version / release
    judges: list[str]
    cases: list[dict[str, Any]]
    files: list[Path]                             # every source file read (hashed into pack.yaml)
    tags: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    assets: dict[str, bytes] = field(default_factory=dict)   # relative path -> bytes (edit sources)


def need_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise EvalsuiteError(f"{path}: not found ({what})")
    return path


def read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a bad line is a one-line error."""
    out = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise EvalsuiteError(f"{path}:{lineno}: not valid UTF-8 ({e.reason})") from e
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise EvalsuiteError(f"{path}:{lineno}: invalid JSON ({e.msg} at column {e.colno})") from e
            if not isinstance(obj, dict):
                raise EvalsuiteError(f"{path}:{lineno}: expected a JSON object")
            out.append((lineno, obj))
    if not out:
        raise EvalsuiteError(f"{path}:1: no records")
    return out


def field_of(obj: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str) -> Any:
    """obj[key] with a type check; a missing or wrong field names the file and line."""
    if key not in obj:
        raise EvalsuiteError(f"{where}: missing field '{key}' (found: {', '.join(sorted(map(str, obj)))})")
    v = obj[key]
    if not isinstance(v, typ) or isinstance(v, bool):
        name = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise EvalsuiteError(f"{where}: field '{key}' must be {name}, got {type(v).__name__}")
    return v


def slug(s: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.\-]+", "-", str(s)).strip("-") or "x"


def import_pack(fmt: str, src: str | Path, out: str | Path, **options: Any) -> Path:
    """Read SRC with the FORMAT importer and write a pack folder at OUT; returns OUT.

    The written pack is loaded back with the pack loader, so it is valid when this returns.
    """
    reader = IMPORTERS.get(fmt)
    src, out = Path(src), Path(out)
    if not src.exists():
        raise EvalsuiteError(f"{src}: not found (the {fmt} source file or folder)")
    imp: Imported = reader(src, **options)
    if not imp.cases:
        raise EvalsuiteError(f"{src}: no cases read")
    out.mkdir(parents=True, exist_ok=True)
    for rel, data in imp.assets.items():
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    meta = {
        "name": imp.name, "version": 1, "description": imp.description, "judges": imp.judges,
        "defaults": imp.defaults,
        "source": {"format": fmt, "version": imp.version,
                   "files": [{"path": str(f.resolve()), "sha256": file_sha256(f)} for f in imp.files]},
        # a published benchmark is imported as it is, templated prompts included
        "max_template_share": 1.0,
    }
    if imp.tags:
        meta["tags"] = imp.tags
    (out / "pack.yaml").write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True), encoding="utf-8")
    with open(out / "cases.jsonl", "w", encoding="utf-8") as f:
        for c in imp.cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    from evalsuite.packs import load_pack

    load_pack(out)
    logger.info("imported %d %s cases into %s", len(imp.cases), fmt, out)
    return out
