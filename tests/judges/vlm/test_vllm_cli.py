"""The issue's "Done when": `evalsuite run --pack P --judges vlm-... --vlm-url URL --vlm-model NAME`
against the REAL vLLM server (session fixture), on shipped packs, for every VLM judge.

Renders come from the cheap pattern renderer (tests/core/doubles.py): the judges, not the model,
are under test. Each run must exit 0 with every verdict counted (n, no failures), record the
judge's provenance and the model the server says answered, and a second run of the same command
must send the server no request at all (its /metrics request counter does not move).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalsuite.cli.main import main
from evalsuite.packs import load_pack
from evalsuite.store import RunStore
from judges.vlm.calibration import DEFECTS
from tests.judges.vlm.conftest import request_count

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def pattern_renderer():
    from evalsuite.registry import RENDERERS
    from tests.core.doubles import PatternRenderer

    RENDERERS.register("pattern", PatternRenderer)


def run_cli(url: str, model: str, run_dir: Path, pack: str, judges: str, *extra: str, limit: int = 2
            ) -> tuple[int, dict]:
    rc = main(["run", "--pack", pack, "--limit", str(limit), "--model", "pattern:0",
               "--judges", judges, "--vlm-url", url, "--vlm-model", model, "--vlm-timeout", "300",
               "--run-dir", str(run_dir), "--json", "--no-progress", *extra])
    return rc, json.loads((run_dir / "summary.json").read_text())


def vocab(model_dir: Path) -> int:
    """Logits per position (the tokenizer's vocabulary padded to a multiple of 64): asking for all
    of them lists every answer token, whatever the random weights."""
    return json.loads((model_dir / "config.json").read_text())["text_config"]["vocab_size"]


# judge: (pack, --limit, extra flags, requests per item)
CONFIGS = {
    "vlm-edit": ("edit", 2, [], 2),                                   # 2 cases x 2 seeds; SC and PQ
    "vlm-t2i": ("t2i-general", 1, [], 2),                             # 1 case x 4 seeds; SC and PQ
    "vlm-pairwise": ("typography", 2, ["--teacher", "pattern:5"], 2),  # both orders
    "vlm-yesno": ("typography", 1, [], 3),                            # 3 questions per case
}


@pytest.mark.parametrize("judge", list(CONFIGS))
def test_done_when_command_runs_each_judge_and_resumes(vllm_server, tmp_path, judge):
    url, model, model_dir = vllm_server
    pack, limit, extra, per_item = CONFIGS[judge]
    if judge == "vlm-yesno":     # the whole vocabulary: P(Yes) is readable whatever the random weights
        extra = [*extra, "--judge-opt", f"vlm-yesno.top_logprobs={vocab(model_dir)}"]
    cases = load_pack(pack).select(limit=limit).cases
    items = sum(len(c.seeds) for c in cases)
    assert items == (2 if judge == "vlm-yesno" else 4)
    assert judge != "vlm-yesno" or all(len(c.questions) == 3 for c in cases)
    if judge == "vlm-edit":
        assert all(c.kind == "edit" and c.source is not None for c in cases)
    run_dir = tmp_path / "run"

    before = request_count(url)
    rc, summary = run_cli(url, model, run_dir, pack, judge, *extra, limit=limit)
    assert request_count(url) - before == items * per_item       # every request reached the server once
    assert rc == 0, {k: v.get("errors") for k, v in summary["metrics"]["student"].items()}
    student = summary["metrics"]["student"]
    from evalsuite.registry import JUDGES

    for metric in JUDGES.get(judge).metrics:
        entry = student[f"{judge}.{metric}"]
        assert entry["n"] == items and entry["failures"] == 0, (metric, entry)
        assert entry["mean"] is not None
    counts = summary["vlm"][judge]["student"]
    assert counts["items"] == items and counts["failures"] == 0 and counts["error_kinds"] == {}
    if judge == "vlm-pairwise":
        assert counts["win"] + counts["tie"] + counts["loss"] == items
        assert counts["win_rate"] == pytest.approx((counts["win"] + counts["tie"] / 2) / items)
        assert counts["tie_rate"] == pytest.approx(counts["tie"] / items)
        assert sum(counts["categories"]["loss"].values()) == counts["loss"]
        assert "teacher" not in summary["vlm"][judge]            # the teacher is the reference
    assert summary["timing"]["judged"] == items

    # provenance: the judge's config in run.json, and in every verdict the judge model, prompt
    # hash, decoding, and the model the server says answered
    run_json = json.loads((run_dir / "run.json").read_text())
    desc = next(j for j in run_json["judges"] if j["name"] == judge)
    assert desc["config"]["model"] == model and desc["config"]["image_format"] == "PNG"
    assert len(desc["config"]["prompt_hash"]) == 16 and desc["config"]["temperature"] == 0.0
    # the fingerprint holds what the server reported at preflight (GET /v1/models)
    assert desc["fingerprint"]["served_model"] == model and desc["fingerprint"]["served_root"] == model
    store = RunStore(run_dir)
    try:
        verdicts = list(store.verdicts_for("student", [desc["id"]]))
    finally:
        store.close()
    assert len(verdicts) == items * len(JUDGES.get(judge).metrics)
    for v in verdicts:
        d = v["detail"]
        assert d["judge_model"] == model and d["prompt_hash"] == desc["config"]["prompt_hash"]
        assert d["backend"] == "openai" and d["decoding"]["max_tokens"] == desc["config"]["max_tokens"]
        assert d["replies"] and all(r["model"] == model and r["attempts"] == 1 and r["prompt_tokens"] > 0
                                    for r in d["replies"])

    # the same command again: everything cached, nothing sent
    before = request_count(url)
    rc2, again = run_cli(url, model, run_dir, pack, judge, *extra, limit=limit)
    assert rc2 == 0 and request_count(url) == before
    assert again["timing"]["judged"] == 0 and again["timing"]["judge_cached"] == items
    assert again["metrics"]["student"] == student
    print(judge, json.dumps({k: (v["mean"], v["n"], v["failures"]) for k, v in student.items()}),
          json.dumps(summary["vlm"]))


# (pack, judges, calibration requests per pair)
CALIBRATION = {"vlm-t2i": ("typography", 4), "vlm-edit": ("edit", 4), "vlm-pairwise": ("typography", 4)}


def test_calibration_per_run(vllm_server, tmp_path):
    """--vlm-calibrate 2 after a run: 2 known pairs per judge with the same backend, the report in
    summary.json (random weights: accuracy is whatever it is; structure, n and failures are
    exact), cached for the next run."""
    url, model, _ = vllm_server
    n = 2
    for judge, (pack, per_pair) in CALIBRATION.items():
        run_dir = tmp_path / judge
        extra = ["--teacher", "pattern:5"] if judge == "vlm-pairwise" else []
        before = request_count(url)
        rc, summary = run_cli(url, model, run_dir, pack, judge, "--vlm-calibrate", str(n), *extra)
        sent = request_count(url) - before
        judged = summary["timing"]["judged"] * 2          # SC and PQ, or both pairwise orders
        assert sent == judged + n * per_pair, (judge, sent)
        cal = summary["calibration"][judge]
        trials = n * (2 if judge == "vlm-pairwise" else 1)        # pairwise asks each pair both ways round
        assert cal["n"] + cal["failures"] == trials and cal["cached"] is False
        assert cal["failures"] == 0 and rc == 0, cal
        assert cal["accuracy"] is not None and 0.0 <= cal["accuracy"] <= 1.0
        assert cal["accuracy"] == pytest.approx(cal["correct"] / cal["n"])
        assert set(cal["per_defect"]) <= set(DEFECTS)
        assert sum(d["n"] + d["failures"] for d in cal["per_defect"].values()) == trials
        assert cal["judge_id"] == next(j["id"] for j in json.loads((run_dir / "run.json").read_text())["judges"])
        # again: the run and the calibration are both cached
        before = request_count(url)
        rc2, again = run_cli(url, model, run_dir, pack, judge, "--vlm-calibrate", str(n), *extra)
        assert request_count(url) == before and rc2 == 0
        assert again["calibration"][judge]["cached"] is True
        assert {k: v for k, v in again["calibration"][judge].items() if k != "cached"} == \
               {k: v for k, v in cal.items() if k != "cached"}
