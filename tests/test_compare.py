"""Run reading and paired comparison: deltas, win rates, per tag, sweeps and recipe verdicts."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from evalsuite.cli.main import main
from evalsuite.compare import (Side, best_checkpoints, compare_sides, load_run, load_sweep, parse_side,
                               recipe_verdicts, sweep_curves)
from evalsuite.types import EvalsuiteError
from tests.reports.make_run import judge_id, make_run, make_sweep


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cmp")
    return {"a": make_run(root / "a", n_cases=20, seed=0),
            "b": make_run(root / "b", n_cases=20, seed=0, quality={"student": 0.3})}


def test_load_run_reads_the_documented_format(runs):
    r = load_run(runs["a"])
    assert r.roles == ["teacher", "student"]
    assert len(r.items["student"]) == 40 and len(r.cases) == 20
    assert r.failures("student", "vlm-t2i.overall") == 8      # every 5th case, 2 seeds
    assert len(r.values("student", "diversity.lpips_spread")) == 20 and all(
        k[1] == -1 for k in r.values("student", "diversity.lpips_spread"))
    assert r.higher_is_better("ocr.word_recall") and not r.higher_is_better("flatbg.noise_sigma")
    assert r.latency_ms == {"teacher": pytest.approx(654.0), "student": pytest.approx(47.0)}
    assert r.source_path("case-0000") is not None and r.source_path("case-0005") is None


def _with_extra_verdicts(src: Path, dest: Path, rows) -> tuple:
    """A copy of run `src` at `dest` with extra verdict rows for its first student image; `rows`
    are (judge_id, ref_hash, metric, judge, value, ok, error). Returns (run before, run after)."""
    import shutil
    shutil.copytree(src, dest)
    r0 = load_run(dest)
    (cid, seed), ih = next(iter(r0.items["student"].items()))
    chash = r0.cases[cid]["case_hash"]
    db = sqlite3.connect(dest / "results.db")
    with db:
        for jid, ref, metric, judge, value, ok, error in rows:
            db.execute("INSERT INTO verdicts VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                       (jid, ih, ref, chash, seed, metric, judge, value, ok, error, "{}", 0))
    db.close()
    return r0, load_run(dest)


def test_stale_verdicts_are_ignored(runs, tmp_path):
    # an older judge version, and a verdict judged against a teacher image that is not this run's
    r0, r = _with_extra_verdicts(runs["a"], tmp_path / "stale", [
        ("ocr@v0:old", "", "word_recall", "ocr", 0.123, 1, None),
        (judge_id("flatbg"), "not-the-teacher", "noise_sigma", "flatbg", 99.0, 1, None)])
    assert r.values("student", "ocr.word_recall") == r0.values("student", "ocr.word_recall")
    assert 99.0 not in r.values("student", "flatbg.noise_sigma").values()


def test_verdicts_from_before_the_teacher_was_added_are_not_counted(runs, tmp_path):
    """The rule of store.current_reference: once a (judge, case, seed) has a verdict against the current
    teacher image, its verdict made without a teacher (ref_hash '') no longer counts."""
    r0, r = _with_extra_verdicts(runs["a"], tmp_path / "before-teacher", [
        (judge_id("flatbg"), "", "noise_sigma", "flatbg", None, 0, "old error")])
    assert r.failures("student", "flatbg.noise_sigma") == r0.failures("student", "flatbg.noise_sigma")
    assert r.values("student", "flatbg.noise_sigma") == r0.values("student", "flatbg.noise_sigma")


def test_paired_delta_and_win_rate_match_a_direct_computation(runs):
    a, b = Side("a", load_run(runs["a"])), Side("b", load_run(runs["b"]))
    deltas = {d.key: d for d in compare_sides(a, b)}
    d = deltas["ocr.word_recall"]
    va, vb = a.values("ocr.word_recall"), b.values("ocr.word_recall")
    keys = sorted(va)
    diff = np.array([vb[k] - va[k] for k in keys])
    assert d.n == 40 and d.delta == pytest.approx(diff.mean())
    assert (d.wins, d.losses, d.ties) == (int((diff > 0).sum()), int((diff < 0).sum()), int((diff == 0).sum()))
    assert d.better == "a" and d.ci[1] < 0
    # per tag: the four content tags partition the cases
    assert sum(t.n for name, t in d.per_tag.items() if name in ("single-word", "multi-word", "small-text", "number")) == 40
    # identical runs: zero delta, not significant
    same = {x.key: x for x in compare_sides(a, Side("a2", load_run(runs["a"])))}
    assert same["ocr.word_recall"].delta == 0 and same["ocr.word_recall"].better is None


def test_parse_side_roles(runs):
    s = parse_side(f"{runs['a']}@teacher")
    assert s.role == "teacher" and s.label == "a@teacher"
    with pytest.raises(EvalsuiteError, match="no role 'judge'"):
        parse_side(f"{runs['a']}@judge")


def test_compare_cli_json_and_errors(runs, tmp_path, capsys):
    rc = main(["compare", str(runs["a"]), str(runs["b"]), "--json", "--metrics", "ocr.*", "--per-tag",
               "--markdown", str(tmp_path / "c.md")])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    keys = [m["key"] for m in out["comparisons"][0]["metrics"]]
    assert keys == ["ocr.ned", "ocr.word_recall"]
    assert out["comparisons"][0]["metrics"][1]["better"] == "a"
    assert "| ocr.word_recall |" in (tmp_path / "c.md").read_text()
    assert main(["compare", str(runs["a"])]) == 2
    assert main(["compare", str(runs["a"]), str(tmp_path / "missing")]) == 2


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sweeps")
    mixed = make_sweep(root / "mixed", "mixed", [100, 200, 300], n_cases=30, start_quality=0.3, end_quality=0.45, seed=5)
    clean = make_sweep(root / "clean", "clean-only", [100, 200, 300], n_cases=30, start_quality=0.4, end_quality=0.95)
    return mixed, clean


def test_sweep_curves_and_best_checkpoint(sweeps):
    s = load_sweep(sweeps[1])
    curves = sweep_curves(s)["ocr.word_recall"]["clean-only"]
    assert [p["step"] for p in curves] == [100, 200, 300]
    assert curves[-1]["mean"] > curves[0]["mean"]
    best = {(b.key, b.recipe): b for b in best_checkpoints(s)}
    assert best[("ocr.word_recall", "clean-only")].step == 300
    # lower is better for noise, which falls with training in make_sweep
    noise = best[("flatbg.noise_sigma", "clean-only")]
    assert noise.step == 300 and noise.mean == pytest.approx(min(p["mean"] for p in sweep_curves(s)["flatbg.noise_sigma"]["clean-only"]))
    assert s.teacher_values("ocr.word_recall") is not None


def test_recipe_verdict_sentence(sweeps, capsys):
    verdicts = {v.key: v for v in recipe_verdicts([load_sweep(p) for p in sweeps])}
    v = verdicts["ocr.word_recall"]
    assert (v.a, v.b) == ("mixed", "clean-only") and v.delta.better == "b"
    assert v.sentence().startswith("clean-only beats mixed on ocr.word_recall by +")
    assert main(["compare", str(sweeps[0]), str(sweeps[1])]) == 0
    assert "clean-only beats mixed on ocr.word_recall" in capsys.readouterr().out.replace("\n", "")


def test_pairing_leaves_out_cases_whose_content_changed(tmp_path, capsys):
    """Same case id, other content (an edited pack): not a pair. Counted, reported, never compared."""
    a_dir = make_run(tmp_path / "a", n_cases=20, seed=0)
    b_dir = make_run(tmp_path / "b", n_cases=20, seed=0, quality={"student": 0.3},
                     prompts={i: f"an edited prompt {i}" for i in range(5)})
    a, b = Side("a", load_run(a_dir)), Side("b", load_run(b_dir))
    assert a.run.case_hash("student", ("case-0000", 0)) != b.run.case_hash("student", ("case-0000", 0))
    assert a.run.case_hash("student", ("case-0007", 1)) == b.run.case_hash("student", ("case-0007", 1))
    deltas = {d.key: d for d in compare_sides(a, b)}
    d = deltas["ocr.word_recall"]
    va, vb = a.values("ocr.word_recall"), b.values("ocr.word_recall")
    kept = sorted(k for k in va if int(k[0][5:]) >= 5)
    assert d.n == 30 == len(kept) and d.excluded == 10
    assert d.delta == pytest.approx(np.mean([vb[k] - va[k] for k in kept]))
    assert sum(t.n for name, t in d.per_tag.items() if name in ("single-word", "multi-word", "small-text", "number")) == 30
    # case-level metrics (one value per case) are left out per case
    assert deltas["diversity.lpips_spread"].n == 15 and deltas["diversity.lpips_spread"].excluded == 5
    assert main(["compare", str(a_dir), str(b_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["comparisons"][0]
    assert out["excluded_pairs"] == 10 and out["excluded_cases"] == [f"case-{i:04d}" for i in range(5)]
    assert {m["key"]: m["excluded"] for m in out["metrics"]}["ocr.word_recall"] == 10
    assert main(["compare", str(a_dir), str(b_dir), "--markdown", str(tmp_path / "c.md")]) == 0
    printed = capsys.readouterr().out.replace("\n", " ")
    assert "warning:" in printed and "10 (case, seed) pairs of 5 case(s) left out" in printed
    assert "left out of b − a" in (tmp_path / "c.md").read_text()
    # every case edited: nothing to pair, a one-line error that says why
    c_dir = make_run(tmp_path / "c", n_cases=20, seed=0, prompts={i: f"new {i}" for i in range(20)})
    assert main(["compare", str(a_dir), str(c_dir)]) == 2
    assert "case content differs" in capsys.readouterr().err.replace("\n", " ")


def test_compare_ci_resamples_cases(runs):
    """The delta's CI is the bootstrap over cases of the per-case mean differences (2 seeds each)."""
    from evalsuite.stats import mean_ci

    a, b = Side("a", load_run(runs["a"])), Side("b", load_run(runs["b"]))
    d = {x.key: x for x in compare_sides(a, b, per_tag=False)}["ocr.word_recall"]
    va, vb = a.values("ocr.word_recall"), b.values("ocr.word_recall")
    cases = sorted({k[0] for k in va})
    per_case = [np.mean([vb[k] - va[k] for k in va if k[0] == c]) for c in cases]
    assert (d.n, d.n_cases) == (40, 20)
    assert (d.delta, *d.ci) == pytest.approx(mean_ci(per_case), abs=1e-12)   # same draws, same numbers
    assert 0 < d.p_value < 0.05 and d.mde > 0


