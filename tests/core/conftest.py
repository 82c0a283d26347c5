from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalsuite.registry import JUDGES, RENDERERS
from tests.core.doubles import CrashJudge, MeanJudge, PatternRenderer, SpreadJudge


@pytest.fixture(autouse=True)
def _doubles():
    RENDERERS.register("pattern", PatternRenderer)
    JUDGES.register("mean", MeanJudge)
    JUDGES.register("crash", CrashJudge)
    JUDGES.register("spread", SpreadJudge)
    SpreadJudge.batches.clear()
    PatternRenderer.calls.clear()
    PatternRenderer.crash_after = None
    MeanJudge.calls.clear()
    yield


def write_pack(root: Path, n: int = 5, seeds=(0, 1), extra: list[dict] | None = None,
               judges=("mean",)) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pack.yaml").write_text(
        f"name: {root.name}\nversion: 1\ndescription: test pack\njudges: [{', '.join(judges)}]\n"
        "defaults:\n  width: 16\n  height: 16\n")
    rows = [{"id": f"c{i}", "kind": "t2i", "prompt": f"prompt {i}", "seeds": list(seeds),
             "tags": ["even" if i % 2 == 0 else "odd"]} for i in range(n)]
    rows += extra or []
    (root / "cases.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root
