"""Aggregate verdicts into summary.json: mean, 95% bootstrap CI, n, failures, per tag, deltas."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from evalsuite.family import families
from evalsuite.judge import Judge
from evalsuite.packs import Pack
from evalsuite.stats import mean_ci, paired_delta_ci
from evalsuite.store import RunStore


def _agg(values: list[float], failures: int) -> dict[str, Any]:
    m, lo, hi = mean_ci(values) if values else (math.nan, math.nan, math.nan)
    clean = (lambda x: None if math.isnan(x) else round(x, 6))
    return {"mean": clean(m), "ci": [clean(lo), clean(hi)], "n": len(values), "failures": failures}


def summarise(store: RunStore, pack: Pack, judges: Sequence[Judge],
              models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    case_tags = {c.id: c.tags for c in pack.cases}
    case_ids = set(case_tags)
    judge_ids = [j.judge_id() for j in judges]
    specs = {f"{j.name}.{m}": s for j in judges for m, s in j.metrics.items()}
    out: dict[str, Any] = {"format_version": 1, "run": store.dir.name,
                           "pack": {"name": pack.name, "version": pack.version, "hash": pack.hash},
                           "models": {}, "metrics": {}, "deltas": {}}
    per_role_values: dict[str, dict[str, dict[tuple[str, int], float]]] = {}
    for role in store.roles():
        values: dict[str, list[float]] = defaultdict(list)
        fails: dict[str, int] = defaultdict(int)
        tag_values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        tag_fails: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        keyed: dict[str, dict[tuple[str, int], float]] = defaultdict(dict)
        errors: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        pack_level: dict[str, dict[str, Any]] = {}
        for v in store.verdicts_for(role, judge_ids):
            if v["case_id"] == "*":    # a pack-level metric: one value for the whole selection
                pack_level[f"{v['judge']}.{v['metric']}"] = {
                    "mean": round(v["value"], 6) if v["ok"] else None, "ci": [None, None],
                    "n": 1 if v["ok"] else 0, "failures": 0 if v["ok"] else 1, "pack_level": True,
                    **({"errors": {(v["error"] or "")[:120]: 1}} if not v["ok"] else {})}
                continue
            if v["case_id"] not in case_ids:
                continue
            key = f"{v['judge']}.{v['metric']}"
            if v["ok"]:
                values[key].append(float(v["value"]))
                keyed[key][(v["case_id"], v["seed"])] = float(v["value"])
                for t in case_tags[v["case_id"]]:
                    tag_values[key][t].append(float(v["value"]))
            else:
                fails[key] += 1
                errors[key][(v["error"] or "")[:120]] += 1
                for t in case_tags[v["case_id"]]:
                    tag_fails[key][t] += 1
        per_role_values[role] = keyed
        metrics: dict[str, Any] = {}
        for key in sorted(set(values) | set(fails)):
            spec = specs.get(key)
            entry = _agg(values[key], fails[key])
            if spec is not None:
                entry["higher_is_better"] = spec.higher_is_better
                entry["range"] = list(spec.range)
            tags = sorted(set(tag_values[key]) | set(tag_fails[key]))
            entry["per_tag"] = {t: _agg(tag_values[key][t], tag_fails[key][t]) for t in tags}
            if errors[key]:
                entry["errors"] = dict(sorted(errors[key].items(), key=lambda kv: -kv[1])[:5])
            metrics[key] = entry
        metrics.update(pack_level)
        out["metrics"][role] = metrics
        lat = store.db.execute(
            "SELECT AVG(r.latency_s), COUNT(*) FROM items i JOIN renders r ON r.fingerprint=i.fingerprint "
            "AND r.case_hash=i.case_hash AND r.seed=i.seed WHERE i.role=?", (role,)).fetchone()
        desc = models.get(role, {})
        out["models"][role] = {
            "checkpoint": desc.get("checkpoint"), "fingerprint": desc.get("fingerprint"),
            "nfe": desc.get("nfe"), "steps": desc.get("num_inference_steps", desc.get("steps")),
            "latency_ms_per_image": round(lat[0] * 1000, 3) if lat[0] is not None else None,
            "images": lat[1]}
    if "student" in per_role_values and "teacher" in per_role_values:
        s, t = per_role_values["student"], per_role_values["teacher"]
        for key in sorted(set(s) & set(t)):
            pairs = sorted(set(s[key]) & set(t[key]))
            if not pairs:
                continue
            m, lo, hi = paired_delta_ci([s[key][p] for p in pairs], [t[key][p] for p in pairs])
            spec = specs.get(key)
            hib = spec.higher_is_better if spec else True
            sig = not (lo <= 0 <= hi)
            out["deltas"][key] = {"mean": round(m, 6), "ci": [round(lo, 6), round(hi, 6)], "n": len(pairs),
                                  "higher_is_better": hib, "significant": sig,
                                  "student_better": (m > 0) == hib if m != 0 else False}
    for fam in families():      # judge families: run-level sections beyond the metric means
        members = fam.members(judges)
        section = fam.summary_section(store, members) if members else None
        if section:
            out[fam.name] = section
    return out
