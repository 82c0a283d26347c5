"""The flatbg judge family end to end: a real run with a teacher writes summary.json["flatbg"] with
per-case median and geometric-mean ratios (case-resampled CIs) and prints them."""

from __future__ import annotations

import json
import math

from tests.core.conftest import write_pack


def test_flatbg_family_reports_median_and_geo_mean_ratios(tmp_path, capsys):
    from evalsuite.cli.main import main

    extra = [{"id": f"bg{i}", "kind": "t2i", "prompt": f"plain backdrop {i}", "seeds": [0, 1],
              "width": 64, "height": 64, "background": {"color": [110, 110, 110]}} for i in range(4)]
    pack = write_pack(tmp_path / "p", n=0, extra=extra, judges=("flatbg",))
    rc = main(["run", "--model", "pattern:0", "--teacher", "pattern:40", "--pack", str(pack),
               "--run-dir", str(tmp_path / "run"), "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0, out
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    sec = s["flatbg"]["flatbg"]["student"]
    assert set(sec) == {"sigma", "speckle", "blotch", "banding", "grid"}
    # the pattern renderer draws the same noise for both models (only the level differs): ratio 1
    sig = sec["sigma"]
    assert sig["n_cases"] == 4 and math.isclose(sig["median_ratio"], 1.0, abs_tol=0.02)
    assert sig["geo_mean_ratio_ci"][0] <= sig["geo_mean_ratio"] <= sig["geo_mean_ratio_ci"][1]
    mean_log = s["metrics"]["student"]["flatbg.sigma_log_ratio"]["mean"]
    assert math.isclose(math.exp(mean_log), sig["geo_mean_ratio"], abs_tol=0.02)
    assert "per-case ratio" in out and "median ratio" in out
