"""Benchmark packs: data on disk (pack.yaml + cases.jsonl + assets/), loaded and validated.

Format (see docs/packs.md):
  benchmarks/<name>/pack.yaml    name, version, description, judges, defaults {seeds, width, height}
  benchmarks/<name>/cases.jsonl  one case per line (see `_CASE_FIELDS`)
  benchmarks/<name>/assets/      edit source images and other files referenced by cases

Every validation error names the file, the line and the field, in one line.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evalsuite.registry import did_you_mean
from evalsuite.types import BackgroundSpec, Case, EvalsuiteError, file_sha256

_CASE_FIELDS = {"id", "kind", "prompt", "seeds", "source", "tags", "expected_text", "background",
                "width", "height", "questions", "meta"}
_PACK_FIELDS = {"name", "version", "description", "judges", "defaults", "tags", "ladders", "source",
                "max_template_share"}
_DEFAULT_FIELDS = {"seeds", "width", "height"}
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class Pack:
    name: str
    version: int
    description: str
    judges: tuple[str, ...]
    cases: tuple[Case, ...]
    root: Path
    hash: str
    defaults: dict[str, Any] = field(default_factory=dict)
    ladders: dict[str, tuple[str, ...]] = field(default_factory=dict)   # ladder -> bucket tags, easy first
    source: dict[str, Any] = field(default_factory=dict)     # imported packs: format, version, files
    max_template_share: float = 0.05                         # prompt variety bound (evalsuite/variety.py)

    def case(self, case_id: str) -> Case:
        for c in self.cases:
            if c.id == case_id:
                return c
        raise EvalsuiteError(f"pack '{self.name}' has no case '{case_id}'")

    def select(self, tags: list[str] | None = None, limit: int | None = None,
               ids: list[str] | None = None) -> "Pack":
        cases = list(self.cases)
        if ids:
            cases = [c for c in cases if c.id in set(ids)]
        if tags:
            cases = [c for c in cases if set(tags) & set(c.tags)]
        if limit is not None:
            cases = cases[:limit]
        if not cases:
            raise EvalsuiteError(f"pack '{self.name}': no case left after selecting tags={tags} limit={limit}")
        return Pack(self.name, self.version, self.description, self.judges, tuple(cases), self.root,
                    self.hash, self.defaults, self.ladders, self.source,
                    self.max_template_share)

    def summary(self) -> dict[str, Any]:
        tags: dict[str, int] = {}
        for c in self.cases:
            for t in c.tags:
                tags[t] = tags.get(t, 0) + 1
        return {"name": self.name, "version": self.version, "hash": self.hash,
                "description": self.description, "judges": list(self.judges),
                "cases": len(self.cases), "images_per_model": sum(len(c.seeds) for c in self.cases),
                "kinds": sorted({c.kind for c in self.cases}), "tags": tags,
                "ladders": {k: list(v) for k, v in self.ladders.items()}, "source": self.source}


def packs_dirs() -> list[Path]:
    """Where packs are looked up: $EVALSUITE_PACKS (os.pathsep-separated), then the repo's benchmarks/."""
    dirs = [Path(p) for p in os.environ.get("EVALSUITE_PACKS", "").split(os.pathsep) if p]
    dirs.append(Path(__file__).resolve().parent.parent / "benchmarks")
    return dirs


def available_packs() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in packs_dirs():
        if d.is_dir():
            for p in sorted(d.iterdir()):
                if (p / "pack.yaml").is_file() and p.name not in found:
                    found[p.name] = p
    return found


