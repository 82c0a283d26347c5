"""The HTML report as a file: self-contained, escaped, numbers that match the run (no browser)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest

from evalsuite.cli.main import main
from evalsuite.compare import load_run
from evalsuite.stats import keyed_mean_ci
from evalsuite.types import EvalsuiteError
from reports.html import Options, build_report
from tests.reports.make_run import make_run, make_sweep

EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> & "quotes" </textarea>\u2028'


def _data(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    assert m, "report data block missing"
    return json.loads(m.group(1))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("rep") / "run", n_cases=10, prompts={3: EVIL})


def test_report_is_self_contained_and_matches_the_run(run_dir, tmp_path):
    out = tmp_path / "r.html"
    info = build_report([str(run_dir)], out)
    html = out.read_text(encoding="utf-8")
    assert info.bytes == out.stat().st_size and info.rows == 20 and info.cases == 10
    # no network: every src/href is a data: URL (or an in-page anchor)
    refs = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html)
    assert refs and all(r.startswith("data:") or r.startswith("#") for r in refs)
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    data = _data(html)
    assert [ln["label"] for ln in data["lanes"]] == ["source", "teacher", "student"]
    assert len(data["rows"]) == 20
    # every image referenced by a row is embedded once, as a data URL script block
    ids = {c[k] for r in data["rows"] for c in r["cells"] if c for k in ("img", "crop") if c.get(k)}
    for iid in ids:
        assert re.search(rf'<script type="text/plain" id="{iid}">data:image/(png|webp);base64,', html)
    # summary numbers are the run's: mean of the student's OCR recall with its CI
    run = load_run(run_dir)
    vals = list(run.values("student", "ocr.word_recall").values())
    row = re.search(r"<tr><td>ocr.word_recall</td>.*?</tr>", html, re.S).group(0)
    assert f"{np.mean(vals):.4g} [" in row and "n=20" in row
    # judge failures are counted, not scored as zero
    assert "Judge failures: 4" in html and "unparseable reply" in html
    # latency and NFE per model
    models = re.search(r'<table class="t" id="models">.*?</table>', html, re.S).group(0)
    assert "654.0" in models and "47.0" in models and "<td>64</td>" in models


def test_user_strings_are_escaped(run_dir, tmp_path):
    out = tmp_path / "r.html"
    build_report([str(run_dir)], out, Options(title="<b>title</b>"))
    html = out.read_text(encoding="utf-8")
    assert "<script>window.__pwned" not in html and "<img src=x" not in html
    assert "<b>title</b>" not in html and "&lt;b&gt;title&lt;/b&gt;" in html
    assert "\u2028" not in html
    data = _data(html)
    assert next(r["prompt"] for r in data["rows"] if r["case"] == "case-0003") == EVIL
    # the only executable script carries the CSP nonce
    csp = re.search(r"script-src 'nonce-([0-9a-f]+)'", html).group(1)
    scripts = re.findall(r"<script([^>]*)>", html)
    executable = [s for s in scripts if "type=" not in s]
    assert executable == [f' nonce="{csp}"']


def test_thumbnails_and_crops(run_dir, tmp_path):
    out = tmp_path / "r.html"
    build_report([str(run_dir)], out, Options(thumb_size=32, thumb_format="jpeg", crop_size=16))
    data = _data(out.read_text(encoding="utf-8"))
    cell = data["rows"][4]["cells"][2]
    # the crop is native pixels inside the case's background region (top 30% of 64x48)
    x0, y0, x1, y1 = cell["box"]
    assert (x1 - x0, y1 - y0) == (16, 14) and y1 <= 15
    assert data["images"][cell["crop"]] == {"w": 16, "h": 14}
    meta = data["images"][cell["img"]]
    # original size, shown from a 32 px thumbnail; the original PNG is embedded too (for the lightbox)
    assert {k: meta[k] for k in ("w", "h", "tw", "th")} == {"w": 64, "h": 48, "tw": 32, "th": 24}
    html = out.read_text(encoding="utf-8")
    assert f'id="{cell["img"]}">data:image/jpeg' in html and f'id="{cell["crop"]}">data:image/png' in html
    run = load_run(run_dir)
    row = data["rows"][4]
    path = run.image_path(run.items["student"][(row["case"], row["seed"])])
    full = re.search(rf'<script type="text/plain" id="{meta["full"]}">data:image/png;base64,([^<]*)</script>', html)
    assert base64.b64decode(full.group(1)) == path.read_bytes() and data["images"][meta["full"]] == {"w": 64, "h": 48}
    # with the defaults a small render is embedded losslessly, byte for byte (grain must survive),
    # once: it is its own full-resolution view
    build_report([str(run_dir)], out)
    html = out.read_text(encoding="utf-8")
    cell = _data(html)["rows"][4]["cells"][2]
    assert _data(html)["images"][cell["img"]] == {"w": 64, "h": 48}
    url = re.search(rf'<script type="text/plain" id="{cell["img"]}">data:image/png;base64,([^<]*)</script>', html).group(1)
    run = load_run(run_dir)
    path = run.image_path(run.items["student"][(_data(html)["rows"][4]["case"], _data(html)["rows"][4]["seed"])])
    assert base64.b64decode(url) == path.read_bytes()


def test_multi_run_and_sweep_reports(run_dir, tmp_path):
    other = make_run(tmp_path / "other", n_cases=10, quality={"student": 0.2}, seed=3,
                     fingerprints={"teacher": "fp-teacher-x"})
    out = tmp_path / "two.html"
    build_report([str(run_dir), f"{other}@student"], out)
    data = _data(out.read_text(encoding="utf-8"))
    assert [ln["label"] for ln in data["lanes"]] == ["source", "run: teacher", "run: student", "other: student"]
    sw = make_sweep(tmp_path / "sweep", "clean-only", [100, 200, 300, 400, 500], n_cases=4)
    out = tmp_path / "sweep.html"
    build_report([str(sw)], out, Options(max_checkpoints=3))
    html = out.read_text(encoding="utf-8")
    data = _data(html)
    labels = [ln["label"] for ln in data["lanes"]]
    assert labels == ["source", "sweep: teacher", "clean-only/step-000100", "clean-only/step-000300",
                      "clean-only/step-000500"]
    assert data["lanes"][-1]["target"]
    assert html.count('<svg class="chart"') == 5 and html.count('class="ref"') == 5


def test_cli_report_and_errors(run_dir, tmp_path, capsys):
    out = tmp_path / "cli.html"
    assert main(["report", str(run_dir), "-o", str(out), "--thumb-size", "0"]) == 0
    assert out.exists() and "report:" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "missing"), "-o", str(out)]) == 2
    assert main(["report", f"{run_dir}@nobody", "-o", str(out)]) == 2
    with pytest.raises(EvalsuiteError, match="thumb-format"):
        build_report([str(run_dir)], out, Options(thumb_format="gif"))


def test_reports_package_imports_no_models():
    import subprocess
    import sys

    code = ("import sys, reports.html, evalsuite.cli.report, evalsuite.gate, evalsuite.compare; "
            "bad = [m for m in ('torch', 'diffusers', 'transformers', 'judges', 'rapidocr') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.returncode == 0, r.stdout + r.stderr


def test_report_is_deterministic(tmp_path):
    run = make_run(tmp_path / "run", n_cases=12, seeds=(0, 1))     # 48 images: the threaded path
    a, b = tmp_path / "a.html", tmp_path / "b.html"
    build_report([str(run)], a)
    build_report([str(run)], b)
    assert a.read_bytes() == b.read_bytes()


def test_full_resolution_originals_stay_within_the_budget(tmp_path):
    run = make_run(tmp_path / "run", n_cases=6, seeds=(0,), size=(128, 96))
    sizes = sorted(p.stat().st_size for p in (run / "images").glob("*.png"))
    budget_mb = 3.5 * sizes[-1] * 4 / 3 / 1e6          # room for three originals, never four
    info = build_report([str(run)], tmp_path / "r.html", Options(thumb_size=64, full_budget_mb=budget_mb))
    data = _data((tmp_path / "r.html").read_text(encoding="utf-8"))
    thumbs = [data["images"][c["img"]] for r in data["rows"] for c in r["cells"] if c and c.get("img")]
    with_full = [m for m in thumbs if "full" in m]
    assert info.full_images == len(with_full) >= 3 and info.full_skipped == len(thumbs) - len(with_full) > 0
    assert all(m["tw"] == 64 for m in thumbs)
    # the originals come first in case order: the first page can always be inspected at full size
    assert "full" in thumbs[0]
    info0 = build_report([str(run)], tmp_path / "r0.html", Options(thumb_size=64, full_budget_mb=0))
    assert info0.full_images == 0 and info0.bytes < info.bytes


def test_background_crop_uses_the_judges_region_box(tmp_path):
    """flatbg records the box it measured inside its flat mask (fractions): the crop is taken there,
    even where the pack gave no region; without it, the pack's region, then the top quarter."""
    box = [0.5, 0.6, 0.9, 0.95]                       # bottom right of a 64x48 render
    run = make_run(tmp_path / "run", n_cases=3, seeds=(0,), bg_region=False, region_box=box)
    build_report([str(run)], tmp_path / "r.html", Options(crop_size=16))
    for row in _data((tmp_path / "r.html").read_text(encoding="utf-8"))["rows"]:
        for cell in row["cells"][1:]:
            x0, y0, x1, y1 = cell["box"]
            # the box is [32, 57.6) x [28.8, 45.6) px: a 16 x 16 crop centred at (44.8, 37.2), inside it
            assert (x0, y0, x1, y1) == (36, 29, 52, 45)
            assert 32 <= x0 and x1 <= 57.6 and 28.8 <= y0 and y1 <= 45.6
    # no region_box, no pack region: the judge's numeric region (make_run: pixels [0, 0, 64, 14])
    run = make_run(tmp_path / "plain", n_cases=3, seeds=(0,), bg_region=False)
    build_report([str(run)], tmp_path / "p.html", Options(crop_size=16))
    cell = _data((tmp_path / "p.html").read_text(encoding="utf-8"))["rows"][0]["cells"][1]
    assert cell["box"] == [24, 0, 40, 14]
    # the order of preference, and the top-quarter guess when nothing locates the background
    from reports.html import _region
    case = {"background": {"color": [1, 2, 3], "region": [0.0, 0.5, 1.0, 1.0]}}
    assert _region(case, {"flatbg": {"region_box": box}}) == tuple(box)
    assert _region(case, {"flatbg": {"region_box": [0.9, 0, 0.1, 1]}}) == (0.0, 0.5, 1.0, 1.0)   # invalid box
    assert _region({"background": {"color": [1, 2, 3]}}, {"flatbg": {"region": "flat mask"}}) == (0, 0, 1, 0.25)
    assert _region({}, {}) is None


