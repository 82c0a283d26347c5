"""The run directory: SQLite results (WAL), content-addressed images, run.json, summary.json.

results.db is the source of truth and is written after every batch, so a killed run loses at most
the batch in flight and a re-run of the same command resumes. Schema: docs/run-format.md.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from evalsuite.types import Case, EvalsuiteError, Verdict, image_sha256

FORMAT_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS renders(
  fingerprint TEXT, case_hash TEXT, seed INT, image_hash TEXT, latency_s REAL,
  width INT, height INT, created REAL, PRIMARY KEY (fingerprint, case_hash, seed));
CREATE TABLE IF NOT EXISTS items(
  role TEXT, case_id TEXT, seed INT, case_hash TEXT, fingerprint TEXT, image_hash TEXT,
  PRIMARY KEY (role, case_id, seed));
CREATE TABLE IF NOT EXISTS cases(
  case_id TEXT PRIMARY KEY, case_hash TEXT, kind TEXT, prompt TEXT, tags TEXT, case_json TEXT);
CREATE TABLE IF NOT EXISTS verdicts(
  judge_id TEXT, image_hash TEXT, ref_hash TEXT, case_hash TEXT, seed INT, metric TEXT,
  judge TEXT, value REAL, ok INT, error TEXT, detail TEXT, created REAL,
  PRIMARY KEY (judge_id, image_hash, ref_hash, case_hash, seed, metric));
CREATE INDEX IF NOT EXISTS verdicts_by_image ON verdicts(image_hash);
CREATE TABLE IF NOT EXISTS records(
  kind TEXT, key TEXT, value TEXT, created REAL, PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS abstentions(
  judge_id TEXT, image_hash TEXT, ref_hash TEXT, case_hash TEXT, seed INT, reason TEXT, created REAL,
  PRIMARY KEY (judge_id, image_hash, ref_hash, case_hash, seed));
"""


@dataclass(frozen=True)
class Item:
    role: str
    case_id: str
    seed: int
    case_hash: str
    fingerprint: str
    image_hash: str


ROLE_VERDICTS_SQL = (
    "SELECT i.case_id, v.seed, v.judge, v.metric, v.value, v.ok, v.error, v.detail, v.judge_id, "
    "v.ref_hash FROM items i JOIN verdicts v ON v.image_hash=i.image_hash AND v.case_hash=i.case_hash "
    "AND v.seed=i.seed WHERE i.role=?")
"""The per-image verdicts of one role's images; rows are (case_id, seed, judge, metric, value, ok,
error, detail, judge_id, ref_hash)."""