def resolve_pack(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if (p / "pack.yaml").is_file():
        return p
    if p.name == "pack.yaml" and p.is_file():
        return p.parent
    packs = available_packs()
    if name_or_path in packs:
        return packs[name_or_path]
    hint = did_you_mean(name_or_path, packs)
    raise EvalsuiteError(f"unknown pack '{name_or_path}'{hint} (known: {', '.join(sorted(packs))})")


def _yaml_key_lines(text: str) -> dict[str, int]:
    """1-based line of each top-level key of pack.yaml, and of each `judges` item as 'judges[i]'."""
    lines: dict[str, int] = {}
    node = yaml.compose(text)
    if not isinstance(node, yaml.MappingNode):
        return lines
    for key, value in node.value:
        k = str(key.value)
        lines[k] = key.start_mark.line + 1
        if isinstance(value, yaml.SequenceNode):
            for i, item in enumerate(value.value):
                lines[f"{k}[{i}]"] = item.start_mark.line + 1
        elif isinstance(value, yaml.MappingNode):
            for sub_key, _ in value.value:
                lines[f"{k}.{sub_key.value}"] = sub_key.start_mark.line + 1
    return lines


def _did_you_mean(word: str, choices: Any) -> str:
    return did_you_mean(word, sorted(choices))


def load_pack(name_or_path: str | Path) -> Pack:
    root = resolve_pack(str(name_or_path))
    meta_path = root / "pack.yaml"
    try:
        text = meta_path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        line = meta_path.read_bytes()[:e.start].count(b"\n") + 1
        raise EvalsuiteError(f"{meta_path}:{line}: not valid UTF-8 ({e.reason})") from e
    try:
        meta = yaml.safe_load(text)
        key_lines = _yaml_key_lines(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(e, "problem", None) or e).split())
        raise EvalsuiteError(f"{meta_path}{line}: invalid YAML ({problem})") from e
    if not isinstance(meta, dict):
        raise EvalsuiteError(f"{meta_path}:1: expected a mapping with name, version, description, judges")

    def at(key: str) -> str:
        """`pack.yaml:LINE` for a key (falls back to the parent key, then line 1)."""
        line = key_lines.get(key) or key_lines.get(key.split(".")[0].split("[")[0]) or 1
        return f"{meta_path}:{line}"

    for key in meta:
        if key not in _PACK_FIELDS:
            raise EvalsuiteError(f"{at(str(key))}: unknown field '{key}'{_did_you_mean(str(key), _PACK_FIELDS)} "
                                 f"(allowed: {', '.join(sorted(_PACK_FIELDS))})")
    for key, typ in (("name", str), ("version", int), ("description", str)):
        if key not in meta:
            raise EvalsuiteError(f"{meta_path}:1: field '{key}' is required")
        if not isinstance(meta.get(key), typ) or isinstance(meta.get(key), bool):
            raise EvalsuiteError(f"{at(key)}: field '{key}' must be {typ.__name__}, "
                                 f"got {type(meta.get(key)).__name__}")
    judges = meta.get("judges", [])
    if not isinstance(judges, list) or not all(isinstance(j, str) for j in judges):
        raise EvalsuiteError(f"{at('judges')}: field 'judges' must be a list of judge names")
    from evalsuite.registry import JUDGES

    for i, j in enumerate(judges):
        if j not in JUDGES:
            raise EvalsuiteError(f"{at(f'judges[{i}]')}: field 'judges': unknown judge '{j}'"
                                 f"{_did_you_mean(j, JUDGES.names())} (known: {', '.join(JUDGES.names())})")
    defaults = meta.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise EvalsuiteError(f"{at('defaults')}: field 'defaults' must be a mapping")
    for key in defaults:
        if key not in _DEFAULT_FIELDS:
            raise EvalsuiteError(f"{at(f'defaults.{key}')}: unknown field 'defaults.{key}'"
                                 f"{_did_you_mean(str(key), _DEFAULT_FIELDS)} (allowed: {', '.join(sorted(_DEFAULT_FIELDS))})")
    if "seeds" in defaults:
        _check_seeds(defaults["seeds"], at("defaults.seeds"), "defaults.seeds")
    for key in ("width", "height"):
        if key in defaults:
            _check_size(defaults[key], at(f"defaults.{key}"), f"defaults.{key}")
    tag_docs = meta.get("tags")
    if tag_docs is not None and (not isinstance(tag_docs, dict)
                                 or not all(isinstance(k, str) and isinstance(v, str) for k, v in tag_docs.items())):
        raise EvalsuiteError(f"{at('tags')}: field 'tags' must be a mapping of tag name to description")
    ladders = _parse_ladders(meta.get("ladders"), tag_docs, at)
    source = meta.get("source") or {}
    if not isinstance(source, dict):
        raise EvalsuiteError(f"{at('source')}: field 'source' must be a mapping (format, version, files)")
    share = meta.get("max_template_share", 0.05)
    if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 < share <= 1:
        raise EvalsuiteError(f"{at('max_template_share')}: field 'max_template_share' must be a number in (0, 1]")

    cases_path = root / "cases.jsonl"
    if not cases_path.is_file():
        raise EvalsuiteError(f"{cases_path}: missing (a pack needs cases.jsonl)")
    cases: list[Case] = []
    seen: dict[str, int] = {}
    h = hashlib.sha256(meta_path.read_bytes())
    with open(cases_path, "rb") as f:
        for lineno, raw_line in enumerate(f, 1):
            try:
                line = raw_line.decode("utf-8-sig" if lineno == 1 else "utf-8")   # tolerate a BOM
            except UnicodeDecodeError as e:
                raise EvalsuiteError(f"{cases_path}:{lineno}: not valid UTF-8 ({e.reason} at byte {e.start + 1})") from e
            if not line.strip() or line.lstrip().startswith("//"):
                continue
            where = f"{cases_path}:{lineno}"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as e:
                raise EvalsuiteError(f"{where}: invalid JSON ({e.msg} at column {e.colno})") from e
            case = _parse_case(raw, where, root, defaults)
            if tag_docs is not None:
                for t in case.tags:
                    if t not in tag_docs:
                        raise EvalsuiteError(f"{where}: field 'tags': tag {t!r} is not declared in pack.yaml"
                                             f"{_did_you_mean(t, tag_docs)} (declared: {', '.join(sorted(tag_docs))})")
            if case.id in seen:
                raise EvalsuiteError(f"{where}: field 'id': duplicate id '{case.id}' (first on line {seen[case.id]})")
            seen[case.id] = lineno
            cases.append(case)
            h.update(case.content_hash().encode() + b"|" + ",".join(map(str, case.seeds)).encode())
    if not cases:
        raise EvalsuiteError(f"{cases_path}: no cases")
    return Pack(meta["name"], meta["version"], meta["description"], tuple(judges), tuple(cases),
                root, h.hexdigest()[:16], defaults, ladders, source, float(share))


