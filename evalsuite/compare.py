"""Read run and sweep directories, and compare runs paired on shared (case, seed).

`load_run` reads results.db through `evalsuite.store.RunReader` (read-only), so gates, comparisons and the HTML
report work on a finished run without importing torch, judges or renderers. `compare_sides` gives
per-metric paired deltas with bootstrap CIs and win rates (also per tag); `recipe_verdicts` turns
sweeps into sentences such as "clean-only beats mixed on ocr.word_recall by +0.08 [+0.04, +0.12]".
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalsuite.stats import case_mde, clustered_win_rate, keyed_mean_ci, paired_keyed_delta
from evalsuite.store import RunReader, VerdictRow
from evalsuite.types import EvalsuiteError

logger = logging.getLogger(__name__)

Key = tuple[str, int]   # (case_id, seed); seed -1 for case-level metrics


@dataclass
class RunData:
    """Everything in one run directory, read once."""

    dir: Path
    name: str
    run: dict[str, Any]
    summary: dict[str, Any] | None
    cases: dict[str, dict[str, Any]]                     # case_id -> Case.to_dict() (+ kind, prompt, tags)
    items: dict[str, dict[Key, str]]                     # role -> (case, seed) -> image hash
    fingerprints: dict[str, str]                         # role -> renderer fingerprint
    verdicts: dict[str, list[VerdictRow]]                # role -> verdicts of its images
    specs: dict[str, dict[str, Any]]                     # metric key -> {higher_is_better, range}
    latency_ms: dict[str, float | None]                  # role -> mean render latency per image
    case_hashes: dict[str, dict[Key, str]] = field(default_factory=dict)  # role -> (case, seed) -> case_hash
    _values: dict[tuple[str, str], dict[Key, float]] = field(default_factory=dict, repr=False)

    @property
    def roles(self) -> list[str]:
        order = {"teacher": 0, "student": 1}
        return sorted(self.items, key=lambda r: (order.get(r, 2), r))

    def image_path(self, image_hash: str) -> Path:
        return self.dir / "images" / f"{image_hash}.png"

    def metric_keys(self, role: str | None = None) -> list[str]:
        roles = [role] if role else list(self.verdicts)
        return sorted({v.key for r in roles for v in self.verdicts.get(r, [])})

    def values(self, role: str, key: str) -> dict[Key, float]:
        """Successful verdict values of one metric for one role, keyed by (case, seed)."""
        ck = (role, key)
        if ck not in self._values:
            self._values[ck] = {(v.case_id, v.seed): float(v.value) for v in self.verdicts.get(role, [])
                                if v.key == key and v.ok and v.value is not None}
        return self._values[ck]

    def failures(self, role: str, key: str) -> int:
        return sum(1 for v in self.verdicts.get(role, []) if v.key == key and not v.ok)

    def case_hash(self, role: str, key: Key) -> str | None:
        """Content hash of the case an item (or, seed -1, a case-level verdict) was made from."""
        h = self.case_hashes.get(role, {}).get(key)
        if h is None:
            h = (self.cases.get(key[0]) or {}).get("case_hash")
        return h

    def higher_is_better(self, key: str) -> bool:
        return bool(self.specs.get(key, {}).get("higher_is_better", True))

    def model(self, role: str) -> dict[str, Any]:
        return dict((self.run.get("models") or {}).get(role) or {})

    def source_path(self, case_id: str) -> Path | None:
        """The edit source image: `source` is a file name inside the pack's assets (run.json pack.root)."""
        name = (self.cases.get(case_id) or {}).get("source")
        root = (self.run.get("pack") or {}).get("root")
        if not name or not root:
            return None
        root_p = Path(root)
        for cand in (root_p / "assets" / name, root_p / name):
            if cand.is_file():
                return cand
        hits = sorted(root_p.glob(f"**/{Path(name).name}")) if root_p.is_dir() else []
        return hits[0] if hits else None


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise EvalsuiteError(f"{path}: unreadable JSON ({e})") from e


