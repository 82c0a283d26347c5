"""evalsuite validate: known-truth suites, validity.json, exit 1 below a floor."""

from __future__ import annotations

import json

import pytest

from evalsuite.cli.main import main
from evalsuite.registry import JUDGES, VALIDITY
from judges.fidelity import FidelityJudge
from judges.validity import auc


def test_auc_by_hand():
    # positives 3, 5; negatives 1, 3: pairs (3>1) (3=3 half) (5>1) (5>3) -> 3.5 / 4
    assert auc([3, 5], [1, 3]) == pytest.approx(0.875)
    with pytest.raises(ValueError):
        auc([], [1])


def test_validate_fidelity_and_diversity(tmp_path):
    out = tmp_path / "validity.json"
    assert main(["validate", "--judges", "fidelity,diversity", "-o", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["passed"] and rep["judges"] == ["fidelity", "diversity"]
    by = {(c["judge"], c["check"]): c for c in rep["checks"]}
    psnr = by[("fidelity", "psnr equals the reference computation")]
    assert psnr["n"] == 32 and psnr["value"] <= 0.01
    assert by[("fidelity", "preservation separates preserved from disturbed edits")]["value"] >= 0.95
    assert all(c["passed"] for c in rep["checks"])


class OffByOneDecibel(FidelityJudge):
    """A broken judge: PSNR 1 dB too high."""

    name = "fidelity-broken"

    def score(self, items):
        out = super().score(items)
        for r in out:
            if r is not None and isinstance(r.values.get("psnr"), float):
                r.values["psnr"] += 1.0
        return out


@pytest.fixture
def broken_judge():
    JUDGES.register("fidelity-broken", OffByOneDecibel)
    VALIDITY.register("fidelity-broken", "judges.validity.fidelity:suite")
    yield
    JUDGES._targets.pop("fidelity-broken", None)
    VALIDITY._targets.pop("fidelity-broken", None)


def test_a_judge_below_its_floor_exits_1(broken_judge, tmp_path, capsys):
    out = tmp_path / "v.json"
    assert main(["validate", "--judges", "fidelity-broken", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "below their floor" in err and "psnr equals the reference computation" in err
    rep = json.loads(out.read_text())
    psnr = next(c for c in rep["checks"] if c["check"].startswith("psnr"))
    assert psnr["value"] == pytest.approx(1.0, abs=1e-9) and not psnr["passed"]


def test_unknown_judge_is_exit_2(capsys):
    assert main(["validate", "--judges", "fidelty"]) == 2
    assert "did you mean 'fidelity'" in capsys.readouterr().err


@pytest.mark.slow
def test_ocr_suite_with_real_rapidocr(tmp_path):
    """Real rapidocr on drawn text: strict typography detects every planted error class where the
    clean twin is read, and the size ladder degrades towards small print."""
    out = tmp_path / "v.json"
    rc = main(["validate", "--judges", "ocr", "-o", str(out)])
    rep = json.loads(out.read_text())
    by = {c["check"]: c for c in rep["checks"]}
    for cls in ("missing", "extra", "substitution", "case-only", "punctuation-only", "spacing", "order"):
        c = by[f"planted {cls} error detected (strict exact_match = 0)"]
        assert c["n"] >= 3 and c["value"] == 1.0, c
    head = by["clean text read exactly (size:headline)"]["value"]
    assert head >= 0.8
    assert by["clean text read exactly (script:chinese)"]["error"] is None   # a CJK font is installed
    assert rc == (0 if rep["passed"] else 1)
