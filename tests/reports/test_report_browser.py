"""The report in a real headless Chromium (Debian's chromium, driven over the DevTools protocol):
renders without console errors, filters and pages, sweeps draw curves, user strings stay text."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from evalsuite.registry import JUDGES, RENDERERS
from evalsuite.runner import RunConfig, run_eval
from reports.html import Options, build_report
from tests.core.conftest import write_pack
from tests.core.doubles import MeanJudge, PatternRenderer
from tests.reports.make_run import make_run, make_sweep
from tests.reports.test_report import EVIL, TYPO_CLASSES, make_typo_run

pytestmark = pytest.mark.slow


def _shot(page, tmp_path: Path, name: str, full_page: bool = False) -> Path:
    """Screenshot into $EVALSUITE_SCREENSHOT_DIR (a stable folder, e.g. for CI artifacts) or pytest's tmp."""
    d = Path(os.environ.get("EVALSUITE_SCREENSHOT_DIR") or tmp_path)
    d.mkdir(parents=True, exist_ok=True)
    p = page.screenshot(d / name, full_page=full_page)
    print(f"screenshot: {p}")
    return p


def _outside_templates(html: str) -> str:
    return re.sub(r"<template[^>]*>.*?</template>", "", html, flags=re.S)


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
    shot = _shot(page, tmp_path, "report-run.png")
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
    _shot(page, tmp_path, "report-sweep.png")
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


def _lane_values(rows: list[dict], lane: int, mi: int) -> list[float | None]:
    return [(r["cells"][lane] or {}).get("s", {}).get(str(mi), [None])[0] for r in rows]


def test_value_range_filter_metric_sort_and_lazy_pages(browser, tmp_path):
    run = make_run(tmp_path / "run", n_cases=40, seeds=(0, 1), n_edit=0)
    out = tmp_path / "report.html"
    build_report([str(run)], out)
    rows = _rows_data(out)
    html = out.read_text(encoding="utf-8")
    page = browser.open(out.as_uri())
    page.wait_for("document.body.getAttribute('data-ready') === '1'")
    keys = [m.split(" ")[0] for m in page.eval("Array.from(document.querySelectorAll('#f-metric option')).map(o => o.textContent)")]
    mi = keys.index("flatbg.noise_sigma")
    _set(page, "#f-metric", str(mi))
    noise = _lane_values(rows, 1, mi)              # lanes: teacher, student (the compared model)
    # value range: the student's value of the selected metric within [min, max]
    _set(page, "#f-min", "3.95", "input")
    _set(page, "#f-max", "4.05", "input")
    want = sum(1 for v in noise if v is not None and 3.95 <= v <= 4.05)
    assert 0 < want < len(rows) and _matching(page) == want
    _set(page, "#f-min", "", "input")
    assert _matching(page) == sum(1 for v in noise if v is not None and v <= 4.05)
    _set(page, "#f-max", "", "input")
    assert _matching(page) == len(rows)
    # sort by metric value, both ways: the page shows the rows in the student's value order
    def order() -> list:
        return page.eval("Array.from(document.querySelectorAll('#rows .case-row')).map(r => "
                         "[r.getAttribute('data-case'), Number(r.getAttribute('data-seed'))])")
    by_value = sorted(range(len(rows)), key=lambda i: noise[i])
    _set(page, "#f-sort", "value-asc")
    assert order() == [[rows[i]["case"], rows[i]["seed"]] for i in by_value[:25]]
    _set(page, "#f-sort", "value-desc")
    desc = sorted(range(len(rows)), key=lambda i: -noise[i])
    assert order() == [[rows[i]["case"], rows[i]["seed"]] for i in desc[:25]]
    shown = [noise[[(r["case"], r["seed"]) for r in rows].index(tuple(k))] for k in order()]
    assert shown == sorted(shown, reverse=True) and shown[0] == max(noise)
    # only the visible page is in the DOM: 25 rows x (thumbnail + crop) x 2 lanes of 80 rows' images
    n_blobs = html.count('<script type="text/plain"')
    assert page.eval("document.querySelectorAll('#rows img').length") == 25 * 2 * 2 < n_blobs
    assert page.eval("document.querySelectorAll('#rows img[src]').length") == 100
    _set(page, "#f-pagesize", "10")
    assert page.eval("document.querySelectorAll('#rows img').length") == 10 * 2 * 2
    assert page.errors() == []