def _parse_ladders(v: Any, tag_docs: dict[str, str] | None, at: Any) -> dict[str, tuple[str, ...]]:
    """`ladders: {name: [bucket tag, ...]}` (easy to hard); every bucket must be a declared tag."""
    if v is None:
        return {}
    if not isinstance(v, dict) or not all(isinstance(k, str) and isinstance(b, list) and len(b) >= 2
                                          and all(isinstance(t, str) for t in b) for k, b in v.items()):
        raise EvalsuiteError(f"{at('ladders')}: field 'ladders' must map a ladder name to a list of two "
                             "or more bucket tags")
    for name, buckets in v.items():
        for t in buckets:
            if tag_docs is None or t not in tag_docs:
                raise EvalsuiteError(f"{at(f'ladders.{name}')}: field 'ladders.{name}': bucket {t!r} is not "
                                     f"a tag declared in pack.yaml{_did_you_mean(t, tag_docs or {})}")
    return {k: tuple(b) for k, b in v.items()}


def _parse_case(raw: Any, where: str, root: Path, defaults: dict[str, Any]) -> Case:
    if not isinstance(raw, dict):
        raise EvalsuiteError(f"{where}: a case must be a JSON object")
    for key in raw:
        if key not in _CASE_FIELDS:
            raise EvalsuiteError(f"{where}: unknown field {key!r}{_did_you_mean(key, _CASE_FIELDS)} "
                                 f"(allowed: {', '.join(sorted(_CASE_FIELDS))})")

    def need(key: str, typ: type, required: bool = True) -> Any:
        v = raw.get(key)
        if v is None:
            if required:
                raise EvalsuiteError(f"{where}: field '{key}' is required")
            return None
        if not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
            raise EvalsuiteError(f"{where}: field '{key}' must be {typ.__name__}, got {type(v).__name__}")
        return v

    cid = need("id", str)
    if not _ID_RE.fullmatch(cid):
        raise EvalsuiteError(f"{where}: field 'id' {cid!r} must match {_ID_RE.pattern}")
    kind = need("kind", str)
    if kind not in ("t2i", "edit"):
        raise EvalsuiteError(f"{where}: field 'kind' must be 't2i' or 'edit', got {kind!r}")
    prompt = need("prompt", str)
    if not prompt.strip():
        raise EvalsuiteError(f"{where}: field 'prompt' is empty")
    seeds = raw.get("seeds", defaults.get("seeds", [0]))
    _check_seeds(seeds, where, "seeds")
    tags = need("tags", list, required=False) or []
    expected = need("expected_text", list, required=False) or []
    questions = need("questions", list, required=False) or []
    for key, lst in (("tags", tags), ("expected_text", expected), ("questions", questions)):
        if not all(isinstance(x, str) and x.strip() for x in lst):
            raise EvalsuiteError(f"{where}: field '{key}' must be a list of non-empty strings")
    source: Path | None = None
    src = need("source", str, required=False)
    if kind == "edit" and not src:
        raise EvalsuiteError(f"{where}: field 'source' is required for edit cases")
    if src and kind != "edit":
        raise EvalsuiteError(f"{where}: field 'source' is only for edit cases (kind is '{kind}')")
    if src:
        source = (root / src).resolve()
        if root.resolve() not in source.parents:
            raise EvalsuiteError(f"{where}: field 'source' '{src}' must be inside the pack folder")
        if not source.is_file():
            raise EvalsuiteError(f"{where}: field 'source': file not found: {source}")
    width = raw.get("width", defaults.get("width"))
    height = raw.get("height", defaults.get("height"))
    for key, v in (("width", width), ("height", height)):
        if v is not None:
            _check_size(v, where, key)
    background = _parse_background(raw.get("background"), where)
    meta = raw.get("meta") or {}
    if not isinstance(meta, dict):
        raise EvalsuiteError(f"{where}: field 'meta' must be an object")
    return Case(id=cid, kind=kind, prompt=prompt, seeds=tuple(seeds), source=source,
                tags=tuple(tags), expected_text=tuple(expected), background=background,
                width=width, height=height, questions=tuple(questions), meta=meta)