def test_edited_cases_are_shown_but_not_paired(tmp_path):
    """Two runs of a pack edited in between: the summary's paired Δ leaves the edited cases out (and
    says how many), their cells are flagged so the case browser computes no Δ for them."""
    a = make_run(tmp_path / "a", n_cases=8, seeds=(0,), n_edit=0)
    b = make_run(tmp_path / "b", n_cases=8, seeds=(0,), n_edit=0, prompts={0: "edited", 1: "edited too"},
                 fingerprints={"teacher": "fp-teacher-b"})
    out = tmp_path / "ab.html"
    build_report([str(a), f"{b}@student"], out)
    html = out.read_text(encoding="utf-8")
    data = _data(html)
    assert [ln["label"] for ln in data["lanes"]] == ["a: teacher", "a: student", "b: student"]
    flagged = sorted(r["case"] for r in data["rows"] for c in r["cells"] if c and c.get("changed"))
    assert flagged == ["case-0000", "case-0001"]
    row = re.search(r"<tr><td>ocr.word_recall</td>.*?</tr>", html, re.S).group(0)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    # a: student − a: teacher pairs all 8; b: student − a: teacher leaves the 2 edited cases out
    assert "(n=8, 8 cases)" in cells[-2] and "left out" not in cells[-2]
    assert "(n=6, 6 cases)" in cells[-1] and "2 left out" in cells[-1]


