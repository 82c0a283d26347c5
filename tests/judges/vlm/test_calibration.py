"""Calibration set from real packs (planted defects are real and deterministic) and judge accuracy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evalsuite.types import image_sha256
from judges.vlm.calibration import (
    build_calibration_set,
    calibrate,
    main,
    run_calibration,
)
from judges.vlm.pairwise import VLMPairwiseJudge
from judges.vlm.t2i import VLMT2IJudge
from tests.fixtures.scripted_server import Reply, ScriptedServer, chat_reply
from tests.judges.vlm.test_vlm_fast import decode_images, t2i_json


@pytest.fixture(scope="module")
def pairs():
    return build_calibration_set("typography-mini", n=8, seed=0)


def grad_energy(im) -> float:
    a = np.asarray(im.convert("L"), dtype=np.float64)
    return float(np.square(np.diff(a, axis=1)).mean() + np.square(np.diff(a, axis=0)).mean())


def test_pairs_are_deterministic_and_defects_are_planted(pairs):
    again = build_calibration_set("typography-mini", n=8, seed=0)
    assert [(p.case.id, p.defect, image_sha256(p.good), image_sha256(p.bad)) for p in pairs] == \
           [(p.case.id, p.defect, image_sha256(p.good), image_sha256(p.bad)) for p in again]
    assert len(pairs) == 8 and len({p.defect for p in pairs}) >= 3
    for p in pairs:
        g, b = np.asarray(p.good, dtype=np.float64), np.asarray(p.bad, dtype=np.float64)
        assert g.shape == b.shape and not np.array_equal(g, b), p.case.id
        if p.defect == "noise":       # grain on the flat background: its std rises from 0
            assert g[:8, :8].std(axis=(0, 1)).max() == 0 and b[:8, :8].std(axis=(0, 1)).min() > 5
        elif p.defect in ("blur_text", "blur"):
            assert grad_energy(p.bad) < 0.9 * grad_energy(p.good)
        elif p.defect == "grid":
            assert np.abs(b - g)[::8].mean() > np.abs(b - g)[1::8].mean() + 5
        elif p.defect == "garble_text":
            assert p.case.expected_text


def test_cases_with_undrawable_text_are_left_out():
    ps = build_calibration_set("typography", n=100)
    assert ps and all(t.isascii() for p in ps for t in p.case.expected_text)
    from evalsuite.packs import load_pack

    assert any(not t.isascii() for c in load_pack("typography").cases for t in c.expected_text)


def test_edit_pack_uses_its_sources():
    ps = build_calibration_set("edit-mini", n=3, kinds=("edit",))
    assert len(ps) == 3 and all(p.case.kind == "edit" for p in ps)
    from PIL import Image

    src = Image.open(ps[0].case.source).convert("RGB")
    src.thumbnail((384, 384))
    assert image_sha256(ps[0].good) == image_sha256(src)


def oracle(good_hashes: set[str], informative: bool = True):
    """A judge that knows which images are clean (or, uninformative, gives everything 5)."""
    def script(body, n):
        ims = decode_images(body)
        if len(ims) == 2:        # pairwise: prefer the clean one
            first_good = image_sha256(ims[0]) in good_hashes
            return Reply(body=chat_reply(json.dumps({"reasoning": "r", "better": "first" if first_good else "second",
                                                     "category": "noise"})))
        pq = (9 if image_sha256(ims[0]) in good_hashes else 3) if informative else 5
        return Reply(body=chat_reply(t2i_json(8, pq)))
    return script


def test_accuracy_of_an_oracle_a_constant_and_a_broken_judge(pairs):
    good = {image_sha256(p.good) for p in pairs}
    with ScriptedServer(oracle(good)) as s:
        r = run_calibration(VLMT2IJudge(url=s.url, model="m"), pairs)
        rp = run_calibration(VLMPairwiseJudge(url=s.url, model="m"), pairs)
    assert r["accuracy"] == 1.0 and r["n"] == 8 and r["failures"] == 0
    assert sum(d["n"] for d in r["per_defect"].values()) == 8
    assert rp["accuracy"] == 1.0 and rp["n"] == 16          # both orders of every pair
    with ScriptedServer(oracle(good, informative=False)) as s:
        r = run_calibration(VLMT2IJudge(url=s.url, model="m"), pairs)
    assert r["accuracy"] == 0.0                              # ties are misses
    with ScriptedServer(lambda body, n: Reply(body=chat_reply("no idea"))) as s:
        r = run_calibration(VLMT2IJudge(url=s.url, model="m"), pairs)
    assert r["accuracy"] is None and r["failures"] == 8 and r["n"] == 0


def test_calibrate_and_cli(capsys):
    ps = build_calibration_set("typography-mini", n=4, seed=1, kinds=("t2i",))
    good = {image_sha256(p.good) for p in ps}
    with ScriptedServer(oracle(good)) as s:
        r = calibrate(VLMT2IJudge(url=s.url, model="m"), "typography-mini", n=4, seed=1)
        assert r["accuracy"] == 1.0 and r["n"] == 4
        rc = main(["--pack", "typography-mini", "--n", "4", "--seed", "1", "--vlm-url", s.url, "--vlm-model", "judge-m",
                   "--json"])
        assert rc == 0 and json.loads(capsys.readouterr().out)["accuracy"] == 1.0
        asked = len(s.requests)
        # a model the server does not serve: refused before any pair is judged
        assert main(["--pack", "typography-mini", "--n", "4", "--vlm-url", s.url, "--vlm-model", "m"]) == 2
        assert "not --vlm-model 'm'" in capsys.readouterr().out and len(s.requests) == asked