def load_run(path: str | Path) -> RunData:
    """Load a run directory (docs/run-format.md) through the store's RunReader. Raises
    EvalsuiteError naming the path at fault."""
    run_dir = Path(path)
    if not run_dir.is_dir():
        raise EvalsuiteError(f"{run_dir}: no such run directory")
    if not (run_dir / "results.db").is_file():
        hint = " (it is a sweep; pass one of its checkpoint run directories)" if (run_dir / "sweep.json").exists() else ""
        raise EvalsuiteError(f"{run_dir}: not a run directory, results.db is missing{hint}")
    run = _read_json(run_dir / "run.json") or {}
    if run.get("format_version", 1) != 1:
        raise EvalsuiteError(f"{run_dir / 'run.json'}: run format version {run.get('format_version')}, this evalsuite reads 1")
    summary = _read_json(run_dir / "summary.json")
    specs: dict[str, dict[str, Any]] = {}
    judge_ids: set[str] = set()
    for j in run.get("judges") or []:
        if j.get("id"):
            judge_ids.add(j["id"])
        for m, spec in (j.get("metrics") or {}).items():
            specs[f"{j.get('name')}.{m}"] = dict(spec)
    for role_metrics in ((summary or {}).get("metrics") or {}).values():
        for key, entry in role_metrics.items():
            if key not in specs and "higher_is_better" in entry:
                specs[key] = {"higher_is_better": entry["higher_is_better"], "range": entry.get("range")}
    with RunReader(run_dir) as rd:
        cases: dict[str, dict[str, Any]] = {}
        for c in rd.cases():
            d = dict(c.data)
            d.update({"id": c.case_id, "kind": c.kind, "prompt": c.prompt, "case_hash": c.case_hash,
                      "tags": list(c.tags)})
            cases[c.case_id] = d
        items: dict[str, dict[Key, str]] = defaultdict(dict)
        case_hashes: dict[str, dict[Key, str]] = defaultdict(dict)
        fingerprints: dict[str, str] = {}
        for it in rd.items():
            items[it.role][(it.case_id, it.seed)] = it.image_hash
            case_hashes[it.role][(it.case_id, it.seed)] = it.case_hash
            case_hashes[it.role].setdefault((it.case_id, -1), it.case_hash)
            fingerprints.setdefault(it.role, it.fingerprint)
        # cached verdicts of other judge versions/configs are left out; of the rest, only those judged
        # against this run's current teacher image (store.current_reference)
        verdicts = {role: rd.verdicts(role, judge_ids or None) for role in items}
        latency: dict[str, float | None] = {}
        for role in items:
            mean_s = rd.render_stats(role).mean_latency_s
            latency[role] = round(mean_s * 1000, 3) if mean_s is not None else None
    return RunData(run_dir, run.get("name") or run_dir.name, run, summary, cases, dict(items),
                   fingerprints, verdicts, specs, latency, dict(case_hashes))


# --- sweeps -------------------------------------------------------------------------------------
@dataclass
class Checkpoint:
    name: str
    step: int | None
    recipe: str
    run: RunData
    entry: dict[str, Any]


@dataclass
class Sweep:
    dir: Path
    name: str
    meta: dict[str, Any]
    checkpoints: list[Checkpoint]
    teacher: RunData | None            # the sweep's teacher run, if any

    def teacher_values(self, key: str) -> tuple[dict[Key, float], int] | None:
        """The teacher's per-item values of `key` (from the teacher run, else a checkpoint run's
        teacher role) and its failure count."""
        if self.teacher is not None:
            role = "teacher" if "teacher" in self.teacher.items else "student"
            vals = self.teacher.values(role, key)
            if vals:
                return vals, self.teacher.failures(role, key)
        for cp in self.checkpoints:
            if "teacher" in cp.run.items and cp.run.values("teacher", key):
                return cp.run.values("teacher", key), cp.run.failures("teacher", key)
        return None

    def recipes(self) -> list[str]:
        return list(dict.fromkeys(cp.recipe for cp in self.checkpoints))


def is_sweep(path: str | Path) -> bool:
    return (Path(path) / "sweep.json").is_file()


def load_sweep(path: str | Path) -> Sweep:
    d = Path(path)
    meta = _read_json(d / "sweep.json")
    if meta is None:
        raise EvalsuiteError(f"{d}: not a sweep directory, sweep.json is missing")
    if meta.get("kind", "sweep") != "sweep" or not isinstance(meta.get("checkpoints"), list):
        raise EvalsuiteError(f"{d / 'sweep.json'}: expected kind 'sweep' and a 'checkpoints' list")
    cps: list[Checkpoint] = []
    for i, e in enumerate(meta["checkpoints"]):
        if not isinstance(e, dict) or not e.get("run_dir"):
            raise EvalsuiteError(f"{d / 'sweep.json'}: checkpoints[{i}] has no 'run_dir'")
        rd = d / e["run_dir"]
        if not (rd / "results.db").is_file():
            logger.warning("%s: checkpoint %s has no results yet; skipped", d, e.get("name"))
            continue
        cps.append(Checkpoint(str(e.get("name") or e["run_dir"]), e.get("step"),
                              str(e.get("recipe") or meta.get("name") or d.name), load_run(rd), e))
    summary_only = [e for e in meta["checkpoints"] if not (d / e["run_dir"] / "results.db").is_file()
                    and (d / e["run_dir"] / "summary.json").is_file()]
    if not cps and summary_only:
        raise EvalsuiteError(f"{d}: its {len(summary_only)} checkpoints have summary.json but no results.db "
                             "(the run data was not committed); re-run its sweep, which leaves each results.db "
                             "self-contained for committing (docs/sweeps.md)")
    cps.sort(key=lambda c: (c.recipe, c.step if c.step is not None else math.inf, c.name))
    teacher = None
    t = meta.get("teacher")
    if isinstance(t, dict) and t.get("run_dir") and (d / t["run_dir"] / "results.db").is_file():
        teacher = load_run(d / t["run_dir"])
    return Sweep(d, str(meta.get("name") or d.name), meta, cps, teacher)