def test_ocr_diff_marks_misread_words_and_characters(browser, tmp_path):
    """Latin is diffed word by word; Chinese (no spaces between words) character by character."""
    run = make_run(tmp_path / "run", n_cases=3, seeds=(0,), n_edit=0,
                   expected={0: ["HELLO WORLD"], 1: ["你好世界"], 2: ["OPEN 24 小时"]},
                   ocr_read={0: {"student": "HELL0 WORLD"}, 1: {"student": "你好世介"},
                             2: {"student": "OPEN 24 小日寸"}})
    out = tmp_path / "ocr.html"
    build_report([str(run)], out)
    page = browser.open(out.as_uri())
    page.wait_for("document.body.getAttribute('data-ready') === '1'")

    def marks(case: str) -> dict:
        return page.eval(f"""(function(){{
          var row = document.querySelector('#rows .case-row[data-case="{case}"]');
          var box = row.querySelectorAll('.lane')[1].querySelector('.ocr');
          var t = function (sel) {{ return Array.from(box.querySelectorAll(sel)).map(e => e.textContent); }};
          return {{del: t('del'), ins: t('ins'), hit: t('.hit'), text: box.textContent}};
        }})()""")
    latin = marks("case-0000")
    assert latin["del"] == ["HELLO "] and latin["ins"] == ["HELL0 "] and latin["hit"] == ["WORLD"]
    cjk = marks("case-0001")
    assert cjk["del"] == ["界"] and cjk["ins"] == ["介"] and cjk["hit"] == ["你", "好", "世"]
    assert cjk["text"] == "OCR: 你好世介界"                  # no spaces invented between characters
    mixed = marks("case-0002")
    assert mixed["hit"] == ["OPEN ", "24 ", "小"] and mixed["del"] == ["时"] and mixed["ins"] == ["日", "寸"]
    assert page.errors() == []


def test_typography_errors_beside_the_ocr_diff(browser, tmp_path):
    """Each OCR cell lists its classified errors under the diff, which compares text as written (a
    case-only or punctuation-only misreading is a miss, as in the strict metrics); the summary's
    per-model table is on the page."""
    run = make_typo_run(tmp_path / "run")
    out = tmp_path / "typo.html"
    build_report([str(run)], out)
    page = browser.open(out.as_uri())
    page.wait_for("document.body.getAttribute('data-ready') === '1'")

    def cell(case: str, lane: int) -> dict:
        return page.eval(f"""(function(){{
          var row = document.querySelector('#rows .case-row[data-case="{case}"]');
          var box = row.querySelectorAll('.lane')[{lane}], ocr = box.querySelector('.ocr'), ty = box.querySelector('.typo');
          var t = function (root, sel) {{ return Array.from(root.querySelectorAll(sel)).map(e => e.textContent); }};
          return {{del: t(ocr, 'del'), ins: t(ocr, 'ins'), hit: t(ocr, '.hit'), counts: ty.querySelector('.typo-counts').textContent,
                   errors: t(ty, 'li[data-kind]'), kinds: Array.from(ty.querySelectorAll('li[data-kind]')).map(e => e.dataset.kind),
                   more: t(ty, 'li.ns'), after: ocr.nextElementSibling === ty}};
        }})()""")
    s = cell("case-0000", 1)
    assert s["del"] == ["SALE ", "50% "] and s["ins"] == ["sale ", "50 "] and s["hit"] == ["OFF"]
    assert s["counts"] == "typography errors: case 1 · punctuation 1" and s["after"]
    assert s["errors"] == ["case: “SALE” → “sale”", "punctuation: “50%” → “50”"]
    t = cell("case-0000", 0)     # the teacher read it as written
    assert t["del"] == [] and t["ins"] == [] and t["counts"] == "typography errors: none" and t["errors"] == []
    for i, want in TYPO_CLASSES.items():
        assert sorted(cell(f"case-{i:04d}", 1)["kinds"]) == sorted(k for k, n in want.items() for _ in range(n))
    assert cell("case-0003", 1)["errors"] == ["extra: ∅ → “NOW”"]
    big = cell("case-0004", 1)
    n_big = sum(_rows_data(out)[4]["cells"][1]["d"]["ocr"]["error_counts"].values())
    assert len(big["errors"]) == 10 and big["more"] == [f"… {n_big - 10} more"]
    table = page.eval("document.getElementById('typography').textContent")
    assert table.startswith("Typography errors") and "punctuation" in table
    assert page.errors() == []


