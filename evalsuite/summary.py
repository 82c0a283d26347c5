"""Aggregate verdicts into summary.json: mean, 95% case-clustered bootstrap CI, n (cases and images),
failures, minimal detectable effect, per tag, student − teacher paired deltas, and per-bucket
ladder curves (evalsuite/ladder.py).

Summary format 2 (docs/run-format.md): every CI resamples cases with their seeds nested; entries
carry n_cases and n_images beside n (= n_images, as in format 1) and an 80%-power `mde`; the
top-level "stats" block names the CI method (percentile, or bca when asked for).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from evalsuite.family import families
from evalsuite.judge import Judge
from evalsuite.ladder import ladder_section
from evalsuite.packs import Pack
from evalsuite.stats import N_BOOT, case_mde, keyed_mean_ci, paired_keyed_delta
from evalsuite.store import RunReader, RunStore

SUMMARY_FORMAT = 2
Key = tuple[str, int]


def _clean(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 6)


def _agg(values: dict[Key, float], failures: int, method: str) -> dict[str, Any]:
    ci = keyed_mean_ci(values, method=method)
    return {"mean": _clean(ci.mean), "ci": [_clean(ci.lo), _clean(ci.hi)], "n": ci.n_images,
            "n_cases": ci.n_cases, "n_images": ci.n_images, "failures": failures,
            "mde": _clean(case_mde(values)) if values else None}


def summarise(store: RunStore, pack: Pack, judges: Sequence[Judge],
              models: dict[str, dict[str, Any]], ci_method: str = "percentile") -> dict[str, Any]:
    """The summary of a run directory; `ci_method` 'percentile' (default) or 'bca', recorded in
    summary['stats']."""
    case_tags = {c.id: c.tags for c in pack.cases}
    judge_ids = [j.judge_id() for j in judges]
    specs = {f"{j.name}.{m}": s for j in judges for m, s in j.metrics.items()}
    out: dict[str, Any] = {"format_version": SUMMARY_FORMAT, "run": store.dir.name,
                           "pack": {"name": pack.name, "version": pack.version, "hash": pack.hash},
                           "stats": {"unit": "case", "ci_method": ci_method, "confidence": 0.95, "n_boot": N_BOOT,
                                     "mde": {"power": 0.8, "alpha": 0.05, "sides": 2}},
                           "models": {}, "metrics": {}, "deltas": {}}
    per_role_values: dict[str, dict[str, dict[Key, float]]] = {}
    with RunReader(store.dir) as reader:
        for role in reader.roles():
            keyed: dict[str, dict[Key, float]] = defaultdict(dict)
            fails: dict[str, int] = defaultdict(int)
            tag_values: dict[str, dict[str, dict[Key, float]]] = defaultdict(lambda: defaultdict(dict))
            tag_fails: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            errors: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            pack_level: dict[str, dict[str, Any]] = {}
            for v in reader.verdicts(role, judge_ids):
                if v.case_id == "*":    # a pack-level metric: one value for the whole selection
                    pack_level[v.key] = {
                        "mean": round(v.value, 6) if v.ok and v.value is not None else None, "ci": [None, None],
                        "n": 1 if v.ok else 0, "failures": 0 if v.ok else 1, "pack_level": True,
                        **({"errors": {(v.error or "")[:120]: 1}} if not v.ok else {})}
                    continue
                if v.case_id not in case_tags:
                    continue
                k = (v.case_id, v.seed)
                if v.ok:
                    keyed[v.key][k] = float(v.value)  # type: ignore[arg-type]
                    for t in case_tags[v.case_id]:
                        tag_values[v.key][t][k] = float(v.value)  # type: ignore[arg-type]
                else:
                    fails[v.key] += 1
                    errors[v.key][(v.error or "")[:120]] += 1
                    for t in case_tags[v.case_id]:
                        tag_fails[v.key][t] += 1
            per_role_values[role] = keyed
            metrics: dict[str, Any] = {}
            for key in sorted(set(keyed) | set(fails)):
                spec = specs.get(key)
                entry = _agg(keyed[key], fails[key], ci_method)
                if spec is not None:
                    entry["higher_is_better"] = spec.higher_is_better
                    entry["range"] = list(spec.range)
                tags = sorted(set(tag_values[key]) | set(tag_fails[key]))
                entry["per_tag"] = {t: _agg(tag_values[key][t], tag_fails[key][t], ci_method) for t in tags}
                if errors[key]:
                    entry["errors"] = dict(sorted(errors[key].items(), key=lambda kv: -kv[1])[:5])
                metrics[key] = entry
            metrics.update(pack_level)
            out["metrics"][role] = metrics
            lat = reader.render_stats(role)
            desc = models.get(role, {})
            out["models"][role] = {
                "checkpoint": desc.get("checkpoint"), "fingerprint": desc.get("fingerprint"),
                "nfe": desc.get("nfe"), "steps": desc.get("num_inference_steps", desc.get("steps")),
                "latency_ms_per_image": round(lat.mean_latency_s * 1000, 3) if lat.mean_latency_s is not None else None,
                "images": lat.images}
    if "student" in per_role_values and "teacher" in per_role_values:
        s, t = per_role_values["student"], per_role_values["teacher"]
        for key in sorted(set(s) & set(t)):
            pairs = sorted(set(s[key]) & set(t[key]))
            if not pairs:
                continue
            ci = paired_keyed_delta(s[key], t[key], pairs, method=ci_method)
            spec = specs.get(key)
            hib = spec.higher_is_better if spec else True
            m = ci.mean
            out["deltas"][key] = {"mean": round(m, 6), "ci": [round(ci.lo, 6), round(ci.hi, 6)], "n": ci.n_images,
                                  "n_cases": ci.n_cases, "n_images": ci.n_images,
                                  "p_value": _clean(ci.p_value),
                                  "mde": _clean(case_mde({p: s[key][p] - t[key][p] for p in pairs})),
                                  "higher_is_better": hib, "significant": ci.excludes_zero,
                                  "student_better": (m > 0) == hib if m != 0 else False}
        if pack.ladders:    # per-bucket curves along each difficulty ladder, and the first break
            out["ladders"] = ladder_section(pack.ladders, case_tags, t, s,
                                            {k: sp.higher_is_better for k, sp in specs.items()}, ci_method)
    for fam in families():      # judge families: run-level sections beyond the metric means
        members = fam.members(judges)
        section = fam.summary_section(store, members) if members else None
        if section:
            out[fam.name] = section
    return out
