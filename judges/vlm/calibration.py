"""Judge calibration: a fixed set of good/bad image pairs whose verdict is known, built from a pack.

Each pair is a clean image for a pack case and the same image with one planted defect of the
kind distilled models show: grain on the flat background, blurred text (or a blurred image where
there is no text), garbled text, a faint grid. Good images are the pack's own edit sources, or the case's expected text drawn on its
background colour (t2i cases with text), or a plain shape on the background colour. The set is a
pure function of (pack, n, seed), so every run measures the judge on the same pairs.

Accuracy, per judge:
  vlm-t2i       overall(good) > overall(bad)                      (t2i cases)
  vlm-edit      overall(good) > overall(bad) for the instruction "keep the image unchanged",
                with the clean image as the source                (edit cases)
  vlm-pairwise  good as teacher vs bad as student -> loss, and swapped -> win (both counted)
Ties count as misses; judge failures are counted apart and excluded from the accuracy.

    python -m judges.vlm.calibration --pack typography --judge vlm-t2i --vlm-url URL --vlm-model NAME
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from evalsuite.runner import judge_verdicts
from evalsuite.judge import Judge
from evalsuite.types import Case, EvalsuiteError, JudgeInput, image_sha256

logger = logging.getLogger(__name__)

DEFECTS = ("noise", "blur_text", "garble_text", "grid", "blur")
KEEP = "Keep the image exactly as it is; change nothing."


@dataclass(frozen=True)
class CalibrationPair:
    case: Case
    good: Image.Image
    bad: Image.Image
    defect: str


# --- good images -----------------------------------------------------------------------------------

class NoCalibrationPairs(EvalsuiteError):
    """The pack has no calibration pair the judge applies to (reported as skipped, not an error)."""

def _bg(case: Case) -> tuple[int, int, int]:
    if case.background is not None and case.background.color is not None:
        return tuple(case.background.color)  # type: ignore[return-value]
    return (245, 245, 240)


def _ink(bg: tuple[int, int, int]) -> tuple[int, int, int]:
    return (20, 20, 20) if sum(bg) > 384 else (245, 245, 245)


def _size(case: Case, max_side: int) -> tuple[int, int]:
    w, h = case.width or 512, case.height or 512
    s = max_side / max(w, h)
    return max(64, int(w * s)) // 8 * 8, max(64, int(h * s)) // 8 * 8


def draw_text(text: str, size: tuple[int, int], bg: tuple[int, int, int]) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """Text centred on a flat background; returns the image and the text box."""
    im = Image.new("RGB", size, bg)
    d = ImageDraw.Draw(im)
    fs = max(12, int(min(size) / max(3, len(text)) * 1.6))
    font = ImageFont.load_default(fs)
    x0, y0, x1, y1 = d.textbbox((0, 0), text, font=font)
    while x1 - x0 > 0.9 * size[0] and fs > 10:
        fs = int(fs * 0.85)
        font = ImageFont.load_default(fs)
        x0, y0, x1, y1 = d.textbbox((0, 0), text, font=font)
    x, y = (size[0] - (x1 - x0)) / 2 - x0, (size[1] - (y1 - y0)) / 2 - y0
    d.text((x, y), text, font=font, fill=_ink(bg))
    box = (int(x + x0) - 2, int(y + y0) - 2, int(x + x1) + 2, int(y + y1) + 2)
    return im, box


def good_image(case: Case, max_side: int = 384) -> tuple[Image.Image, tuple[int, int, int, int] | None, str | None]:
    """(clean image, text box or None, text or None) for a case."""
    if case.kind == "edit" and case.source is not None and case.source.is_file():
        im = Image.open(case.source).convert("RGB")
        im.thumbnail((max_side, max_side))
        return im, None, None
    size, bg = _size(case, max_side), _bg(case)
    if case.expected_text:
        text = " ".join(case.expected_text)
        im, box = draw_text(text, size, bg)
        return im, box, text
    im = Image.new("RGB", size, bg)
    w, h = size
    ImageDraw.Draw(im).ellipse((w * 0.3, h * 0.3, w * 0.7, h * 0.7), fill=_ink(bg))
    return im, None, None


# --- planted defects -------------------------------------------------------------------------------
def add_grain(im: Image.Image, sigma: float, seed: int) -> Image.Image:
    """Gaussian grain on the flat (background-coloured) pixels only."""
    a = np.asarray(im).astype(np.float64)
    corner = a[:4, :4].reshape(-1, 3).mean(0)
    flat = np.abs(a - corner).sum(-1) < 30
    noise = np.random.default_rng(seed).normal(0, sigma, a.shape)
    a[flat] += noise[flat]
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8))


def add_grid(im: Image.Image, period: int = 8, amplitude: float = 14.0) -> Image.Image:
    a = np.asarray(im).astype(np.float64)
    yy, xx = np.mgrid[:a.shape[0], :a.shape[1]]
    a += amplitude * (((yy % period) == 0) | ((xx % period) == 0))[..., None]
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def blur_region(im: Image.Image, box: tuple[int, int, int, int] | None, radius: float = 3.0) -> Image.Image:
    out = im.copy()
    box = box or (0, 0, im.width, im.height)
    out.paste(im.crop(box).filter(ImageFilter.GaussianBlur(radius)), box[:2])
    return out


def garble(text: str, rng: random.Random) -> str:
    """Swap, double or replace letters so the word is visibly misspelled."""
    chars = list(text)
    letters = [i for i, c in enumerate(chars) if c.isalpha()]
    if len(letters) >= 2:
        i, j = rng.sample(letters, 2)
        chars[i], chars[j] = chars[j], chars[i]
    if letters:
        k = rng.choice(letters)
        chars[k] = rng.choice("QXZJKVW") if chars[k] not in "QXZJKVW" else "E"
        chars.insert(k, chars[k])
    g = "".join(chars)
    return g if g != text else text[::-1] + "X"


def plant(case: Case, defect: str, seed: int, max_side: int = 384) -> tuple[Image.Image, Image.Image]:
    good, box, text = good_image(case, max_side)
    if defect == "noise":
        bad = add_grain(good, 18.0, seed)
    elif defect == "grid":
        bad = add_grid(good)
    elif defect == "blur_text" and box is not None:
        bad = blur_region(good, box)
    elif defect == "blur":
        bad = blur_region(good, None)
    elif defect == "garble_text" and text:
        bad, _ = draw_text(garble(text, random.Random(seed)), good.size, _bg(case))
    else:
        raise ValueError(f"defect '{defect}' does not apply to case {case.id}")
    return good, bad


def applicable(case: Case) -> tuple[str, ...]:
    if case.kind == "t2i" and case.expected_text:
        return ("noise", "blur_text", "garble_text", "grid")
    return ("noise", "blur", "grid")


def build_calibration_set(pack: Any, n: int = 16, seed: int = 0, max_side: int = 384,
                          kinds: Sequence[str] = ("t2i", "edit")) -> list[CalibrationPair]:
    """Up to n pairs from the pack's cases (a Pack or a pack name/folder), defects cycled in turn."""
    if isinstance(pack, str):
        from evalsuite.packs import load_pack

        pack = load_pack(pack)
    # PIL's bundled font draws Latin only: a case whose text it cannot draw gives no clean image
    cases = [c for c in pack.cases if c.kind in kinds and all(t.isascii() for t in c.expected_text)]
    rng = random.Random(seed)
    cases = sorted(cases, key=lambda c: c.id)
    rng.shuffle(cases)
    pairs = []
    for k, case in enumerate(cases[:n]):
        options = applicable(case)
        defect = options[k % len(options)]
        good, bad = plant(case, defect, seed + k, max_side)
        pairs.append(CalibrationPair(case, good, bad, defect))
    return pairs


