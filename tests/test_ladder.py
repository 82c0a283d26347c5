"""Ladder curves: per-bucket means with case-clustered CIs; the first break is named only where the
CI of student - teacher lies on the worse side of zero."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evalsuite.ladder import ladder_curve, ladder_lines, ladder_section, pack_ladder_curves

ORDER = ["len:1", "len:2-3", "len:4-8"]


def data(deltas: dict[str, list[float]], seeds: int = 2) -> tuple[dict, dict, dict]:
    """Bucket map and {(case, seed): value} for teacher and student (student = teacher + delta)."""
    buckets, teacher, student = {}, {}, {}
    for tag, ds in deltas.items():
        for i, d in enumerate(ds):
            cid = f"{tag}-{i}"
            buckets[cid] = tag
            base = 0.5 + 0.02 * i
            for sd in range(seeds):
                teacher[(cid, sd)] = base
                student[(cid, sd)] = base + d
    return buckets, teacher, student


def test_first_break_is_first_bucket_whose_ci_is_below_zero() -> None:
    b, t, s = data({"len:1": [0.1, -0.1] * 5,            # mean 0: CI straddles 0
                    "len:2-3": [-0.5, 0.3] * 5,           # mean -0.1, CI includes 0: worse point, no break
                    "len:4-8": [-0.3] * 10})              # every case 0.3 worse: CI [-0.3, -0.3]
    curve = ladder_curve("length", ORDER, b, t, s)
    assert [x.n for x in curve.buckets] == [10, 10, 10]
    first, second, third = curve.buckets
    assert first.delta.mean == pytest.approx(0.0) and not first.below
    assert second.delta.mean == pytest.approx(-0.1) and second.worse_point and not second.below
    assert second.delta.lo < 0 < second.delta.hi
    assert tuple(third.delta) == pytest.approx((-0.3, -0.3, -0.3)) and third.below
    assert curve.first_break == "len:4-8"
    # teacher means per bucket: 0.5 + 0.02 * mean(0..9) = 0.59
    assert third.teacher.mean == pytest.approx(0.59) and third.student.mean == pytest.approx(0.29)
    assert third.delta.n_images == 20


def test_seeds_are_nested_in_cases() -> None:
    """More (identical) seeds per case do not narrow the CI: cases, not images, are resampled."""
    deltas = {"len:1": [-0.2, 0.1, -0.3, 0.0, -0.1, 0.05]}
    one = ladder_curve("length", ["len:1"], *data(deltas, seeds=1))
    eight = ladder_curve("length", ["len:1"], *data(deltas, seeds=8))
    assert tuple(one.buckets[0].delta) == pytest.approx(tuple(eight.buckets[0].delta))
    assert one.buckets[0].delta.lo < one.buckets[0].delta.hi


def test_failures_are_left_out_and_lower_is_better_flips() -> None:
    b, t, s = data({"len:1": [0.4] * 6, "len:2-3": [0.0] * 6})
    s[("len:1-0", 0)] = float("nan")                  # a failed image: its pair is left out
    del s[("len:1-0", 1)]                             # ... or absent
    curve = ladder_curve("length", ORDER, b, t, s, higher_is_better=False)
    assert curve.buckets[0].n == 5 and curve.buckets[0].below and curve.first_break == "len:1"
    assert curve.buckets[2].n == 0 and math.isnan(curve.buckets[2].delta.mean)
    # higher is better: +0.4 is an improvement, no break anywhere
    assert ladder_curve("length", ORDER, b, t, s).first_break is None


def test_single_case_bucket_is_never_a_break() -> None:
    b, t, s = data({"len:1": [-0.9]})
    assert ladder_curve("length", ORDER, b, t, s).first_break is None


def test_pack_ladder_curves_buckets_cases_by_tags() -> None:
    ladders = {"length": ORDER, "size": ["size:large", "size:small"]}
    tags = {"a": ["len:1", "size:large", "numbers"], "b": ["len:1", "size:small"], "c": ["len:4-8", "size:small"]}
    t = {("a", 0): 1.0, ("b", 0): 1.0, ("c", 0): 1.0}
    s = {("a", 0): 1.0, ("b", 0): 0.0, ("c", 0): 0.0}
    length, size = pack_ladder_curves(ladders, tags, t, s)
    assert [x.n for x in length.buckets] == [2, 0, 1]
    assert [x.n for x in size.buckets] == [1, 2]
    assert tuple(size.buckets[1].delta) == pytest.approx((-1.0, -1.0, -1.0)) and size.first_break == "size:small"


def test_section_matches_an_independent_case_bootstrap() -> None:
    """The summary section's bucket means and CIs equal a direct computation: per case, the mean
    over seeds of student - teacher; resample cases (numpy, same generator and seed as the
    percentile bootstrap); equal seeds per case make image-weighted and case means agree."""
    rng = np.random.default_rng(3)
    tags = {f"c{i}": ["small" if i % 2 else "large"] for i in range(14)}
    t = {(c, sd): float(rng.uniform(0.5, 1.0)) for c in tags for sd in range(3)}
    s = {k: v - (0.3 if tags[k[0]] == ["small"] else 0.0) + float(rng.normal(0, 0.05)) for k, v in t.items()}
    sec = ladder_section({"size": ["large", "small"]}, tags, {"ocr.ned": t}, {"ocr.ned": s}, {"ocr.ned": True})
    curve = sec["size"]["metrics"]["ocr.ned"]
    assert sec["size"]["first_break"] == {"ocr.ned": "small"} and curve["first_break"] == "small"
    for i, bucket in enumerate(curve["buckets"]):
        cases = sorted(c for c in tags if tags[c] == [bucket["tag"]])
        per_case = np.array([np.mean([s[(c, sd)] - t[(c, sd)] for sd in range(3)]) for c in cases])
        idx = np.random.default_rng(i).integers(0, len(cases), size=(2000, len(cases)))
        boots = per_case[idx].mean(axis=1)
        lo, hi = np.quantile(boots, [0.025, 0.975])
        assert bucket["n_cases"] == 7 and bucket["n_images"] == 21
        assert bucket["delta"]["mean"] == pytest.approx(per_case.mean(), abs=1e-6)
        assert bucket["delta"]["ci"] == pytest.approx([lo, hi], abs=1e-6)
        assert bucket["teacher"]["mean"] == pytest.approx(np.mean([t[(c, sd)] for c in cases for sd in range(3)]), abs=1e-6)
        assert bucket["student"]["mean"] - bucket["teacher"]["mean"] == pytest.approx(bucket["delta"]["mean"], abs=2e-6)
    assert curve["buckets"][0]["below"] is False and curve["buckets"][1]["below"] is True
    (line,) = ladder_lines(sec)
    assert line.startswith("ladder size (large > small): first break at small (ocr.ned)")


def test_run_writes_ladders_to_summary_and_prints_the_first_break(tmp_path, capsys) -> None:
    """A real run (runner, store, summary; doubles for the model and judge) of a pack with a ladder:
    summary.json's per-bucket numbers equal a direct computation from results.db, and the console
    names the first break."""
    import json

    from evalsuite.cli.main import main
    from evalsuite.registry import JUDGES, RENDERERS
    from evalsuite.store import RunReader
    from tests.core.conftest import write_pack
    from tests.core.doubles import MeanJudge, PatternRenderer

    RENDERERS.register("pattern", PatternRenderer)
    JUDGES.register("mean", MeanJudge)
    pack = write_pack(tmp_path / "pack", n=12, seeds=(0, 1, 2))
    rows = [json.loads(r) for r in (pack / "cases.jsonl").read_text().splitlines()]
    for i, r in enumerate(rows):
        r["tags"].append(["easy", "mid", "hard"][i % 3])
    (pack / "cases.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with open(pack / "pack.yaml", "a") as f:
        f.write("tags: {even: e, odd: o, easy: e, mid: m, hard: h}\nladders:\n  difficulty: [easy, mid, hard]\n")
    run_dir = tmp_path / "run"
    rc = main(["run", "--model", "pattern:0", "--teacher", "pattern:3", "--pack", str(pack),
               "--run-dir", str(run_dir), "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "ladder difficulty (easy > mid > hard): first break at easy (mean.brightness)" in " ".join(out.split())
    summary = json.loads((run_dir / "summary.json").read_text())
    lad = summary["ladders"]["difficulty"]
    assert lad["buckets"] == ["easy", "mid", "hard"] and lad["first_break"] == {"mean.brightness": "easy"}
    with RunReader(run_dir) as rd:
        vals = {role: {(v.case_id, v.seed): v.value for v in rd.verdicts(role, [JUDGES.get("mean")().judge_id()])}
                for role in ("student", "teacher")}
    for i, b in enumerate(lad["metrics"]["mean.brightness"]["buckets"]):
        cases = [r["id"] for r in rows if b["tag"] in r["tags"]]
        d = np.array([np.mean([vals["student"][(c, s)] - vals["teacher"][(c, s)] for s in range(3)]) for c in cases])
        boots = d[np.random.default_rng(i).integers(0, len(cases), size=(2000, len(cases)))].mean(axis=1)
        assert b["n_cases"] == 4 and b["n_images"] == 12 and b["below"]
        assert b["delta"]["mean"] == pytest.approx(d.mean(), abs=1e-6)
        assert b["delta"]["ci"] == pytest.approx(list(np.quantile(boots, [0.025, 0.975])), abs=1e-6)
        for role in ("student", "teacher"):
            assert b[role]["mean"] == pytest.approx(np.mean([vals[role][(c, s)] for c in cases for s in range(3)]), abs=1e-6)