def encode_png(image: Image.Image) -> tuple[str, bytes]:
    """(pixel hash, PNG bytes): the one encoding of an image for the run directory, used by the
    driver and by workers alike so that both write the same bytes."""
    import io

    if image.mode not in ("RGB", "RGBA", "L"):
        image = image.convert("RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return image_sha256(image), buf.getvalue()


class ImageFolder:
    """Content-addressed PNGs (<hash>.png): a run's images/ or a --shared-dir. Needs no database, so
    worker processes read (and write) images through it."""

    def __init__(self, folder: Path | str) -> None:
        self.dir = Path(folder)

    def image_path(self, image_hash: str) -> Path:
        return self.dir / f"{image_hash}.png"

    def put_image(self, image: Image.Image) -> str:
        h, data = encode_png(image)
        return self.put_png(h, data)

    def put_png(self, image_hash: str, data: bytes) -> str:
        """Write atomically (temp file + rename); an existing file is left as it is."""
        path = self.image_path(image_hash)
        if not path.exists():
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        return image_hash

    def adopt(self, image_hash: str, src: Path) -> str:
        path = self.image_path(image_hash)
        if not path.exists():
            try:
                os.link(src, path)
            except OSError:
                self.put_png(image_hash, Path(src).read_bytes())
        return image_hash

    def load_image(self, image_hash: str) -> Image.Image:
        path = self.image_path(image_hash)
        try:
            with Image.open(path) as im:
                im.load()
                return im.copy()
        except (OSError, FileNotFoundError) as e:
            raise EvalsuiteError(f"{path}: image missing or unreadable; delete its row or re-run with --force-render") from e


class RunStore:
    """One run directory. Thread-unsafe by design: the runner writes from one thread."""

    def __init__(self, run_dir: Path | str) -> None:
        self.dir = Path(run_dir)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / "images").mkdir(exist_ok=True)
        except OSError as e:
            raise EvalsuiteError(f"{self.dir}: cannot create run directory ({e.strerror})") from e
        self.images = ImageFolder(self.dir / "images")
        self.db_path = self.dir / "results.db"
        try:
            self.db = sqlite3.connect(self.db_path, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key='format_version'").fetchone()
        except sqlite3.DatabaseError as e:
            raise EvalsuiteError(f"{self.db_path}: not a readable evalsuite results database ({e})") from e
        if row is None:
            with self.db:
                self.db.execute("INSERT INTO meta VALUES('format_version', ?)", (str(FORMAT_VERSION),))
        elif int(row[0]) != FORMAT_VERSION:
            raise EvalsuiteError(f"{self.db_path}: run format version {row[0]}, this evalsuite reads {FORMAT_VERSION}")

    # --- images ---------------------------------------------------------------------------
    def image_path(self, image_hash: str) -> Path:
        return self.images.image_path(image_hash)

    def put_image(self, image: Image.Image) -> str:
        """Store an image content-addressed; atomic (temp file + rename)."""
        return self.images.put_image(image)

    def put_png(self, image_hash: str, data: bytes) -> str:
        """Store PNG bytes encoded elsewhere (a worker) under their pixel hash."""
        return self.images.put_png(image_hash, data)

    def adopt_image(self, image_hash: str, src: Path) -> str:
        """Take an image a worker wrote to a shared folder (hard link, else copy)."""
        return self.images.adopt(image_hash, src)

    def load_image(self, image_hash: str) -> Image.Image:
        return self.images.load_image(image_hash)

    # --- renders & items ---------------------------------------------------------------------
    def get_render(self, fingerprint: str, case_hash: str, seed: int) -> str | None:
        row = self.db.execute(
            "SELECT image_hash FROM renders WHERE fingerprint=? AND case_hash=? AND seed=?",
            (fingerprint, case_hash, seed)).fetchone()
        if row is None or not self.image_path(row[0]).exists():
            return None
        return row[0]

    def render_latencies(self, fingerprint: str) -> list[float]:
        return [r[0] for r in self.db.execute(
            "SELECT latency_s FROM renders WHERE fingerprint=? AND latency_s IS NOT NULL", (fingerprint,))]

    def add_renders(self, rows: Iterable[tuple[str, str, int, str, float, int, int]]) -> None:
        now = time.time()
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO renders VALUES(?,?,?,?,?,?,?,?)",
                [(*r, now) for r in rows])

    def set_items(self, role: str, items: Iterable[Item]) -> None:
        with self.db:
            self.db.execute("DELETE FROM items WHERE role=?", (role,))
            self.db.executemany("INSERT INTO items VALUES(?,?,?,?,?,?)",
                                [(i.role, i.case_id, i.seed, i.case_hash, i.fingerprint, i.image_hash)
                                 for i in items])

    def add_item(self, item: Item) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO items VALUES(?,?,?,?,?,?)",
                            (item.role, item.case_id, item.seed, item.case_hash, item.fingerprint,
                             item.image_hash))

    def add_items(self, items: Iterable[Item]) -> None:
        """Record (role, case, seed) -> image for many items in one transaction."""
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO items VALUES(?,?,?,?,?,?)",
                                [(i.role, i.case_id, i.seed, i.case_hash, i.fingerprint, i.image_hash)
                                 for i in items])

    def clear_role(self, role: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM items WHERE role=?", (role,))

    def items(self, role: str | None = None) -> list[Item]:
        q = "SELECT role, case_id, seed, case_hash, fingerprint, image_hash FROM items"
        rows = self.db.execute(q + (" WHERE role=?" if role else "") + " ORDER BY role, case_id, seed",
                               (role,) if role else ()).fetchall()
        return [Item(*r) for r in rows]

    def roles(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT role FROM items ORDER BY role")]

    def put_cases(self, cases: Iterable[Case]) -> None:
        with self.db:
            self.db.execute("DELETE FROM cases")
            self.db.executemany(
                "INSERT INTO cases VALUES(?,?,?,?,?,?)",
                [(c.id, c.content_hash(), c.kind, c.prompt, json.dumps(list(c.tags)),
                  json.dumps(c.to_dict(), ensure_ascii=False)) for c in cases])

    # --- verdicts ---------------------------------------------------------------------------
    def get_verdicts(self, judge_id: str, image_hash: str, ref_hash: str, case_hash: str,
                     seed: int) -> list[Verdict] | None:
        rows = self.db.execute(
            "SELECT metric, judge, value, ok, error, detail FROM verdicts WHERE judge_id=? AND "
            "image_hash=? AND ref_hash=? AND case_hash=? AND seed=?",
            (judge_id, image_hash, ref_hash, case_hash, seed)).fetchall()
        if not rows:
            return None
        return [Verdict("", seed, judge, metric, value, bool(ok), error, json.loads(detail or "{}"))
                for metric, judge, value, ok, error, detail in rows]

    def has_verdicts(self, judge_id: str, include_failed: bool = True) -> set[tuple[str, str, str, int]]:
        """All (image_hash, ref_hash, case_hash, seed) keys already judged by judge_id.

        With include_failed=False, keys with any failed metric are left out (to be re-judged).
        """
        q = ("SELECT image_hash, ref_hash, case_hash, seed FROM verdicts WHERE judge_id=? "
             "GROUP BY image_hash, ref_hash, case_hash, seed")
        if not include_failed:
            q += " HAVING MIN(ok) = 1"
        keys = {tuple(r) for r in self.db.execute(q, (judge_id,))}
        keys |= {tuple(r) for r in self.db.execute(
            "SELECT image_hash, ref_hash, case_hash, seed FROM abstentions WHERE judge_id=?", (judge_id,))}
        return keys  # type: ignore[return-value]

    def add_abstentions(self, judge_id: str, rows: Iterable[tuple[str, str, str, int, str]]) -> None:
        """Items a judge looked at and had no metric for (e.g. preservation on a global edit);
        rows: (image_hash, ref_hash, case_hash, seed, reason). Kept so a re-run does not re-judge them."""
        now = time.time()
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO abstentions VALUES(?,?,?,?,?,?,?)",
                                [(judge_id, *r, now) for r in rows])

    def add_verdicts(self, judge_id: str, rows: Iterable[tuple[str, str, str, Verdict]]) -> None:
        """rows: (image_hash, ref_hash, case_hash, verdict)."""
        now = time.time()
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO verdicts VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                [(judge_id, ih, rh, ch, v.seed, v.metric, v.judge, v.value, int(v.ok), v.error,
                  json.dumps(v.detail, default=str, ensure_ascii=False), now)
                 for ih, rh, ch, v in rows])

    def verdicts_for(self, role: str, judge_ids: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """Verdicts of the images of `role` (and case-level verdicts of its cases).

        A per-image verdict counts only when it was judged against this run's reference: for each
        (judge id, case, seed), the verdicts whose ref_hash is the current teacher image of that
        case and seed when there are any (judges that use the teacher), else those with ref_hash ''
        (judges that use no reference, the teacher role itself, runs without a teacher). Verdicts
        against an earlier teacher in the same run directory are left out, never double-counted.
        """
        with RunReader(self.dir) as reader:      # the one reader: typed rows, current-reference rule
            rows = reader.verdicts(role, judge_ids)
        for v in rows:
            yield {"case_id": v.case_id, "seed": v.seed, "judge": v.judge, "metric": v.metric, "value": v.value,
                   "ok": v.ok, "error": v.error, "detail": v.detail, "judge_id": v.judge_id}

    def pack_key(self, role: str) -> tuple[str, str]:
        """The key of `role`'s pack-level verdicts (see `pack_key`)."""
        return pack_key(self.items(role))

    # --- records: run-level results of plugins (e.g. a family's calibration reports) -------------
    def get_record(self, kind: str, key: str) -> Any | None:
        """The JSON value stored under (kind, key), or None. Runs written before the records table
        kept kind "calibration" in calibration.json beside results.db; it is still read."""
        row = self.db.execute("SELECT value FROM records WHERE kind=? AND key=?", (kind, key)).fetchone()
        if row is not None:
            return json.loads(row[0])
        legacy = self.read_json(f"{kind}.json") if kind == "calibration" else None
        return (legacy or {}).get(key)

    def put_record(self, kind: str, key: str, value: Any) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO records VALUES(?,?,?,?)",
                            (kind, key, json.dumps(value, default=str, ensure_ascii=False), time.time()))

    # --- json files ---------------------------------------------------------------------------
    def write_json(self, name: str, data: dict[str, Any]) -> Path:
        path = self.dir / name
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        os.replace(tmp, path)
        return path

    def read_json(self, name: str) -> dict[str, Any] | None:
        path = self.dir / name
        if not path.exists():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def close(self) -> None:
        self.db.close()


