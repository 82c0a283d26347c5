"""CI regression gate: check a candidate run against rules (and a baseline run).

Rules (gates.yaml, docs/reports.md):

    version: 1
    role: student                 # the model under test in both runs
    defaults: {min_n: 20, tolerance: 0.0, inconclusive: pass, max_failure_rate: 0.05}
    metrics:
      ocr.word_recall: {min: 0.5, regression: {tolerance: 0.02}}
      "flatbg.*":      {regression: true}
    judges:
      "*": {max_failure_rate: 0.05}

Each check is pass / fail / inconclusive / skipped. Regression is judged on the paired bootstrap
CI of candidate − baseline on shared (case, seed) with equal case_hash (edited cases are left out
and counted), resampling cases with their seeds nested (`evalsuite.stats.paired_keyed_delta`,
`delta_status`): it fails only when significant and beyond the tolerance; fewer than `min_n` CASES
is "inconclusive" (counted as a failure only with `inconclusive: fail`). Beside each per-rule
result, the regression checks as a family get Holm-adjusted p-values (family-wise error control):
a per-rule failure whose adjusted p-value exceeds 0.05 is flagged as not surviving Holm.
With a baseline, a metric it has that a rule matches and the candidate lacks fails ("missing").
Exit codes: 0 pass, 1 fail, 2 usage or configuration error (or anything unexpected).
"""

from __future__ import annotations

import fnmatch
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import yaml

from evalsuite.compare import Key, RunData, mismatched_keys
from evalsuite.registry import did_you_mean
from evalsuite.stats import delta_status, holm, paired_keyed_delta, wilson_interval
from evalsuite.types import EvalsuiteError

logger = logging.getLogger(__name__)

_TOP = {"version", "role", "defaults", "metrics", "judges"}
_DEFAULTS = {"min_n", "tolerance", "inconclusive", "max_failure_rate", "n_boot", "seed"}
_METRIC = {"min", "max", "regression", "max_failure_rate", "optional", "min_n", "tolerance"}
_REGRESSION = {"tolerance", "min_n"}
_JUDGE = {"max_failure_rate"}


@dataclass
class MetricRule:
    pattern: str
    min: float | None = None
    max: float | None = None
    regression: bool = False
    tolerance: float = 0.0
    min_n: int = 20
    max_failure_rate: float | None = None
    optional: bool = False


@dataclass
class Rules:
    path: Path
    role: str = "student"
    inconclusive: str = "pass"
    n_boot: int = 2000
    seed: int = 0
    metrics: list[MetricRule] = field(default_factory=list)
    judges: dict[str, float] = field(default_factory=dict)     # judge glob -> max failure rate


@dataclass
class Check:
    name: str          # e.g. "ocr.word_recall: regression"
    metric: str
    kind: str          # floor | ceiling | regression | failure_rate | missing
    status: str        # pass | fail | inconclusive | skipped
    message: str
    value: float | None = None
    threshold: float | None = None
    ci: tuple[float, float] | None = None
    n: int | None = None              # (case, seed) pairs (images) behind the check
    n_cases: int | None = None        # cases: the resampling unit of the CI
    p_value: float | None = None      # regression: two-sided bootstrap p-value of Δ = 0 (cases resampled)
    p_holm: float | None = None       # the same, Holm-adjusted over all regression checks of this gate


@dataclass
class GateResult:
    candidate: str
    baseline: str | None
    checks: list[Check]
    inconclusive_fails: bool = False
    excluded_pairs: int = 0                                   # (case, seed) left out: case content changed
    excluded_cases: list[str] = field(default_factory=list)
    alpha: float = 0.05

    @property
    def holm_failures(self) -> list[str]:
        """Failed regression checks that stay significant under Holm's family-wise control."""
        return [c.name for c in self.checks if c.kind == "regression" and c.status == "fail"
                and c.p_holm is not None and c.p_holm <= self.alpha]

    @property
    def passed(self) -> bool:
        bad = {"fail", "inconclusive"} if self.inconclusive_fails else {"fail"}
        return not any(c.status in bad for c in self.checks)

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "fail": 0, "inconclusive": 0, "skipped": 0}
        for c in self.checks:
            out[c.status] = out.get(c.status, 0) + 1
        return out