def test_pick_best_is_selected_and_tested_on_different_cases(sweeps):
    from evalsuite.compare import split_cases

    sw = [load_sweep(p) for p in sweeps]
    all_cases = {c for s in sw for cp in s.checkpoints for c in cp.run.cases}
    sel, test = split_cases(all_cases)
    assert sel | test == all_cases and not sel & test and abs(len(sel) - len(test)) <= 1
    v = {x.key: x for x in recipe_verdicts(sw)}["ocr.word_recall"]
    assert v.pick == "best" and v.delta.n_cases == len(test) and not v.delta.selected_on_test
    # the delta is measured on the held-out cases only, of the checkpoints picked on the others
    cp_a = next(cp for cp in sw[0].checkpoints if cp.name == v.a_checkpoint)
    cp_b = next(cp for cp in sw[1].checkpoints if cp.name == v.b_checkpoint)
    va, vb = cp_a.run.values("student", "ocr.word_recall"), cp_b.run.values("student", "ocr.word_recall")
    keys = [k for k in va if k[0] in test and k in vb]
    assert v.delta.delta == pytest.approx(np.mean([vb[k] - va[k] for k in keys]))
    assert "held-out cases" in v.sentence()
    # picked and compared on the same cases: reported without a significance claim
    t = {x.key: x for x in recipe_verdicts(sw, pick="best-on-test")}["ocr.word_recall"]
    assert t.delta.selected_on_test and t.delta.better is None and t.delta.n_cases == len(all_cases)
    assert "selected on test, no significance claim" in t.sentence()
    with pytest.raises(EvalsuiteError, match="--pick worst"):
        recipe_verdicts(sw, pick="worst")
