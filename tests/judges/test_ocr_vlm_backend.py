"""`ocr.backend=vlm`: text read through an OpenAI-compatible VLM endpoint with the LongText/OneIG
OCR prompt (the scripted server in tests/fixtures plays the endpoint)."""

from __future__ import annotations

import pytest
from PIL import Image

from evalsuite.runner import judge_verdicts
from evalsuite.types import Case, EvalsuiteError, JudgeInput
from judges.parity.text import OFFICIAL_OCR_PROMPT, longtext_text_accuracy
from tests.fixtures.scripted_server import Reply, ScriptedServer, chat_reply


def test_vlm_backend_sends_official_prompt_and_splits_lines() -> None:
    from judges.ocr_backends import make_backend

    with ScriptedServer(lambda body, n: Reply(body=chat_reply("FRESH BREWS DAILY\n\nSince 1998\n"))) as s:
        be = make_backend("vlm", url=s.url, model="qwen-vl")
        try:
            res = be.read([Image.new("RGB", (64, 32), "white"), Image.new("RGB", (32, 32), "black")])
        finally:
            be.close()
        assert len(s.requests) == 2
        content = s.requests[0]["messages"][-1]["content"]
        texts = [c["text"] for c in content if c.get("type") == "text"]
        assert texts == [OFFICIAL_OCR_PROMPT]
        assert any(c.get("type") == "image_url" for c in content)
        assert s.requests[0]["model"] == "qwen-vl" and s.requests[0]["temperature"] == 0.0
    assert [line.text for line in res[0].lines] == ["FRESH BREWS DAILY", "Since 1998"]
    assert res[0].text == "FRESH BREWS DAILY Since 1998"
    assert res[0].lines[0].box[2] == [64.0, 32.0]
    # the reading feeds the parity metric: every GT word read
    assert longtext_text_accuracy([(["FRESH BREWS DAILY", "Since 1998"], res[0].text)]) == 1.0


def test_vlm_backend_failure_raises_instead_of_reading_nothing() -> None:
    from judges.ocr_backends import make_backend

    with ScriptedServer(lambda body, n: Reply(status=500, body={"error": "boom"})) as s:
        be = make_backend("vlm", url=s.url, model="m", retries=0)
        with pytest.raises(RuntimeError, match="vlm ocr: http"):
            be.read([Image.new("RGB", (32, 32))])
        be.close()


def test_ocr_judge_with_vlm_backend_scores_words() -> None:
    from evalsuite.registry import JUDGES

    with ScriptedServer(lambda body, n: Reply(body=chat_reply("JAZZ NIGHT\nFRIDAY"))) as s:
        judge = JUDGES.get("ocr")(backend="vlm", url=s.url, model="m")
        case = Case(id="c1", kind="t2i", prompt='"JAZZ NIGHT" "FRIDAY 9PM"', seeds=(0,), expected_text=("JAZZ NIGHT", "FRIDAY 9PM"))
        try:
            out = judge_verdicts(judge, [JudgeInput(case, 0, Image.new("RGB", (64, 64)), "img")])
        finally:
            judge.close()
    vals = {v.metric: v.value for v in out}
    assert vals["word_recall"] == pytest.approx(3 / 4) and vals["word_precision"] == 1.0


def test_vlm_backend_needs_url() -> None:
    from judges.ocr_backends import make_backend

    with pytest.raises(EvalsuiteError, match="needs url"):
        make_backend("vlm")
