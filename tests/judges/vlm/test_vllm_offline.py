"""The `vllm` backend (in-process offline engine) in .venv-vllm, on the tiny Idefics3.

vLLM lives in its own venv, so the check runs as a script there (with this checkout on
PYTHONPATH) and reports JSON. Its first-token log-probs must equal the transformers forward
pass of the same folder (as for the server), a choice constraint must hold, and a prompt longer
than the context must fail alone without sinking the batch.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from evalsuite.runner import judge_verdicts
from tests.judges.vlm.conftest import ROOT, VLLM_PY, require_vllm
from tests.judges.vlm.test_vllm_server import assert_top_matches

pytestmark = pytest.mark.slow

SCRIPT = r'''
import json, sys
from PIL import Image
from evalsuite.types import Case, JudgeInput, image_sha256
from judges.vlm.backends.base import Constraint, VLMRequest, make_client
from judges.vlm.t2i import VLMT2IJudge


def main(model):
    eo = {"dtype": "float32", "max_model_len": 1024, "max_num_seqs": 2, "enforce_eager": True, "seed": 0}
    red = Image.new("RGB", (64, 48), (220, 20, 20))
    judge = VLMT2IJudge(backend="vllm", model=model, engine_options=eo)
    rs = judge.client.generate([
        VLMRequest("Describe it.", (red,), max_tokens=3, top_logprobs=5),
        VLMRequest("Pick one.", (red,), max_tokens=8, constraint=Constraint("choice", ["first", "second", "tie"])),
        VLMRequest("hi " * 1200, (), max_tokens=4)])
    vs = judge_verdicts(judge, [JudgeInput(Case("c1", "t2i", "a red square", (0,)), 0, red, image_sha256(red))])
    print("RESULT " + json.dumps({
        "responses": [{"ok": r.ok, "text": r.text, "error_kind": r.error_kind, "error": r.error,
                       "prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens,
                       "top": r.logprobs[0].top if r.logprobs else None} for r in rs],
        "verdicts": [{"metric": v.metric, "ok": v.ok, "value": v.value, "error": v.error,
                      "model": v.detail.get("judge_model")} for v in vs]}))


if __name__ == "__main__":   # vLLM starts its engine with spawn: the guard is required
    main(sys.argv[1])
'''


def test_offline_engine(tiny_idefics3, tmp_path, reference_logprobs):
    require_vllm()
    script = tmp_path / "offline.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_LOGGING_LEVEL": "WARNING"}
    proc = subprocess.run([str(VLLM_PY), str(script), str(tiny_idefics3)], capture_output=True, text=True, env=env,
                          cwd=str(tmp_path), timeout=900, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    res = json.loads(lines[-1][len("RESULT "):])
    described, choice, too_long = res["responses"]
    assert described["ok"] and described["completion_tokens"] == 3
    n_prompt, ref_top = reference_logprobs(tiny_idefics3, "Describe it.")
    assert described["prompt_tokens"] == n_prompt
    assert_top_matches(described["top"], ref_top)
    assert choice["ok"] and choice["text"] in {"first", "second", "tie"}
    assert not too_long["ok"] and too_long["error_kind"] == "rejected" and "1024" in too_long["error"]
    assert {v["metric"] for v in res["verdicts"]} == {"semantic_consistency", "naturalness", "artifact_free",
                                                      "perceptual_quality", "overall", "defect_flags"}
    assert all(v["ok"] and 0 <= v["value"] <= 10 and v["model"] == str(tiny_idefics3) for v in res["verdicts"])
    by = {v["metric"]: v["value"] for v in res["verdicts"]}
    assert by["perceptual_quality"] == min(by["naturalness"], by["artifact_free"])
