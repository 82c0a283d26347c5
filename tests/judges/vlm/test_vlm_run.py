"""VLM judges through `evalsuite run` and the client's batch pipeline, against the scripted double.

Fast checks of what the real-server tests (test_vllm_cli.py) cannot set up on demand: a judge
that fails on chosen cases (cache, resume, --retry-failed), an oracle judge (calibration accuracy
exactly 1), a judge with chosen preferences (pairwise counts), slow image encoding (done off the
event loop), and retry statuses.
"""

from __future__ import annotations

import json
import logging
import threading
import time

import numpy as np
import pytest
from PIL import Image

from evalsuite.runner import judge_verdicts
from evalsuite.cli.main import main
from evalsuite.packs import load_pack
from evalsuite.types import Case, image_sha256
from judges.vlm.backends.base import VLMClient
from judges.vlm.backends.openai import RETRY_STATUSES, OpenAIClient
from judges.vlm.calibration import build_calibration_set
from judges.vlm.edit import VLMEditJudge
from judges.vlm.pairwise import VLMPairwiseJudge
from judges.vlm.t2i import VLMT2IJudge
from judges.vlm.yesno import VLMYesNoJudge
from tests.fixtures.scripted_server import Reply, ScriptedServer, chat_reply
from tests.judges.vlm.test_calibration import oracle as calibration_oracle
from tests.judges.vlm.test_vlm_fast import (
    CASE,
    EDIT,
    RED,
    decode_images,
    item,
    t2i_json,
)

PACK = "typography-mini"          # 96x32, 4 seeds per case


@pytest.fixture(autouse=True)
def pattern_renderer():
    from evalsuite.registry import RENDERERS
    from tests.core.doubles import PatternRenderer

    RENDERERS.register("pattern", PatternRenderer)


def prompt_of(body: dict) -> str:
    return body["messages"][-1]["content"][-1]["text"]


def run(url: str, run_dir, judges: str = "vlm-t2i", *extra: str, limit: int = 2) -> tuple[int, dict]:
    rc = main(["run", "--pack", PACK, "--limit", str(limit), "--model", "pattern:0", "--judges", judges,
               "--vlm-url", url, "--vlm-model", "judge-m", "--vlm-timeout", "10", "--run-dir", str(run_dir),
               "--json", "--no-progress", *extra])
    return rc, json.loads((run_dir / "summary.json").read_text())


# --- cache and resume ------------------------------------------------------------------------------
def test_rerun_sends_nothing_and_retry_failed_re_asks_only_failures(tmp_path, capsys):
    first = load_pack(PACK).cases[0]
    state = {"broken": True}

    def script(body, n):
        bad = state["broken"] and f"Prompt: {first.prompt}" in prompt_of(body)
        return Reply(body=chat_reply("not json" if bad else t2i_json(7, 5)))

    with ScriptedServer(script) as s:
        rc, summary = run(s.url, tmp_path)
        assert rc == 3 and len(s.requests) == 16                # 2 cases x 4 seeds x (SC, PQ)
        overall = summary["metrics"]["student"]["vlm-t2i.overall"]
        assert overall["n"] == 4 and overall["failures"] == 4 and overall["mean"] == pytest.approx(np.sqrt(35))
        assert summary["vlm"]["vlm-t2i"]["student"] == {"items": 8, "failures": 4, "error_kinds": {"parse": 4}}

        rc, again = run(s.url, tmp_path)                        # resume: nothing is asked again
        assert rc == 3 and len(s.requests) == 16 and again["timing"]["judge_cached"] == 8
        assert again["metrics"] == summary["metrics"]

        state["broken"] = False
        rc, retried = run(s.url, tmp_path, "vlm-t2i", "--retry-failed")
        assert rc == 0 and len(s.requests) == 24                # only the 4 failures (SC and PQ each)
        sc_again = [b for b in s.requests[16:] if "Prompt:" in prompt_of(b)]
        assert len(sc_again) == 4 and all(f"Prompt: {first.prompt}" in prompt_of(b) for b in sc_again)
        assert retried["metrics"]["student"]["vlm-t2i.overall"]["n"] == 8
        assert retried["metrics"]["student"]["vlm-t2i.overall"]["failures"] == 0

        rc, _ = run(s.url, tmp_path, "vlm-t2i", "--retry-failed")
        assert rc == 0 and len(s.requests) == 24
    capsys.readouterr()