# --- paired comparison ---------------------------------------------------------------------------
@dataclass
class Side:
    """One model in a comparison: a run and the role in it (student by default)."""

    label: str
    run: RunData
    role: str = "student"

    def values(self, key: str) -> dict[Key, float]:
        return self.run.values(self.role, key)


def parse_side(spec: str, default_role: str = "student") -> Side:
    """'RUN_DIR' or 'RUN_DIR@ROLE' (e.g. runs/x@teacher)."""
    path, role = spec, ""
    if "@" in spec and not Path(spec).exists():
        path, _, role = spec.rpartition("@")
    run = load_run(path)
    if not role:
        role = default_role if default_role in run.items else (run.roles[-1] if run.roles else default_role)
    if role not in run.items:
        raise EvalsuiteError(f"{spec}: run has no role '{role}' (roles: {', '.join(run.roles) or 'none'})")
    label = run.name if role == default_role else f"{run.name}@{role}"
    return Side(label, run, role)


@dataclass
class Delta:
    """Paired B − A on shared (case, seed); `better` is oriented by the metric's direction."""

    key: str
    higher_is_better: bool
    n: int
    mean_a: float
    mean_b: float
    delta: float
    ci: tuple[float, float]
    wins: int                 # B better than A
    ties: int
    losses: int
    win_rate: float           # (wins + ties/2) / n, for B
    significant: bool
    per_tag: dict[str, "Delta"] = field(default_factory=dict)
    excluded: int = 0         # pairs left out because the case content differs between the runs
    n_cases: int = 0          # the CI's resampling unit: cases (n counts (case, seed) pairs)
    p_value: float = float("nan")   # two-sided bootstrap p-value of delta = 0, resampling cases
    mde: float = float("nan")       # paired minimal detectable effect at 80% power on these cases
    selected_on_test: bool = False  # the checkpoints were picked on these same data: no significance claim

    @property
    def better(self) -> str | None:
        """'b' when B is significantly better, 'a' when significantly worse, None otherwise."""
        if not self.significant or self.selected_on_test:
            return None
        return "b" if (self.delta > 0) == self.higher_is_better else "a"

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("key", "higher_is_better", "n", "mean_a", "mean_b", "delta",
                                            "wins", "ties", "losses", "win_rate", "significant", "excluded",
                                            "n_cases", "p_value", "mde", "selected_on_test")}
        d["ci"] = list(self.ci)
        d["better"] = self.better
        if self.per_tag:
            d["per_tag"] = {t: x.to_dict() for t, x in self.per_tag.items()}
        return d


def mismatched_keys(a: RunData, a_role: str, b: RunData, b_role: str) -> set[Key]:
    """(case, seed) keys (seed -1: case-level) present in both runs whose case content differs.

    A case edited between the two runs (other prompt, expected text, colour, source image...) keeps
    its id but gets a new case_hash (docs/run-format.md); pairing it would compare different tasks.
    """
    ha, hb = a.case_hashes.get(a_role, {}), b.case_hashes.get(b_role, {})
    return {k for k in set(ha) & set(hb) if ha[k] and hb[k] and ha[k] != hb[k]}