def compact_run(run_dir: Path | str) -> None:
    """Fold the WAL into results.db and vacuum it: one self-contained file (no -wal/-shm beside it)
    that opens read-only on a fresh clone, e.g. a committed sweep's checkpoint runs. Call it once
    the run's writer is closed; a later RunStore switches the file back to WAL."""
    db_path = Path(run_dir) / "results.db"
    if not db_path.is_file():
        return
    try:
        db = sqlite3.connect(db_path, timeout=60)
        try:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.execute("PRAGMA journal_mode=DELETE")
            db.execute("VACUUM")
        finally:
            db.close()
    except sqlite3.DatabaseError as e:
        raise EvalsuiteError(f"{db_path}: cannot compact the results database ({e})") from e


# --- read side: RunReader ------------------------------------------------------------------------
# The one reader of a finished (or running) run directory. Read-only SQLite connection, typed rows.
# summary, compare, gate, report and sweep read results.db only through this class.


@dataclass(frozen=True)
class CaseRow:
    """One case as stored in the run (`cases` table); `data` is Case.to_dict()."""

    case_id: str
    case_hash: str
    kind: str
    prompt: str
    tags: tuple[str, ...]
    data: dict[str, Any]


@dataclass(frozen=True)
class VerdictRow:
    """One metric value (or failure) of one image, seed -1 for a case-level verdict."""

    case_id: str
    seed: int
    judge: str
    metric: str
    value: float | None
    ok: bool
    error: str | None
    detail: dict[str, Any]
    judge_id: str
    ref_hash: str = ""

    @property
    def key(self) -> str:
        """'<judge>.<metric>', the name used in summaries, gates and comparisons."""
        return f"{self.judge}.{self.metric}"