# --- calibration per run -----------------------------------------------------------------------------
def oracle(good: set[str], informative: bool = True, broken: bool = False):
    """test_calibration's oracle; `broken` makes it refuse every calibration request."""
    base = calibration_oracle(good, informative)

    def script(body, n):
        ims = decode_images(body)
        calibration = any(image_sha256(im) in good for im in ims) or len(ims) == 1 and ims[0].size != (96, 32)
        if broken and calibration:
            return Reply(body=chat_reply("I'd rather not say"))
        return base(body, n)
    return script


def test_vlm_calibrate_reports_an_oracles_exact_accuracy(tmp_path, capsys):
    n = 4
    pairs = build_calibration_set(load_pack(PACK), n=n, seed=0, kinds=("t2i",))
    good = {image_sha256(p.good) for p in pairs}
    with ScriptedServer(oracle(good)) as s:
        rc, summary = run(s.url, tmp_path / "a", "vlm-t2i,vlm-pairwise,vlm-yesno", "--teacher", "pattern:5",
                          "--vlm-calibrate", str(n), limit=1)
        judged = len(s.requests)
        cal = summary["calibration"]
        assert rc == 0
        t2i, pw = cal["vlm-t2i"], cal["vlm-pairwise"]
        assert t2i["accuracy"] == 1.0 and t2i["n"] == n and t2i["failures"] == 0 and not t2i["cached"]
        assert sum(d["n"] for d in t2i["per_defect"].values()) == n
        assert {p.defect for p in pairs} == set(t2i["per_defect"])
        assert pw["accuracy"] == 1.0 and pw["n"] == 2 * n             # each pair both ways round
        assert cal["vlm-yesno"]["n"] == 0 and "no calibration pairs" in cal["vlm-yesno"]["skipped"]
        on_disk = json.loads((tmp_path / "a" / "summary.json").read_text())
        assert on_disk["calibration"]["vlm-t2i"]["accuracy"] == 1.0
        # printed as a table too; the next run reuses the cached reports
        capsys.readouterr()
        rc = main(["run", "--pack", PACK, "--limit", "1", "--model", "pattern:0", "--teacher", "pattern:5",
                   "--judges", "vlm-t2i,vlm-pairwise,vlm-yesno", "--vlm-url", s.url, "--vlm-model", "judge-m",
                   "--run-dir", str(tmp_path / "a"), "--no-progress", "--vlm-calibrate", str(n)])
        out = capsys.readouterr().out
        assert rc == 0 and len(s.requests) == judged
        assert "VLM judge calibration" in out and "1.00" in out and "vlm-pairwise (student vs teacher)" in out
    with ScriptedServer(oracle(good, informative=False)) as s:
        _, summary = run(s.url, tmp_path / "b", "vlm-t2i", "--vlm-calibrate", str(n), limit=1)
    assert summary["calibration"]["vlm-t2i"]["accuracy"] == 0.0      # ties are misses
    with ScriptedServer(oracle(good, broken=True)) as s:
        rc, summary = run(s.url, tmp_path / "c", "vlm-t2i", "--vlm-calibrate", str(n), limit=1)
        t2i = summary["calibration"]["vlm-t2i"]
        assert rc == 3 and t2i["failures"] == n and t2i["n"] == 0 and t2i["accuracy"] is None
        assert summary["metrics"]["student"]["vlm-t2i.overall"]["failures"] == 0     # the run itself was fine
        asked = len(s.requests)
        s.script = oracle(good)
        rc, summary = run(s.url, tmp_path / "c", "vlm-t2i", "--vlm-calibrate", str(n), "--retry-failed", limit=1)
        assert rc == 0 and summary["calibration"]["vlm-t2i"]["accuracy"] == 1.0
        assert len(s.requests) == asked + 4 * n                # the calibration only, again (2 images x SC, PQ)


def test_vlm_calibrate_bad_input(tmp_path, capsys):
    assert main(["run", "--pack", PACK, "--model", "pattern:0", "--judges", "flatbg", "--vlm-calibrate", "2",
                 "--run-dir", str(tmp_path)]) == 2
    assert main(["run", "--pack", PACK, "--model", "pattern:0", "--judges", "vlm-t2i", "--vlm-url", "u",
                 "--vlm-model", "m", "--vlm-calibrate", "0", "--run-dir", str(tmp_path)]) == 2
    assert "--vlm-calibrate" in capsys.readouterr().err