def test_per_tag_summary_matches_the_run(run_dir, tmp_path):
    out = tmp_path / "r.html"
    build_report([str(run_dir)], out)
    html = out.read_text(encoding="utf-8")
    table = re.search(r'<details id="per-tag">.*?</details>', html, re.S).group(0)
    run = load_run(run_dir)
    tags = sorted({t for c in run.cases.values() for t in c["tags"]})
    keys = run.metric_keys()
    assert table.count("<tr><td>") == len(keys) * len(tags)
    for key in ("ocr.word_recall", "flatbg.noise_sigma", "diversity.lpips_spread"):
        for tag in tags:
            row = re.search(rf"<tr><td>{re.escape(key)}</td><td>{re.escape(tag)}</td>(.*?)</tr>", table, re.S).group(1)
            cells = re.findall(r"<td>(.*?)</td>", row)
            for role, cell in zip(("teacher", "student"), cells, strict=True):
                vals = {k: v for k, v in run.values(role, key).items() if tag in run.cases[k[0]]["tags"]}
                assert cell.endswith(f" · {len(vals)}")
                if vals:
                    m, lo, hi = keyed_mean_ci(vals)   # the case-clustered CI
                    assert cell.startswith(f"{m:.4g} [{lo:.4g}, {hi:.4g}]")
                else:
                    assert cell.startswith("—")