def paired_delta(key: str, a: dict[Key, float], b: dict[Key, float], higher_is_better: bool,
                 n_boot: int = 2000, seed: int = 0, exclude: set[Key] | frozenset[Key] = frozenset()
                 ) -> Delta | None:
    """Paired comparison of two value maps on their shared keys, less `exclude` (keys whose case
    content differs, see `mismatched_keys`); None when nothing is left to pair. CIs, win-rate CIs and
    p-values resample cases (seeds nested); significance needs two or more cases."""
    both = set(a) & set(b)
    shared = sorted(both - set(exclude))
    if not shared:
        return None
    va = [a[k] for k in shared]
    vb = [b[k] for k in shared]
    ci = paired_keyed_delta(b, a, shared, n_boot=n_boot, seed=seed)
    wr = clustered_win_rate(vb, va, [k[0] for k in shared], higher_is_better=higher_is_better, n_boot=n_boot,
                            seed=seed)
    return Delta(key, higher_is_better, len(shared), float(sum(va) / len(va)), float(sum(vb) / len(vb)),
                 ci.mean, (ci.lo, ci.hi), wr.wins, wr.ties, wr.losses, wr.rate, ci.excludes_zero,
                 excluded=len(both) - len(shared), n_cases=ci.n_cases, p_value=ci.p_value,
                 mde=case_mde({k: b[k] - a[k] for k in shared}))


def compare_sides(a: Side, b: Side, metrics: list[str] | None = None, per_tag: bool = True,
                  n_boot: int = 2000) -> list[Delta]:
    """Per metric (glob patterns in `metrics`), B − A paired on shared (case, seed) whose case
    content matches (case_hash), with per-tag rows."""
    keys = sorted(set(a.run.metric_keys(a.role)) & set(b.run.metric_keys(b.role)))
    if metrics:
        keys = [k for k in keys if any(fnmatch.fnmatchcase(k, p) for p in metrics)]
    out: list[Delta] = []
    exclude = mismatched_keys(a.run, a.role, b.run, b.role)
    tags_of = {cid: c.get("tags", []) for cid, c in {**b.run.cases, **a.run.cases}.items()}
    for key in keys:
        hib = a.run.higher_is_better(key)
        va, vb = a.values(key), b.values(key)
        d = paired_delta(key, va, vb, hib, n_boot=n_boot, exclude=exclude)
        if d is None:
            continue
        if per_tag:
            by_tag: dict[str, set[Key]] = defaultdict(set)
            for k in (set(va) & set(vb)) - exclude:
                for t in tags_of.get(k[0], []):
                    by_tag[t].add(k)
            for t in sorted(by_tag):
                ks = by_tag[t]
                td = paired_delta(key, {k: va[k] for k in ks}, {k: vb[k] for k in ks}, hib, n_boot=n_boot)
                if td is not None:
                    d.per_tag[t] = td
        out.append(d)
    return out


# --- sweeps: best checkpoints and recipe verdicts -------------------------------------------------
@dataclass
class Best:
    key: str
    recipe: str
    checkpoint: str
    step: int | None
    mean: float
    ci: tuple[float, float]
    n: int
    selected_on_test: bool = True   # the best of several checkpoints on these data: its CI is optimistic