@dataclass(frozen=True)
class RenderStats:
    """Render latency of one role's images: mean seconds per image (None when unknown), image count."""

    mean_latency_s: float | None
    images: int


def current_reference(rows: Iterable[VerdictRow], teacher: dict[tuple[str, int], str]) -> list[VerdictRow]:
    """The per-image verdicts judged against the run's current reference (the one rule of the suite).

    For each (judge id, case, seed): the rows whose ref_hash is the current teacher image
    `teacher[(case, seed)]` when there are any, else those with ref_hash ''. Verdicts against an
    earlier teacher in the same run directory are left out, never double-counted. Pass teacher={}
    for the teacher role itself.
    """
    rows = list(rows)
    refs: dict[tuple[str, str, int], set[str]] = defaultdict(set)
    for r in rows:
        refs[(r.judge_id, r.case_id, r.seed)].add(r.ref_hash or "")
    out = []
    for r in rows:
        cur = teacher.get((r.case_id, r.seed))
        wanted = cur if cur is not None and cur in refs[(r.judge_id, r.case_id, r.seed)] else ""
        if (r.ref_hash or "") == wanted:
            out.append(r)
    return out


def _parse_detail(s: str | None) -> dict[str, Any]:
    try:
        d = json.loads(s) if s else {}
    except json.JSONDecodeError:
        return {"raw": s}
    return d if isinstance(d, dict) else {"value": d}


def pack_key(items: Sequence[Item]) -> tuple[str, str]:
    """(group hash of the images, group hash of their case ids and hashes): the key of a role's
    pack-level verdicts (case_id "*", seed -1), computed the same way by the writer and readers."""
    from evalsuite.types import group_hash

    return (group_hash([i.image_hash for i in items]),
            "pack:" + group_hash([f"{i.case_id}={i.case_hash}" for i in items])[:16])