# A typography run: per case the expected text and what the student's OCR read (the teacher reads
# every text as written); the classes each reading must be counted under, from docs/typography.md.
TYPO_EXPECTED = {0: ["SALE 50% OFF"], 1: ["HELLO WORLD"], 2: ["$9.99"], 3: ["OPEN"], 4: ["EXIT"]}
TYPO_READ = {0: "sale 50 OFF", 1: "HELLOWORLD", 2: "$999", 3: "OPEN NOW",
             4: " ".join(f"W{k}" for k in range(60))}          # hallucinated text: more errors than are listed
TYPO_CLASSES = {0: {"case": 1, "punctuation": 1}, 1: {"spacing": 1}, 2: {"punctuation": 1}, 3: {"extra": 1}}


def make_typo_run(run_dir: Path) -> Path:
    reads = {i: {"student": r, "teacher": " ".join(TYPO_EXPECTED[i])} for i, r in TYPO_READ.items()}
    return make_run(run_dir, n_cases=len(TYPO_EXPECTED), seeds=(0,), n_edit=0, typo=True,
                    quality={"teacher": 1.0, "student": 1.0}, expected=TYPO_EXPECTED, ocr_read=reads)


def test_typography_errors_per_model_and_per_image(tmp_path):
    """The summary counts every error class per model (total and images having one) over the
    verdicts shown; each OCR cell carries its classified errors (the first 40, counts whole)."""
    run = make_typo_run(tmp_path / "run")
    out = tmp_path / "r.html"
    build_report([str(run)], out)
    html = out.read_text(encoding="utf-8")
    cells = {r["case"]: {ln["label"]: c for ln, c in zip(_data(html)["lanes"], r["cells"])} for r in _data(html)["rows"]}
    for i, want in TYPO_CLASSES.items():
        d = cells[f"case-{i:04d}"]["student"]["d"]["ocr"]
        assert {k: n for k, n in d["error_counts"].items() if n} == want
        assert sorted(e["kind"] for e in d["errors"]) == sorted(k for k, n in want.items() for _ in range(n))
        assert sum(cells[f"case-{i:04d}"]["teacher"]["d"]["ocr"]["error_counts"].values()) == 0
    big = cells["case-0004"]["student"]["d"]["ocr"]
    n_big = sum(big["error_counts"].values())
    assert len(big["errors"]) == 40 and n_big >= 60
    table = re.search(r'<table class="t" id="typography">.*?</table>', html, re.S).group(0)
    heads = re.findall(r"<th>(.*?)</th>", table)
    assert heads == ["model", "judge", "images", "with errors", "missing", "extra", "substitution", "case",
                     "punctuation", "spacing", "order"]
    rows = {m.group(1): re.findall(r"<td[^>]*>(.*?)</td>", m.group(0))
            for m in re.finditer(r"<tr><td>(\w+)</td>.*?</tr>", table, re.S)}
    assert rows["teacher"][:4] == ["teacher", "ocr", "5", "0"]
    assert all(c == "0 <small>(0)</small>" for c in rows["teacher"][4:])
    assert rows["student"][:4] == ["student", "ocr", "5", "5"]
    totals = {c: sum(TYPO_CLASSES.get(i, {}).get(c, 0) for i in TYPO_CLASSES) + big["error_counts"][c]
              for c in heads[4:]}
    having = {c: sum(1 for i in TYPO_CLASSES if TYPO_CLASSES[i].get(c)) + bool(big["error_counts"][c]) for c in heads[4:]}
    assert rows["student"][4:] == [f"{totals[c]} <small>({having[c]})</small>" for c in heads[4:]]
    assert totals["punctuation"] == 2 and having["punctuation"] == 2 and totals["spacing"] == 1