# --- running a judge on the set --------------------------------------------------------------------
def _inp(case: Case, image: Image.Image, seed: int, **kw: Any) -> JudgeInput:
    t = kw.get("teacher_image")
    return JudgeInput(case=case, seed=seed, image=image, image_hash=image_sha256(image),
                      teacher_hash=image_sha256(t) if t is not None else None, **kw)


def run_calibration(judge: Judge, pairs: Sequence[CalibrationPair], metric: str = "overall") -> dict[str, Any]:
    """Judge accuracy on known pairs: {accuracy, correct, n, failures, per_defect, judge, judge_id}."""
    trials: list[tuple[str, list[JudgeInput], Any]] = []   # (defect, inputs, decide(verdicts) -> bool)
    for k, p in enumerate(pairs):
        if judge.name == "vlm-pairwise":
            case = p.case if p.case.kind == "t2i" else replace(p.case, kind="t2i", prompt=KEEP, source=None)
            trials.append((p.defect, [_inp(case, p.bad, k, teacher_image=p.good)], lambda v: v[0] < 0.5))
            trials.append((p.defect, [_inp(case, p.good, k, teacher_image=p.bad)], lambda v: v[0] > 0.5))
        elif judge.name == "vlm-edit":
            if p.case.kind != "edit":
                continue
            case = replace(p.case, prompt=KEEP)
            trials.append((p.defect, [_inp(case, p.good, k, source_image=p.good),
                                      _inp(case, p.bad, k, source_image=p.good)], lambda v: v[0] > v[1]))
        else:
            if not judge.applies_to(p.case):
                continue
            trials.append((p.defect, [_inp(p.case, p.good, k), _inp(p.case, p.bad, k)], lambda v: v[0] > v[1]))
    if not trials:
        raise NoCalibrationPairs(f"calibration: no pair applies to judge '{judge.name}' (t2i cases for vlm-t2i, "
                             f"edit cases for vlm-edit)")
    want = "win_rate" if judge.name == "vlm-pairwise" else metric
    inputs = [i for _, ins, _ in trials for i in ins]
    verdicts = [v for v in judge_verdicts(judge, inputs) if v.metric == want]
    per = defaultdict(lambda: {"correct": 0, "n": 0, "failures": 0})
    pos = 0
    for defect, ins, decide in trials:
        vs = verdicts[pos:pos + len(ins)]
        pos += len(ins)
        row = per[defect]
        if not all(v.ok for v in vs):
            row["failures"] += 1
            continue
        row["n"] += 1
        row["correct"] += bool(decide([v.value for v in vs]))
    n = sum(r["n"] for r in per.values())
    correct = sum(r["correct"] for r in per.values())
    return {"judge": judge.name, "judge_id": judge.judge_id(), "metric": want, "n": n, "correct": correct,
            "accuracy": correct / n if n else None, "failures": sum(r["failures"] for r in per.values()),
            "per_defect": {d: {**r, "accuracy": r["correct"] / r["n"] if r["n"] else None}
                           for d, r in sorted(per.items())}}


