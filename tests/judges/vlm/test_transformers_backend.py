"""The `transformers` backend on a tiny random-weight Qwen2-VL built in the test (no download).

Checked against an independent forward pass of the same model: P(Yes) read through the judge
equals the softmax of the model's own logits; choice constraints spell only a choice; an
unconstrained random model's rubric reply is a parse failure, not a score.
"""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from evalsuite.runner import judge_verdicts
from evalsuite.types import Case, JudgeInput, image_sha256
from judges.vlm.backends.base import Constraint, VLMRequest, make_client
from judges.vlm.backends.transformers import load_processor
from judges.vlm.t2i import VLMT2IJudge
from judges.vlm.yesno import VLMYesNoJudge

pytestmark = pytest.mark.slow

RED = Image.new("RGB", (64, 48), (220, 20, 20))
BLUE = Image.new("RGB", (64, 48), (20, 20, 220))
CASE = Case("c1", "t2i", "a red square", (0,), questions=("Is it red?", "Is it a square?"))


def item(image):
    return JudgeInput(case=CASE, seed=0, image=image, image_hash=image_sha256(image))


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def reference_p_yes(model_dir, question: str, image: Image.Image) -> float:
    from transformers import AutoModelForImageTextToText

    proc = load_processor(str(model_dir))
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32).eval()
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": f"{question} Answer Yes or No.\n"}]}]
    text = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    inputs = proc(text=[text], images=[image], return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits[0, -1]
    p = torch.softmax(logits.float(), -1)
    words = [proc.tokenizer.decode([i]).strip().lower() for i in range(len(proc.tokenizer))]
    py = sum(float(p[i]) for i, w in enumerate(words) if w == "yes")   # "Yes", " yes"... folded
    pn = sum(float(p[i]) for i, w in enumerate(words) if w == "no")
    return py / (py + pn)


def test_yesno_equals_the_models_own_softmax(tiny_qwen2vl):
    vocab = len(load_processor(str(tiny_qwen2vl)).tokenizer)
    j = VLMYesNoJudge(backend="transformers", model=str(tiny_qwen2vl), top_logprobs=vocab)
    v = judge_verdicts(j, [item(RED)])[0]
    assert v.ok, v.error
    per_q = [q["p_yes"] for q in v.detail["questions"]]
    expected = [reference_p_yes(tiny_qwen2vl, q, RED) for q in CASE.questions]
    assert per_q == pytest.approx(expected, abs=1e-4)
    assert v.value == pytest.approx(sum(expected) / 2, abs=1e-4)
    assert v.detail["questions"][0]["bounded"] is False
    # the image reaches the model: a different image changes P(Yes)
    assert judge_verdicts(j, [item(BLUE)])[0].value != pytest.approx(v.value, abs=1e-7)


def test_choice_constraint_usage_and_determinism(tiny_qwen2vl):
    c = make_client("transformers", model=str(tiny_qwen2vl))
    reqs = [VLMRequest("Which is better?", (RED, BLUE), max_tokens=8,
                       constraint=Constraint("choice", ["first", "second", "tie"])),
            VLMRequest("Describe it.", (RED,), max_tokens=5)]
    a, b = c.generate(reqs), c.generate(reqs)
    assert a[0].ok and a[0].text in {"first", "second", "tie"} and a[0].finish_reason == "stop"
    assert a[1].completion_tokens == 5 and a[1].finish_reason == "length"
    assert a[1].prompt_tokens > a[0].prompt_tokens - 40   # both carry image tokens
    assert [r.text for r in a] == [r.text for r in b]


def test_unconstrained_rubric_from_a_random_model_fails_honestly(tiny_qwen2vl):
    vs = judge_verdicts(VLMT2IJudge(backend="transformers", model=str(tiny_qwen2vl), max_tokens=12), [item(RED)])
    assert len(vs) == 6 and all(not v.ok and v.value is None for v in vs)
    assert vs[0].detail["error_kind"] in {"parse", "truncated"}
    assert vs[0].detail["replies"][0]["text"]          # the raw reply is kept for inspection


def test_missing_folder_is_a_clear_error(tmp_path):
    from evalsuite.types import EvalsuiteError

    with pytest.raises(EvalsuiteError, match="does not exist"):
        make_client("transformers", model=str(tmp_path / "nope"))
