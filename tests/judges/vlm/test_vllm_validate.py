"""`evalsuite validate` for a VLM judge against a REAL vLLM server (tiny random-weight model):
the known-answer pairs are sent, counted and scored; the exit code follows the floor."""

from __future__ import annotations

import json

import pytest

from evalsuite.cli.main import main
from tests.judges.vlm.conftest import request_count

pytestmark = pytest.mark.slow


def test_validate_vlm_t2i_on_a_real_server(vllm_server, tmp_path):
    url, model, _ = vllm_server
    out = tmp_path / "validity.json"
    before = request_count(url)
    rc = main(["validate", "--judges", "vlm-t2i", "--vlm-url", url, "--vlm-model", model,
               "--vlm-timeout", "300", "-o", str(out)])
    rep = json.loads(out.read_text())
    (check,) = rep["checks"]
    assert check["judge"] == "vlm-t2i" and check["measure"] == "accuracy"
    assert check["n"] + check["failures"] == 8                       # quick suite: 8 known pairs
    assert request_count(url) - before == 2 * 2 * 8                  # SC + PQ for good and bad image
    assert check["value"] is None or 0.0 <= check["value"] <= 1.0
    assert rc == (0 if check["passed"] else 1)
    # a random-weight judge is no judge: it must not pass the documented floor
    assert not check["passed"], check