# --- rules ---------------------------------------------------------------------------------------
def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Line number (1-based) of every mapping key path in a YAML document, for error messages."""
    out: dict[tuple[str, ...], int] = {}
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return out

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                p = path + (str(k.value),)
                out[p] = k.start_mark.line + 1
                walk(v, p)
    walk(root, ())
    return out


def load_rules(path: str | Path) -> Rules:
    """Parse and validate gates.yaml; every error names the file, line and setting (exit code 2)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise EvalsuiteError(f"{p}: cannot read gate rules ({e.strerror})") from e
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise EvalsuiteError(f"{p}{where}: invalid YAML ({getattr(e, 'problem', e)})") from e
    lines = _key_lines(text)

    def err(keys: tuple[str, ...], msg: str) -> EvalsuiteError:
        line = next((lines[keys[:i]] for i in range(len(keys), 0, -1) if keys[:i] in lines), None)
        return EvalsuiteError(f"{p}{':' + str(line) if line else ''}: {'.'.join(keys) or 'rules'}: {msg}")

    def check_keys(d: Any, allowed: set[str], keys: tuple[str, ...]) -> dict[str, Any]:
        if d is None:
            return {}
        if not isinstance(d, dict):
            raise err(keys, f"expected a mapping, got {type(d).__name__}")
        for k in d:
            if k not in allowed:
                close = did_you_mean(str(k), sorted(allowed))
                hint = f" ({close[2:]})" if close else f" (allowed: {', '.join(sorted(allowed))})"
                raise err(keys + (str(k),), f"unknown setting{hint}")
        return d

    def num(d: dict[str, Any], k: str, keys: tuple[str, ...], lo: float | None = None,
            hi: float | None = None, integer: bool = False) -> Any:
        v = d.get(k)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
            raise err(keys + (k,), f"expected {'an integer' if integer else 'a number'}, got {v!r}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise err(keys + (k,), f"{v} is outside [{lo}, {hi if hi is not None else '∞'}]")
        return v

    raw = check_keys(raw, _TOP, ())
    if raw.get("version", 1) != 1:
        raise err(("version",), f"unsupported rules version {raw.get('version')!r}; this evalsuite reads 1")
    dfl = check_keys(raw.get("defaults"), _DEFAULTS, ("defaults",))
    rules = Rules(path=p, role=str(raw.get("role") or "student"))
    inc = dfl.get("inconclusive", "pass")
    if inc not in ("pass", "fail"):
        raise err(("defaults", "inconclusive"), f"expected 'pass' or 'fail', got {inc!r}")
    rules.inconclusive = inc
    rules.n_boot = num(dfl, "n_boot", ("defaults",), 100, None, integer=True) or 2000
    rules.seed = num(dfl, "seed", ("defaults",), 0, None, integer=True) or 0
    d_min_n = num(dfl, "min_n", ("defaults",), 1, None, integer=True) or 20
    d_tol = num(dfl, "tolerance", ("defaults",), 0, None) or 0.0
    d_fail = num(dfl, "max_failure_rate", ("defaults",), 0, 1)
    metrics = raw.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise err(("metrics",), "expected a mapping of metric key (or glob) to rule")
    for pattern, r in metrics.items():
        keys = ("metrics", str(pattern))
        if "." not in str(pattern) and "*" not in str(pattern):
            raise err(keys, "metric keys are '<judge>.<metric>' (globs allowed, e.g. 'ocr.*')")
        r = check_keys(r, _METRIC, keys)
        reg = r.get("regression", False)
        tol, mn = d_tol, d_min_n
        if isinstance(reg, dict):
            check_keys(reg, _REGRESSION, keys + ("regression",))
            tol = num(reg, "tolerance", keys + ("regression",), 0, None) if "tolerance" in reg else tol
            mn = num(reg, "min_n", keys + ("regression",), 1, None, integer=True) if "min_n" in reg else mn
            reg = True
        elif not isinstance(reg, bool):
            raise err(keys + ("regression",), f"expected true/false or {{tolerance: X}}, got {reg!r}")
        if "tolerance" in r:
            tol = num(r, "tolerance", keys, 0, None)
        if "min_n" in r:
            mn = num(r, "min_n", keys, 1, None, integer=True)
        lo, hi = num(r, "min", keys), num(r, "max", keys)
        if lo is not None and hi is not None and lo > hi:
            raise err(keys, f"min {lo} is above max {hi}")
        mfr = num(r, "max_failure_rate", keys, 0, 1)
        rules.metrics.append(MetricRule(str(pattern), lo, hi, bool(reg), float(tol), int(mn),
                                        mfr if mfr is not None else d_fail, bool(r.get("optional", False))))
    judges = raw.get("judges") or {}
    if not isinstance(judges, dict):
        raise err(("judges",), "expected a mapping of judge name (or glob) to {max_failure_rate: X}")
    for pattern, r in judges.items():
        r = check_keys(r, _JUDGE, ("judges", str(pattern)))
        v = num(r, "max_failure_rate", ("judges", str(pattern)), 0, 1)
        if v is not None:
            rules.judges[str(pattern)] = float(v)
    if not rules.metrics and not rules.judges:
        raise err((), "no rules: add 'metrics:' or 'judges:' entries")
    return rules


# --- evaluation ----------------------------------------------------------------------------------
def _holm(checks: list[Check], alpha: float = 0.05) -> None:
    """Holm-adjust the p-values of the regression checks (one family) and note it in each message."""
    reg = [c for c in checks if c.kind == "regression" and c.p_value is not None]
    for c, p in zip(reg, holm([c.p_value for c in reg])):   # type: ignore[misc]
        c.p_holm = p
        c.message += f"; p={c.p_value:.3g}, Holm p={p:.3g} over {len(reg)} regression checks"
        if c.status == "fail" and p > alpha:
            c.message += " (not significant family-wise)"


def _mean(vals: list[float]) -> float:
    return sum(vals) / len(vals) if vals else math.nan


def evaluate(candidate: RunData, rules: Rules, baseline: RunData | None = None) -> GateResult:
    """Apply every rule to the candidate (and baseline); never raises for a failing check."""
    role = rules.role
    if role not in candidate.items:
        raise EvalsuiteError(f"{candidate.dir}: candidate run has no role '{role}' (roles: {', '.join(candidate.roles)}); "
                             f"set 'role:' in {rules.path}")
    b_role = role if baseline is not None and role in baseline.items else None
    if baseline is not None and b_role is None:
        raise EvalsuiteError(f"{baseline.dir}: baseline run has no role '{role}' (roles: {', '.join(baseline.roles)})")
    keys = candidate.metric_keys(role)
    exclude: set[Key] = mismatched_keys(candidate, role, baseline, role) if baseline is not None else set()
    if exclude:
        cases = sorted({k[0] for k in exclude})
        logger.warning("%s vs %s: %d (case, seed) pairs of %d case(s) left out of the regression checks: the case "
                       "content differs (case_hash), e.g. %s", candidate.dir, baseline.dir if baseline else "",
                       sum(1 for k in exclude if k[1] >= 0), len(cases), ", ".join(cases[:3]))
    checks: list[Check] = []
    for rule in rules.metrics:
        if _is_glob(rule.pattern) or rule.optional or rule.pattern in keys:
            continue
        checks.append(Check(f"{rule.pattern}: present", rule.pattern, "missing", "fail",
                            "metric missing from the candidate run (judge not run?); mark the rule "
                            "'optional: true' to allow it"))
    if baseline is not None:
        # a glob rule matches only what the candidate has; a metric the baseline has and the candidate
        # lost (a judge dropped, a metric renamed) must not pass silently
        for key in baseline.metric_keys(role):
            if key in keys:
                continue
            rule = _most_specific(key, rules.metrics, lambda r: r.pattern)
            if rule is None or rule.optional or not _is_glob(rule.pattern):
                continue      # exact names are checked above
            checks.append(Check(f"{key}: present", key, "missing", "fail",
                                f"in the baseline but missing from the candidate run (judge dropped?); rule "
                                f"'{rule.pattern}' — add '{key}: {{optional: true}}' to allow it"))
    for key in keys:
        rule = _most_specific(key, rules.metrics, lambda r: r.pattern)
        if rule is not None:
            checks += _metric_checks(candidate, baseline, role, key, rule, rules, exclude)
    judge_names = sorted({k.split(".", 1)[0] for k in keys})
    for j in judge_names:
        pattern = _most_specific(j, list(rules.judges), lambda p: p)
        if pattern is None:
            continue
        jkeys = [k for k in keys if k.split(".", 1)[0] == j]
        fails = sum(candidate.failures(role, k) for k in jkeys)
        total = fails + sum(len(candidate.values(role, k)) for k in jkeys)
        checks.append(_rate_check(f"judge {j}: failure rate", j, fails, total, rules.judges[pattern]))
    _holm(checks)
    return GateResult(candidate.name, baseline.name if baseline else None, checks,
                      inconclusive_fails=rules.inconclusive == "fail",
                      excluded_pairs=sum(1 for k in exclude if k[1] >= 0),
                      excluded_cases=sorted({k[0] for k in exclude}))


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def _most_specific(name: str, rules: list[Any], pattern_of: Any) -> Any:
    """The rule whose pattern matches `name` most specifically (exact name, then the longest glob)."""
    matching = [r for r in rules if fnmatch.fnmatchcase(name, pattern_of(r))]
    if not matching:
        return None
    return max(matching, key=lambda r: (not _is_glob(pattern_of(r)), len(pattern_of(r).replace("*", ""))))


def _rate_check(name: str, metric: str, fails: int, total: int, cap: float) -> Check:
    rate = fails / total if total else 0.0
    lo, hi = wilson_interval(fails, total) if total else (0.0, 0.0)
    ok = rate <= cap
    return Check(name, metric, "failure_rate", "pass" if ok else "fail",
                 f"{fails}/{total} verdicts failed ({rate:.1%}, 95% CI {lo:.1%}–{hi:.1%}); cap {cap:.1%}",
                 rate, cap, (lo, hi), total)


def _metric_checks(cand: RunData, base: RunData | None, role: str, key: str, rule: MetricRule,
                   rules: Rules, exclude: set[Key] | None = None) -> list[Check]:
    out: list[Check] = []
    vals = cand.values(role, key)
    fails = cand.failures(role, key)
    m = _mean(list(vals.values()))
    hib = cand.higher_is_better(key)
    for kind, thr in (("floor", rule.min), ("ceiling", rule.max)):
        if thr is None:
            continue
        if not vals:
            out.append(Check(f"{key}: {kind}", key, kind, "fail", f"no successful verdicts ({fails} failed)",
                             None, thr, n=0))
            continue
        ok = m >= thr if kind == "floor" else m <= thr
        op = "≥" if kind == "floor" else "≤"
        n_cases = len({k[0] for k in vals})
        out.append(Check(f"{key}: {kind}", key, kind, "pass" if ok else "fail",
                         f"mean {m:.4g} {'' if ok else 'not '}{op} {thr:g} (n={n_cases} cases, {len(vals)} images)",
                         m, thr, n=len(vals), n_cases=n_cases))
    if rule.max_failure_rate is not None:
        out.append(_rate_check(f"{key}: failure rate", key, fails, fails + len(vals), rule.max_failure_rate))
    if rule.regression:
        name = f"{key}: regression"
        if base is None:
            out.append(Check(name, key, "regression", "skipped", "no --baseline given"))
        else:
            bvals = base.values(role, key)
            both = set(vals) & set(bvals)
            shared = sorted(both - (exclude or set()))
            n_ex = len(both) - len(shared)
            ex_msg = f"; {n_ex} pairs left out (case changed since the baseline: case_hash differs)" if n_ex else ""
            if not shared:
                out.append(Check(name, key, "regression", "inconclusive",
                                 "no shared (case, seed) with the baseline" + ex_msg, n=0, threshold=rule.tolerance))
            else:
                ci = paired_keyed_delta(vals, bvals, shared, n_boot=rules.n_boot, seed=rules.seed)
                dm, lo, hi = ci
                status = delta_status(dm, lo, hi, ci.n_cases, hib, rule.tolerance, rule.min_n)
                arrow = "higher is better" if hib else "lower is better"
                msg = (f"Δ {dm:+.4g} [{lo:+.4g}, {hi:+.4g}] vs baseline (n={ci.n_cases} cases, {len(shared)} images, "
                       f"{arrow}, tolerance {rule.tolerance:g})")
                if status == "inconclusive":
                    msg += (f"; cases < min_n={rule.min_n}" if ci.n_cases < rule.min_n
                            else "; regression beyond tolerance but not significant")
                elif status == "fail":
                    msg += "; significant regression"
                msg += ex_msg
                out.append(Check(name, key, "regression", status, msg, dm, rule.tolerance, (lo, hi), len(shared),
                                 ci.n_cases, ci.p_value))
    return out


# --- outputs ------------------------------------------------------------------------------------
_ICON = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️", "skipped": "➖"}


def to_markdown(res: GateResult) -> str:
    """A Markdown summary for $GITHUB_STEP_SUMMARY (check table, verdict first)."""
    c = res.counts()
    head = "PASSED" if res.passed else "FAILED"
    lines = [f"## evalsuite gate: {head}", "",
             f"candidate `{_md(res.candidate)}`" + (f" vs baseline `{_md(res.baseline)}`" if res.baseline else ""),
             "", f"{c['pass']} passed · {c['fail']} failed · {c['inconclusive']} inconclusive · {c['skipped']} skipped", ""]
    if res.excluded_pairs or res.excluded_cases:
        lines += [f"> ⚠️ {_md(_excluded_note(res))}", ""]
    lines += [_md(_holm_note(res)), ""]
    lines += ["| | check | result |", "|---|---|---|"]
    order = {"fail": 0, "inconclusive": 1, "pass": 2, "skipped": 3}
    for ch in sorted(res.checks, key=lambda x: order.get(x.status, 9)):
        lines.append(f"| {_ICON.get(ch.status, '')} {ch.status} | {_md(ch.name)} | {_md(ch.message)} |")
    return "\n".join(lines) + "\n"


def _holm_note(res: GateResult) -> str:
    n = sum(1 for c in res.checks if c.p_holm is not None)
    failed = sum(1 for c in res.checks if c.kind == "regression" and c.status == "fail")
    return (f"Holm family-wise control over {n} regression checks (alpha {res.alpha:g}): "
            f"{len(res.holm_failures)} of {failed} per-rule regression failures remain significant")


def _excluded_note(res: GateResult) -> str:
    cases = res.excluded_cases
    return (f"{res.excluded_pairs} (case, seed) pairs of {len(cases)} case(s) left out of the regression checks: "
            f"their case content differs from the baseline (pack edited?), e.g. {', '.join(cases[:3])}")


def _md(s: str | None) -> str:
    return (s or "").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def to_junit(res: GateResult) -> str:
    """JUnit XML: one testcase per check; fail -> <failure>, inconclusive/skipped -> <skipped>
    (or <failure> for inconclusive with `inconclusive: fail`)."""
    c = res.counts()
    n_fail = c["fail"] + (c["inconclusive"] if res.inconclusive_fails else 0)
    n_skip = c["skipped"] + (0 if res.inconclusive_fails else c["inconclusive"])
    suite = f"evalsuite gate {res.candidate}"
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites name="evalsuite-gate" tests="{len(res.checks)}" failures="{n_fail}">',
           f'  <testsuite name={quoteattr(suite)} tests="{len(res.checks)}" failures="{n_fail}" errors="0" skipped="{n_skip}">']
    for ch in res.checks:
        attrs = f'classname={quoteattr("evalsuite.gate." + ch.metric)} name={quoteattr(ch.name)}'
        failing = ch.status == "fail" or (ch.status == "inconclusive" and res.inconclusive_fails)
        if failing:
            out.append(f'    <testcase {attrs}><failure message={quoteattr(ch.message)} type="{ch.kind}">'
                       f'{escape(ch.message)}</failure></testcase>')
        elif ch.status in ("skipped", "inconclusive"):
            out.append(f'    <testcase {attrs}><skipped message={quoteattr(ch.status + ": " + ch.message)}/></testcase>')
        else:
            out.append(f'    <testcase {attrs}><system-out>{escape(ch.message)}</system-out></testcase>')
    out += ["  </testsuite>", "</testsuites>"]
    return "\n".join(out) + "\n"


