"""VIEScore parity (aggregation on known replies), ties as ties, the judge fingerprint, the endpoint
preflight and the fingerprint refusal in compare and gate (against the scripted double)."""

from __future__ import annotations

import json
import math
import re

import pytest

from evalsuite.cli.main import main
from evalsuite.judge_fingerprint import (
    check_judge_match,
    fingerprint_mismatch,
    judge_mismatches,
    run_fingerprints,
)
from evalsuite.runner import judge_verdicts
from evalsuite.types import EvalsuiteError
from judges.vlm.common import parse_reply, reply_regex
from judges.vlm.edit import VLMEditJudge
from judges.vlm.pairwise import VLMPairwiseJudge, student_view
from judges.vlm.preflight import check_endpoint, models_url
from judges.vlm.run_summary import win_rate_summary
from judges.vlm.t2i import VLMT2IJudge
from judges.vlm.viescore import (
    PQ_FIELDS,
    edit_metrics,
    overall,
    perceptual_quality,
    round_outcome,
    semantic_consistency,
    t2i_metrics,
    win_score,
)
from judges.vlm.yesno import VLMYesNoJudge
from tests.fixtures.scripted_server import Reply, ScriptedServer, chat_reply
from tests.judges.vlm.test_vlm_fast import t2i_json

PACK = "typography-mini"
PQ = {"reasoning": "r", "naturalness": 7, "artifacts": 3, "grain_on_flat_areas": True, "malformed_letters": True,
      "grid_pattern": False, "oversaturation": False}


@pytest.fixture(autouse=True)
def pattern_renderer():
    from evalsuite.registry import RENDERERS
    from tests.core.doubles import PatternRenderer

    RENDERERS.register("pattern", PatternRenderer)


# --- VIEScore aggregation ----------------------------------------------------------------------------
def test_sc_pq_overall_as_published():
    assert semantic_consistency([8]) == 8.0 and semantic_consistency([9, 4]) == 4.0
    assert perceptual_quality(7, 3) == 3.0 and perceptual_quality(2, 9) == 2.0
    assert overall(4, 9) == 6.0 and overall(0, 10) == 0.0 and overall(10, 10) == 10.0
    with pytest.raises(ValueError):
        semantic_consistency([])
    t = t2i_metrics({"reasoning": "r", "prompt_following": 9}, PQ)
    assert t == {"semantic_consistency": 9.0, "naturalness": 7.0, "artifact_free": 3.0, "perceptual_quality": 3.0,
                 "defect_flags": 2.0, "overall": pytest.approx(math.sqrt(27))}
    e = edit_metrics({"reasoning": "r", "editing_success": 10, "minimal_edit": 2}, PQ)
    # SC is the minimum: a perfect edit that also repaints the whole scene scores 2, not 10
    assert e["semantic_consistency"] == 2.0 and e["edit_success"] == 10.0 and e["minimal_edit"] == 2.0
    assert e["overall"] == pytest.approx(math.sqrt(2 * 3))


def test_pq_ignores_the_defect_flags():
    flagged = {**PQ, "naturalness": 9, "artifacts": 9, "grid_pattern": True, "oversaturation": True}
    m = t2i_metrics({"reasoning": "r", "prompt_following": 9}, flagged)
    assert m["perceptual_quality"] == 9.0 and m["defect_flags"] == 4.0


def test_reasoning_is_read_and_kept_but_scores_are_still_strict():
    reply = parse_reply(json.dumps(PQ), PQ_FIELDS)
    assert reply["reasoning"] == "r" and reply["artifacts"] == 3
    # a raw control character in the reasoning (xgrammar's JSON-schema grammar lets one through)
    raw = json.dumps({**PQ, "reasoning": "ab"}).replace("ab", "a\x11b")
    assert parse_reply(raw, PQ_FIELDS)["reasoning"] == "a\x11b"
    # the regex sent by default admits none: the reply stays a valid strict JSON string
    assert not re.fullmatch(reply_regex(PQ_FIELDS), raw)
    assert re.fullmatch(reply_regex(PQ_FIELDS), json.dumps({**PQ, "reasoning": "ünïcode ok, 中文"}, ensure_ascii=False))
    with pytest.raises(Exception, match="reasoning"):
        parse_reply(json.dumps({k: v for k, v in PQ.items() if k != "reasoning"}), PQ_FIELDS)