def calibrate(judge: Judge, pack: Any, n: int = 16, seed: int = 0) -> dict[str, Any]:
    """Build the pack's calibration set and run `judge` on it (what a run reports per judge)."""
    kinds = ("edit",) if judge.name == "vlm-edit" else ("t2i",) if judge.name == "vlm-t2i" else ("t2i", "edit")
    return run_calibration(judge, build_calibration_set(pack, n=n, seed=seed, kinds=kinds))


def main(argv: list[str] | None = None) -> int:
    from evalsuite.registry import JUDGES
    from judges.vlm import add_arguments, cli_options

    ap = argparse.ArgumentParser(prog="python -m judges.vlm.calibration", description=__doc__.splitlines()[0])
    ap.add_argument("--pack", required=True)
    ap.add_argument("--judge", default="vlm-t2i", choices=["vlm-t2i", "vlm-edit", "vlm-pairwise"])
    ap.add_argument("--n", type=int, default=16, help="pairs (default 16)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    add_arguments(ap)
    args = ap.parse_args(argv)
    try:
        judge = JUDGES.get(args.judge)(**cli_options(args).get(args.judge, {}))
        judge.preflight()       # an endpoint that is down or serves another model: one line, exit 2
        result = calibrate(judge, args.pack, n=args.n, seed=args.seed)
    except EvalsuiteError as e:
        print(f"error: {e}")
        return e.exit_code
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        from rich.console import Console

        acc = result["accuracy"]
        Console().print(f"{result['judge']} on {result['n']} known pairs: accuracy "
                        f"{'n/a' if acc is None else f'{acc:.2f}'} ({result['failures']} judge failures); "
                        + ", ".join(f"{d} {r['correct']}/{r['n']}" for d, r in result["per_defect"].items()),
                        highlight=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