class RunReader:
    """Typed, read-only view of a run directory's results.db (docs/run-format.md).

    Opens SQLite read-only (safe beside a running writer in WAL mode); raises EvalsuiteError naming
    the file at fault. Use as a context manager or call close().
    """

    def __init__(self, run_dir: Path | str) -> None:
        self.dir = Path(run_dir)
        self.db_path = self.dir / "results.db"
        if not self.db_path.is_file():
            raise EvalsuiteError(f"{self.dir}: not a run directory, results.db is missing")
        try:
            self._db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
            row = self._db.execute("SELECT value FROM meta WHERE key='format_version'").fetchone()
            self._db.execute("SELECT 1 FROM items LIMIT 1").fetchall()
        except sqlite3.DatabaseError as e:
            raise EvalsuiteError(f"{self.db_path}: not a readable evalsuite results database ({e})") from e
        if row is not None and int(row[0]) != FORMAT_VERSION:
            self._db.close()
            raise EvalsuiteError(f"{self.db_path}: run format version {row[0]}, this evalsuite reads {FORMAT_VERSION}")

    def __enter__(self) -> RunReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _q(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, tuple(args)).fetchall()
        except sqlite3.DatabaseError as e:
            raise EvalsuiteError(f"{self.db_path}: not a readable evalsuite results database ({e})") from e

    def cases(self) -> list[CaseRow]:
        """Every case of the run, in case-id order."""
        out = []
        for cid, chash, kind, prompt, tags, cjson in self._q(
                "SELECT case_id, case_hash, kind, prompt, tags, case_json FROM cases ORDER BY case_id"):
            data = _parse_detail(cjson)
            tag_list = json.loads(tags) if tags else data.get("tags", [])
            out.append(CaseRow(cid, chash, kind, prompt, tuple(tag_list), data))
        return out

    def items(self, role: str | None = None) -> list[Item]:
        """The run's images per (role, case, seed), ordered by role, case, seed."""
        q = "SELECT role, case_id, seed, case_hash, fingerprint, image_hash FROM items"
        rows = self._q(q + (" WHERE role=?" if role else "") + " ORDER BY role, case_id, seed",
                       (role,) if role else ())
        return [Item(*r) for r in rows]

    def roles(self) -> list[str]:
        return [r[0] for r in self._q("SELECT DISTINCT role FROM items ORDER BY role")]

    def image_path(self, image_hash: str) -> Path:
        """Where the content-addressed image lives (it may be missing if the directory was pruned)."""
        return self.dir / "images" / f"{image_hash}.png"

    def verdicts(self, role: str, judge_ids: Iterable[str] | None = None) -> list[VerdictRow]:
        """Current verdicts of `role`: per-image ones under `current_reference`, then case-level ones
        (seed -1, keyed on the group hash of the role's images of the case). `judge_ids` limits the
        rows to those judge configurations (cached verdicts of other versions are left out)."""
        from evalsuite.types import group_hash

        ids = set(judge_ids) if judge_ids is not None else None
        items = self.items(role)
        teacher = {} if role == "teacher" else {(i.case_id, i.seed): i.image_hash for i in self.items("teacher")}
        raw = [VerdictRow(cid, seed, judge, metric, value, bool(ok), error, _parse_detail(detail), jid, ref or "")
               for cid, seed, judge, metric, value, ok, error, detail, jid, ref in self._q(ROLE_VERDICTS_SQL, (role,))
               if ids is None or jid in ids]
        out = current_reference(raw, teacher)
        groups: dict[str, tuple[str, list[str]]] = {}
        for it in items:
            groups.setdefault(it.case_id, (it.case_hash, []))[1].append(it.image_hash)
        for cid, (chash, hashes) in groups.items():
            for judge, metric, value, ok, error, detail, jid in self._q(
                    "SELECT judge, metric, value, ok, error, detail, judge_id FROM verdicts "
                    "WHERE image_hash=? AND case_hash=? AND seed=-1", (group_hash(hashes), chash)):
                if ids is None or jid in ids:
                    out.append(VerdictRow(cid, -1, judge, metric, value, bool(ok), error, _parse_detail(detail), jid))
        if items:                                   # pack-level verdicts: case_id "*", seed -1
            gh, ch = pack_key(items)
            for judge, metric, value, ok, error, detail, jid in self._q(
                    "SELECT judge, metric, value, ok, error, detail, judge_id FROM verdicts "
                    "WHERE image_hash=? AND case_hash=? AND seed=-1", (gh, ch)):
                if ids is None or jid in ids:
                    out.append(VerdictRow("*", -1, judge, metric, value, bool(ok), error, _parse_detail(detail), jid))
        return out

    def render_stats(self, role: str) -> RenderStats:
        """Mean render latency and image count of `role` (renders joined to the role's items)."""
        row = self._q("SELECT AVG(r.latency_s), COUNT(*) FROM items i JOIN renders r ON r.fingerprint=i.fingerprint "
                      "AND r.case_hash=i.case_hash AND r.seed=i.seed WHERE i.role=?", (role,))[0]
        return RenderStats(row[0], int(row[1]))
