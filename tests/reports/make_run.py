"""Synthesise run directories (docs/run-format.md, version 1) for report, gate and compare tests.

Written with sqlite3 and PIL only, following the documented schema exactly, so the readers are
tested against the format rather than against the runner's code. Images are real PNGs
(content-addressed by `image_sha256`); verdicts include failures (ok=0, value NULL, error set).
Also used by benchmarks/perf/report_size.py for the 1,000-case measurement.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from evalsuite.types import group_hash, image_sha256

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE renders(fingerprint TEXT, case_hash TEXT, seed INT, image_hash TEXT, latency_s REAL,
  width INT, height INT, created REAL, PRIMARY KEY (fingerprint, case_hash, seed));
CREATE TABLE items(role TEXT, case_id TEXT, seed INT, case_hash TEXT, fingerprint TEXT,
  image_hash TEXT, PRIMARY KEY (role, case_id, seed));
CREATE TABLE cases(case_id TEXT PRIMARY KEY, case_hash TEXT, kind TEXT, prompt TEXT, tags TEXT,
  case_json TEXT);
CREATE TABLE verdicts(judge_id TEXT, image_hash TEXT, ref_hash TEXT, case_hash TEXT, seed INT,
  metric TEXT, judge TEXT, value REAL, ok INT, error TEXT, detail TEXT, created REAL,
  PRIMARY KEY (judge_id, image_hash, ref_hash, case_hash, seed, metric));
"""

WORDS = ["OPEN", "SALE", "CAFE", "HELLO", "TAXI", "BOOKS", "NOODLE", "EXIT", "2026", "BAKERY"]
TAGS = ["single-word", "multi-word", "small-text", "number"]
JUDGES = {
    "ocr": {"version": 1, "metrics": {"word_recall": (True, [0, 1]), "ned": (True, [0, 1])}},
    "flatbg": {"version": 1, "metrics": {"noise_sigma": (False, [0, None])}},
    "vlm-t2i": {"version": 1, "metrics": {"overall": (True, [0, 10])}},
    "diversity": {"version": 1, "metrics": {"lpips_spread": (True, [0, 1])}},
}


def judge_id(name: str) -> str:
    return f"{name}@v{JUDGES[name]['version']}:cfg0"