def test_rerun_of_an_old_run_re_judges_only_the_judge_whose_version_changed(tmp_path, monkeypatch):
    """A run judged by vlm-t2i v1 and OCR, re-run with the current vlm-t2i (v2): the VLM verdicts are
    asked again (the version is in the judge id), the OCR verdicts and the images are reused, and
    the summary holds the v2 verdicts only (the v1 rows stay in the store, not counted)."""
    state = {"sc": 3}

    def script(body, n):
        return Reply(body=chat_reply(t2i_json(state["sc"], 5)))

    with ScriptedServer(script) as s:
        with monkeypatch.context() as m:
            m.setattr(VLMT2IJudge, "version", 1)
            # judged in this process: a judge worker process would rebuild the real (v2) class
            rc, old = run(s.url, tmp_path, "vlm-t2i,ocr", "--judge-workers", "0")
        assert rc == 0 and len(s.requests) == 16               # 2 cases x 4 seeds x (SC, PQ)
        assert old["metrics"]["student"]["vlm-t2i.overall"]["mean"] == pytest.approx(np.sqrt(15))
        old_judges = {j["name"]: j for j in json.loads((tmp_path / "run.json").read_text())["judges"]}
        assert old_judges["vlm-t2i"]["fingerprint"]["version"] == 1 and "fingerprint" not in old_judges["ocr"]

        state["sc"] = 7                                        # the new judge answers otherwise
        rc, new = run(s.url, tmp_path, "vlm-t2i,ocr")
        assert rc == 0 and len(s.requests) == 32               # every VLM item asked again, once
        n_ocr = old["timing"]["judged"] - 8                     # OCR's units (the cases with expected text)
        t = new["timing"]
        assert n_ocr > 0 and t["rendered"] == 0 and t["judged"] == 8 and t["judge_cached"] == n_ocr

        rc, third = run(s.url, tmp_path, "vlm-t2i,ocr")       # and now both are cached
        assert rc == 0 and len(s.requests) == 32 and third["timing"]["judged"] == 0
        assert third["timing"]["judge_cached"] == 8 + n_ocr
    overall = new["metrics"]["student"]["vlm-t2i.overall"]
    assert overall["n"] == 8 and overall["mean"] == pytest.approx(np.sqrt(35))   # v2 only, no v1 mixed in
    ocr = {k: v for k, v in old["metrics"]["student"].items() if k.startswith("ocr.")}
    assert ocr and ocr == {k: v for k, v in new["metrics"]["student"].items() if k.startswith("ocr.")}
    judges = {j["name"]: j for j in json.loads((tmp_path / "run.json").read_text())["judges"]}
    assert judges["vlm-t2i"]["fingerprint"]["version"] == 2 and judges["ocr"]["id"] == old_judges["ocr"]["id"]
    assert judges["vlm-t2i"]["id"] != old_judges["vlm-t2i"]["id"]


# --- pairwise counts in summary.json -----------------------------------------------------------------
def test_pairwise_win_tie_loss_and_categories_in_the_summary(tmp_path):
    cases = load_pack(PACK).cases[:2]

    def script(body, n):
        ims = decode_images(body)
        student_first = np.asarray(ims[0]).mean() < np.asarray(ims[1]).mean()   # pattern:0 is darker
        if f"Request: {cases[0].prompt}" in prompt_of(body):      # the teacher wins on text, both orders
            better = "second" if student_first else "first"
            return Reply(body=chat_reply(json.dumps({"reasoning": "r", "better": better, "category": "text"})))
        # position bias: the orders disagree, a tie
        return Reply(body=chat_reply(json.dumps({"reasoning": "r", "better": "first", "category": "grid"})))

    with ScriptedServer(script) as s:
        rc, summary = run(s.url, tmp_path, "vlm-pairwise", "--teacher", "pattern:5")
        assert len(s.requests) == 16
    assert rc == 0
    counts = summary["vlm"]["vlm-pairwise"]["student"]
    assert counts == {"items": 8, "failures": 0, "error_kinds": {}, "win": 0, "tie": 4, "loss": 4,
                      "win_rate": 0.25, "win_rate_ci": [0.0, 0.5], "tie_rate": 0.5, "n_cases": 2,
                      "categories": {"loss": {"text": 4}, "win": {}}}
    # a tie counts half: (0 wins + 4 ties / 2) / 8 items; the CI resamples the 2 cases (their win
    # rates 0 and 0.5), not the 8 images, so it spans both
    assert summary["metrics"]["student"]["vlm-pairwise.win_rate"]["mean"] == 0.25
    assert summary["metrics"]["student"]["vlm-pairwise.tie_rate"]["mean"] == 0.5
    assert summary["metrics"]["student"]["vlm-pairwise.swap_agreement"]["mean"] == 0.5


