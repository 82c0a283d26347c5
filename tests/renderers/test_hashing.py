"""The per-file hash cache: keyed by (path, size, mtime), persisted for large files."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from evalsuite.renderers import hashing
from evalsuite.types import EvalsuiteError


def test_cache_hits_and_invalidates_on_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    real = hashing.file_sha256

    def counting(p: Path) -> str:
        calls.append(p)
        return real(p)

    monkeypatch.setattr(hashing, "file_sha256", counting)
    monkeypatch.setattr(hashing, "_PERSIST_MIN_BYTES", 10)
    f = tmp_path / "w.safetensors"
    f.write_bytes(b"a" * 100)
    h1 = hashing.cached_file_sha256(f)
    assert h1 == hashlib.sha256(b"a" * 100).hexdigest()
    assert hashing.cached_file_sha256(f) == h1 and len(calls) == 1          # memo hit
    stored = json.loads(hashing.cache_path().read_text())
    assert any(k.startswith(str(f.resolve())) and v == h1 for k, v in stored.items())
    f.write_bytes(b"b" * 101)
    os.utime(f, ns=(1, 1))
    assert hashing.cached_file_sha256(f) == hashlib.sha256(b"b" * 101).hexdigest() and len(calls) == 2


def test_digest_is_order_and_location_independent(tmp_path: Path) -> None:
    for d in ("x", "y"):
        (tmp_path / d / "sub").mkdir(parents=True)
        (tmp_path / d / "a.bin").write_bytes(b"1")
        (tmp_path / d / "sub" / "b.bin").write_bytes(b"2")
    fx = hashing.files_digest(list((tmp_path / "x").rglob("*.bin")), tmp_path / "x")
    fy = hashing.files_digest(sorted((tmp_path / "y").rglob("*.bin"), reverse=True), tmp_path / "y")
    assert fx == fy
    (tmp_path / "y" / "sub" / "b.bin").rename(tmp_path / "y" / "b.bin")   # same bytes, new layout
    assert hashing.files_digest(list((tmp_path / "y").rglob("*.bin")), tmp_path / "y") != fx


def test_unreadable_file_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(EvalsuiteError, match="cannot read .*missing.bin"):
        hashing.cached_file_sha256(tmp_path / "missing.bin")