def test_lightbox_shows_the_full_resolution_render(browser, tmp_path):
    run = make_run(tmp_path / "run", n_cases=2, seeds=(0,), n_edit=0, size=(320, 200))
    for budget, natural, full in ((16.0, 320, "1"), (0.0, 256, "0")):
        out = tmp_path / f"lb-{budget}.html"
        build_report([str(run)], out, Options(full_budget_mb=budget))
        page = browser.open(out.as_uri())
        page.wait_for("document.body.getAttribute('data-ready') === '1'")
        # the row shows the 256 px thumbnail; the lightbox the embedded original (320 x 200)
        assert page.eval("document.querySelector('#rows img.thumb').naturalWidth") == 256 or page.wait_for(
            "document.querySelector('#rows img.thumb').naturalWidth === 256")
        page.eval("document.querySelector('#rows img.thumb').click()")
        page.wait_for("document.getElementById('lb-img').complete && document.getElementById('lb-img').naturalWidth > 0")
        assert page.eval("document.getElementById('lb-img').naturalWidth") == natural
        assert page.eval("document.getElementById('lb-img').getAttribute('data-full')") == full
        title = page.eval("document.getElementById('lb-title').textContent")
        assert ("full resolution not embedded" in title) == (full == "0") and "320×200" in title
        assert page.errors() == []


def test_user_strings_everywhere_render_as_text(browser, tmp_path):
    """A <script> in a tag, a case id, the OCR reading, a VLM reply, a run name and a recipe name."""
    evil_id = "case-<script>window.__pwned=7</script>"
    run = make_run(tmp_path / "run", n_cases=4, seeds=(0,), n_edit=0, name=EVIL, case_ids={2: evil_id},
                   extra_tags={2: [EVIL]}, ocr_read={2: {"student": EVIL}}, vlm_reply={2: "verdict: " + EVIL})
    out = tmp_path / "evil.html"
    build_report([str(run)], out)
    html = out.read_text(encoding="utf-8")
    page = browser.open(out.as_uri())
    page.wait_for("document.body.getAttribute('data-ready') === '1'")
    # nothing injected: the data block (removed once read) and the script are the only ones outside the templates
    assert _outside_templates(html).count("<script") == 2 and page.eval("document.scripts.length") == 1
    assert page.eval("['blobs-0', 'blobs-1'].map(t => document.getElementById(t).content.children.length)"
                     ".reduce((a, b) => a + b)") == html.count("<script") - 2
    assert page.eval("document.querySelector('h1').textContent") == EVIL
    assert EVIL in page.eval("document.getElementById('models').textContent")
    assert EVIL in page.eval("document.getElementById('per-tag').textContent")
    assert EVIL in page.eval("Array.from(document.querySelectorAll('#f-tag option')).map(o => o.value)")
    _set(page, "#f-tag", EVIL)
    assert _matching(page) == 1
    row = "document.querySelector('#rows .case-row')"
    assert page.eval(f"{row}.getAttribute('data-case')") == evil_id
    assert page.eval(f"{row}.querySelector('.cid').textContent") == evil_id
    assert EVIL in page.eval(f"Array.from({row}.querySelectorAll('.tag')).map(t => t.textContent)")
    student = f"{row}.querySelectorAll('.lane')[1]"
    ocr = page.eval(f"{student}.querySelector('.ocr').textContent")
    assert '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">' in ocr
    assert page.eval(f"{student}.querySelector('.rationale').textContent") == "vlm-t2i: verdict: " + EVIL
    page.eval(f"(function(){{var d={student}.querySelector('details'); d.open=true; d.dispatchEvent(new Event('toggle'));}})()")
    assert EVIL in json.loads(page.eval(f"{student}.querySelector('pre.detail').textContent"))["vlm-t2i"]["replies"][0]["text"]
    assert page.eval("document.querySelectorAll('#rows script, #rows img[src=x], [onerror]').length") == 0
    assert page.eval("typeof window.__pwned") == "undefined"
    assert page.errors() == []
    # a recipe name in a sweep: lane labels, chart legends
    sweep = make_sweep(tmp_path / "sweep", EVIL, [100, 200], n_cases=3)
    out = tmp_path / "evil-sweep.html"
    build_report([str(sweep)], out)
    page = browser.open(out.as_uri())
    page.wait_for("document.body.getAttribute('data-ready') === '1'")
    assert _outside_templates(out.read_text(encoding="utf-8")).count("<script") == 2
    assert page.eval("document.scripts.length") == 1
    labels = page.eval("Array.from(document.querySelectorAll('#rows .case-row:first-child .lane-label')).map(e => e.textContent)")
    assert f"{EVIL}/step-000100" in labels
    assert EVIL in page.eval("document.querySelector('#sweep svg.chart text.legend').textContent")
    assert page.eval("typeof window.__pwned") == "undefined" and page.errors() == []