def test_ties_are_ties_and_count_half():
    # both orders must agree for a win or a loss; a win plus a tie is a tie, not a win
    assert round_outcome(1, 1) == 1 and round_outcome(-1, -1) == -1
    assert round_outcome(1, 0) == 0 and round_outcome(0, -1) == 0 and round_outcome(1, -1) == 0
    assert round_outcome(0, 0) == 0
    assert [win_score(o) for o in (1, 0, -1)] == [1.0, 0.5, 0.0]


def test_run_win_rate_counts_ties_half_with_a_case_clustered_ci():
    def row(case, outcome):
        return {"case_id": case, "detail": {"outcome": outcome}}

    # case a: 3 wins; case b: 1 tie, 2 losses -> (3 + 0.5) / 6 images
    rows = [row("a", "win")] * 3 + [row("b", "tie"), row("b", "loss"), row("b", "loss")]
    r = win_rate_summary(rows)
    assert r["win_rate"] == pytest.approx(3.5 / 6) and r["tie_rate"] == pytest.approx(1 / 6) and r["n_cases"] == 2
    # two cases: the resamples are {a,a} 1.0, {a,b} 7/12 and {b,b} 1/6 -> the interval spans them
    assert r["win_rate_ci"] == pytest.approx([1 / 6, 1.0])
    assert win_rate_summary([]) == {"win_rate": None, "win_rate_ci": None, "tie_rate": None, "n_cases": 0}


def test_pairwise_win_plus_tie_is_a_tie_through_the_judge():
    from tests.judges.vlm.test_vlm_fast import BLUE, CASE, RED, colour, decode_images, item

    def script(body, n):   # teacher (red) first -> "second" (the student wins); student first -> "tie"
        teacher_first = colour(decode_images(body)[0]) == "red"
        return Reply(body=chat_reply(json.dumps({"reasoning": "r", "better": "second" if teacher_first else "tie",
                                                 "category": "noise"})))

    with ScriptedServer(script) as s:
        j = VLMPairwiseJudge(url=s.url, model="judge-m")
        vs = {v.metric: v for v in judge_verdicts(j, [item(CASE, BLUE, teacher=RED)])}
        first = s.requests[0]
    assert vs["win_rate"].detail["rounds"][0]["views"] == {"teacher_first": 1, "student_first": 0}
    assert vs["win_rate"].value == 0.5 and vs["tie_rate"].value == 1.0 and vs["swap_agreement"].value == 0.0
    assert vs["win_rate"].detail["outcome"] == "tie" and vs["win_rate"].detail["category"] == "none"
    assert student_view("teacher_first", "second") == 1 and first["structured_outputs"]["regex"].startswith(
        r'\{"reasoning": ')


# --- fingerprint -------------------------------------------------------------------------------------
def test_fingerprint_fields_and_cache_key():
    j = VLMT2IJudge(url="http://h:1/v1", model="m", revision="abc", temperature=0.2)
    fp = j.fingerprint()
    assert set(fp) == {"judge", "version", "backend", "model", "revision", "served_model", "served_root",
                       "served_revision", "prompts", "prompt_hash", "image_format", "temperature", "max_tokens",
                       "seed", "repeats", "structured"}
    assert fp["judge"] == "vlm-t2i" and fp["version"] == 2 and fp["temperature"] == 0.2 and fp["revision"] == "abc"
    assert j.describe()["fingerprint"] == fp and j.cache_config() == fp
    before = j.judge_id()
    j.served = {"served_model": "m", "served_root": "/models/m", "served_revision": None}
    assert j.judge_id() != before            # what the server serves is part of the cache key
    assert VLMYesNoJudge(url="u", model="m").fingerprint()["top_logprobs"] == 20
    assert {VLMT2IJudge.version, VLMEditJudge.version, VLMPairwiseJudge.version, VLMYesNoJudge.version} == {2}


