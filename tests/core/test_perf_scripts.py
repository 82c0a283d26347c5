"""Smoke tests of benchmarks/perf/{ocr_overhead,flatbg_speed,cached_rerun}.py at their smallest
sizes, run as scripts the way a user runs them, so that they cannot rot. The numbers they print
are timing ratios (not checked here beyond being finite) and quality figures (checked)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
PERF = REPO / "benchmarks" / "perf"


def run_script(name: str, *args: str, timeout: int = 300) -> str:
    out = subprocess.run([sys.executable, str(PERF / name), *args], cwd=REPO, capture_output=True, text=True,
                         timeout=timeout, check=False)
    assert out.returncode == 0, f"{name} failed:\n{out.stderr[-3000:]}"
    return out.stdout


def number(pattern: str, text: str) -> float:
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not in:\n{text}"
    return float(m.group(1))


def test_ocr_overhead_smoke() -> None:
    out = run_script("ocr_overhead.py", "--n", "2", "--rounds", "1")
    assert "rapidocr engine direct" in out and "ocr judge (score)" in out
    assert math.isfinite(number(r"overhead \(wall clock\): best ([-+\d.]+)%", out))
    assert number(r"judge word_recall on these images: ([\d.]+)", out) == 1.0   # clean text is read


def test_flatbg_speed_smoke() -> None:
    out = run_script("flatbg_speed.py", "--size", "96", "--n", "2", "--rounds", "1", "--workers", "2")
    assert "flatbg judge, 2 processes" in out
    assert number(r"flatbg judge time / numpy baseline time: ([\d.]+)x", out) > 0
    # the judge's sigma tracks the true noise; the text-blind baseline is further off
    err_judge = number(r"vs the true noise: judge ([\d.]+)%", out)
    err_base = number(r"numpy baseline ([\d.]+)%", out)
    assert err_judge < 15 and err_judge < err_base


def test_cached_rerun_smoke(tmp_path: Path) -> None:
    """On pre-rendered images (images: renderer), so the smoke test needs no model."""
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "pack.yaml").write_text("name: perf-smoke\nversion: 1\ndescription: x\njudges: [flatbg]\n"
                                    "defaults:\n  width: 64\n  height: 64\n  seeds: [0]\n")
    rows = [{"id": f"c{i}", "kind": "t2i", "prompt": "flat grey", "background": {"color": "#808080"}} for i in range(3)]
    (pack / "cases.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        a = np.clip(128 + rng.normal(0, 3 + i, (64, 64, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(a).save(images / f"c{i}_s0.png")
    out = run_script("cached_rerun.py", "--model", f"images:{images}", "--pack", str(pack), "--limit", "3")
    assert "first run:" in out and "(rendered 3, judged 3)" in out
    assert "(rendered 0, judged 0; in process)" in out
    assert "cached run via CLI:" in out and "(rendered 0, judged 0; subprocess" in out
    assert number(r"cached / first = ([\d.]+)%", out) > 0
    assert number(r"cached via CLI / first = ([\d.]+)%", out) > 0