def sweep_curves(sweep: Sweep, role: str = "student") -> dict[str, dict[str, list[dict[str, Any]]]]:
    """key -> recipe -> [{step, name, mean, lo, hi, n, n_cases, failures}] in step order (case-clustered CIs)."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for cp in sweep.checkpoints:
        r = role if role in cp.run.items else "student"
        for key in cp.run.metric_keys(r):
            ci = keyed_mean_ci(cp.run.values(r, key))
            out[key][cp.recipe].append({"step": cp.step, "name": cp.name, "mean": ci.mean, "lo": ci.lo,
                                        "hi": ci.hi, "n": ci.n_images, "n_cases": ci.n_cases,
                                        "failures": cp.run.failures(r, key)})
    return {k: dict(v) for k, v in out.items()}


def best_checkpoints(sweep: Sweep, role: str = "student") -> list[Best]:
    """Per (metric, recipe) the checkpoint with the best mean (direction-aware; later step wins ties)."""
    out: list[Best] = []
    curves = sweep_curves(sweep, role)
    for key in sorted(curves):
        hib = next((cp.run.higher_is_better(key) for cp in sweep.checkpoints if key in cp.run.specs), True)
        for recipe, pts in curves[key].items():
            pts = [p for p in pts if not math.isnan(p["mean"])]
            if not pts:
                continue
            best = max(pts, key=lambda p: ((p["mean"] if hib else -p["mean"]), p["step"] or 0))
            out.append(Best(key, recipe, best["name"], best["step"], best["mean"], (best["lo"], best["hi"]), best["n"]))
    return out


def split_cases(case_ids: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """Split cases into a selection half and a test half, deterministically (by a hash of the id, so
    the same case falls on the same side in every run and sweep)."""
    ranked = sorted(set(case_ids), key=lambda c: (hashlib.sha256(c.encode()).hexdigest(), c))
    return frozenset(ranked[0::2]), frozenset(ranked[1::2])


def _role(cp: Checkpoint, role: str) -> str:
    return role if role in cp.run.items else "student"


def _recipe_side(sweeps: list[Sweep], recipe: str, key: str, pick: str, role: str,
                 select_on: frozenset[str] | None = None) -> tuple[Checkpoint, Side] | None:
    """The checkpoint of `recipe` to compare on `key`: the last one, or the best by mean over the
    cases in `select_on` (all cases when None)."""
    cps = [cp for s in sweeps for cp in s.checkpoints if cp.recipe == recipe]
    cps = [cp for cp in cps if cp.run.values(_role(cp, role), key)]
    if not cps:
        return None
    if pick == "last":
        cp = max(cps, key=lambda c: (c.step or 0))
    else:
        hib = cps[0].run.higher_is_better(key)

        def score(c: Checkpoint) -> tuple[float, int]:
            v = [x for k, x in c.run.values(_role(c, role), key).items() if select_on is None or k[0] in select_on]
            m = sum(v) / len(v) if v else -math.inf if hib else math.inf
            return (m if hib else -m, c.step or 0)
        cp = max(cps, key=score)
    return cp, Side(f"{recipe}/{cp.name}", cp.run, _role(cp, role))


@dataclass
class RecipeVerdict:
    key: str
    a: str                      # recipe names; the sentence is about B vs A
    b: str
    a_checkpoint: str
    b_checkpoint: str
    delta: Delta
    pick: str = "best"          # best: picked on half the cases, tested on the other; last; best-on-test

    def sentence(self) -> str:
        d = self.delta
        lo, hi = d.ci
        how = {"best": f", checkpoints picked on other cases; {d.n_cases} held-out cases", "last": "",
               "best-on-test": ", picked and tested on the same cases"}.get(self.pick, "")
        ci = f"{d.delta:+.3g} [{lo:+.3g}, {hi:+.3g}] (n={d.n}{how}, {self.b_checkpoint} vs {self.a_checkpoint})"
        if d.selected_on_test:
            return f"{self.b} − {self.a} on {self.key} = {ci}: selected on test, no significance claim"
        if d.better == "b":
            return f"{self.b} beats {self.a} on {self.key} by {ci}"
        if d.better == "a":
            return f"{self.a} beats {self.b} on {self.key}: {self.b} − {self.a} = {ci}"
        return f"no significant difference between {self.b} and {self.a} on {self.key}: {ci}"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "a": self.a, "b": self.b, "a_checkpoint": self.a_checkpoint,
                "b_checkpoint": self.b_checkpoint, "pick": self.pick, "sentence": self.sentence(), "delta": self.delta.to_dict()}


def recipe_verdicts(sweeps: list[Sweep], pick: str = "best", metrics: list[str] | None = None,
                    role: str = "student") -> list[RecipeVerdict]:
    """Every later recipe against the first, per metric, on the recipes' chosen checkpoints.

    pick 'best' (honest): each recipe's best checkpoint is picked on one half of the cases
    (`split_cases`) and the comparison is made on the other half only. 'last': the last checkpoint,
    all cases. 'best-on-test': picked and compared on all cases; reported, but marked
    selected_on_test and never called significant (winner's curse).
    """
    if pick not in ("best", "last", "best-on-test"):
        raise EvalsuiteError(f"--pick {pick}: expected best, last or best-on-test")
    recipes = list(dict.fromkeys(r for s in sweeps for r in s.recipes()))
    if len(recipes) < 2:
        return []
    keys = sorted({k for s in sweeps for cp in s.checkpoints for k in cp.run.metric_keys()})
    if metrics:
        keys = [k for k in keys if any(fnmatch.fnmatchcase(k, p) for p in metrics)]
    select, test = split_cases(c for s in sweeps for cp in s.checkpoints for c in cp.run.cases)
    out: list[RecipeVerdict] = []
    base = recipes[0]
    for other in recipes[1:]:
        for key in keys:
            sel = select if pick == "best" else None
            sa = _recipe_side(sweeps, base, key, pick, role, sel)
            sb = _recipe_side(sweeps, other, key, pick, role, sel)
            if sa is None or sb is None:
                continue
            (ca, a), (cb, b) = sa, sb
            va, vb = a.values(key), b.values(key)
            if pick == "best":
                va = {k: v for k, v in va.items() if k[0] in test}
                vb = {k: v for k, v in vb.items() if k[0] in test}
            d = paired_delta(key, va, vb, a.run.higher_is_better(key),
                             exclude=mismatched_keys(a.run, a.role, b.run, b.role))
            if d is not None:
                d.selected_on_test = pick == "best-on-test"
                out.append(RecipeVerdict(key, base, other, ca.name, cb.name, d, pick))
    return out