def _image(rng: np.random.Generator, bg: tuple[int, int, int], sigma: float, size: tuple[int, int],
           text_ok: bool) -> Image.Image:
    """A flat background with Gaussian grain `sigma` and a dark 'word' block (broken when not ok)."""
    w, h = size
    arr = np.empty((h, w, 3), np.float64)
    arr[:] = bg
    arr += rng.normal(0.0, sigma, arr.shape)
    x0, x1, y0, y1 = w // 4, 3 * w // 4, 2 * h // 5, 3 * h // 5
    arr[y0:y1, x0:x1] = 20
    if not text_ok:
        arr[y0:y1, (x0 + x1) // 2:x1] = bg
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def make_run(run_dir: Path, n_cases: int = 12, seeds: Sequence[int] = (0, 1), *,
             roles: Sequence[str] = ("teacher", "student"), quality: dict[str, float] | None = None,
             noise: dict[str, float] | None = None, fail_every: int = 5, size: tuple[int, int] = (64, 48),
             prompts: dict[int, str] | None = None, n_edit: int = 2, seed: int = 0,
             latency: dict[str, float] | None = None, nfe: dict[str, int] | None = None,
             name: str | None = None, fingerprints: dict[str, str] | None = None,
             case_ids: dict[int, str] | None = None, extra_tags: dict[int, list[str]] | None = None,
             expected: dict[int, list[str]] | None = None, ocr_read: dict[int, dict[str, str]] | None = None,
             vlm_reply: dict[int, str] | None = None, bg_region: bool = True,
             region_box: Sequence[float] | None = None, typo: bool = False,
             text_ok: dict[int, dict[str, bool]] | None = None) -> Path:
    """Write a complete run directory and return it.

    quality[role]: probability that the OCR reads the word (word_recall); noise[role]: grain sigma
    of the background (flatbg.noise_sigma tracks it). Every `fail_every`-th case gets a failed
    vlm-t2i verdict for the student (a judge failure, never a zero). Same arguments -> same bytes.
    Per case index i: case_ids[i] / extra_tags[i] / expected[i] (expected text) override the
    defaults, ocr_read[i][role] is what the OCR "read", vlm_reply[i] the student's VLM reply text.
    bg_region=False leaves the case's background region unset; region_box (fractions) goes into
    every flatbg verdict's detail as the box the judge measured. typo=True: every OCR detail also
    carries the typography errors of its reading (`errors`, `error_counts`, as the OCR judge v2
    stores them, classified by judges.typo_errors). text_ok[i][role] fixes whether the
    OCR reads case i's word (instead of drawing it with probability quality[role]).
    """
    quality = {"teacher": 0.9, "student": 0.8, **(quality or {})}
    noise = {"teacher": 2.0, "student": 4.0, **(noise or {})}
    latency = {"teacher": 0.654, "student": 0.047, **(latency or {})}
    nfe = {"teacher": 64, "student": 4, **(nfe or {})}
    run_dir = Path(run_dir)
    (run_dir / "images").mkdir(parents=True, exist_ok=True)
    pack_root = run_dir.parent / f"{run_dir.name}-pack"
    (pack_root / "assets").mkdir(parents=True, exist_ok=True)
    db_path = run_dir / "results.db"
    if db_path.exists():
        db_path.unlink()
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    db.execute("INSERT INTO meta VALUES('format_version', '1')")
    rng = np.random.default_rng(seed)
    fps = {r: (fingerprints or {}).get(r, f"fp-{r}-{hashlib.sha256(r.encode()).hexdigest()[:8]}") for r in roles}
    saved: set[str] = set()

    def save(img: Image.Image) -> str:
        h = image_sha256(img)
        if h not in saved:
            img.save(run_dir / "images" / f"{h}.png", format="PNG")
            saved.add(h)
        return h

    renders, items, verdicts, cases = [], [], [], []
    for i in range(n_cases):
        cid = (case_ids or {}).get(i, f"case-{i:04d}")
        word = WORDS[i % len(WORDS)]
        exp_text = (expected or {}).get(i, [word])
        kind = "edit" if i < n_edit else "t2i"
        prompt = (prompts or {}).get(i, f'A sign that reads "{word}" on a plain background')
        tags = [TAGS[i % len(TAGS)], "edit" if kind == "edit" else "t2i", *(extra_tags or {}).get(i, [])]
        bg = (int(60 + 15 * (i % 12)), int(200 - 10 * (i % 9)), int(120 + 7 * (i % 13)))
        source_name = None
        if kind == "edit":
            src = _image(np.random.default_rng(1000 + i), bg, 1.0, size, True)
            source_name = f"source-{i:04d}.png"
            src.save(pack_root / "assets" / source_name)
        background: dict[str, Any] = {"color": list(bg)}
        if bg_region:
            background["region"] = [0.0, 0.0, 1.0, 0.3]
        case = {"id": cid, "kind": kind, "prompt": prompt, "seeds": list(seeds), "source": source_name,
                "tags": tags, "expected_text": exp_text, "background": background,
                "width": size[0], "height": size[1], "questions": [], "meta": {}}
        # as Case.content_hash: everything that changes what is rendered or judged, seeds excluded
        chash = hashlib.sha256(json.dumps({k: v for k, v in case.items() if k != "seeds"},
                                          sort_keys=True).encode()).hexdigest()[:16]
        cases.append((cid, chash, kind, prompt, json.dumps(tags), json.dumps(case, ensure_ascii=False)))
        hashes: dict[str, dict[int, str]] = {r: {} for r in roles}
        for s in seeds:
            for role in roles:
                q = quality.get(role, 0.8)
                ok_text = bool(rng.random() < q)
                ok_text = (text_ok or {}).get(i, {}).get(role, ok_text)
                sig = noise.get(role, 3.0)
                img = _image(rng, bg, sig, size, ok_text)
                h = save(img)
                hashes[role][s] = h
                renders.append((fps[role], chash, s, h, latency.get(role, 0.1), size[0], size[1], 0.0))
                items.append((role, cid, s, chash, fps[role], h))
                ref = hashes["teacher"].get(s, "") if role != "teacher" and "teacher" in roles else ""
                read = (ocr_read or {}).get(i, {}).get(role, word if ok_text else word[: len(word) // 2])
                detail = {"text": read, "expected": exp_text, "lines": [{"text": read, "box": [[0, 0], [1, 0], [1, 1], [0, 1]], "score": 0.9}]}
                if typo:
                    from judges.typo_errors import classify_errors, error_counts

                    errors = classify_errors(" ".join(exp_text), read)
                    detail.update(errors=[e.to_dict() for e in errors], error_counts=error_counts(errors))
                recall = 1.0 if ok_text else 0.0
                ned = 1.0 if ok_text else 0.5
                for metric, val in (("word_recall", recall), ("ned", ned)):
                    verdicts.append((judge_id("ocr"), h, "", chash, s, metric, "ocr", val, 1, None,
                                     json.dumps(detail), 0.0))
                est = float(sig + rng.normal(0, 0.1))
                fb_detail: dict[str, Any] = {"region": [0, 0, size[0], int(size[1] * 0.3)], "sigma": est}
                if region_box is not None:
                    fb_detail["region_box"] = list(region_box)
                verdicts.append((judge_id("flatbg"), h, ref, chash, s, "noise_sigma", "flatbg", est, 1, None,
                                 json.dumps(fb_detail), 0.0))
                if role == "student" and fail_every and i % fail_every == fail_every - 1:
                    verdicts.append((judge_id("vlm-t2i"), h, "", chash, s, "overall", "vlm-t2i", None, 0,
                                     "unparseable reply: 'I cannot rate this image'",
                                     json.dumps({"model": "tiny-vlm", "error_kind": "parse", "replies": [
                                         {"text": "I cannot rate this image", "ok": True, "latency_s": 0.02}]}), 0.0))
                else:
                    score = round(float(np.clip(6 + 3 * recall - sig / 4 + rng.normal(0, 0.5), 0, 10)), 3)
                    reply = f"Text '{read}' is {'legible' if ok_text else 'cut off'}; background grain sigma≈{sig:.1f}."
                    if role == "student" and vlm_reply and i in vlm_reply:
                        reply = vlm_reply[i]
                    verdicts.append((judge_id("vlm-t2i"), h, "", chash, s, "overall", "vlm-t2i", score, 1, None,
                                     json.dumps({"model": "tiny-vlm", "answers": [{"sc": 8, "pq": 7}], "replies": [{
                                         "text": reply, "ok": True, "latency_s": 0.02}]}),
                                     0.0))
        for role in roles:
            gh = group_hash(list(hashes[role].values()))
            spread = round(float(0.3 + 0.05 * noise.get(role, 3.0) + rng.normal(0, 0.02)), 4)
            verdicts.append((judge_id("diversity"), gh, "", chash, -1, "lpips_spread", "diversity", spread,
                             1, None, "{}", 0.0))
    with db:
        db.executemany("INSERT INTO cases VALUES(?,?,?,?,?,?)", cases)
        db.executemany("INSERT OR REPLACE INTO renders VALUES(?,?,?,?,?,?,?,?)", renders)
        db.executemany("INSERT INTO items VALUES(?,?,?,?,?,?)", items)
        db.executemany("INSERT OR REPLACE INTO verdicts VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", verdicts)
    db.close()
    judges = [{"name": n, "version": j["version"], "id": judge_id(n), "config": {},
               "metrics": {m: {"higher_is_better": hib, "range": rg} for m, (hib, rg) in j["metrics"].items()}}
              for n, j in JUDGES.items()]
    run = {"format_version": 1, "name": name or run_dir.name, "created": "2026-11-22T07:12:00Z",
           "evalsuite_version": "0.1.0", "git_revision": None, "command": "synthetic (tests/reports/make_run.py)",
           "pack": {"name": "synthetic", "version": 1, "hash": "synth", "assets_hash": "", "root": str(pack_root)},
           "models": {r: {"renderer": "synthetic", "checkpoint": f"ckpt/{r}", "fingerprint": fps[r],
                          "nfe": nfe.get(r, 4), "num_inference_steps": nfe.get(r, 4)} for r in roles},
           "judges": judges, "selection": {"tags": None, "limit": None}}
    (run_dir / "run.json").write_text(json.dumps(run, indent=2))
    return run_dir


def make_sweep(sweep_dir: Path, recipe: str, steps: Sequence[int], n_cases: int = 8,
               start_quality: float = 0.5, end_quality: float = 0.85, teacher: bool = True,
               seed: int = 0, **kw: Any) -> Path:
    """A sweep directory: sweep.json + one run directory per checkpoint (student improving with
    step) and a teacher run, as `evalsuite sweep` writes them."""
    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for k, step in enumerate(steps):
        frac = k / max(1, len(steps) - 1)
        q = start_quality + (end_quality - start_quality) * frac
        name = f"step-{step:06d}"
        make_run(sweep_dir / name, n_cases=n_cases, roles=("teacher", "student"),
                 quality={"student": q}, noise={"student": 5.0 - 2.0 * frac}, seed=seed + k,
                 fingerprints={"teacher": "fp-teacher", "student": f"fp-{recipe}-{step}"}, **kw)
        entries.append({"name": name, "step": step, "run_dir": name, "checkpoint": f"ckpt/{recipe}/{name}",
                        "recipe": recipe, "evaluated": "2026-11-22T08:00:00Z"})
    sweep = {"format_version": 1, "kind": "sweep", "name": sweep_dir.name, "pack": "synthetic",
             "teacher": None, "checkpoints": entries}
    if teacher:
        # as evalsuite.sweep writes it: the teacher is the model under test ("student") of its own run
        make_run(sweep_dir / "teacher", n_cases=n_cases, roles=("student",), seed=seed + 99,
                 quality={"student": 0.9}, noise={"student": 2.0}, fail_every=0,
                 fingerprints={"student": "fp-teacher"}, **kw)
        sweep["teacher"] = {"checkpoint": "ckpt/teacher", "run_dir": "teacher"}
    (sweep_dir / "sweep.json").write_text(json.dumps(sweep, indent=2))
    return sweep_dir


CASE_LEVEL_JUDGES = {"diversity"}      # judges that score a case's seeds as a group (seed -1)


def make_run_like(run_dir: Path, summary: dict[str, Any], run_json: dict[str, Any], seeds: Sequence[int],
                  shift: dict[str, float] | None = None, seed: int = 0) -> Path:
    """A run directory whose verdicts reproduce a committed summary.json: per role and metric the
    same n, failure count and mean, with a spread matching its 95% CI (run.json gives the judges).

    Used to run every shipped gates.yaml against data shaped like the bundled models' measured runs
    without rendering. `shift[key]` adds a constant to the first role's (student's) values of a
    metric: a planted regression.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    db_path = run_dir / "results.db"
    if db_path.exists():
        db_path.unlink()
    db = sqlite3.connect(db_path)
    db.executescript(SCHEMA)
    db.execute("INSERT INTO meta VALUES('format_version', '1')")
    ids = {j["name"]: j["id"] for j in run_json.get("judges") or []}
    rng = np.random.default_rng(seed)
    metrics = summary["metrics"]
    per_image = max((e["n"] + e["failures"] for r in metrics.values() for k, e in r.items()
                     if k.split(".", 1)[0] not in CASE_LEVEL_JUDGES), default=len(seeds))
    case_level = max((e["n"] + e["failures"] for r in metrics.values() for k, e in r.items()
                      if k.split(".", 1)[0] in CASE_LEVEL_JUDGES), default=0)
    n_cases = max(case_level, -(-per_image // len(seeds)))
    keys = [(f"case-{i:04d}", s) for i in range(n_cases) for s in seeds]
    cases, items, verdicts = [], [], []
    chash = {cid: hashlib.sha256(cid.encode()).hexdigest()[:16] for cid, _ in keys[::len(seeds)]}
    for cid, h in chash.items():
        cases.append((cid, h, "t2i", f"prompt of {cid}", json.dumps(["quick"]), json.dumps({"id": cid})))
    for role in metrics:
        fp = f"fp-{role}"
        hashes = {k: hashlib.sha256(f"{role}{k}".encode()).hexdigest() for k in keys}
        items += [(role, cid, s, chash[cid], fp, hashes[(cid, s)]) for cid, s in keys]
        for key, e in metrics[role].items():
            judge, metric = key.split(".", 1)
            n, fails = int(e["n"]), int(e["failures"])
            lo, hi = e.get("ci") or (e["mean"], e["mean"])
            z = rng.standard_normal(n)
            z = (z - z.mean()) / (z.std() or 1.0) if n > 1 else np.zeros(n)
            sd = (hi - lo) / (2 * 1.96) * math.sqrt(n)
            vals = e["mean"] + sd * z + ((shift or {}).get(key, 0.0) if role == next(iter(metrics)) else 0.0)
            if judge in CASE_LEVEL_JUDGES:
                targets = [(cid, -1, group_hash([hashes[(cid, s)] for s in seeds])) for cid in list(chash)[:n + fails]]
            else:
                targets = [(cid, s, hashes[(cid, s)]) for cid, s in keys[:n + fails]]
            for j, (cid, s, ih) in enumerate(targets):
                ok = j < n
                verdicts.append((ids.get(judge, f"{judge}@v1"), ih, "", chash[cid], s, metric, judge,
                                 float(vals[j]) if ok else None, int(ok), None if ok else "planted failure", "{}", 0.0))
    with db:
        db.executemany("INSERT INTO cases VALUES(?,?,?,?,?,?)", cases)
        db.executemany("INSERT INTO items VALUES(?,?,?,?,?,?)", items)
        db.executemany("INSERT INTO verdicts VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", verdicts)
    db.close()
    (run_dir / "run.json").write_text(json.dumps({**run_json, "name": run_dir.name}, indent=2))
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return run_dir
