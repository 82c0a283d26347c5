"""The report in a real headless Chromium (Debian's chromium, driven over the DevTools protocol):
renders without console errors, filters and pages, sweeps draw curves, user strings stay text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evalsuite.registry import JUDGES, RENDERERS
from evalsuite.runner import RunConfig, run_eval
from reports.html import build_report
from tests.core.conftest import write_pack
from tests.core.doubles import MeanJudge, PatternRenderer
from tests.reports.make_run import make_run, make_sweep
from tests.reports.test_report import EVIL

pytestmark = pytest.mark.slow


def _rows_data(html_path: Path) -> list[dict]:
    html = html_path.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))["rows"]


def _set(page, selector: str, value: str, event: str = "change") -> None:
    page.eval(f"(function(){{var e=document.querySelector({json.dumps(selector)}); e.value={json.dumps(value)}; "
              f"e.dispatchEvent(new Event({json.dumps(event)}));}})()")


def _visible(page) -> int:
    return page.eval("document.querySelectorAll('#rows .case-row').length")


def _matching(page) -> int:
    return int(page.eval("document.getElementById('count').getAttribute('data-matching')"))


def test_run_report_renders_filters_and_pages(browser, tmp_path):
    run = make_run(tmp_path / "run", n_cases=30, seeds=(0, 1))
    out = tmp_path / "report.html"
    build_report([str(run)], out)
    rows = _rows_data(out)
    page = browser.open(out.as_uri())
    page.wait_for("document.body.getAttribute('data-ready') === '1'")
    assert _matching(page) == 60 and _visible(page) == 25
    assert page.eval("document.getElementById('page').textContent") == "page 1 / 3"
    # every row shows teacher and student images; those in view are decoded (the rest load lazily)
    page.wait_for("Array.from(document.querySelectorAll('#rows .case-row:first-child img')).every(i => i.complete && i.naturalWidth > 0)")
    assert page.eval("document.querySelectorAll('#rows img.thumb').length") == 25 * 2 + 4   # + the sources of 2 edit cases x 2 seeds
    # the VLM's rationale (its reply text) and the OCR diff are shown per model
    first = page.eval("document.querySelector('#rows .case-row').querySelectorAll('.lane')[2].textContent")
    assert "vlm-t2i: Text '" in first and "background grain sigma≈" in first and "OCR:" in first
    # filter by tag
    _set(page, "#f-tag", "number")
    want = sum(1 for r in rows if "number" in r["tags"])
    assert want and _matching(page) == want and _visible(page) == min(25, want)
    assert all("number" in t for t in page.eval(
        "Array.from(document.querySelectorAll('#rows .case-row')).map(r => r.querySelector('.row-head').textContent)"))
    # judge failures only (every 5th case has a failed VLM verdict for the student)
    _set(page, "#f-tag", "")
    page.eval("(function(){var c=document.getElementById('f-failures'); c.checked=true; c.dispatchEvent(new Event('change'));})()")
    fails = sum(1 for r in rows if any(c and any(v[1] is not None for v in c.get("s", {}).values()) for c in r["cells"]))
    assert fails == 12 and _matching(page) == 12
    assert page.eval("document.querySelectorAll('#rows li.fail').length") >= 12
    page.eval("(function(){var c=document.getElementById('f-failures'); c.checked=false; c.dispatchEvent(new Event('change'));})()")
    # sort by OCR recall delta, worst first: the first row has the most negative delta
    metrics = page.eval("Array.from(document.querySelectorAll('#f-metric option')).map(o => o.textContent)")
    _set(page, "#f-metric", str([m.split(" ")[0] for m in metrics].index("ocr.word_recall")))
    _set(page, "#f-sort", "delta-asc")
    first = page.eval("document.querySelector('#rows .delta').textContent")
    assert first == "Δ ocr.word_recall -1"
    # delta filter: rows where the student is worse than the teacher by at least 0.5
    _set(page, "#f-dmax", "-0.5", "input")
    assert _matching(page) == sum(1 for r in rows if r["cells"][2] and r["cells"][1]
                                  and r["cells"][2]["s"]["3"][0] - r["cells"][1]["s"]["3"][0] <= -0.5)
    _set(page, "#f-dmax", "", "input")
    # paging and the zoomable crop
    page.eval("document.getElementById('next').click()")
    assert page.eval("document.getElementById('page').textContent") == "page 2 / 3"
    page.eval("document.querySelector('#rows img.crop').click()")
    assert page.eval("document.getElementById('lightbox').hidden") is False
    w0 = page.eval("document.getElementById('lb-img').getBoundingClientRect().width")
    page.eval("document.getElementById('lb-in').click()")
    assert page.eval("document.getElementById('lb-img').getBoundingClientRect().width") == pytest.approx(w0 * 1.5, abs=1)
    page.eval("document.getElementById('lb-close').click()")
    page.eval("window.scrollTo(0, 0)")
    shot = page.screenshot(tmp_path / "report-run.png")
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000
    assert page.errors() == []


def test_real_run_and_sweep_render_without_errors(browser, tmp_path):
    """A report of a run made by the real runner (fast doubles for model and judge) and of a sweep."""
    RENDERERS.register("pattern", PatternRenderer)
    JUDGES.register("mean", MeanJudge)
    pack = write_pack(tmp_path / "pack", n=6, extra=[{"id": "breaker", "kind": "t2i", "prompt": EVIL, "seeds": [0],
                                                       "tags": ["breaks"]}])
    run_dir = tmp_path / "real"
    run_eval(RunConfig(run_dir=run_dir, pack=str(pack), model="pattern:0", teacher="pattern:5", progress=False))
    out = tmp_path / "real.html"
    build_report([str(run_dir)], out)
    page = browser.open(out.as_uri())
    page.wait_for("document.body.getAttribute('data-ready') === '1'")
    assert _matching(page) == 13
    assert page.eval("document.querySelector('#metrics').textContent").count("mean.brightness") == 1
    assert "planted failure" in page.eval("document.getElementById('failures').textContent")
    assert page.errors() == []

    sweep = make_sweep(tmp_path / "sweep", "mixed", [100, 200, 300], n_cases=5)
    out = tmp_path / "sweep.html"
    build_report([str(sweep)], out)
    page = browser.open(out.as_uri())
    page.wait_for("document.body.getAttribute('data-ready') === '1'")
    assert page.eval("document.querySelectorAll('#sweep svg.chart').length") == 5
    assert page.eval("document.querySelectorAll('#sweep line.ref').length") == 5
    assert page.eval("document.querySelectorAll('#sweep svg.chart polyline').length") == 5
    assert page.eval("document.querySelector('#rows .case-row .lanes').children.length") == 5  # source, teacher, 3 ckpts
    page.eval("document.getElementById('sweep').scrollIntoView()")
    print(f"screenshot: {page.screenshot(tmp_path / 'report-sweep.png')}")
    assert page.errors() == []


def test_script_in_prompt_renders_as_text(browser, tmp_path):
    run = make_run(tmp_path / "run", n_cases=6, seeds=(0,), prompts={2: EVIL})
    out = tmp_path / "evil.html"
    build_report([str(run)], out, )
    page = browser.open(out.as_uri())
    page.wait_for("document.body.getAttribute('data-ready') === '1'")
    _set(page, "#f-search", "case-0002", "input")
    assert _matching(page) == 1
    assert page.eval("document.querySelector('#rows .prompt').textContent") == EVIL
    assert page.eval("typeof window.__pwned") == "undefined"
    assert page.eval("document.querySelectorAll('#rows script, #rows img[src=x], #rows [onerror]').length") == 0
    # the search box echoes user input as text as well
    _set(page, "#f-search", "<img src=x onerror=window.__pwned=3>", "input")
    assert _matching(page) == 0 and page.eval("typeof window.__pwned") == "undefined"
    assert page.errors() == []