def test_no_typography_table_without_error_counts(run_dir, tmp_path):
    out = tmp_path / "r.html"
    build_report([str(run_dir)], out)
    assert 'id="typography"' not in out.read_text(encoding="utf-8")


LADDER = ["easy", "mid", "hard"]


def ladder_run(path: Path) -> Path:
    """18 cases on a three-bucket ladder: the student reads every word the teacher reads except in
    'hard' (none) and one 'mid' case (a worse point whose CI includes zero, not a break). The
    run's summary.json records the ladder as the runner writes it."""
    ok = {i: {"teacher": True, "student": LADDER[i % 3] != "hard" and i != 1} for i in range(18)}
    run = make_run(path, n_cases=18, n_edit=0, fail_every=0, text_ok=ok, noise={"student": 2.0},
                   extra_tags={i: [LADDER[i % 3]] for i in range(18)})
    (run / "summary.json").write_text(json.dumps({"ladders": {"difficulty": {"buckets": LADDER}}}))
    return run


def test_ladder_curves_are_drawn_with_the_runs_numbers(tmp_path):
    run_dir = ladder_run(tmp_path / "run")
    out = tmp_path / "r.html"
    build_report([str(run_dir)], out)
    html = out.read_text(encoding="utf-8")
    section = re.search(r'<section id="ladders">.*?</section>', html, re.S).group(0)
    assert '<div class="ladder" data-ladder="difficulty">' in section
    line = re.search(r'<p class="ladder-break">(.*?)</p>', section).group(1)
    assert line.startswith("ladder difficulty (easy &gt; mid &gt; hard): first break at ")
    assert re.search(r"(at hard \(|hard: )[^;)]*ocr.word_recall", line), line
    chart = re.search(r'<svg class="chart ladder-chart"[^>]*data-metric="ocr.word_recall".*?</svg>', section, re.S).group(0)
    run = load_run(run_dir)
    for role in ("teacher", "student"):
        pts = dict(re.findall(r'<circle class="pt" data-bucket="(\w+)" data-mean="([^"]+)"',
                              chart.split(f'<g class="series {role}"', 1)[1].split('class="legend"', 1)[0]))
        assert list(pts) == LADDER
        for tag in LADDER:   # the plotted mean is the bucket's mean over its (case, seed) pairs
            vals = [v for (c, _), v in run.values(role, "ocr.word_recall").items() if tag in run.cases[c]["tags"]]
            assert float(pts[tag]) == pytest.approx(np.mean(vals)) and len(vals) == 12
    assert [float(v) for v in re.findall(r'data-mean="([^"]+)"', chart)] == pytest.approx(
        [1, 1, 1, 1, 5 / 6, 0])
    # CI bars: one per model and bucket; the first break is shaded at 'hard' only
    assert chart.count('<g class="ci-bar"') == 6
    assert re.findall(r'<rect class="break-mark" data-bucket="(\w+)"', chart) == ["hard"]
    # the student's 'mid' bar is the case-clustered CI of the mid cases
    mid = {k: v for k, v in run.values("student", "ocr.word_recall").items() if "mid" in run.cases[k[0]]["tags"]}
    m, lo, hi = keyed_mean_ci(mid, seed=1)
    student = chart.split('<g class="series student"', 1)[1]
    bar = re.search(r'<g class="ci-bar" data-bucket="mid" data-lo="([^"]+)" data-hi="([^"]+)"', student)
    assert lo < m < hi == pytest.approx(1.0) and [float(bar.group(1)), float(bar.group(2))] == pytest.approx([lo, hi])


def test_no_ladder_section_without_ladders(run_dir, tmp_path):
    out = tmp_path / "r.html"
    build_report([str(run_dir)], out)
    assert 'id="ladders"' not in out.read_text(encoding="utf-8")
