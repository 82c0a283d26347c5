"""VLM judges against the scripted OpenAI-compatible double: request shape, scoring, failures.

The same paths run against a real vLLM server in test_vllm_server.py (slow); these cover what a
real server will not do on demand: latency, 429/5xx, timeouts, malformed and refused replies.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import math
import re
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from evalsuite.runner import judge_verdicts
from evalsuite.types import Case, EvalsuiteError, JudgeInput, image_sha256
from judges.vlm import add_arguments, cli_options
from judges.vlm.backends.base import Constraint, VLMRequest, make_client
from judges.vlm.common import Field, ReplyError, json_schema, parse_reply, reply_regex
from judges.vlm.edit import VLMEditJudge
from judges.vlm.pairwise import VLMPairwiseJudge, student_view
from judges.vlm.t2i import VLMT2IJudge
from judges.vlm.viescore import PQ_FIELDS, T2I_SC_FIELDS
from judges.vlm.yesno import VLMYesNoJudge
from tests.fixtures.scripted_server import (
    Reply,
    ScriptedServer,
    chat_reply,
    yes_no_logprobs,
)

RED = Image.new("RGB", (32, 24), (220, 20, 20))
BLUE = Image.new("RGB", (32, 24), (20, 20, 220))
GREEN = Image.new("RGB", (32, 24), (20, 200, 20))


def t2i_json(sc: int, pq: int, grain: bool = False, letters: bool = False) -> str:
    """One reply that reads as both vlm-t2i questions (SC and PQ; naturalness = artifacts = pq)."""
    return json.dumps({"reasoning": "looks fine", "prompt_following": sc, "naturalness": pq, "artifacts": pq,
                       "grain_on_flat_areas": grain, "malformed_letters": letters, "grid_pattern": False,
                       "oversaturation": False})


def is_pq(body: dict) -> bool:
    """Whether a request is the PQ question (the image alone, naturalness and artifacts)."""
    return '"naturalness"' in body["messages"][-1]["content"][-1]["text"]


def item(case: Case, image: Image.Image, teacher: Image.Image | None = None,
         source: Image.Image | None = None) -> JudgeInput:
    return JudgeInput(case=case, seed=0, image=image, image_hash=image_sha256(image), teacher_image=teacher,
                      source_image=source)


def decode_images(body: dict) -> list[Image.Image]:
    out = []
    for part in body["messages"][-1]["content"]:
        if part["type"] == "image_url":
            url = part["image_url"]["url"]
            assert url.startswith("data:image/png;base64,")
            out.append(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))
    return out


def colour(im: Image.Image) -> str:
    r, _, b = im.getpixel((0, 0))
    return "red" if r > 150 else "blue" if b > 150 else "green"


CASE = Case("c1", "t2i", "a red square", (0,), expected_text=("HI",), questions=("Is it red?", "Is it square?"))
EDIT = Case("e1", "edit", "make it blue", (0,))


def judge(cls, url, **kw):
    return cls(url=url, model="judge-m", revision="r1", timeout=5, retries=2, backoff=0.01, **kw)


# --- rubric parsing -------------------------------------------------------------------------------
def test_reply_regex_and_schema_accept_exactly_the_compact_json():
    obj = {k: v for k, v in json.loads(t2i_json(7, 10, grain=True)).items() if k != "prompt_following"}
    assert re.fullmatch(reply_regex(PQ_FIELDS), json.dumps(obj))
    assert not re.fullmatch(reply_regex(PQ_FIELDS), json.dumps({**obj, "naturalness": 11}))
    # the reasoning comes first, is bounded, and holds no quote or newline (a finite compact layout)
    assert list(obj)[0] == "reasoning"
    assert not re.fullmatch(reply_regex(PQ_FIELDS), json.dumps({"naturalness": 3, **obj}))
    assert not re.fullmatch(reply_regex(PQ_FIELDS), json.dumps({**obj, "reasoning": "x" * 301}))
    assert re.fullmatch(reply_regex(PQ_FIELDS), json.dumps({**obj, "reasoning": "x" * 300}))
    assert not re.fullmatch(reply_regex(PQ_FIELDS), json.dumps({**obj, "reasoning": "a\nb"}))
    schema = json_schema(PQ_FIELDS)
    assert schema["required"] == [f.name for f in PQ_FIELDS] and schema["additionalProperties"] is False
    assert list(schema["properties"])[0] == "reasoning" and schema["properties"]["reasoning"]["maxLength"] == 300
    assert schema["properties"]["naturalness"]["enum"] == list(range(11))


def test_parse_reply_strict():
    assert parse_reply("```json\n" + t2i_json(3, 4) + "\n```", PQ_FIELDS)["naturalness"] == 4
    assert parse_reply(t2i_json(3, 4), T2I_SC_FIELDS) == {"reasoning": "looks fine", "prompt_following": 3}
    for bad, kind in [("", "parse"), ("SC: 7, PQ: 8", "parse"), (t2i_json(3, 11), "parse"),
                      ('{"naturalness": 3}', "parse"), ("[1, 2]", "parse"),
                      ("I'm sorry, I cannot evaluate this image.", "refusal"),
                      (t2i_json(3, 4.5), "parse"),
                      (t2i_json(3, 4).replace('"looks fine"', "7"), "parse")]:
        with pytest.raises(ReplyError) as e:
            parse_reply(bad, PQ_FIELDS)
        assert e.value.kind == kind, bad
    with pytest.raises(ReplyError) as e:
        parse_reply('{"reasoning": "ok", "natur', PQ_FIELDS, finish_reason="length")
    assert e.value.kind == "truncated"
    enum = [Field("better", "enum", ("first", "second", "tie"))]
    with pytest.raises(ReplyError):
        parse_reply('{"better": "both"}', enum)


# --- configuration and caching --------------------------------------------------------------------
def test_cache_config_keys_model_prompt_decoding_not_transport():
    a = VLMT2IJudge(url="http://a:1/v1", model="m", revision="r1", concurrency=4, timeout=10)
    b = VLMT2IJudge(url="http://b:2/v1", model="m", revision="r1", concurrency=64, timeout=300, retries=9)
    assert a.judge_id() == b.judge_id()
    cc = a.cache_config()
    assert cc["model"] == "m" and cc["revision"] == "r1" and len(cc["prompt_hash"]) == 16
    assert cc["temperature"] == 0.0 and "url" not in cc and "concurrency" not in cc and "timeout" not in cc
    for change in ({"model": "m2"}, {"revision": "r2"}, {"temperature": 0.7}, {"max_tokens": 50},
                   {"repeats": 3}, {"structured": "none"}):
        c = VLMT2IJudge(**{"url": "http://a:1/v1", "model": "m", "revision": "r1", **change})
        assert c.judge_id() != a.judge_id(), change
    assert VLMEditJudge(url="u", model="m").judge_id() != VLMT2IJudge(url="u", model="m").judge_id()


def test_construction_errors_name_the_setting():
    with pytest.raises(EvalsuiteError, match="--vlm-model"):
        VLMT2IJudge(url="http://x/v1")
    with pytest.raises(EvalsuiteError, match="--vlm-url"):
        VLMT2IJudge(model="m")
    with pytest.raises(EvalsuiteError, match="unknown setting"):
        VLMT2IJudge(url="u", model="m", colour="red")
    with pytest.raises(EvalsuiteError, match="repeats"):
        VLMT2IJudge(url="u", model="m", repeats=0)
    with pytest.raises(EvalsuiteError, match="backend 'nope'"):
        make_client("nope", model="m")


def test_import_and_construction_build_no_client():
    code = ("import sys, judges.vlm, judges.vlm.t2i, judges.vlm.pairwise, judges.vlm.yesno, judges.vlm.edit\n"
            "from judges.vlm.t2i import VLMT2IJudge\n"
            "j = VLMT2IJudge(url='http://127.0.0.1:9/v1', model='m')\n"
            "assert j._client is None\n"
            "print('httpx' in sys.modules, 'torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "False"]


def test_cli_flags_map_to_every_vlm_judge():
    p = argparse.ArgumentParser()
    add_arguments(p)
    add_arguments(p)   # idempotent: a second call adds nothing
    args = p.parse_args(["--vlm-url", "http://h:8000/v1", "--vlm-model", "Qwen/Qwen2.5-VL-7B", "--repeats", "3",
                         "--vlm-concurrency", "16"])
    opts = cli_options(args)
    assert set(opts) == {"vlm-t2i", "vlm-edit", "vlm-pairwise", "vlm-yesno"}
    assert opts["vlm-edit"] == {"url": "http://h:8000/v1", "model": "Qwen/Qwen2.5-VL-7B", "repeats": 3,
                                "concurrency": 16}
    assert cli_options(p.parse_args([])) == {}
    j = VLMEditJudge(**opts["vlm-edit"])
    assert j.config["repeats"] == 3


# --- the openai backend against the scripted double -----------------------------------------------
def test_t2i_scores_request_shape_and_provenance():
    def script(body, n):
        if is_pq(body):
            reply = '{"reasoning": "grainy sky", "naturalness": 6, "artifacts": 2, "grain_on_flat_areas": true, ' \
                    '"malformed_letters": false, "grid_pattern": false, "oversaturation": false}'
        else:
            reply = '{"reasoning": "all there", "prompt_following": 8}'
        return Reply(body=chat_reply(reply, prompt_tokens=77))

    with ScriptedServer(script) as s:
        j = judge(VLMT2IJudge, s.url)
        vs = {v.metric: v for v in judge_verdicts(j, [item(CASE, RED)])}
        body = next(b for b in s.requests if not is_pq(b))
        pq_body = next(b for b in s.requests if is_pq(b))
        assert len(s.requests) == 2
    assert all(v.ok for v in vs.values())
    # VIEScore: SC = min([8]), PQ = min(naturalness 6, artifacts 2) = 2, O = sqrt(8 * 2) = 4
    assert vs["semantic_consistency"].value == 8 and vs["perceptual_quality"].value == 2
    assert vs["naturalness"].value == 6 and vs["artifact_free"].value == 2
    assert vs["overall"].value == pytest.approx(4.0) and vs["defect_flags"].value == 1
    assert vs["overall"].detail["answers"][0]["pq"]["reasoning"] == "grainy sky"
    # PQ sees the image alone: no prompt text, one image
    pq_text = pq_body["messages"][0]["content"][-1]["text"]
    assert "a red square" not in pq_text and '"HI"' not in pq_text and len(decode_images(pq_body)) == 1
    d = vs["overall"].detail
    assert d["judge_model"] == "judge-m" and d["revision"] == "r1" and d["prompt_hash"] == j.prompt_hash
    assert d["decoding"]["temperature"] == 0.0 and d["replies"][0]["prompt_tokens"] == 77
    assert {r["part"] for r in d["replies"]} == {"sc", "pq"} and d["served"]["served_model"] is None
    # request: model, temperature 0, seed, one lossless PNG image before the prompt, regex constraint
    assert body["model"] == "judge-m" and body["temperature"] == 0.0 and body["seed"] == 0
    content = body["messages"][0]["content"]
    assert [c["type"] for c in content] == ["image_url", "text"]
    assert np.array_equal(np.asarray(decode_images(body)[0]), np.asarray(RED))
    assert 'Prompt: a red square' in content[1]["text"] and '"HI"' in content[1]["text"]
    assert set(body["structured_outputs"]) == {"regex"}
    assert re.fullmatch(body["structured_outputs"]["regex"], '{"reasoning": "all there", "prompt_following": 8}')


def test_structured_modes():
    with ScriptedServer(lambda body, n: Reply(body=chat_reply(t2i_json(5, 5)))) as s:
        judge_verdicts(judge(VLMT2IJudge, s.url, structured="json"), [item(CASE, RED)])
        judge_verdicts(judge(VLMT2IJudge, s.url, structured_backend="openai"), [item(CASE, RED)])
        judge_verdicts(judge(VLMT2IJudge, s.url, structured="none"), [item(CASE, RED)])
        b_json, b_openai, b_none = (sorted(s.requests[k:k + 2], key=is_pq) for k in (0, 2, 4))
    assert b_json[0]["structured_outputs"]["json"] == json_schema(T2I_SC_FIELDS)
    assert b_json[1]["structured_outputs"]["json"] == json_schema(PQ_FIELDS)
    assert b_openai[1]["response_format"]["json_schema"]["schema"] == json_schema(PQ_FIELDS)
    assert all("structured_outputs" not in b and "response_format" not in b for b in b_none)


def test_retries_on_5xx_and_429_then_succeeds():
    sc_calls = []

    def script(body, n):      # the SC question fails twice, then succeeds; PQ succeeds at once
        if not is_pq(body):
            sc_calls.append(n)
            if len(sc_calls) == 1:
                return Reply(503, {"error": {"message": "overloaded"}})
            if len(sc_calls) == 2:
                return Reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "0.05"})
        return Reply(body=chat_reply(t2i_json(6, 6)))

    with ScriptedServer(script) as s:
        vs = judge_verdicts(judge(VLMT2IJudge, s.url), [item(CASE, RED)])
        assert len(s.requests) == 4          # SC: 503, 429, ok; PQ: ok
    assert all(v.ok for v in vs) and [r["attempts"] for r in vs[0].detail["replies"]] == [3, 1]


def test_retries_exhausted_is_a_failure_with_the_status():
    with ScriptedServer(lambda body, n: Reply(502, "bad gateway")) as s:
        vs = judge_verdicts(judge(VLMT2IJudge, s.url), [item(CASE, RED)])
        assert len(s.requests) == 6          # (1 + retries=2) for each of SC and PQ
    assert all(not v.ok and v.value is None for v in vs)
    assert vs[0].error.startswith("http: HTTP 502") and vs[0].detail["error_kind"] == "http"


def test_400_is_not_retried():
    with ScriptedServer(lambda body, n: Reply(400, {"error": {"message": "Invalid image data"}})) as s:
        vs = judge_verdicts(judge(VLMT2IJudge, s.url), [item(CASE, RED)])
        assert len(s.requests) == 2          # SC and PQ, neither retried
    assert not vs[0].ok and "HTTP 400: Invalid image data" in vs[0].error


def test_timeout_is_a_failure_not_retried():
    with ScriptedServer(lambda body, n: Reply(body=chat_reply(t2i_json(5, 5)), delay=1.0)) as s:
        t0 = time.perf_counter()
        vs = judge_verdicts(VLMT2IJudge(url=s.url, model="m", timeout=0.2, retries=3), [item(CASE, RED)])
        wall = time.perf_counter() - t0
        assert len(s.requests) == 2          # SC and PQ, neither retried
    assert wall < 0.9
    assert not vs[0].ok and vs[0].error.startswith("timeout") and vs[0].detail["error_kind"] == "timeout"


def test_connection_refused_is_a_failure():
    vs = judge_verdicts(VLMT2IJudge(url="http://127.0.0.1:9/v1", model="m", timeout=2), [item(CASE, RED)])
    assert not vs[0].ok and vs[0].detail["error_kind"] == "connection"


@pytest.mark.parametrize("reply, kind", [
    (Reply(body="<html>oops</html>"), "backend"),                      # 200 but not JSON
    (Reply(body={"object": "chat.completion"}), "backend"),            # JSON without choices
    (Reply(body=chat_reply("The image is quite nice, 8/10.")), "parse"),
    (Reply(body=chat_reply(None, refusal="I can't help with that")), "refusal"),
    (Reply(body=chat_reply("I'm sorry, but I cannot rate images.")), "refusal"),
    (Reply(body=chat_reply('{"semantic_consistency": 7, "perceptual_q', finish_reason="length")), "truncated"),
])
def test_malformed_and_refused_replies_fail_honestly(reply, kind):
    with ScriptedServer(lambda body, n: reply) as s:
        vs = judge_verdicts(judge(VLMT2IJudge, s.url), [item(CASE, RED)])
    assert len(vs) == 6 and all(not v.ok and v.value is None for v in vs)
    assert vs[0].detail["error_kind"] == kind and vs[0].error.startswith(kind)


def test_one_bad_item_does_not_sink_the_batch():
    def script(body, n):
        bad = colour(decode_images(body)[0]) == "blue"
        return Reply(body=chat_reply("not json" if bad else t2i_json(9, 9)))

    with ScriptedServer(script) as s:
        vs = judge_verdicts(judge(VLMT2IJudge, s.url), [item(CASE, RED), item(CASE, BLUE), item(CASE, GREEN)])
    ok = [v.ok for v in vs if v.metric == "overall"]
    assert ok == [True, False, True]


def test_bounded_concurrency():
    with ScriptedServer(lambda body, n: Reply(body=chat_reply(t2i_json(5, 5))), latency=0.2) as s:
        j = judge(VLMT2IJudge, s.url, concurrency=4)
        t0 = time.perf_counter()
        vs = judge_verdicts(j, [item(CASE, RED)] * 8)
        wall = time.perf_counter() - t0
        assert s.max_in_flight == 4
    assert all(v.ok for v in vs)
    assert wall > 0.38           # at least two waves of 0.2 s (no more than 4 at once); no upper
    # bound on the wall time: on a loaded CI machine it says nothing, max_in_flight == 4 does


def test_several_endpoints_share_requests_each_with_its_own_limit():
    """--vlm-url repeated: requests are balanced across the servers, each server sees at most
    `concurrency` at once, and both together run twice as many."""
    reply = lambda body, n: Reply(body=chat_reply(t2i_json(5, 5)))   # noqa: E731
    with ScriptedServer(reply, latency=0.2) as a, ScriptedServer(reply, latency=0.2) as b:
        j = judge(VLMT2IJudge, f"{a.url},{b.url}", concurrency=2)
        vs = judge_verdicts(j, [item(CASE, RED)] * 12)
        assert a.max_in_flight == 2 and b.max_in_flight == 2
        n = len(a.requests) + len(b.requests)                     # every request went to one of them
        assert n >= 12 and min(len(a.requests), len(b.requests)) >= n // 3
    assert all(v.ok for v in vs)
    args = argparse.ArgumentParser()
    add_arguments(args)
    ns = args.parse_args(["--vlm-url", "http://h1:8000/v1", "--vlm-url", "http://h2:8000/v1"])
    assert cli_options(ns)["vlm-t2i"]["url"] == "http://h1:8000/v1,http://h2:8000/v1"


def test_repeats_report_the_judges_own_spread():
    scores = [4, 6, 8]      # by seed: the SC and PQ questions of one repeat share it
    with ScriptedServer(lambda body, n: Reply(body=chat_reply(t2i_json(scores[body["seed"]], 5)))) as s:
        vs = {v.metric: v for v in judge_verdicts(judge(VLMT2IJudge, s.url, repeats=3, temperature=0.7), [item(CASE, RED)])}
        seeds = sorted(b["seed"] for b in s.requests)
    sc = vs["semantic_consistency"]
    assert sc.value == pytest.approx(6.0)
    assert sorted(sc.detail["repeat_values"]) == [4, 6, 8]
    assert sc.detail["repeat_std"] == pytest.approx(np.std([4, 6, 8]))
    assert seeds == [0, 0, 1, 1, 2, 2]
    # the judge's own spread is a metric of its own, so the summary reports it
    assert vs["repeat_std"].value == pytest.approx(np.std([math.sqrt(4 * 5), math.sqrt(6 * 5), math.sqrt(8 * 5)]))
    assert "repeat_std" in judge(VLMT2IJudge, "u", repeats=2).metrics
    assert "repeat_std" not in judge(VLMT2IJudge, "u").metrics and "repeat_std" not in VLMT2IJudge.metrics


def test_pairwise_repeats_that_disagree():
    def script(body, n):      # seed 0 prefers the student (blue), seed 1 the teacher (red)
        want = "blue" if body["seed"] == 0 else "red"
        better = "first" if colour(decode_images(body)[0]) == want else "second"
        return Reply(body=chat_reply(json.dumps({"reasoning": "r", "better": better, "category": "grid"})))

    with ScriptedServer(script) as s:
        vs = {v.metric: v for v in judge_verdicts(judge(VLMPairwiseJudge, s.url, repeats=2), [item(CASE, BLUE, teacher=RED)])}
        assert len(s.requests) == 4
    assert vs["win_rate"].value == 0.5 and vs["tie_rate"].value == 0.0 and vs["swap_agreement"].value == 1.0
    assert vs["repeat_std"].value == pytest.approx(0.5)
    assert [r["result"] for r in vs["win_rate"].detail["rounds"]] == [1, -1]


def test_edit_sends_source_then_result_and_scores():
    def script(body, n):
        if is_pq(body):     # PQ on the output alone: the source is not in view
            assert [colour(im) for im in decode_images(body)] == ["blue"]
            assert "make it blue" not in body["messages"][0]["content"][-1]["text"]
            return Reply(body=chat_reply('{"reasoning": "clean", "naturalness": 8, "artifacts": 4, '
                                         '"grain_on_flat_areas": false, "malformed_letters": false, '
                                         '"grid_pattern": true, "oversaturation": false}'))
        assert [colour(im) for im in decode_images(body)] == ["red", "blue"]
        return Reply(body=chat_reply('{"reasoning": "done", "editing_success": 9, "minimal_edit": 7}'))

    with ScriptedServer(script) as s:
        j = judge(VLMEditJudge, s.url)
        vs = {v.metric: v for v in judge_verdicts(j, [item(EDIT, BLUE, source=RED)])}
        missing = judge_verdicts(j, [item(EDIT, BLUE)])
        assert len(s.requests) == 2
    assert all(v.ok for v in vs.values())
    # VIEScore: SC = min(9, 7) = 7, PQ = min(8, 4) = 4, O = sqrt(7 * 4)
    assert vs["semantic_consistency"].value == 7 and vs["perceptual_quality"].value == 4
    assert vs["overall"].value == pytest.approx(math.sqrt(7 * 4))
    assert vs["minimal_edit"].value == 7 and vs["edit_success"].value == 9 and vs["defect_flags"].value == 1
    assert all(not v.ok for v in missing) and "no source image" in missing[0].error
    assert not j.applies_to(CASE) and j.applies_to(EDIT)


def pairwise_script(prefers: str):
    """A judge that prefers the student's (blue) image, the teacher's (red), or always the first."""
    def script(body, n):
        first = colour(decode_images(body)[0])
        if prefers == "first":
            better = "first"
        else:
            want = "blue" if prefers == "student" else "red"
            better = "first" if first == want else "second"
        return Reply(body=chat_reply(json.dumps({"reasoning": "r", "better": better, "category": "text"})))
    return script


@pytest.mark.parametrize("prefers, win, agree", [("student", 1.0, 1.0), ("teacher", 0.0, 1.0), ("first", 0.5, 0.0)])
def test_pairwise_both_orders(prefers, win, agree):
    with ScriptedServer(pairwise_script(prefers)) as s:
        j = judge(VLMPairwiseJudge, s.url)
        vs = {v.metric: v for v in judge_verdicts(j, [item(CASE, BLUE, teacher=RED)])}
        orders = [[colour(im) for im in decode_images(b)] for b in s.requests]
    assert sorted(orders) == [["blue", "red"], ["red", "blue"]]
    assert vs["win_rate"].value == win and vs["swap_agreement"].value == agree
    assert vs["tie_rate"].value == (1.0 if win == 0.5 else 0.0)
    d = vs["win_rate"].detail
    assert d["outcome"] == {1.0: "win", 0.5: "tie", 0.0: "loss"}[win]
    assert d["category"] == ("none" if win == 0.5 else "text")
    assert d["position_swap_agreement"] == agree
    assert VLMPairwiseJudge.reference == "required"


def test_pairwise_one_failed_order_fails_the_item():
    def script(body, n):
        first = colour(decode_images(body)[0])
        return Reply(body=chat_reply("garbage" if first == "blue" else
                                     '{"reasoning": "r", "better": "second", "category": "noise"}'))

    with ScriptedServer(script) as s:
        vs = judge_verdicts(judge(VLMPairwiseJudge, s.url), [item(CASE, BLUE, teacher=RED)])
    assert all(not v.ok for v in vs) and "student_first" in vs[0].error


def test_student_view_table():
    assert student_view("teacher_first", "second") == 1 and student_view("student_first", "first") == 1
    assert student_view("teacher_first", "first") == -1 and student_view("student_first", "tie") == 0


def test_yesno_reads_p_yes_from_logprobs():
    ps = {"Is it red?": 0.9, "Is it square?": 0.3}

    def script(body, n):
        q = body["messages"][0]["content"][-1]["text"].split(" Answer")[0]
        return Reply(body=chat_reply("Yes", logprobs=yes_no_logprobs(ps[q], {" yes": math.log(1e-9)})))

    with ScriptedServer(script) as s:
        j = judge(VLMYesNoJudge, s.url)
        vs = judge_verdicts(j, [item(CASE, RED)])
        body = s.requests[0]
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["max_tokens"] == 1
    assert vs[0].ok and vs[0].value == pytest.approx((0.9 + 0.3) / 2, abs=1e-6)
    assert [q["p_yes"] for q in vs[0].detail["questions"]] == pytest.approx([0.9, 0.3], abs=1e-6)
    assert not j.applies_to(EDIT)


def test_yesno_failures_and_bound():
    def no_logprobs(body, n):
        return Reply(body=chat_reply("Yes"))

    def neither(body, n):
        return Reply(body=chat_reply("Maybe", logprobs=[{"token": "Maybe", "logprob": -0.1,
                                                         "top_logprobs": [{"token": "Maybe", "logprob": -0.1}]}]))

    def only_yes(body, n):
        return Reply(body=chat_reply("Yes", logprobs=[{"token": "Yes", "logprob": math.log(0.98), "top_logprobs": [
            {"token": "Yes", "logprob": math.log(0.98)}, {"token": "yes", "logprob": math.log(0.01)}]}]))

    for script, msg in ((no_logprobs, "no log-probs"), (neither, "neither Yes nor No")):
        with ScriptedServer(script) as s:
            vs = judge_verdicts(judge(VLMYesNoJudge, s.url), [item(CASE, RED)])
        assert not vs[0].ok and msg in vs[0].error
    with ScriptedServer(only_yes) as s:
        vs = judge_verdicts(judge(VLMYesNoJudge, s.url), [item(CASE, RED)])
    # "No" is below the smallest listed (0.01): p >= 0.99 / (0.99 + 0.01)
    assert vs[0].ok and vs[0].value == pytest.approx(0.99, abs=1e-6)
    assert vs[0].detail["questions"][0]["bounded"] is True


def test_backend_payload_for_constraints_and_logprobs():
    c = make_client("openai", url="http://h:1", model="m")
    assert c.base_url == "http://h:1/v1"
    body = c.payload(VLMRequest("q", (RED, BLUE), constraint=Constraint("choice", ["a", "b"]), top_logprobs=5,
                                system="be strict"))
    assert body["messages"][0] == {"role": "system", "content": "be strict"}
    assert [p["type"] for p in body["messages"][1]["content"]] == ["image_url", "image_url", "text"]
    assert body["structured_outputs"] == {"choice": ["a", "b"]} and body["top_logprobs"] == 5
