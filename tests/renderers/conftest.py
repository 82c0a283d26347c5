"""Renderer tests keep their file-hash cache out of the user's ~/.cache."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _hash_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path_factory.getbasetemp() / "hash-cache"
    monkeypatch.setenv("EVALSUITE_CACHE_DIR", str(d))
    return d
