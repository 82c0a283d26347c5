"""Judge fingerprints across runs: metrics of a judge whose fingerprint differs are not comparable.

A judge whose `Judge.fingerprint()` is not None records it in run.json (judges[i].fingerprint:
e.g. a served model and its revision, prompt hash, decoding settings); its scores move with it,
so `compare` and `gate` refuse to put two such runs side by side unless `--allow-judge-mismatch`,
and name the fields that differ. They read run.json as `evalsuite.compare.load_run` loaded it.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Sequence
from typing import Any

from evalsuite.types import EvalsuiteError

logger = logging.getLogger(__name__)

ALLOW_FLAG = "--allow-judge-mismatch"


def fingerprint_mismatch(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The fields whose values differ between two fingerprints, as 'field: A != B' (sorted)."""
    return [f"{k}: {a.get(k)!r} != {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def run_fingerprints(run_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{judge name: fingerprint} for the judges of a run.json that record one."""
    return {j["name"]: j["fingerprint"] for j in run_json.get("judges", [])
            if isinstance(j, dict) and isinstance(j.get("fingerprint"), dict)}


def _judge_metrics(run_json: dict[str, Any], name: str) -> list[str]:
    for j in run_json.get("judges", []):
        if isinstance(j, dict) and j.get("name") == name:
            return [f"{name}.{m}" for m in j.get("metrics", {})]
    return []


def judge_mismatches(run_a: dict[str, Any], run_b: dict[str, Any],
                     metrics: Sequence[str] | None = None) -> dict[str, list[str]]:
    """{judge: differing fields} for judges with a fingerprint in both runs that differ; with
    `metrics` (keys or globs, as `compare --metrics`), only judges with a selected metric."""
    fa, fb = run_fingerprints(run_a), run_fingerprints(run_b)
    both = {j.get("name") for j in run_a.get("judges", []) if isinstance(j, dict)} & \
           {j.get("name") for j in run_b.get("judges", []) if isinstance(j, dict)}
    out: dict[str, list[str]] = {}
    # a judge in both runs with a fingerprint in one only (e.g. an old run): nothing says it is the same
    for name in sorted((set(fa) | set(fb)) & both):
        if metrics is not None:
            keys = _judge_metrics(run_a, name) or [f"{name}.*"]
            if not any(fnmatch.fnmatchcase(k, p) for k in keys for p in metrics):
                continue
        if name not in fa or name not in fb:
            out[name] = [f"fingerprint: recorded in run {'B' if name in fb else 'A'} only (judged by an older version?)"]
            continue
        diff = fingerprint_mismatch(fa[name], fb[name])
        if diff:
            out[name] = diff
    return out


def check_judge_match(label_a: str, run_a: dict[str, Any], label_b: str, run_b: dict[str, Any],
                      allow: bool = False, metrics: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Raise EvalsuiteError (exit 2, one line naming the judge and the differing fields) when a
    judge's fingerprint differs between the runs; with `allow`, log a warning and return them."""
    diffs = judge_mismatches(run_a, run_b, metrics)
    if not diffs:
        return {}
    what = "; ".join(f"{j}: {', '.join(d)}" for j, d in diffs.items())
    msg = f"{label_b} vs {label_a}: judged with different judge fingerprints ({what})"
    if allow:
        logger.warning("%s; compared anyway (%s)", msg, ALLOW_FLAG)
        return diffs
    raise EvalsuiteError(f"{msg}; their scores are not comparable: re-judge one run with the other's judge, "
                         f"leave those metrics out (--metrics), or pass {ALLOW_FLAG}", exit_code=2)