# --- judge paths that need no server -----------------------------------------------------------------
class NoLogprobs(VLMClient):
    backend = "nolp"
    supports_logprobs = False

    def generate(self, requests):
        raise AssertionError("a judge that needs log-probs must not ask a backend without them")


def test_yesno_without_logprobs_is_unsupported():
    j = VLMYesNoJudge(url="http://127.0.0.1:9/v1", model="m")
    j.client = NoLogprobs(model="m")
    vs = judge_verdicts(j, [item(CASE, RED), item(CASE, RED)])
    assert len(vs) == 2 and all(not v.ok and v.value is None for v in vs)
    assert all(v.detail["error_kind"] == "unsupported" and v.error.startswith("unsupported:") for v in vs)


def test_missing_source_or_teacher_image_is_its_own_error_kind():
    with ScriptedServer() as s:
        edit = judge_verdicts(VLMEditJudge(url=s.url, model="m"), [item(EDIT, RED)])
        pw = judge_verdicts(VLMPairwiseJudge(url=s.url, model="m"), [item(CASE, RED)])
        assert s.requests == []
    for vs in (edit, pw):
        assert all(not v.ok and v.detail["error_kind"] == "missing_image" for v in vs)
        assert vs[0].error.startswith("missing_image:")


# --- the client's batch pipeline -------------------------------------------------------------------
class CountingClient(OpenAIClient):
    """Records each encoding (pixel hash, thread, start, end); `slow` seconds each (a big grainy PNG)."""

    def __init__(self, *a, slow: float = 0.0, **kw):
        super().__init__(*a, **kw)
        self.slow = slow
        self.encoded: list[tuple[str, str, float, float]] = []
        self._lock = threading.Lock()

    def encode_image(self, image):
        t0 = time.perf_counter()
        if self.slow:
            time.sleep(self.slow)
        url = super().encode_image(image)
        with self._lock:
            self.encoded.append((image_sha256(image), threading.current_thread().name, t0, time.perf_counter()))
        return url


def test_each_image_is_encoded_once_per_call_off_the_event_loop():
    blue = Image.new("RGB", (32, 24), (20, 20, 220))
    red_again = Image.new("RGB", (32, 24), (220, 20, 20))        # same pixels as RED, another object
    with ScriptedServer(lambda b, n: Reply(body=chat_reply(json.dumps({"reasoning": "r", "better": "tie", "category": "none"})))) as s:
        j = VLMPairwiseJudge(url=s.url, model="m", repeats=3, temperature=0.5)
        j.client = CountingClient(url=s.url, model="m")
        vs = judge_verdicts(j, [item(CASE, blue, teacher=RED), item(Case("c2", "t2i", "x", (0,)), blue, teacher=red_again)])
        assert len(s.requests) == 12 and all(v.ok for v in vs)
    # 12 requests of 2 images each: 2 distinct images, each encoded once, in worker threads
    assert sorted(e[0] for e in j.client.encoded) == sorted([image_sha256(RED), image_sha256(blue)])
    assert all(e[1] != threading.main_thread().name for e in j.client.encoded)


