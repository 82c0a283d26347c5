"""Content hashes of checkpoint files, cached per file by (path, size, mtime).

Fingerprints hash the weights themselves (not their paths), so a copied checkpoint keeps its
cache and a retrained one does not. Hashing a 40 GB pipeline takes minutes, so hashes persist in
a small JSON cache (`$EVALSUITE_CACHE_DIR`, default ~/.cache/evalsuite) keyed by the file's
absolute path, size and mtime: a fully cached re-run re-hashes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

from evalsuite.types import EvalsuiteError, file_sha256

logger = logging.getLogger(__name__)

_LOCK = threading.Lock()
_MEMO: dict[str, str] = {}
_LOADED = False
# Files at least this large go into the on-disk cache; small ones are cheaper to re-hash.
_PERSIST_MIN_BYTES = 1 << 20


def cache_path() -> Path:
    root = os.environ.get("EVALSUITE_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "evalsuite")
    return Path(root) / "file_hashes.json"


def _key(path: Path, st: os.stat_result) -> str:
    return f"{path}|{st.st_size}|{st.st_mtime_ns}"


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    try:
        data = json.loads(cache_path().read_text())
        if isinstance(data, dict):
            _MEMO.update({k: v for k, v in data.items() if isinstance(v, str)})
    except (OSError, ValueError):
        pass


def _save(new: dict[str, str]) -> None:
    """Merge `new` into the on-disk cache (atomic replace; losing a race only costs a re-hash)."""
    p = cache_path()
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(p.read_text())
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
        data.update(new)
        # Forget files that are gone (deleted checkpoints, temporary test folders).
        data = {k: v for k, v in data.items() if os.path.exists(k.split("|", 1)[0])}
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".file_hashes.")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        os.replace(tmp, p)
    except OSError as e:
        logger.debug("could not write hash cache %s: %s", p, e)


def cached_file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, memoised by (absolute path, size, mtime)."""
    p = Path(path).resolve()
    try:
        st = p.stat()
    except OSError as e:
        raise EvalsuiteError(f"cannot read {p}: {e.strerror or e}") from e
    key = _key(p, st)
    with _LOCK:
        _load()
        if key in _MEMO:
            return _MEMO[key]
    try:
        digest = file_sha256(p)
    except OSError as e:
        raise EvalsuiteError(f"cannot read {p}: {e.strerror or e}") from e
    with _LOCK:
        _MEMO[key] = digest
        if st.st_size >= _PERSIST_MIN_BYTES:
            _save({key: digest})
    return digest


def files_digest(files: Iterable[Path], root: Path) -> str:
    """One hash over (relative path, content hash) of `files`, in sorted order."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(cached_file_sha256(f).encode())
        h.update(b"\n")
    return h.hexdigest()
