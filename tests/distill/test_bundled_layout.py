"""The bundled teacher writes the prompt's word, never its layout's: no input but the prompt holds
the letters (the layout map is a box and the place across it), so swapping the layout map for
another prompt's leaves the prompt's word as what strict OCR reads, and neither another prompt's
map nor a zero one ever makes OCR read the map's word. (With a zero map the teacher does not yet
place readable letters: an expected failure, below.)

Real parts: the committed teacher (distill/models/teacher-base) and rapidocr, at the teacher's own
sampler settings, on typography-mini prompts (trained words). Deterministic: fixed seeds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from distill.pipeline import TinyFlowPipeline

REPO = Path(__file__).resolve().parents[2]
TEACHER = REPO / "distill" / "models" / "teacher-base"
N = 12


@pytest.fixture(scope="module")
def reads() -> dict[str, list[tuple[str, str, str]]]:
    """condition -> [(prompt's word, layout's word, what strict OCR read)] for N prompt pairs."""
    from judges.ocr_backends import make_backend

    torch.set_num_threads(1)
    pipe = TinyFlowPipeline.from_pretrained(TEACHER)
    assert pipe.text_layout and pipe.text_encoder.config.char_aware
    sampler = json.loads((TEACHER / "sampler.json").read_text())
    cases = [json.loads(line) for line in (REPO / "benchmarks/typography-mini/cases.jsonl").open()]
    text = [c for c in cases if c["id"].startswith("typo-")]
    pairs = []
    for i, a in enumerate(text):                  # B: the next case with another word and place
        b = next(c for c in text[i + 1:] + text[:i]
                 if c["expected_text"] != a["expected_text"] and c["prompt"].split(",")[-1] != a["prompt"].split(",")[-1])
        pairs.append((a, b))
        if len(pairs) == N:
            break
    prompts = [a["prompt"] for a, _ in pairs]
    own = pipe.text_encoder.layout_maps(prompts, 32, 96)
    swapped = pipe.text_encoder.layout_maps([b["prompt"] for _, b in pairs], 32, 96)
    ocr = make_backend("rapidocr")
    out = {}
    for cond, layout in (("own", own), ("swapped", swapped), ("zero", torch.zeros_like(own))):
        images = pipe(prompts, generator=[torch.Generator().manual_seed(i) for i in range(N)],
                      layout=layout, **sampler).images
        res = ocr.read(images)
        out[cond] = [(a["expected_text"][0], b["expected_text"][0], r.text.strip())
                     for (a, b), r in zip(pairs, res)]
    # the counts docs/distill.md quotes: `pytest -s tests/distill/test_bundled_layout.py`
    for cond, rows in out.items():
        print(f"layout {cond}: prompt's word read {sum(r[2] == r[0] for r in rows)}/{N}, "
              f"layout's word read {sum(r[2] == r[1] for r in rows)}/{N}")
    return out


def test_the_layout_never_supplies_the_word(reads: dict) -> None:
    """With another prompt's layout map, or none, OCR never reads the layout's word (a glyph-map
    model, stage 5, wrote the map's word B for 7 of 8 such prompts)."""
    for cond in ("swapped", "zero"):
        assert not any(r[2] == r[1] for r in reads[cond]), reads[cond]


def test_the_prompts_word_is_what_ocr_reads(reads: dict) -> None:
    """The prompt's word is read with its own layout (at least a third of the prompts) and with
    another prompt's layout map (other word, other place: at least half as often). Measured with
    the bundled stage-6e teacher: 9 and 5 of 12 (docs/distill.md)."""
    own = sum(r[2] == r[0] for r in reads["own"])
    assert own >= N // 3, reads["own"]
    assert sum(r[2] == r[0] for r in reads["swapped"]) >= max(1, own // 2), reads["swapped"]


@pytest.mark.xfail(strict=True, reason="with a zero layout map (no box) the bundled teacher draws "
                   "letter-like shapes but reads 0 of 12 prompts' words: it needs the letter-free box "
                   "to place the letters (docs/distill.md); remove this marker when it reads them")
def test_the_prompts_word_is_read_without_any_layout(reads: dict) -> None:
    """With a zero layout map the prompt's word is still read at least once."""
    assert sum(r[2] == r[0] for r in reads["zero"]) >= 1, reads["zero"]