def test_slow_encoding_overlaps_the_requests_in_flight():
    """Images that take 0.1 s each to encode are encoded side by side in worker threads, and
    while earlier requests are at the server (in the event loop, one at a time after taking the
    slot, they would never overlap each other)."""
    images = [Image.new("RGB", (32, 24), (i, 0, 0)) for i in range(8)]
    at_server: list[tuple[float, float]] = []

    def script(body, n):
        t0 = time.perf_counter()
        at_server.append((t0, t0 + 0.1))
        return Reply(body=chat_reply(t2i_json(5, 5)), delay=0.1)

    with ScriptedServer(script) as s:
        j = VLMT2IJudge(url=s.url, model="m", concurrency=4)
        j.client = CountingClient(url=s.url, model="m", concurrency=4, slow=0.1)
        vs = judge_verdicts(j, [item(CASE, im) for im in images])
        assert s.max_in_flight == 4
    assert all(v.ok for v in vs) and len(j.client.encoded) == 8

    def overlaps(a, b):
        return a[0] < b[1] and b[0] < a[1]

    spans = [(e[2], e[3]) for e in j.client.encoded]
    assert max(sum(overlaps(a, b) for b in spans) for a in spans) >= 2        # encodings side by side
    assert any(overlaps(a, b) for a in spans for b in at_server)              # and beside requests


def test_batch_size_does_not_cap_concurrency():
    assert VLMT2IJudge(url="u", model="m").batch_size == 256
    assert VLMEditJudge(url="u", model="m", concurrency=64).batch_size == 512


@pytest.mark.parametrize("status", sorted(RETRY_STATUSES | {400, 404, 408, 501}))
def test_retried_statuses_are_exactly_429_and_500_502_503_504(status):
    with ScriptedServer(lambda b, n: Reply(status, {"error": {"message": "no"}})) as s:
        vs = judge_verdicts(VLMT2IJudge(url=s.url, model="m", retries=2, backoff=0.001), [item(CASE, RED)])
        asked = len(s.requests)
    assert not vs[0].ok and vs[0].detail["replies"][0]["status"] == status
    assert asked == 2 * (3 if status in (429, 500, 502, 503, 504) else 1)      # SC and PQ


# --- provenance and configuration --------------------------------------------------------------------
def test_the_answering_model_is_recorded():
    with ScriptedServer(lambda b, n: Reply(body=chat_reply(t2i_json(5, 5), model="served-as-this"))) as s:
        v = judge_verdicts(VLMT2IJudge(url=s.url, model="m"), [item(CASE, RED)])[0]
    assert v.detail["judge_model"] == "m" and v.detail["replies"][0]["model"] == "served-as-this"


def test_image_format_keys_the_cache_and_png_level_does_not():
    base = VLMT2IJudge(url="u", model="m")
    assert base.cache_config()["image_format"] == "PNG"
    assert VLMT2IJudge(url="u", model="m", image_format="png").judge_id() == base.judge_id()
    assert VLMT2IJudge(url="u", model="m", image_format="JPEG").judge_id() != base.judge_id()
    assert VLMT2IJudge(url="u", model="m", png_compress_level=9).judge_id() == base.judge_id()


def test_temperature_flag_and_the_repeats_warning(caplog):
    import argparse

    from judges.vlm import add_arguments, cli_options

    p = argparse.ArgumentParser()
    add_arguments(p)
    opts = cli_options(p.parse_args(["--vlm-temperature", "0.7", "--repeats", "3"]))
    assert opts["vlm-t2i"]["temperature"] == 0.7 and opts["vlm-t2i"]["repeats"] == 3
    with caplog.at_level(logging.WARNING, logger="judges.vlm.common"):
        VLMT2IJudge(url="u", model="m", **opts["vlm-t2i"])
        assert not caplog.records
        VLMT2IJudge(url="u", model="m", repeats=3)
    assert len(caplog.records) == 1 and "--vlm-temperature" in caplog.records[0].getMessage()


@pytest.mark.parametrize("mode, shape", [("RGB", (37, 53, 3)), ("L", (20, 31)), ("RGBA", (9, 7, 4))])
def test_png_data_urls_are_lossless(mode, shape):
    import base64
    import io

    from judges.vlm.backends.base import encode_png, image_data_url

    a = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    im = Image.fromarray(a, mode)
    back = Image.open(io.BytesIO(encode_png(im)))
    assert back.mode == mode and np.array_equal(np.asarray(back), a)
    url = image_data_url(im)
    assert url.startswith("data:image/png;base64,") and image_data_url(url) == url
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))), a)
    # a flat background still compresses to almost nothing
    assert len(encode_png(Image.new("RGB", (512, 512), (245, 240, 225)))) < 4000
