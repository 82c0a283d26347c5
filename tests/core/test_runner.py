"""Runner behaviour: caching, resume after a kill, failures recorded as failures, summaries."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from evalsuite.executors import ExecOptions
from evalsuite.runner import RunConfig, run_eval
from evalsuite.stats import mean_ci
from tests.core.conftest import write_pack
from tests.core.doubles import MeanJudge, PatternRenderer


def cfg(tmp_path, pack, **kw):
    base = dict(run_dir=tmp_path / "run", pack=str(pack), model="pattern:0", teacher="pattern:5",
                progress=False)
    base.update(kw)
    return RunConfig(**base)


def test_run_summary_matches_verdicts(tmp_path):
    pack = write_pack(tmp_path / "p", n=6)
    s = run_eval(cfg(tmp_path, pack))
    db = sqlite3.connect(tmp_path / "run" / "results.db")
    vals = [r[0] for r in db.execute(
        "SELECT v.value FROM items i JOIN verdicts v ON v.image_hash=i.image_hash WHERE i.role='student'")]
    assert len(vals) == 12
    m = s["metrics"]["student"]["mean.brightness"]
    assert m["n"] == 12 and m["failures"] == 0
    assert m["mean"] == pytest.approx(np.mean(vals), abs=1e-6)
    assert m["ci"][0] <= m["mean"] <= m["ci"][1]
    assert m["per_tag"]["even"]["n"] == 6
    # teacher is 5 grey levels brighter: the paired delta is ~ -5/255 and significant
    d = s["deltas"]["mean.brightness"]
    assert d["mean"] == pytest.approx(-5 / 255, abs=2e-3)
    assert d["significant"] and not d["student_better"]
    assert (tmp_path / "run" / "summary.json").exists()
    run_json = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run_json["pack"]["name"] == "p" and set(run_json["models"]) == {"student", "teacher"}
    assert len(list((tmp_path / "run" / "images").glob("*.png"))) == 24


def test_rerun_with_nothing_changed_does_no_work(tmp_path):
    pack = write_pack(tmp_path / "p")
    s1 = run_eval(cfg(tmp_path, pack))
    n_render, n_judge = len(PatternRenderer.calls), len(MeanJudge.calls)
    s2 = run_eval(cfg(tmp_path, pack))
    assert len(PatternRenderer.calls) == n_render and len(MeanJudge.calls) == n_judge
    assert s2["timing"]["rendered"] == 0 and s2["timing"]["judged"] == 0
    assert s2["metrics"] == s1["metrics"]


def test_changed_teacher_rerenders_only_teacher(tmp_path):
    pack = write_pack(tmp_path / "p", n=3)
    run_eval(cfg(tmp_path, pack))
    before = sum(PatternRenderer.calls)
    s = run_eval(cfg(tmp_path, pack, teacher="pattern:9"))
    assert sum(PatternRenderer.calls) - before == 6      # 3 cases x 2 seeds, teacher only
    assert s["timing"]["render_cached"] == 6


def test_resume_after_kill(tmp_path):
    pack = write_pack(tmp_path / "p", n=6)
    PatternRenderer.crash_after = 2       # dies in the 3rd batch (batch size 2)
    with pytest.raises(KeyboardInterrupt):
        run_eval(cfg(tmp_path, pack, teacher=None))
    db = sqlite3.connect(tmp_path / "run" / "results.db")
    assert db.execute("SELECT COUNT(*) FROM renders").fetchone()[0] == 4
    PatternRenderer.crash_after = None
    PatternRenderer.calls.clear()
    s = run_eval(cfg(tmp_path, pack, teacher=None))
    assert sum(PatternRenderer.calls) == 8                # only the 8 missing images
    assert s["metrics"]["student"]["mean.brightness"]["n"] == 12


def test_determinism_same_scores(tmp_path):
    pack = write_pack(tmp_path / "p")
    a = run_eval(cfg(tmp_path, pack, run_dir=tmp_path / "a"))
    b = run_eval(cfg(tmp_path, pack, run_dir=tmp_path / "b"))
    assert a["metrics"] == b["metrics"]


def test_judge_failures_are_not_zeros(tmp_path):
    pack = write_pack(tmp_path / "p", n=4, extra=[
        {"id": "bad", "kind": "t2i", "prompt": "x", "seeds": [0, 1], "tags": ["breaks"]}])
    # judged in this process (judge_workers=0), so that MeanJudge.calls can be read here
    s = run_eval(cfg(tmp_path, pack, teacher=None, exec=ExecOptions(judge_workers=0)))
    m = s["metrics"]["student"]["mean.brightness"]
    assert m["failures"] == 2 and m["n"] == 8
    ok_vals = [v for v in MeanJudge.calls]  # judged in batches
    assert sum(ok_vals) == 10
    db = sqlite3.connect(tmp_path / "run" / "results.db")
    rows = db.execute("SELECT value, ok, error FROM verdicts WHERE ok=0").fetchall()
    assert rows == [(None, 0, "planted failure")] * 2
    assert m["per_tag"]["breaks"] == {"mean": None, "ci": [None, None], "n": 0, "n_cases": 0, "n_images": 0,
                                      "failures": 2, "mde": None}


def test_crashing_judge_recorded_and_retried(tmp_path):
    pack = write_pack(tmp_path / "p", n=2, judges=("mean", "crash"))
    s = run_eval(cfg(tmp_path, pack, teacher=None))
    c = s["metrics"]["student"]["crash.x"]
    assert c["failures"] == 4 and c["n"] == 0 and c["mean"] is None
    assert "unreachable" in next(iter(c["errors"]))
    assert s["metrics"]["student"]["mean.brightness"]["n"] == 4   # other judges unaffected
    s2 = run_eval(cfg(tmp_path, pack, teacher=None))
    assert s2["timing"]["judged"] == 0                            # failures cached by default
    s3 = run_eval(cfg(tmp_path, pack, teacher=None, retry_failed=True))
    assert s3["timing"]["judged"] == 4


def test_bootstrap_ci_reference():
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 1.0, 400)
    m, lo, hi = mean_ci(x)
    se = x.std(ddof=1) / np.sqrt(len(x))
    assert m == pytest.approx(x.mean())
    assert lo == pytest.approx(m - 1.96 * se, abs=0.25 * se)
    assert hi == pytest.approx(m + 1.96 * se, abs=0.25 * se)


def teacher_pack(root, judges=("flatbg", "fidelity")):
    """48x48 cases the real flatbg and fidelity judges can score on PatternRenderer images: two
    flat t2i cases, a local edit (the source differs from the rendered grey in one square) and a
    global edit (the source differs everywhere, so preservation has nothing left to measure)."""
    from PIL import Image

    assets = root / "assets"
    assets.mkdir(parents=True)
    local = np.full((48, 48, 3), 108, np.uint8)
    local[8:24, 8:24] = 20
    Image.fromarray(local).save(assets / "local.png")
    Image.fromarray(np.full((48, 48, 3), 250, np.uint8)).save(assets / "global.png")
    size = {"width": 48, "height": 48, "seeds": [0, 1, 2]}
    extra = [{"id": f"f{i}", "kind": "t2i", "prompt": f"flat {i}", "background": {"region": [0, 0, 1, 1]},
              "tags": ["flat"], **size} for i in range(2)]
    extra += [{"id": "e-local", "kind": "edit", "prompt": "remove the square", "source": "assets/local.png",
               "tags": ["edit"], **size},
              {"id": "e-global", "kind": "edit", "prompt": "repaint everything", "source": "assets/global.png",
               "tags": ["edit"], **size}]
    return write_pack(root, n=0, extra=extra, judges=judges)


def test_changed_teacher_counts_only_verdicts_against_the_current_teacher(tmp_path):
    """Re-running into the same run directory with another teacher (e.g. only --teacher-steps
    changed) must give exactly the summary of a fresh run with that teacher: verdicts judged
    against the old teacher image stay in results.db but are not counted."""
    pack = teacher_pack(tmp_path / "p")
    run_eval(cfg(tmp_path, pack, teacher="pattern:5"))
    again = run_eval(cfg(tmp_path, pack, teacher="pattern:9"))
    fresh = run_eval(cfg(tmp_path, pack, teacher="pattern:9", run_dir=tmp_path / "fresh"))
    assert again["metrics"] == fresh["metrics"] and again["deltas"] == fresh["deltas"]
    st = again["metrics"]["student"]
    assert st["flatbg.sigma_log_ratio"]["n"] == 6 and st["flatbg.sigma"]["n"] == 6    # 2 cases x 3 seeds
    assert st["fidelity.ssim"]["n"] == 12 and st["fidelity.psnr"]["n"] == 12    # 4 cases x 3 seeds
    # the old verdicts are still stored: two teacher images per student image for ssim
    db = sqlite3.connect(tmp_path / "run" / "results.db")
    refs = db.execute("SELECT COUNT(DISTINCT ref_hash), COUNT(*) FROM verdicts WHERE metric='ssim'").fetchone()
    assert refs == (24, 24)
    assert again["deltas"]["fidelity.preservation"]["n"] == 3
    # psnr is to the new teacher (9 grey levels off the student), ~2 dB below the old one (5 off)
    old = run_eval(cfg(tmp_path, pack, teacher="pattern:5", run_dir=tmp_path / "t5"))
    assert st["fidelity.psnr"]["mean"] < old["metrics"]["student"]["fidelity.psnr"]["mean"] - 1.0


def test_role_dropped_from_a_rerun_is_not_reported(tmp_path):
    pack = teacher_pack(tmp_path / "p")
    with_teacher = run_eval(cfg(tmp_path, pack, teacher="pattern:5"))
    assert "teacher" in with_teacher["metrics"] and with_teacher["deltas"]
    alone = run_eval(cfg(tmp_path, pack, teacher=None))
    fresh = run_eval(cfg(tmp_path, pack, teacher=None, run_dir=tmp_path / "fresh"))
    assert set(alone["metrics"]) == set(alone["models"]) == {"student"} and alone["deltas"] == {}
    assert alone["metrics"] == fresh["metrics"]
    assert "flatbg.sigma_log_ratio" not in alone["metrics"]["student"]
    # nothing re-rendered; judged again without a reference: flatbg (6) and edit preservation (6)
    assert alone["timing"]["rendered"] == 0 and alone["timing"]["judged"] == 12


def test_edit_preservation_without_teacher_and_for_the_teacher(tmp_path):
    """Preservation (source vs result outside the edit) needs no teacher: it is measured for a
    student alone and for the teacher's own images, which gives a teacher-vs-student delta; a
    global edit has nothing to measure and is not re-judged on a re-run."""
    pack = teacher_pack(tmp_path / "p", judges=("fidelity",))
    alone = run_eval(cfg(tmp_path, pack, teacher=None, run_dir=tmp_path / "alone"))
    m = alone["metrics"]["student"]
    assert set(m) == {"fidelity.preservation"}      # no teacher: no ssim/psnr, and no failures
    assert m["fidelity.preservation"]["n"] == 3 and m["fidelity.preservation"]["failures"] == 0
    assert 0.0 < m["fidelity.preservation"]["mean"] < 1.0
    rerun = run_eval(cfg(tmp_path, pack, teacher=None, run_dir=tmp_path / "alone"))
    assert rerun["timing"]["judged"] == 0 and rerun["timing"]["judge_cached"] == 6

    both = run_eval(cfg(tmp_path, pack, teacher="pattern:5"))
    t = both["metrics"]["teacher"]
    assert set(t) == {"fidelity.preservation"} and t["fidelity.preservation"]["n"] == 3
    d = both["deltas"]["fidelity.preservation"]
    assert d["n"] == 3 and d["ci"][0] <= d["mean"] <= d["ci"][1]
    assert both["metrics"]["student"]["fidelity.ssim"]["n"] == 12
    db = sqlite3.connect(tmp_path / "run" / "results.db")
    # the global edit: the teacher abstains (the student still has ssim/psnr)
    assert db.execute("SELECT COUNT(*) FROM abstentions").fetchone()[0] == 3
    assert run_eval(cfg(tmp_path, pack, teacher="pattern:5"))["timing"]["judged"] == 0


def test_explicit_options_for_an_unselected_judge_are_an_error(tmp_path):
    from evalsuite.types import EvalsuiteError

    pack = write_pack(tmp_path / "p", n=1)
    opts = {"fidelity": {"edit_threshold": 8}}
    with pytest.raises(EvalsuiteError, match=r"judge 'fidelity' is not selected \(selected judges: mean\)"):
        run_eval(cfg(tmp_path, pack, judge_opts=opts, explicit_judge_opts=frozenset({"fidelity"})))
    # options that a flag gives every judge of a family (--vlm-url ...) are not explicit: ignored
    s = run_eval(cfg(tmp_path, pack, judge_opts={"vlm-t2i": {"url": "http://x"}}))
    assert set(s["metrics"]["student"]) == {"mean.brightness"}
