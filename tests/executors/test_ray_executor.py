"""The Ray executor on a real local Ray cluster, running the bundled default (student vs teacher,
the pack's judges) on its first cases: byte-identical to the local executor, and complete and
duplicate-free after an actor is killed mid-run (ray.kill) or the driver is killed (SIGKILL) and
the same command is run again."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from evalsuite.executors import ExecOptions
from evalsuite.runner import RunConfig, run_eval
from evalsuite.store import RunStore

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
LIMIT = 2                 # cases of the bundled pack: 2 cases x 4 seeds x (student + teacher)
BATCH = 2                 # render batch size: several batches per role, so a kill lands mid-run
TEACHER_STEPS = 4         # the bundled teacher at 4 steps (its default 16 x CFG is 8x slower)


def _cfg(run_dir: Path, **exec_kw) -> RunConfig:
    common = {"__shared__": {"batch_size": BATCH}}
    return RunConfig(run_dir=run_dir, limit=LIMIT, progress=False, model_opts=dict(common),
                     teacher_opts={**common, "num_inference_steps": TEACHER_STEPS}, exec=ExecOptions(**exec_kw))


def _result(run_dir: Path) -> dict:
    """Everything a run produced that must match: per role, (case, seed) -> image hash and PNG bytes;
    every counted verdict; and raw row counts (duplicates would show here)."""
    store = RunStore(run_dir)
    try:
        items = {(i.role, i.case_id, i.seed): i.image_hash for i in store.items()}
        pngs = {h: store.image_path(h).read_bytes() for h in items.values()}
        verdicts = sorted((role, v["case_id"], v["seed"], v["judge_id"], v["metric"], v["value"], v["ok"])
                          for role in ("student", "teacher") for v in store.verdicts_for(role))
    finally:
        store.close()
    db = sqlite3.connect(run_dir / "results.db")
    counts = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("renders", "items", "verdicts")}
    db.close()
    return {"items": items, "pngs": pngs, "verdicts": verdicts, "counts": counts}


def _committed_renders(run_dir: Path) -> int:
    """Render rows committed to results.db so far (0 before the database exists)."""
    if not (run_dir / "results.db").is_file():
        return 0
    try:
        db = sqlite3.connect(f"file:{run_dir / 'results.db'}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute("SELECT COUNT(*) FROM renders").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:         # created but the schema not yet committed
        return 0


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The local (pipelined) executor's run: the reference."""
    run_dir = tmp_path_factory.mktemp("local") / "run"
    summary = run_eval(_cfg(run_dir))
    return run_dir, summary, _result(run_dir)


def _assert_same(got: dict, want: dict) -> None:
    assert got["items"] == want["items"]                     # same image hash per role, case, seed
    assert got["pngs"] == want["pngs"]                       # same PNG bytes
    assert got["verdicts"] == want["verdicts"]               # same verdict values
    assert got["counts"] == want["counts"]                   # no duplicate, nothing missing


def test_ray_equals_local_byte_for_byte(ray_cluster, local_run, tmp_path):
    _, local_summary, want = local_run
    n_items = LIMIT * 4 * 2
    assert len(want["items"]) == n_items and len(set(want["items"].values())) == n_items
    assert want["verdicts"], "the bundled judges produced no verdict"
    summary = run_eval(_cfg(tmp_path / "run", executor="ray"))
    _assert_same(_result(tmp_path / "run"), want)
    assert summary["metrics"] == local_summary["metrics"]
    t = summary["timing"]
    assert t["executor"] == "ray" and t["rendered"] == n_items
    pools = {w["pool"] for w in t["workers"]}
    assert {"render-student", "render-teacher", "judge"} <= pools
    assert sum(w["tasks"] for w in t["workers"] if w["pool"].startswith("render")) == n_items // BATCH


def _kill_first(ray, prefix: str, run_dir: Path, stop: threading.Event, killed: list[str]) -> None:
    """Once the run has committed an image, kill the first live actor whose name starts with
    `prefix` (no restart: the pool must replace it and re-run its tasks)."""
    while not stop.is_set():
        if len(list((run_dir / "images").glob("*.png"))) >= 1:
            names = [n["name"] if isinstance(n, dict) else n for n in ray.util.list_named_actors()]
            mine = sorted(n for n in names if n.startswith(prefix))
            if mine:
                ray.kill(ray.get_actor(mine[0]), no_restart=True)
                killed.append(mine[0])
                return
        time.sleep(0.05)


@pytest.mark.parametrize("prefix", ["evalsuite-render-", "evalsuite-judge-"])
def test_actor_killed_mid_run_ends_complete_and_duplicate_free(ray_cluster, local_run, tmp_path, prefix):
    run_dir = tmp_path / "run"
    stop, killed = threading.Event(), []
    watcher = threading.Thread(target=_kill_first, args=(ray_cluster, prefix, run_dir, stop, killed), daemon=True)
    watcher.start()
    try:
        summary = run_eval(_cfg(run_dir, executor="ray"))
    finally:
        stop.set()
        watcher.join(5)
    assert killed, f"no {prefix}* actor was alive to kill"
    _assert_same(_result(run_dir), local_run[2])
    pool = killed[0].removeprefix("evalsuite-").rsplit("-", 2)[0]     # evalsuite-POOL-INDEX-ID
    assert [w["pool"] for w in summary["timing"]["workers"] if w["replaced"]] == [pool]


def _cli(run_dir: Path, address: str) -> list[str]:
    return [sys.executable, "-m", "evalsuite.cli.main", "run", "--executor", "ray", "--ray-address", address,
            "--limit", str(LIMIT), "--batch-size", str(BATCH), "--teacher-steps", str(TEACHER_STEPS), "--run-dir", str(run_dir), "--json"]


def test_driver_sigkill_then_same_command_resumes(ray_cluster, local_run, tmp_path):
    address = ray_cluster.get_runtime_context().gcs_address
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log = (tmp_path / "first.log").open("w")
    proc = subprocess.Popen(_cli(run_dir, address), cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 300 and proc.poll() is None:
        if _committed_renders(run_dir) >= BATCH:     # a render batch committed (its images come first)
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the driver ended before it could be killed: {(tmp_path / 'first.log').read_text()[-2000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    partial = _result(run_dir)["counts"]["renders"]
    assert 0 < partial < LIMIT * 4 * 2
    out = subprocess.run(_cli(run_dir, address), cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    assert summary["timing"]["render_cached"] >= partial     # committed renders were not redone
    _assert_same(_result(run_dir), local_run[2])
