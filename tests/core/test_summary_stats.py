"""summary.json statistics on planted data: the case is the unit (seeds nested), BCa on request."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from evalsuite.registry import RENDERERS
from evalsuite.types import Rendered
from evalsuite.runner import RunConfig, run_eval
from evalsuite.stats import bca_ci, mean_ci
from tests.core.conftest import write_pack
from tests.core.doubles import PatternRenderer


class SameImageRenderer(PatternRenderer):
    """Every seed of a case shows the same image: a grey level drawn from the prompt alone."""

    name = "sameimage"

    def render(self, requests):
        out = []
        for r in requests:
            level = 40 + (int(r.prompt.split()[-1]) * 37) % 160 + self.level
            arr = np.full((r.height or 16, r.width or 16, 3), level, np.uint8)
            out.append(Rendered(r, Image.fromarray(arr), 0.001))
        return out


@pytest.fixture()
def planted(tmp_path):
    RENDERERS.register("sameimage", SameImageRenderer)
    pack = write_pack(tmp_path / "p", n=20, seeds=(0, 1, 2, 3))
    return pack


def test_summary_ci_is_the_20_case_bootstrap(planted, tmp_path):
    s = run_eval(RunConfig(run_dir=tmp_path / "run", pack=str(planted), model="sameimage:0",
                           teacher="sameimage:9", progress=False))
    m = s["metrics"]["student"]["mean.brightness"]
    assert s["format_version"] == 2 and s["stats"]["unit"] == "case" and s["stats"]["ci_method"] == "percentile"
    assert (m["n"], m["n_cases"], m["n_images"]) == (80, 20, 80)
    case_vals = [(40 + (i * 37) % 160) / 255 for i in sorted(range(20), key=lambda i: f"c{i}")]
    ref = mean_ci(case_vals)                                   # independent: bootstrap the 20 case values
    assert [m["mean"], *m["ci"]] == pytest.approx(list(ref), abs=1e-6)
    naive = mean_ci(np.repeat(case_vals, 4))
    assert (m["ci"][1] - m["ci"][0]) / (naive[2] - naive[1]) == pytest.approx(2.0, abs=0.3)
    # MDE at 80% power from the case-level SD: (1.96 + 0.84) * sd / sqrt(20)
    assert m["mde"] == pytest.approx(2.8016 * np.std(case_vals, ddof=1) / np.sqrt(20), rel=1e-3)
    # student − teacher is exactly -9/255 on every image: a degenerate, significant delta over 20 cases
    d = s["deltas"]["mean.brightness"]
    assert d["mean"] == pytest.approx(-9 / 255, abs=1e-6) and d["n_cases"] == 20 and d["significant"]


def test_summary_bca_when_asked(planted, tmp_path):
    from evalsuite.packs import load_pack
    from evalsuite.registry import JUDGES
    from evalsuite.store import RunStore
    from evalsuite.summary import summarise

    run_eval(RunConfig(run_dir=tmp_path / "run", pack=str(planted), model="sameimage:0", teacher=None,
                       progress=False))
    store = RunStore(tmp_path / "run")
    judge = JUDGES.get("mean")()
    s = summarise(store, load_pack(planted), [judge], {}, ci_method="bca")
    store.close()
    m = s["metrics"]["student"]["mean.brightness"]
    case_vals = [(40 + (i * 37) % 160) / 255 for i in sorted(range(20), key=lambda i: f"c{i}")]
    assert s["stats"]["ci_method"] == "bca"
    assert [m["mean"], *m["ci"]] == pytest.approx(list(bca_ci(case_vals)), abs=1e-6)


def test_run_cli_ci_flag_reaches_the_summary(planted, tmp_path, capsys):
    import json

    from evalsuite.cli.main import main

    rc = main(["run", "--pack", str(planted), "--model", "sameimage:0", "--run-dir",
               str(tmp_path / "r"), "--ci", "bca", "--json", "--judges", "mean"])
    assert rc == 0, capsys.readouterr().err
    s = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert s["stats"]["ci_method"] == "bca"