def test_real_sweeps_feed_report_and_compare(browser, tmp_path, capsys):
    """`evalsuite sweep` for real (evalsuite.sweep, runner, TinyFlowPipeline renders, flatbg and
    fidelity judges) over tiny checkpoints of two recipes, then `report` and `compare` on its output."""
    import torch

    from distill.train import new_pipeline
    from evalsuite.cli.main import main
    from evalsuite.compare import load_sweep

    def checkpoints(root: Path, recipe: str, seeds: tuple[int, ...]) -> Path:
        for step, s in zip((0, 10), seeds, strict=True):
            torch.manual_seed(s)
            d = root / f"step-{step:06d}"
            new_pipeline(channels=(16, 32), text_dim=16).save_pretrained(
                d, sampler={"num_inference_steps": 2, "guidance_scale": 1.0})
            (d / "train_config.json").write_text(json.dumps({"step": step, "config": {"name": recipe}}))
        return root

    torch.manual_seed(99)
    teacher = tmp_path / "teacher"
    new_pipeline(channels=(16, 32), text_dim=16).save_pretrained(
        teacher, sampler={"num_inference_steps": 2, "guidance_scale": 1.0})
    sweeps = []
    for recipe, seeds in (("clean", (1, 2)), ("mixed", (3, 4))):
        ck = checkpoints(tmp_path / f"ck-{recipe}", recipe, seeds)
        sd = tmp_path / f"sweep-{recipe}"
        assert main(["sweep", str(ck), "--pack", "typography-mini", "--teacher", str(teacher), "--sweep-dir", str(sd),
                     "--limit", "2", "--judges", "flatbg,fidelity", "--no-progress"]) == 0
        sweeps.append(sd)
    capsys.readouterr()
    out = tmp_path / "sweeps.html"
    assert main(["report", *map(str, sweeps), "-o", str(out)]) == 0
    assert "report:" in capsys.readouterr().out
    page = browser.open(out.as_uri())
    page.wait_for("document.body.getAttribute('data-ready') === '1'")
    keys = load_sweep(sweeps[0]).checkpoints[0].run.metric_keys("student")
    assert "fidelity.psnr" in keys and "flatbg.sigma" in keys
    assert page.eval("document.querySelectorAll('#sweep svg.chart').length") == len(keys)
    # one curve per recipe, teacher level as the reference where the teacher has the metric
    assert page.eval("document.querySelector('#sweep svg.chart').querySelectorAll('polyline').length") == 2
    assert page.eval("document.querySelectorAll('#sweep line.ref').length") >= 1
    lanes = page.eval("Array.from(document.querySelectorAll('#rows .case-row:first-child .lane-label')).map(e => e.textContent)")
    assert lanes == ["sweep-clean: teacher", "clean/step-000000", "clean/step-000010",
                     "mixed/step-000000", "mixed/step-000010"]
    assert _matching(page) == 8                        # 2 cases x 4 seeds
    assert page.errors() == []
    # compare: best checkpoint per metric and recipe, and the recipe verdicts, with the same numbers
    assert main(["compare", *map(str, sweeps), "--json", "--metrics", "fidelity.psnr"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["recipes"] == ["clean", "mixed"]
    best = {b["recipe"]: b for b in res["best"]}
    for recipe, sd in zip(("clean", "mixed"), sweeps, strict=True):
        cps = load_sweep(sd).checkpoints
        means = {cp.name: sum(v := list(cp.run.values("student", "fidelity.psnr").values())) / len(v) for cp in cps}
        assert best[recipe]["checkpoint"] == max(means, key=means.get)
        assert best[recipe]["mean"] == pytest.approx(max(means.values()))
    # the default pick is honest: checkpoints picked on one half of the cases, compared on the other
    (v,) = res["verdicts"]
    assert v["delta"]["n"] == 4 and v["delta"]["n_cases"] == 1 and not v["delta"]["selected_on_test"]
    # picked and compared on the same (all) cases: the same numbers as the runs, marked as selected on test
    assert main(["compare", *map(str, sweeps), "--json", "--metrics", "fidelity.psnr", "--pick", "best-on-test"]) == 0
    (v,) = json.loads(capsys.readouterr().out)["verdicts"]
    a = next(cp for cp in load_sweep(sweeps[0]).checkpoints if cp.name == v["a_checkpoint"]).run.values("student", "fidelity.psnr")
    b = next(cp for cp in load_sweep(sweeps[1]).checkpoints if cp.name == v["b_checkpoint"]).run.values("student", "fidelity.psnr")
    assert v["delta"]["n"] == 8 and v["delta"]["excluded"] == 0 and v["delta"]["selected_on_test"]
    assert v["delta"]["delta"] == pytest.approx(sum(b[k] - a[k] for k in a) / 8)
    _shot(page, tmp_path, "report-real-sweep.png")


def test_page_one_renders_before_the_rest_of_the_file_is_parsed(browser, tmp_path):
    """Page 1's images precede the script, everything else follows it in an inert template: the case
    browser draws page 1 first and fills in what it could not show once the file is parsed."""
    run = make_run(tmp_path / "run", n_cases=30, seeds=(0,), n_edit=0)
    out = tmp_path / "r.html"
    build_report([str(run)], out, Options(page_size=10))
    html = out.read_text(encoding="utf-8")
    rows = _rows_data(out)
    first = {c[k] for r in rows[:10] for c in r["cells"] if c for k in ("img", "crop")}
    head, rest = html.split("<script nonce=", 1)
    t0 = re.search(r'<template id="blobs-0">(.*?)</template>', head, re.S).group(1)
    assert set(re.findall(r'<script type="text/plain" id="(i\d+)">', t0)) == first
    assert not set(re.findall(r'<script type="text/plain" id="(i\d+)">', rest)) & first
    page = browser.open(out.as_uri())
    page.wait_for("document.body.getAttribute('data-ready') === '1'")
    assert int(page.eval("document.body.getAttribute('data-first-render-ms')")) <= int(
        page.eval("document.body.getAttribute('data-ready-ms')"))
    # images of later pages come from the second template
    page.eval("document.getElementById('next').click()")
    page.wait_for("Array.from(document.querySelectorAll('#rows img')).every(i => i.src.startsWith('data:image/'))")
    assert page.eval("document.querySelectorAll('#rows img').length") == 10 * 2 * 2
    # a page shown before its images were parsed is drawn again when they arrive (simulated)
    page.eval("(function(){var t=document.getElementById('blobs-1'); window.__saved=t; t.remove();})()")
    page.eval("document.getElementById('next').click()")
    assert page.eval("document.querySelectorAll('#rows img[src]').length") == 0
    page.eval("(function(){document.body.appendChild(window.__saved);"
              "document.body.removeAttribute('data-ready'); document.dispatchEvent(new Event('DOMContentLoaded'));})()")
    assert page.eval("document.body.getAttribute('data-ready')") == "1"
    assert page.eval("document.querySelectorAll('#rows img[src]').length") == 10 * 2 * 2
    assert page.eval("document.getElementById('page').textContent") == "page 3 / 3"
    assert page.errors() == []


def test_ladder_curves_render_in_chromium(browser, tmp_path):
    """The ladder section draws, per metric, both models' points and CI bars in every bucket, and
    shades the first break; the points sit in bucket order, left to right."""
    from tests.reports.test_report import LADDER, ladder_run

    run = ladder_run(tmp_path / "run")
    out = tmp_path / "ladders.html"
    build_report([str(run)], out)
    page = browser.open(out.as_uri())
    page.wait_for("document.body.getAttribute('data-ready') === '1'")
    charts = page.eval("document.querySelectorAll('#ladders svg.ladder-chart').length")
    assert charts == 5          # ocr.word_recall, ocr.ned, flatbg.noise_sigma, vlm-t2i.overall, diversity.lpips_spread
    sel = '#ladders svg.ladder-chart[data-metric="ocr.word_recall"]'
    for role in ("teacher", "student"):
        xs = page.eval(f"Array.from(document.querySelectorAll('{sel} g.series.{role} circle.pt'))"
                       ".map(c => [c.dataset.bucket, c.getBoundingClientRect().x])")
        assert [b for b, _ in xs] == LADDER and [x for _, x in xs] == sorted(x for _, x in xs)
        bars = page.eval(f"Array.from(document.querySelectorAll('{sel} g.series.{role} g.ci-bar'))"
                         ".map(g => g.getBoundingClientRect().height)")
        assert len(bars) == 3
    # the student's 'mid' bucket has a real interval: its bar is drawn with a visible height
    assert page.eval(f"document.querySelector('{sel} g.series.student g.ci-bar[data-bucket=mid]')"
                     ".getBoundingClientRect().height") > 5
    mark = page.eval(f"(function(){{var r=document.querySelector('{sel} rect.break-mark');"
                     "var b=r.getBoundingClientRect(); return [r.dataset.bucket, b.width, b.height, "
                     "getComputedStyle(r).fill];})()")
    assert mark[0] == "hard" and mark[1] > 20 and mark[2] > 50 and mark[3] != "none"
    page.eval("document.getElementById('ladders').scrollIntoView()")
    _shot(page, tmp_path, "report-ladders-synthetic.png")
    assert page.errors() == []