def test_fingerprint_mismatch_names_the_fields():
    a = VLMT2IJudge(url="u", model="m").fingerprint()
    assert fingerprint_mismatch(a, dict(a)) == []
    b = {**a, "temperature": 0.7, "served_root": "/other"}
    assert fingerprint_mismatch(a, b) == ["served_root: None != '/other'", "temperature: 0.0 != 0.7"]
    assert fingerprint_mismatch(a, {k: v for k, v in a.items() if k != "seed"}) == ["seed: 0 != None"]


def run_json(**fp_changes) -> dict:
    j = VLMT2IJudge(url="u", model="m")
    d = j.describe()
    d["fingerprint"] = {**d["fingerprint"], **fp_changes}
    return {"judges": [d, {"name": "ocr", "version": 3, "metrics": {"exact_match": {}}}]}


def test_judge_mismatches_and_the_refusal():
    a, b = run_json(), run_json(prompt_hash="0" * 16)
    assert run_fingerprints(a).keys() == {"vlm-t2i"}
    assert judge_mismatches(a, a) == {}
    assert list(judge_mismatches(a, b)) == ["vlm-t2i"]
    assert judge_mismatches(a, b, metrics=["ocr.*"]) == {}             # VLM metrics not compared
    assert list(judge_mismatches(a, b, metrics=["vlm-t2i.overall"])) == ["vlm-t2i"]
    with pytest.raises(EvalsuiteError, match=r"vlm-t2i: prompt_hash: '[0-9a-f]{16}' != '0{16}'.*--allow-judge-mismatch") as e:
        check_judge_match("A", a, "B", b)
    assert e.value.exit_code == 2 and "\n" not in str(e.value)
    assert list(check_judge_match("A", a, "B", b, allow=True)) == ["vlm-t2i"]
    assert judge_mismatches(a, {"judges": []}) == {}                     # judge in one run only: nothing to compare
    old = {"judges": [{"name": "vlm-t2i", "version": 1, "metrics": {"overall": {}}}]}    # v1: no fingerprint
    assert judge_mismatches(old, a) == {"vlm-t2i": ["fingerprint: recorded in run B only (judged by an older version?)"]}


# --- preflight ---------------------------------------------------------------------------------------
def test_check_endpoint_paths():
    assert models_url("http://h:1") == "http://h:1/v1/models" == models_url("http://h:1/v1/")
    with ScriptedServer(models=[{"id": "other", "root": "/w/other"}, {"id": "judge-m", "root": "/w/j"}]) as s:
        assert check_endpoint(s.url, "judge-m") == {"id": "judge-m", "root": "/w/j"}
        with pytest.raises(EvalsuiteError, match=r"serves 'other', 'judge-m', not --vlm-model 'nope'") as e:
            check_endpoint(s.url, "nope")
        assert e.value.exit_code == 2 and s.requests == []
    with ScriptedServer(models=Reply(500, "boom")) as s:
        with pytest.raises(EvalsuiteError, match="HTTP 500"):
            check_endpoint(s.url, "judge-m")
    with ScriptedServer(models=Reply(200, "<html>")) as s:
        with pytest.raises(EvalsuiteError, match="did not return an OpenAI model list"):
            check_endpoint(s.url, "judge-m")
    with pytest.raises(EvalsuiteError, match="unreachable") as e:
        check_endpoint("http://127.0.0.1:9/v1", "judge-m", timeout=2)
    assert "\n" not in str(e.value)


