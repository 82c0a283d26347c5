"""A real `evalsuite run` process killed with SIGKILL, twice (while rendering, then while judging),
then re-run: it finishes, and nothing that was committed before a kill is computed again.

The model is a tiny random-weight QwenImagePipeline (tests/fixtures/tiny_pipelines.py) rendering
at batch size 1, so that renders are committed one by one; the judge is the real OCR judge
(rapidocr), whose verdicts are committed per batch of 16 images.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
N_CASES, SEEDS = 20, (0, 1)
N = N_CASES * len(SEEDS)

pytestmark = pytest.mark.slow


def _query(db: Path, sql: str) -> list[tuple]:
    if not db.exists():
        return []
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    except sqlite3.OperationalError:      # tables not created yet
        return []


def _count(db: Path, sql: str) -> int:
    rows = _query(db, sql)
    return int(rows[0][0]) if rows else 0


RENDERS = "SELECT COUNT(*) FROM renders"
JUDGED = "SELECT COUNT(DISTINCT image_hash) FROM verdicts"


def _start(argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "evalsuite.cli.main", *argv], cwd=REPO, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


def _kill_when(proc: subprocess.Popen, db: Path, sql: str, at_least: int, log: Path,
               timeout: float = 240.0) -> int:
    """SIGKILL the process as soon as `sql` counts at least `at_least`; returns the count then."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        n = _count(db, sql)
        if n >= at_least:
            assert proc.poll() is None, f"the run finished before it could be killed:\n{log.read_text()[-2000:]}"
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            return n
        if proc.poll() is not None:
            pytest.fail(f"evalsuite run exited ({proc.returncode}) before the kill:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"no progress within {timeout}s:\n{log.read_text()[-2000:]}")


def test_sigkill_while_rendering_and_judging_then_resume(tmp_path: Path) -> None:
    from tests.fixtures.tiny_pipelines import write_qwen_image

    model = write_qwen_image(tmp_path / "tiny-qwen", sampler={"num_inference_steps": 2, "guidance_scale": 1.0})
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "pack.yaml").write_text("name: kill-test\nversion: 1\ndescription: kill and resume\njudges: [ocr]\n"
                                    "defaults:\n  width: 32\n  height: 32\n  seeds: [0, 1]\n")
    (pack / "cases.jsonl").write_text("\n".join(json.dumps(
        {"id": f"c{i:02d}", "kind": "t2i", "prompt": f'A poster that says "WORD {i}"', "expected_text": [f"WORD {i}"]})
        for i in range(N_CASES)) + "\n")
    run_dir = tmp_path / "run"
    db = run_dir / "results.db"
    argv = ["run", "--model", str(model), "--pack", str(pack), "--run-dir", str(run_dir), "--batch-size", "1",
            "--no-progress"]
    env = {**os.environ, "EVALSUITE_CACHE_DIR": str(tmp_path / "hash-cache"), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(REPO)}

    # 1. killed while rendering
    log1 = tmp_path / "run1.log"
    p1 = _start(argv, log1, env)
    _kill_when(p1, db, RENDERS, 3, log1)
    assert p1.returncode == -signal.SIGKILL
    renders1 = _query(db, "SELECT fingerprint, case_hash, seed, image_hash, created FROM renders")
    assert 3 <= len(renders1) < N and _count(db, JUDGED) == 0

    # 2. resumed, then killed while judging (after the first batch of OCR verdicts is committed)
    log2 = tmp_path / "run2.log"
    p2 = _start(argv, log2, env)
    judged2 = _kill_when(p2, db, JUDGED, 16, log2)
    assert p2.returncode == -signal.SIGKILL
    renders2 = _query(db, "SELECT fingerprint, case_hash, seed, image_hash, created FROM renders")
    assert len(renders2) == N
    assert set(renders1) <= set(renders2)        # the renders of run 1 were kept, not redone
    verdicts2 = _query(db, "SELECT judge_id, image_hash, metric, value, created FROM verdicts")
    assert 16 <= judged2 < N, judged2

    # 3. resumed to the end: nothing rendered again, only the missing verdicts judged
    log3 = tmp_path / "run3.log"
    out = subprocess.run([sys.executable, "-m", "evalsuite.cli.main", *argv, "--json"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    log3.write_text(out.stderr)
    s = json.loads(out.stdout)
    t = s["timing"]
    assert t["rendered"] == 0 and t["render_cached"] == N
    assert t["judged"] == N - judged2 and t["judge_cached"] == judged2
    assert set(verdicts2) <= set(_query(db, "SELECT judge_id, image_hash, metric, value, created FROM verdicts"))
    m = s["metrics"]["student"]["ocr.word_recall"]
    assert m["n"] == N and m["failures"] == 0             # every image once, none twice
    assert _count(db, "SELECT COUNT(*) FROM renders") == N
