"""Agreement of judges with human ratings: Spearman, Kendall and pairwise accuracy, with
case-clustered bootstrap CIs.

Ratings (CSV with a header, or JSONL), one row per rater and item:
  case       the case id (required)
  seed       the seed (or `image`: an image hash of the run); optional when a case has one image
  role       which model's image was rated (default "student"; "teacher" for the teacher's)
  rater      who rated (required; several raters per item are averaged)
  score      a number (higher = better), or
  preference "teacher" | "student" | "tie" (which of the two same-seed images is better)

Score ratings: per item, the raters' mean score; per judge metric, over the items both have:
  spearman  Spearman's rho;  kendall  Kendall's tau-b;
  pairwise  pairwise accuracy: over pairs of items whose human means differ, the fraction the
            metric orders the same way (a metric tie counts half), in the metric's direction.
Preference ratings: per (case, seed), the raters' majority; per judge metric, the fraction of
non-tied human preferences where the metric prefers the same image (a metric tie counts half).
CIs resample cases (all items and seeds of a case together), 2,000 resamples, percentile.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evalsuite.types import EvalsuiteError

PREFS = {"teacher", "student", "tie"}


@dataclass(frozen=True)
class Rating:
    case: str
    seed: int | None
    image: str | None
    role: str
    rater: str
    score: float | None
    preference: str | None


def read_ratings(path: str | Path) -> list[Rating]:
    """Parse a CSV or JSONL ratings file; a bad row is a one-line error naming file and line."""
    p = Path(path)
    if not p.is_file():
        raise EvalsuiteError(f"--ratings {p}: no such file")
    rows: list[tuple[int, dict[str, Any]]] = []
    if p.suffix.lower() in (".jsonl", ".json"):
        from evalsuite.importers import read_jsonl

        rows = read_jsonl(p)
    else:
        with open(p, newline="", encoding="utf-8") as f:
            for n, obj in enumerate(csv.DictReader(f), 2):
                rows.append((n, {k.strip(): (v.strip() if isinstance(v, str) else v)
                                 for k, v in obj.items() if k}))
    if not rows:
        raise EvalsuiteError(f"{p}: no ratings")
    out = []
    for n, r in rows:
        where = f"{p}:{n}"
        if not r.get("case"):
            raise EvalsuiteError(f"{where}: missing 'case'")
        if not r.get("rater") and r.get("rater") != 0:
            raise EvalsuiteError(f"{where}: missing 'rater'")
        score, pref = r.get("score"), r.get("preference")
        score = None if score in (None, "") else score
        pref = None if pref in (None, "") else str(pref).strip().lower()
        if (score is None) == (pref is None):
            raise EvalsuiteError(f"{where}: give exactly one of 'score' or 'preference'")
        if score is not None:
            try:
                score = float(score)
            except (TypeError, ValueError) as e:
                raise EvalsuiteError(f"{where}: score {score!r} is not a number") from e
        if pref is not None and pref not in PREFS:
            raise EvalsuiteError(f"{where}: preference {pref!r} must be one of teacher, student, tie")
        seed = r.get("seed")
        try:
            seed = None if seed in (None, "") else int(seed)
        except (TypeError, ValueError) as e:
            raise EvalsuiteError(f"{where}: seed {seed!r} is not an integer") from e
        out.append(Rating(str(r["case"]), seed, r.get("image") or None, str(r.get("role") or "student"),
                          str(r["rater"]), score, pref))
    kinds = {r.score is None for r in out}
    if len(kinds) > 1:
        raise EvalsuiteError(f"{p}: mixes score and preference rows; use one kind per file")
    return out


def pairwise_accuracy(human: Sequence[float], judge: Sequence[float]) -> float:
    """Over pairs with different human values: fraction ordered the same by `judge` (ties half)."""
    h, j = np.asarray(human, float), np.asarray(judge, float)
    dh = np.sign(h[:, None] - h[None, :])
    dj = np.sign(j[:, None] - j[None, :])
    iu = np.triu_indices(len(h), 1)
    dh, dj = dh[iu], dj[iu]
    keep = dh != 0
    if not keep.any():
        return float("nan")
    agree = np.where(dj[keep] == 0, 0.5, (dj[keep] == dh[keep]).astype(float))
    return float(agree.mean())


def score_stats(human: Sequence[float], judge: Sequence[float]) -> dict[str, float]:
    from scipy import stats

    if len(human) < 3:
        return {"spearman": float("nan"), "kendall": float("nan"), "pairwise": float("nan")}
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = stats.spearmanr(human, judge).statistic
        tau = stats.kendalltau(human, judge, variant="b").statistic
    return {"spearman": float(rho), "kendall": float(tau), "pairwise": pairwise_accuracy(human, judge)}


def cluster_ci(groups: dict[str, list[Any]], stat: Callable[[list[Any]], dict[str, float]],
               n_boot: int = 2000, seed: int = 0, alpha: float = 0.05) -> dict[str, tuple[float, float, float]]:
    """stat over all items, and percentile CIs from resampling the groups (cases) with replacement."""
    keys = sorted(groups)
    point = stat([x for k in keys for x in groups[k]])
    rng = np.random.default_rng(seed)
    boots: dict[str, list[float]] = defaultdict(list)
    for _ in range(n_boot):
        pick = rng.integers(0, len(keys), len(keys))
        s = stat([x for i in pick for x in groups[keys[i]]])
        for m, v in s.items():
            if not np.isnan(v):
                boots[m].append(v)
    out = {}
    for m, v in point.items():
        b = boots.get(m)
        if not b or np.isnan(v):
            out[m] = (v, float("nan"), float("nan"))
        else:
            lo, hi = np.quantile(b, [alpha / 2, 1 - alpha / 2])
            out[m] = (v, float(lo), float(hi))
    return out


def agreement(run: Any, ratings: list[Rating], metrics: Sequence[str] | None = None,
              n_boot: int = 2000) -> dict[str, Any]:
    """Per judge metric of `run` (a compare.RunData): agreement with the ratings, with CIs."""
    keys = list(metrics) if metrics else [k for k in run.metric_keys()]
    if not keys:
        raise EvalsuiteError(f"run {run.dir}: no judge metrics to compare with ratings")
    pref = ratings[0].preference is not None
    results: dict[str, Any] = {}
    for key in keys:
        hib = run.higher_is_better(key)
        sign = 1.0 if hib else -1.0
        if pref:
            groups = _preference_groups(run, ratings, key, sign)
            if not groups:
                results[key] = {"n_items": 0, "error": "no rated item has this metric"}
                continue
            ci = cluster_ci(groups, lambda xs: {"accuracy": float(np.mean(xs)) if xs else float("nan")}, n_boot)
            results[key] = {"kind": "preference", "n_cases": len(groups),
                            "n_items": sum(len(v) for v in groups.values()),
                            **{m: _ci(v) for m, v in ci.items()}}
        else:
            groups = _score_groups(run, ratings, key, sign)
            if not groups:
                results[key] = {"n_items": 0, "error": "no rated item has this metric"}
                continue
            ci = cluster_ci(groups, lambda xs: score_stats([h for h, _ in xs], [j for _, j in xs]), n_boot)
            results[key] = {"kind": "score", "n_cases": len(groups),
                            "n_items": sum(len(v) for v in groups.values()),
                            **{m: _ci(v) for m, v in ci.items()}}
    return {"run": str(run.dir), "ratings": len(ratings),
            "raters": len({r.rater for r in ratings}), "metrics": results}


def _ci(v: tuple[float, float, float]) -> dict[str, float | None]:
    clean = [None if np.isnan(x) else round(float(x), 4) for x in v]
    return {"value": clean[0], "ci": clean[1:]}


def _seed_of(run: Any, r: Rating) -> int | None:
    if r.seed is not None:
        return r.seed
    items = run.items.get(r.role, {})
    if r.image:
        for (case, seed), h in items.items():
            if case == r.case and h == r.image:
                return seed
        raise EvalsuiteError(f"ratings: image {r.image} of case {r.case} is not in run {run.dir}")
    seeds = [s for (c, s) in items if c == r.case]
    if len(set(seeds)) == 1:
        return seeds[0]
    raise EvalsuiteError(f"ratings: case {r.case} has {len(set(seeds))} seeds in the run; give 'seed' or 'image'")


def _score_groups(run: Any, ratings: list[Rating], key: str, sign: float) -> dict[str, list[tuple[float, float]]]:
    by_item: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for r in ratings:
        by_item[(r.role, r.case, _seed_of(run, r))].append(float(r.score))
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    cache: dict[str, dict[Any, float]] = {}
    for (role, case, seed), scores in by_item.items():
        vals = cache.setdefault(role, run.values(role, key))
        v = vals.get((case, seed))
        if v is None:
            continue
        groups[case].append((float(np.mean(scores)), sign * v))
    return dict(groups)


def _preference_groups(run: Any, ratings: list[Rating], key: str, sign: float) -> dict[str, list[float]]:
    votes: dict[tuple[str, int], list[str]] = defaultdict(list)
    for r in ratings:
        votes[(r.case, _seed_of(run, r))].append(r.preference or "tie")
    s_vals, t_vals = run.values("student", key), run.values("teacher", key)
    groups: dict[str, list[float]] = defaultdict(list)
    for (case, seed), vs in votes.items():
        ns, nt = vs.count("student"), vs.count("teacher")
        if ns == nt:
            continue                               # humans tied: no ground truth to agree with
        s, t = s_vals.get((case, seed)), t_vals.get((case, seed))
        if s is None or t is None:
            continue
        d = sign * (s - t)
        want = 1.0 if ns > nt else -1.0
        groups[case].append(0.5 if d == 0 else float(np.sign(d) == want))
    return dict(groups)