def test_preflight_records_what_the_server_serves():
    with ScriptedServer(models=[{"id": "judge-m", "root": "/w/judge", "revision": "r9"}]) as s:
        j = VLMEditJudge(url=s.url, model="judge-m")
        j.preflight()
        assert s.model_gets == 1
    assert j.fingerprint()["served_root"] == "/w/judge" and j.fingerprint()["served_revision"] == "r9"
    local = VLMT2IJudge(backend="transformers", model="/nonexistent/folder")
    local.preflight()       # in-process backends: no server to ask, the folder is the served root
    assert local.served["served_model"] == "/nonexistent/folder" and local.served["served_root"] is None


def cli_run(url: str, run_dir, *extra: str, model: str = "judge-m") -> int:
    return main(["run", "--pack", PACK, "--limit", "1", "--model", "pattern:0", "--judges", "vlm-t2i",
                 "--vlm-url", url, "--vlm-model", model, "--vlm-timeout", "10", "--run-dir", str(run_dir),
                 "--no-progress", *extra])


@pytest.mark.parametrize("problem", ["unreachable", "other_model"])
def test_run_stops_before_rendering_on_a_bad_endpoint(tmp_path, capsys, problem):
    if problem == "unreachable":
        rc = cli_run("http://127.0.0.1:9/v1", tmp_path / "r")
        want = "endpoint unreachable"
    else:
        with ScriptedServer(models=[{"id": "qwen-vl"}]) as s:
            rc = cli_run(s.url, tmp_path / "r")
            assert s.requests == []
        want = "serves 'qwen-vl', not --vlm-model 'judge-m'"
    err = capsys.readouterr().err.strip()
    assert rc == 2 and want in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r" / "results.db").exists()         # nothing rendered, nothing judged


# --- run.json, compare and gate ----------------------------------------------------------------------
def test_fingerprint_in_run_json_and_compare_gate_refuse_a_mismatch(tmp_path, capsys):
    with ScriptedServer(lambda b, n: Reply(body=chat_reply(t2i_json(7, 5))),
                        models=[{"id": "judge-m", "root": "/w/judge-m"}]) as s:
        assert cli_run(s.url, tmp_path / "a") == 0
        assert cli_run(s.url, tmp_path / "b") == 0
        assert cli_run(s.url, tmp_path / "c", "--vlm-temperature", "0.5") == 0
    fp = run_fingerprints(json.loads((tmp_path / "a" / "run.json").read_text()))["vlm-t2i"]
    assert fp["served_model"] == "judge-m" and fp["served_root"] == "/w/judge-m" and fp["temperature"] == 0.0
    capsys.readouterr()
    a, b, c = (str(tmp_path / x) for x in "abc")
    assert main(["compare", a, b, "--json"]) == 0                # same judge: compared
    capsys.readouterr()
    assert main(["compare", a, c, "--json"]) == 2
    err = capsys.readouterr().err
    assert "vlm-t2i: temperature: 0.0 != 0.5" in err and "--allow-judge-mismatch" in err
    assert main(["compare", a, c, "--json", "--allow-judge-mismatch"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert any(m["key"] == "vlm-t2i.overall" for m in out["comparisons"][0]["metrics"])
    rules = tmp_path / "gates.yaml"
    rules.write_text('version: 1\nrole: student\nmetrics:\n  "vlm-t2i.*": {regression: true, min_n: 1}\n')
    assert main(["gate", "--candidate", c, "--baseline", a, "--rules", str(rules), "--json"]) == 2
    assert "temperature: 0.0 != 0.5" in capsys.readouterr().err
    assert main(["gate", "--candidate", c, "--baseline", a, "--rules", str(rules), "--json",
                 "--allow-judge-mismatch"]) in (0, 1)
    assert main(["gate", "--candidate", b, "--baseline", a, "--rules", str(rules), "--json"]) in (0, 1)