def _check_seeds(seeds: Any, where: str, key: str) -> None:
    if not isinstance(seeds, list) or not seeds or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise EvalsuiteError(f"{where}: field '{key}' must be a non-empty list of non-negative integers")
    if len(set(seeds)) != len(seeds):
        raise EvalsuiteError(f"{where}: field '{key}' has duplicates")


def _check_size(v: Any, where: str, key: str) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or not 8 <= v <= 8192:
        raise EvalsuiteError(f"{where}: field '{key}' must be an integer in [8, 8192], got {v!r}")


def parse_color(v: Any, where: str) -> tuple[int, int, int]:
    if isinstance(v, str):
        m = re.fullmatch(r"#?([0-9a-fA-F]{6})", v.strip())
        if not m:
            raise EvalsuiteError(f"{where}: field 'background.color' {v!r} is not #RRGGBB")
        x = m.group(1)
        return (int(x[0:2], 16), int(x[2:4], 16), int(x[4:6], 16))
    if isinstance(v, list) and len(v) == 3 and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in v):
        return (v[0], v[1], v[2])
    raise EvalsuiteError(f"{where}: field 'background.color' must be '#RRGGBB' or [r, g, b] in 0-255")


def _parse_background(v: Any, where: str) -> BackgroundSpec | None:
    if v is None:
        return None
    if not isinstance(v, dict):
        raise EvalsuiteError(f"{where}: field 'background' must be an object with 'color' and/or 'region'")
    for key in v:
        if key not in ("color", "region"):
            raise EvalsuiteError(f"{where}: unknown field 'background.{key}'"
                                 f"{_did_you_mean(key, ('color', 'region'))} (allowed: color, region)")
    color = parse_color(v["color"], where) if v.get("color") is not None else None
    region = v.get("region")
    if region is not None:
        if (not isinstance(region, list) or len(region) != 4
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and 0 <= x <= 1 for x in region)
                or not (region[0] < region[2] and region[1] < region[3])):
            raise EvalsuiteError(f"{where}: field 'background.region' must be [x0, y0, x1, y1] fractions with x0<x1, y0<y1")
        region = tuple(float(x) for x in region)
    return BackgroundSpec(color=color, region=region)


def pack_asset_hash(pack: Pack) -> str:
    """Hash over all files in assets/ (for run.json provenance)."""
    h = hashlib.sha256()
    assets = pack.root / "assets"
    if assets.is_dir():
        for p in sorted(assets.rglob("*")):
            if p.is_file():
                h.update(p.relative_to(assets).as_posix().encode() + file_sha256(p).encode())
    return h.hexdigest()[:16]


def check_variety(pack: Pack) -> None:
    """Raise when one prompt template covers more than `pack.max_template_share` of the cases
    (at least two cases may share one, so that a two-case pack is not rejected)."""
    from evalsuite.variety import variety

    v = variety(c.prompt for c in pack.cases)
    allowed = max(2, math.floor(pack.max_template_share * v.n + 1e-9))   # tiny packs may repeat one twice
    if v.top_count > allowed:
        example = next(c.id for c in pack.cases if _template(c.prompt) == v.top_template)
        raise EvalsuiteError(f"{pack.root / 'cases.jsonl'}: prompt variety: template {v.top_template!r} covers "
                             f"{v.top_count}/{v.n} cases ({v.top_share:.0%} > {pack.max_template_share:.0%}), "
                             f"e.g. case '{example}'")


def _template(prompt: str) -> str:
    from evalsuite.variety import template_of

    return template_of(prompt)