def to_table(res: GateResult) -> Any:
    from rich.markup import escape as rescape
    from rich.table import Table

    style = {"pass": "green", "fail": "bold red", "inconclusive": "yellow", "skipped": "dim"}
    t = Table(title=rescape(f"gate: {res.candidate}" + (f" vs {res.baseline}" if res.baseline else "")),
              title_justify="left")
    t.add_column("status")
    t.add_column("check")
    t.add_column("detail")
    for ch in res.checks:
        t.add_row(f"[{style.get(ch.status, '')}]{ch.status}[/]", rescape(ch.name), rescape(ch.message))
    c = res.counts()
    t.caption = (f"[{'green' if res.passed else 'bold red'}]{'PASSED' if res.passed else 'FAILED'}[/] · "
                 f"{c['pass']} pass, {c['fail']} fail, {c['inconclusive']} inconclusive, {c['skipped']} skipped")
    t.caption += "\n" + rescape(_holm_note(res))
    if res.excluded_cases:
        t.caption += f"\n[yellow]warning:[/] {rescape(_excluded_note(res))}"
    return t


def to_dict(res: GateResult) -> dict[str, Any]:
    return {"passed": res.passed, "candidate": res.candidate, "baseline": res.baseline, "counts": res.counts(),
            "excluded_pairs": res.excluded_pairs, "excluded_cases": res.excluded_cases,
            "familywise": {"method": "holm", "alpha": res.alpha, "significant_failures": res.holm_failures},
            "checks": [{"name": c.name, "metric": c.metric, "kind": c.kind, "status": c.status,
                        "message": c.message, "value": c.value, "threshold": c.threshold,
                        "ci": list(c.ci) if c.ci else None, "n": c.n, "n_cases": c.n_cases,
                        "p_value": c.p_value, "p_holm": c.p_holm} for c in res.checks]}
