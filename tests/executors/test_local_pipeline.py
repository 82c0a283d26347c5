"""The run plan and the local executors, with the fast doubles (the real models run through the
same code in test_ray_executor.py): judge tasks are handed out while renders remain, judging in a
worker process gives the same results as judging inline, and a render worker writing to a shared
folder hands back hashes only."""

from __future__ import annotations

import os
import sqlite3

import pytest

from evalsuite.executors import ExecOptions, RenderHost
from evalsuite.registry import JUDGES, RENDERERS
from evalsuite.runner import RunConfig, make_judges, run_eval
from evalsuite.packs import load_pack
from evalsuite.schedule import RunPlan
from evalsuite.store import ImageFolder, RunStore, encode_png
from tests.core.conftest import write_pack
from tests.core.doubles import MeanJudge, PatternRenderer, SpreadJudge


@pytest.fixture(autouse=True)
def _doubles():
    RENDERERS.register("pattern", PatternRenderer)
    JUDGES.register("mean", MeanJudge)
    JUDGES.register("spread", SpreadJudge)
    yield


def _stats() -> dict:
    return {"rendered": 0, "render_cached": 0, "judged": 0, "judge_cached": 0}


def test_plan_hands_out_judge_tasks_while_renders_remain(tmp_path):
    pack = load_pack(str(write_pack(tmp_path / "p", n=6)))      # 6 cases x 2 seeds
    store = RunStore(tmp_path / "run")
    judges = make_judges(["mean", "spread"], {})
    plan = RunPlan(store, pack, {"student": "fp-s", "teacher": "fp-t"}, {"student": 4, "teacher": 4},
                   judges, _stats())
    plan.plan()
    assert [(b.role, len(b.slots)) for b in plan.render_batches] == [("student", 4)] * 3 + [("teacher", 4)] * 3
    assert plan.ready_tasks() == []                              # nothing rendered yet
    host = RenderHost("pattern:0", {})
    first = plan.render_batches[0]
    plan.commit_render(first, host.render(plan.requests(first)))
    ready = plan.ready_tasks()
    # the image judge's first batch (mean: batch_size 16 > 12 slots, so its one student batch)
    # waits for all student renders; the pack judge waits for the whole role: nothing yet
    assert ready == []
    for b in plan.render_batches[1:3]:
        plan.commit_render(b, host.render(plan.requests(b)))
    ready = plan.ready_tasks()
    names = sorted(j.name for j, _ in ready)
    assert names == ["mean", "spread"]                          # student judged, teacher still to render
    assert {u.role for _, t in ready for u in t.units} == {"student"}
    assert not plan.finished()
    teacher = RenderHost("pattern:5", {})      # other pixels: the same image in two roles is judged once
    for b in plan.render_batches[3:]:
        plan.commit_render(b, teacher.render(plan.requests(b)))
    assert sorted(j.name for j, _ in plan.ready_tasks()) == ["mean", "spread"]
    assert plan.finished()
    store.close()


def _rows(run_dir):
    db = sqlite3.connect(run_dir / "results.db")
    try:
        return (sorted(db.execute("SELECT role, case_id, seed, image_hash FROM items")),
                sorted(db.execute("SELECT judge_id, image_hash, ref_hash, seed, metric, value, ok FROM verdicts")))
    finally:
        db.close()


def test_judging_in_a_worker_process_equals_judging_inline(tmp_path):
    pack = write_pack(tmp_path / "p", n=5, judges=("mean", "spread"))

    def cfg(name, workers):
        return RunConfig(run_dir=tmp_path / name, pack=str(pack), model="pattern:0", teacher="pattern:5",
                         progress=False, exec=ExecOptions(judge_workers=workers))

    inline = run_eval(cfg("inline", 0))
    pooled = run_eval(cfg("pooled", 1))
    assert _rows(tmp_path / "inline") == _rows(tmp_path / "pooled")
    assert inline["metrics"] == pooled["metrics"]
    pids = {w["worker"] for w in pooled["timing"]["workers"] if w["pool"] == "judge"}
    assert pids and os.getpid() not in pids                      # judged in another process
    assert {w["worker"] for w in inline["timing"]["workers"] if w["pool"] == "judge"} == {os.getpid()}
    assert pooled["timing"]["judged"] == inline["timing"]["judged"] > 0


def test_render_worker_with_a_shared_dir_returns_hashes_only(tmp_path):
    from evalsuite.types import RenderRequest

    shared = tmp_path / "shared"
    shared.mkdir()
    host = RenderHost("pattern:3", {}, shared_dir=str(shared))
    outs = host.render([RenderRequest("c1", "a", 0, 16, 16), RenderRequest("c2", "b", 1, 16, 16)])
    assert all(o.png is None for o in outs)
    direct = PatternRenderer(level=3).render([RenderRequest("c1", "a", 0, 16, 16)])[0].image
    h, png = encode_png(direct)
    assert outs[0].image_hash == h and (shared / f"{h}.png").read_bytes() == png
    run = ImageFolder(tmp_path / "run")
    run.dir.mkdir()
    run.adopt(h, shared / f"{h}.png")                            # the driver's side
    assert run.image_path(h).read_bytes() == png
