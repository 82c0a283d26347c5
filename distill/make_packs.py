"""Write the packs for the bundled models: benchmarks/typography-mini and benchmarks/edit-mini.

Prompts come from the training grammar (distill.data) with specs drawn from a held-out seed; edit
sources are rendered PNGs in the pack's assets/. Re-running rewrites identical files.
Command: python -m distill.make_packs
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import yaml

from distill import data

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent / "benchmarks"
PACK_SEED = 2024
SEEDS = [0, 1, 2, 3]
SELECT_SEEDS = [10, 11]   # typography-mini-select: the split students are chosen on


def _hex(name: str) -> str:
    r, g, b = data.COLORS[name]
    return f"#{r:02X}{g:02X}{b:02X}"


def typography_cases() -> list[dict]:
    """48 clean typography + 16 cluttered + 16 figures cases; the first 16 are tagged `quick`."""
    rng = np.random.default_rng(PACK_SEED)
    cases: list[dict] = []
    plan = ["typography"] * 48 + ["cluttered"] * 16 + ["figures"] * 16
    order = list(rng.permutation(len(plan)))
    for n, i in enumerate(order):
        cat = plan[i]
        if cat == "figures":
            spec = data.sample_figure_spec(rng)
            c = {"id": f"fig-{n:03d}", "kind": "t2i", "prompt": data.prompt_for(spec),
                 "tags": ["figures", spec.shape, spec.pos],
                 "background": {"color": _hex(spec.bg)}}
        else:
            tspec = data.sample_text_spec(rng, clutter=cat == "cluttered")
            c = {"id": f"{'clut' if tspec.clutter else 'typo'}-{n:03d}", "kind": "t2i",
                 "prompt": data.prompt_for(tspec), "tags": [cat, tspec.font, tspec.size, tspec.pos],
                 "expected_text": [tspec.word]}
            if not tspec.clutter:
                c["background"] = {"color": _hex(tspec.bg), "region": list(data.free_region(tspec))}
        if n < 16:
            c["tags"].append("quick")
        cases.append(c)
    return cases


def heldout_cases() -> list[dict]:
    """48 clean typography cases whose words were never trained on (data.HELDOUT_WORDS)."""
    rng = np.random.default_rng(PACK_SEED + 2)
    cases = []
    for n in range(48):
        tspec = data.sample_text_spec(rng, words=data.HELDOUT_WORDS)
        cases.append({"id": f"held-{n:03d}", "kind": "t2i", "prompt": data.prompt_for(tspec),
                      "tags": ["heldout", tspec.font, tspec.size, tspec.pos],
                      "expected_text": [tspec.word],
                      "background": {"color": _hex(tspec.bg), "region": list(data.free_region(tspec))}})
    return cases


def edit_cases(assets: Path) -> list[dict]:
    """48 edit cases (16 per op), sources rendered into assets/."""
    rng = np.random.default_rng(PACK_SEED + 1)
    assets.mkdir(parents=True, exist_ok=True)
    cases = []
    for n in range(48):
        op = data.EDIT_OPS[n % 3]
        while True:
            src, _, value, tgt = data.sample_edit(rng, 0)
            if _ == op:
                break
        layout = int(rng.integers(0, 2**31))
        name = f"src-{n:03d}.png"
        data.render_text(src, layout).save(assets / name)
        c = {"id": f"edit-{op}-{n:03d}", "kind": "edit", "prompt": data.edit_prompt(op, value),
             "source": f"assets/{name}", "tags": ["edit", op], "expected_text": [tgt.word],
             "background": {"color": _hex(tgt.bg), "region": list(data.free_region(tgt))}}
        if n < 12:
            c["tags"].append("quick")
        cases.append(c)
    return cases


def write_pack(name: str, description: str, judges: list[str], cases: list[dict],
               seeds: list[int] = SEEDS) -> Path:
    root = ROOT / name
    root.mkdir(parents=True, exist_ok=True)
    meta = {"name": name, "version": 1, "description": description, "judges": judges,
            "defaults": {"seeds": seeds, "width": data.WIDTH, "height": data.HEIGHT}}
    (root / "pack.yaml").write_text(yaml.safe_dump(meta, sort_keys=False, width=100))
    with (root / "cases.jsonl").open("w") as f:
        for c in cases:
            f.write(json.dumps(c) + "\n")
    return root


def main() -> None:
    write_pack("typography-mini",
               "Typography for the bundled tiny models (96x32): 48 words on flat backgrounds "
               "(4 fonts, 3 sizes, 8 colours, 3 positions), 16 on cluttered backgrounds, 16 flat "
               "figures; prompts use the distill training grammar. Tag 'quick' = 16-case subset "
               "for checkpoint sweeps.",
               ["ocr", "flatbg", "fidelity", "diversity"], typography_cases())
    write_pack("typography-mini-select",
               "typography-mini's cases with other seeds (10, 11): the split that sweeps choose "
               "the bundled student on, so that typography-mini (seeds 0-3) reports it on images "
               "not used to choose it.",
               ["ocr", "flatbg", "fidelity", "diversity"], typography_cases(), SELECT_SEEDS)
    write_pack("typography-heldout",
               "Typography for the bundled tiny models (96x32) with words never seen in training "
               "(distill.data.HELDOUT_WORDS, the same letters spelled anew): 48 words on flat "
               "backgrounds; prompts use the distill training grammar.",
               ["ocr", "flatbg"], heldout_cases())
    write_pack("edit-mini",
               "Edits for the bundled tiny models (96x32): recolour background, recolour text, "
               "replace the word (16 each); sources in assets/. Tag 'quick' = 12-case subset.",
               ["ocr", "flatbg", "fidelity"], edit_cases(ROOT / "edit-mini" / "assets"))


if __name__ == "__main__":
    main()
