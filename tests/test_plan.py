"""`evalsuite plan`: cases and seeds for 80% power, against the closed form and a run's variances."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.stats as ss

from evalsuite.cli.main import main
from evalsuite.compare import load_run
from tests.reports.make_run import make_run

Z = ss.norm.ppf(0.975) + ss.norm.ppf(0.8)


def _plan(capsys, *args: str) -> dict:
    assert main(["plan", "--pack", "typography-mini", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_prior_gives_the_closed_form_numbers(capsys):
    out = _plan(capsys, "--metric", "ocr.exact_match", "--delta", "0.1", "--sd", "0.3", "--sd-seed", "0.4",
                "--seeds", "4")
    # ceil(7.849 * (0.09 + 0.16 / 4) / 0.01) = ceil(102.03)
    assert out["rows"] == [{"seeds": 4, "cases": 103, "images": 412,
                            "pack_mde": pytest.approx(Z * math.sqrt(0.09 + 0.04) / math.sqrt(out["pack_cases"]))}]
    table = _plan(capsys, "--metric", "ocr.exact_match", "--delta", "0.1", "--sd", "0.3")
    assert [r["seeds"] for r in table["rows"]][:4] == [1, 2, 4, 8]
    assert {r["cases"] for r in table["rows"]} == {71}     # no seed noise: seeds do not help


def test_from_run_uses_the_paired_differences_variance_components(tmp_path, capsys):
    run_dir = make_run(tmp_path / "r", n_cases=30, seeds=(0, 1, 2), noise={"teacher": 2.0, "student": 4.0})
    run = load_run(run_dir)
    key = "flatbg.noise_sigma"
    s, t = run.values("student", key), run.values("teacher", key)
    keys = sorted(set(s) & set(t))
    # independent one-way ANOVA on the per-image differences
    cases = sorted({k[0] for k in keys})
    groups = [np.array([s[k] - t[k] for k in keys if k[0] == c]) for c in cases]
    ms_w = sum(((g - g.mean()) ** 2).sum() for g in groups) / (len(keys) - len(cases))
    n0 = len(cases) / sum(1 / len(g) for g in groups)
    var_c = max(0.0, np.var([g.mean() for g in groups], ddof=1) - ms_w / n0)
    out = _plan(capsys, "--metric", key, "--delta", "0.5", "--from", str(run_dir), "--seeds", "2")
    src = out["source"]
    assert src["sd_case"] == pytest.approx(math.sqrt(var_c)) and src["sd_within"] == pytest.approx(math.sqrt(ms_w))
    assert src["n_cases"] == 30 and "paired student − teacher" in src["basis"]
    expected = max(2, math.ceil(Z ** 2 * (var_c + ms_w / 2) / 0.25))
    assert out["rows"][0]["cases"] == expected


@pytest.mark.parametrize("args, msg", [
    (["--metric", "ocr.ned", "--delta", "0.1"], "exactly one of --from"),
    (["--metric", "ocr.ned", "--delta", "0", "--sd", "0.2"], "--delta 0.0"),
    (["--metric", "ocr.nope", "--delta", "0.1", "--from", "RUN"], "no successful values of metric 'ocr.nope'"),
])
def test_bad_input_is_one_line_and_exit_2(args, msg, tmp_path, capsys):
    run_dir = make_run(tmp_path / "r", n_cases=4)
    args = [str(run_dir) if a == "RUN" else a for a in args]
    assert main(["plan", "--pack", "typography-mini", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and len(err.splitlines()) == 1
