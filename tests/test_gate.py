"""The CI gate: planted regressions fail, unchanged candidates pass, bad rules exit 2."""

from __future__ import annotations

import json
import shlex
import shutil
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from evalsuite.cli.main import main
from evalsuite.compare import load_run
from evalsuite.gate import evaluate, load_rules, to_dict, to_junit, to_markdown
from evalsuite.types import EvalsuiteError
from tests.reports.make_run import make_run, make_run_like

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "evalsuite-gate.yml"

RULES = """\
version: 1
defaults: {min_n: 10}
metrics:
  ocr.word_recall: {min: 0.5, regression: {tolerance: 0.02}}
  flatbg.noise_sigma: {max: 6, regression: {tolerance: 0.2}}
judges:
  "*": {max_failure_rate: 0.3}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gate")
    return {
        "base": make_run(root / "base", n_cases=40, seed=0),
        # the same models re-rendered with other noise: no real change
        "same": make_run(root / "same", n_cases=40, seed=1),
        # planted regressions: OCR reads far less, backgrounds twice as grainy
        "worse": make_run(root / "worse", n_cases=40, seed=0, quality={"student": 0.35}, noise={"student": 8.0}),
        "tiny": make_run(root / "tiny", n_cases=3, seeds=(0,), seed=0, quality={"student": 0.35}),
    }


@pytest.fixture()
def rules(tmp_path) -> Path:
    p = tmp_path / "gates.yaml"
    p.write_text(RULES)
    return p


def test_planted_regression_fails_with_exit_1(runs, rules, tmp_path, capsys):
    junit, md = tmp_path / "j.xml", tmp_path / "s.md"
    rc = main(["gate", "--candidate", str(runs["worse"]), "--baseline", str(runs["base"]), "--rules", str(rules),
               "--junit", str(junit), "--markdown", str(md)])
    assert rc == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "significant regression" in out
    suite = ET.parse(junit).getroot().find("testsuite")
    failed = {tc.get("name") for tc in suite.iter("testcase") if tc.find("failure") is not None}
    assert failed == {"ocr.word_recall: floor", "ocr.word_recall: regression", "flatbg.noise_sigma: ceiling",
                      "flatbg.noise_sigma: regression"}
    assert int(suite.get("failures")) == 4
    text = md.read_text()
    assert text.startswith("## evalsuite gate: FAILED") and "| ❌ fail | ocr.word_recall: regression |" in text


def test_unchanged_candidate_passes_with_exit_0(runs, rules, tmp_path):
    for cand in ("base", "same"):
        rc = main(["gate", "--candidate", str(runs[cand]), "--baseline", str(runs["base"]), "--rules", str(rules),
                   "--junit", str(tmp_path / "j.xml"), "--markdown", str(tmp_path / "s.md")])
        assert rc == 0, cand
        suite = ET.parse(tmp_path / "j.xml").getroot().find("testsuite")
        assert suite.get("failures") == "0"


def test_regression_decision_uses_the_paired_ci(runs, rules):
    res = evaluate(load_run(runs["worse"]), load_rules(rules), load_run(runs["base"]))
    reg = next(c for c in res.checks if c.name == "ocr.word_recall: regression")
    assert reg.status == "fail" and reg.n == 80 and reg.ci[1] < 0 and reg.value < -0.02
    # noise is lower-is-better: a higher value is the regression
    noise = next(c for c in res.checks if c.name == "flatbg.noise_sigma: regression")
    assert noise.status == "fail" and noise.value > 3.5
    same = evaluate(load_run(runs["same"]), load_rules(rules), load_run(runs["base"]))
    reg = next(c for c in same.checks if c.name == "ocr.word_recall: regression")
    assert reg.status == "pass" and reg.ci[0] < 0 < reg.ci[1]


def test_too_few_pairs_is_inconclusive_and_configurable(runs, rules, tmp_path):
    res = evaluate(load_run(runs["tiny"]), load_rules(rules), load_run(runs["base"]))
    reg = next(c for c in res.checks if c.name == "ocr.word_recall: regression")
    assert reg.status == "inconclusive" and reg.n == 3 and "min_n=10" in reg.message
    strict = tmp_path / "strict.yaml"
    strict.write_text(RULES.replace("{min_n: 10}", "{min_n: 10, inconclusive: fail}").replace("min: 0.5, ", ""))
    args = ["gate", "--candidate", str(runs["tiny"]), "--baseline", str(runs["base"]),
            "--junit", str(tmp_path / "j.xml"), "--markdown", str(tmp_path / "m.md")]
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(RULES.replace("min: 0.5, ", ""))
    assert main(args + ["--rules", str(lenient)]) == 0
    assert main(args + ["--rules", str(strict)]) == 1


def test_failure_rate_caps_and_missing_metrics(runs, tmp_path):
    p = tmp_path / "caps.yaml"
    p.write_text("version: 1\nmetrics:\n  vlm-t2i.overall: {max_failure_rate: 0.1}\n  ocr.missing_metric: {min: 0.1}\n"
                 "  ocr.other_missing: {min: 0.1, optional: true}\njudges:\n  ocr: {max_failure_rate: 0.0}\n")
    res = evaluate(load_run(runs["base"]), load_rules(p))
    by = {c.name: c for c in res.checks}
    # make_run fails every 5th case's VLM verdict for the student: 8 of 40 cases x 2 seeds
    assert by["vlm-t2i.overall: failure rate"].status == "fail"
    assert by["vlm-t2i.overall: failure rate"].value == pytest.approx(16 / 80)
    assert by["judge ocr: failure rate"].status == "pass"
    assert by["ocr.missing_metric: present"].status == "fail"
    assert "ocr.other_missing: present" not in by
    assert not res.passed


def test_no_baseline_skips_regression(runs, rules):
    res = evaluate(load_run(runs["base"]), load_rules(rules))
    assert {c.status for c in res.checks if c.kind == "regression"} == {"skipped"} and res.passed


@pytest.mark.parametrize("text,needle", [
    ("version: 1\nmetrics:\n  ocr.word_recall: {mni: 0.5}\n", ":3: metrics.ocr.word_recall.mni: unknown setting (did you mean 'min'?)"),
    ("version: 1\nmetrics:\n  ocr.word_recall:\n    min: high\n", ":4: metrics.ocr.word_recall.min: expected a number"),
    ("version: 1\ndefaults: {inconclusive: maybe}\nmetrics: {ocr.ned: {min: 0}}\n", ":2: defaults.inconclusive"),
    ("version: 2\nmetrics: {ocr.ned: {min: 0}}\n", "unsupported rules version"),
    ("version: 1\nmetrics: [1, 2\n", "invalid YAML"),
    ("version: 1\n", "no rules"),
    ("version: 1\nmetrics:\n  recall: {min: 0.1}\n", "metric keys are '<judge>.<metric>'"),
])
def test_bad_rules_are_one_line_errors_with_exit_2(runs, tmp_path, capsys, text, needle):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(EvalsuiteError) as e:
        load_rules(p)
    assert needle in str(e.value) and str(p) in str(e.value) and "\n" not in str(e.value)
    assert main(["gate", "--candidate", str(runs["base"]), "--rules", str(p)]) == 2
    assert needle in capsys.readouterr().err.replace("\n", "")


def test_usage_errors_exit_2(runs, rules, tmp_path):
    assert main(["gate", "--candidate", str(tmp_path / "nope"), "--rules", str(rules)]) == 2
    with pytest.raises(SystemExit) as e:
        main(["gate", "--rules", str(rules)])
    assert e.value.code == 2


def test_every_shipped_gates_yaml_loads():
    files = sorted(Path(__file__).resolve().parent.parent.glob("benchmarks/*/gates.yaml"))
    assert {f.parent.name for f in files} >= {"typography", "flat-background", "edit", "t2i-general",
                                              "typography-mini", "edit-mini"}
    for f in files:
        r = load_rules(f)
        assert r.metrics and r.role == "student"


def test_junit_and_markdown_escape_user_strings(runs, rules):
    res = evaluate(load_run(runs["base"]), load_rules(rules))
    res.candidate = 'run <b>&"x"'
    res.checks[0].message = "a <script>|b"
    root = ET.fromstring(to_junit(res))
    assert root.find("testsuite").get("name") == 'evalsuite gate run <b>&"x"'
    md = to_markdown(res)
    assert "<script>" not in md and "a &lt;script>\\|b" in md


def test_example_ci_workflow_calls_the_gate():
    import yaml

    wf = Path(__file__).resolve().parent.parent / ".github" / "workflows" / "evalsuite-gate.yml"
    doc = yaml.safe_load(wf.read_text())
    steps = doc["jobs"]["gate"]["steps"]
    runs = " ".join(s.get("run", "") for s in steps)
    assert "evalsuite gate --candidate runs/candidate" in runs and "gates.yaml" in runs and "--junit" in runs
    assert "evalsuite report" in runs
    assert (wf.parent.parent.parent / "benchmarks" / doc["env"]["PACK"] / "gates.yaml").exists()


def test_gate_on_runs_made_by_the_runner(tmp_path, capsys):
    """Real run directories from evalsuite.runner (fast doubles for the model and the judge)."""
    from evalsuite.registry import JUDGES, RENDERERS
    from evalsuite.runner import RunConfig, run_eval
    from tests.core.conftest import write_pack
    from tests.core.doubles import MeanJudge, PatternRenderer

    RENDERERS.register("pattern", PatternRenderer)
    JUDGES.register("mean", MeanJudge)
    pack = write_pack(tmp_path / "pack", n=12, seeds=(0, 1, 2))
    runs = {}
    for name, model in (("base", "pattern:10"), ("same", "pattern:10"), ("worse", "pattern:4")):
        runs[name] = tmp_path / name
        run_eval(RunConfig(run_dir=runs[name], pack=str(pack), model=model, teacher="pattern:12", progress=False))
    rules = tmp_path / "gates.yaml"
    rules.write_text("version: 1\ndefaults: {min_n: 10}\nmetrics:\n  mean.brightness: {regression: {tolerance: 0.01}}\n"
                     "judges:\n  '*': {max_failure_rate: 0.0}\n")
    args = ["--rules", str(rules), "--junit", str(tmp_path / "j.xml"), "--markdown", str(tmp_path / "m.md")]
    assert main(["gate", "--candidate", str(runs["same"]), "--baseline", str(runs["base"]), *args]) == 0
    assert main(["gate", "--candidate", str(runs["worse"]), "--baseline", str(runs["base"]), *args]) == 1
    res = evaluate(load_run(runs["worse"]), load_rules(rules), load_run(runs["base"]))
    reg = next(c for c in res.checks if c.kind == "regression")
    assert reg.n == 36 and reg.n_cases == 12 and reg.value == pytest.approx(-6 / 255, abs=2e-3) and reg.status == "fail"


# --- the shipped gates against runs shaped like the bundled models' measured runs --------------------
def _measured_students() -> list[Path]:
    """Committed student-vs-teacher measurements of the bundled tiny students (summary.json + run.json):
    distill/results/bundled/* (the shipped models) and any edit-mini measurement of a final student."""
    out = []
    for f in sorted(ROOT.glob("distill/results/bundled/*/summary.json")) + sorted(
            ROOT.glob("distill/results/sweeps/edit-*/*/summary.json")):
        s = json.loads(f.read_text())
        ckpt = str(((s.get("models") or {}).get("student") or {}).get("checkpoint", ""))
        if "teacher" in s.get("metrics", {}) and "teacher" not in Path(ckpt).name and (f.parent / "run.json").exists():
            out.append(f.parent)
    return out


MEASURED = _measured_students()
DEFAULT_MEASUREMENT = ROOT / "distill" / "results" / "bundled" / "student"


def _default_measurement() -> Path:
    assert (DEFAULT_MEASUREMENT / "summary.json").is_file() and (DEFAULT_MEASUREMENT / "run.json").is_file(), (
        f"{DEFAULT_MEASUREMENT}: the bundled default student needs a committed measurement (summary.json, "
        "run.json; python -m distill.evaluate_bundled --only student) for the shipped gates to be checked")
    return DEFAULT_MEASUREMENT


def _like(measured: Path, dest: Path, **kw) -> Path:
    summary = json.loads((measured / "summary.json").read_text())
    pack = yaml.safe_load((ROOT / "benchmarks" / summary["pack"]["name"] / "pack.yaml").read_text())
    return make_run_like(dest, summary, json.loads((measured / "run.json").read_text()),
                         seeds=pack["defaults"]["seeds"], **kw)


def _workflow_env() -> dict[str, str]:
    return yaml.safe_load(WORKFLOW.read_text())["env"]


def test_the_workflow_default_is_measured():
    """The example workflow's default (PACK, bundled student) has a committed measurement, tested below."""
    env = _workflow_env()
    assert env["MODEL"] == ""
    default = _default_measurement()
    assert default in MEASURED
    assert json.loads((default / "summary.json").read_text())["pack"]["name"] == env["PACK"]
    assert {json.loads((m / "summary.json").read_text())["pack"]["name"] for m in MEASURED} >= {"typography-mini"}


@pytest.mark.parametrize("measured", MEASURED, ids=lambda p: p.relative_to(ROOT / "distill" / "results").as_posix())
def test_shipped_gate_passes_the_bundled_students_out_of_the_box(measured, tmp_path, capsys):
    """What the example workflow does on its first PR (no baseline cached yet) and on later ones
    (baseline = main's run of the same model) must pass for the bundled students; a planted
    regression must still fail, so the gate is not vacuous."""
    summary = json.loads((measured / "summary.json").read_text())
    rules = ROOT / "benchmarks" / summary["pack"]["name"] / "gates.yaml"
    cand = _like(measured, tmp_path / "candidate")
    # the synthetic run reproduces the committed numbers
    run = load_run(cand)
    for key, e in summary["metrics"]["student"].items():
        vals = list(run.values("student", key).values())
        assert len(vals) == e["n"] and run.failures("student", key) == e["failures"]
        assert sum(vals) / len(vals) == pytest.approx(e["mean"], abs=1e-9)
    args = ["--rules", str(rules), "--junit", str(tmp_path / "j.xml"), "--markdown", str(tmp_path / "m.md")]
    assert main(["gate", "--candidate", str(cand), *args]) == 0, capsys.readouterr().out
    base = _like(measured, tmp_path / "baseline", seed=1)
    assert main(["gate", "--candidate", str(cand), "--baseline", str(base), *args]) == 0, capsys.readouterr().out
    res = evaluate(cand_run := load_run(cand), load_rules(rules), load_run(base))
    assert {c.kind for c in res.checks} >= {"regression", "failure_rate"}
    assert all(c.status in ("pass", "inconclusive") for c in res.checks), [c.message for c in res.checks if c.status == "fail"]
    # OCR is gated on regression only: the tiny students read (almost) nothing
    assert not any(c.metric.startswith("ocr.") and c.kind == "floor" for c in res.checks)
    assert cand_run.values("student", "ocr.word_recall")
    # planted regressions: SSIM to the teacher -0.1, background grain +3 (lower is better)
    worse = _like(measured, tmp_path / "worse", shift={"fidelity.ssim": -0.1, "flatbg.sigma": 3.0})
    assert main(["gate", "--candidate", str(worse), "--baseline", str(base), *args]) == 1
    failed = {c.name for c in evaluate(load_run(worse), load_rules(rules), load_run(base)).checks if c.status == "fail"}
    assert failed == {"fidelity.ssim: regression", "flatbg.sigma: regression"}


def test_every_shipped_gate_fails_an_unchanged_bundled_student_only_on_floors(tmp_path):
    """Every gates.yaml against the bundled student and an identical baseline: regression, failure
    rate and presence checks all pass; only absolute floors may fail, and only in the packs written
    for real models (typography's OCR floors), never in the packs the bundled models serve."""
    default = _default_measurement()
    cand = load_run(_like(default, tmp_path / "c"))
    base = load_run(_like(default, tmp_path / "b", seed=1))
    served = {json.loads((m / "summary.json").read_text())["pack"]["name"] for m in MEASURED}
    files = sorted(ROOT.glob("benchmarks/*/gates.yaml"))
    assert len(files) >= 6
    for f in files:
        res = evaluate(cand, load_rules(f), base)
        failed = [c for c in res.checks if c.status == "fail"]
        assert all(c.kind in ("floor", "ceiling") for c in failed), (f, [c.message for c in failed])
        if f.parent.name in served:
            assert res.passed, (f, [c.name for c in failed])


def test_the_workflows_evalsuite_commands_parse():
    """Every `evalsuite ...` line of the example workflow is accepted by the real argument parser."""
    from evalsuite.cli.main import build_parser

    env = _workflow_env()
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["gate"]["steps"]
    subst = {'"$PACK"': env["PACK"], "$PACK": env["PACK"], '${MODEL:+--model "$MODEL"}': "",
             "$baseline": "--baseline runs/baseline", "$runs": "runs/candidate runs/baseline@student"}
    seen = []
    for step in steps:
        script = step.get("run", "").replace("\\\n", " ")
        for line in script.splitlines():
            line = line.strip()
            if not line.startswith("evalsuite "):
                continue
            for k, v in subst.items():
                line = line.replace(k, v)
            argv = shlex.split(line)[1:]
            build_parser().parse_args(argv)
            seen.append(argv[0])
    assert seen == ["run", "gate", "report"]


@pytest.mark.slow
def test_a_quick_real_run_of_the_bundled_default_passes_its_shipped_gate(tmp_path, capsys):
    """The workflow's evaluation step for real (bundled student vs teacher, first 2 cases), then its gate."""
    env = _workflow_env()
    run_dir = tmp_path / "candidate"
    rc = main(["run", "--pack", env["PACK"], "--run-dir", str(run_dir), "--no-progress", "--limit", "2"])
    assert rc in (0, 3)
    rules = ROOT / "benchmarks" / env["PACK"] / "gates.yaml"
    args = ["--rules", str(rules), "--junit", str(tmp_path / "j.xml"), "--markdown", str(tmp_path / "m.md")]
    assert main(["gate", "--candidate", str(run_dir), *args]) == 0
    assert main(["gate", "--candidate", str(run_dir), "--baseline", str(run_dir), *args]) == 0
    res = evaluate(load_run(run_dir), load_rules(rules), load_run(run_dir))
    assert {c.metric for c in res.checks} >= {"ocr.word_recall", "fidelity.ssim", "flatbg.sigma_ratio"}


# --- exit codes -----------------------------------------------------------------------------------
def test_markup_in_rules_keys_is_printed_as_text_with_exit_2(runs, tmp_path, capsys):
    p = tmp_path / "g.yaml"
    p.write_text('version: 1\nmetrics:\n  "ocr.[/x]": {mni: 1}\n')
    assert main(["gate", "--candidate", str(runs["base"]), "--rules", str(p)]) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert "metrics.ocr.[/x].mni: unknown setting" in err
    # a valid rules file whose glob looks like markup: the table prints, the gate decides
    p.write_text('version: 1\nmetrics:\n  "ocr.[/x]*": {min: 0}\n  "[bold]vlm-*": {min: 0}\njudges:\n  "*": {max_failure_rate: 1}\n')
    assert main(["gate", "--candidate", str(runs["base"]), "--rules", str(p), "--junit", str(tmp_path / "j.xml"),
                 "--markdown", str(tmp_path / "m.md")]) == 0
    # other verbs print their errors through the same escaped path
    assert main(["report", str(tmp_path / "[/x]missing"), "-o", str(tmp_path / "r.html")]) == 2
    assert "[/x]missing: no such run directory" in capsys.readouterr().err.replace("\n", "")


def test_unexpected_errors_exit_2_not_1(runs, rules, tmp_path, capsys, monkeypatch):
    """CI reads 1 as "gate failed": a bug or an unreadable input must be 2."""
    import evalsuite.gate

    def boom(*a, **k):
        raise KeyError("[/x] surprise")
    monkeypatch.setattr(evalsuite.gate, "evaluate", boom)
    assert main(["gate", "--candidate", str(runs["base"]), "--rules", str(rules)]) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert "gate: could not evaluate (KeyError: '[/x] surprise')" in err and "Traceback" not in err
    monkeypatch.undo()
    # a corrupt results.db is a usage error too
    bad = tmp_path / "bad"
    shutil.copytree(runs["base"], bad)
    (bad / "results.db").write_bytes(b"not sqlite" * 100)
    assert main(["gate", "--candidate", str(bad), "--rules", str(rules)]) == 2


def test_markdown_is_appended_to_github_step_summary(runs, rules, tmp_path, monkeypatch):
    summary = tmp_path / "step-summary.md"
    summary.write_text("## earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    md = tmp_path / "gate.md"
    args = ["--rules", str(rules), "--junit", str(tmp_path / "j.xml"), "--markdown", str(md)]
    assert main(["gate", "--candidate", str(runs["worse"]), "--baseline", str(runs["base"]), *args]) == 1
    assert main(["gate", "--candidate", str(runs["same"]), "--baseline", str(runs["base"]), *args]) == 0
    text = summary.read_text()
    assert text.startswith("## earlier step\n## evalsuite gate: FAILED")
    assert text.count("## evalsuite gate:") == 2 and text.endswith(md.read_text())
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "no" / "such" / "dir" / "x.md"))
    assert main(["gate", "--candidate", str(runs["same"]), "--baseline", str(runs["base"]), *args]) == 2


# --- missing metrics and changed cases --------------------------------------------------------------
def _drop_judge(src: Path, dest: Path, judge: str) -> Path:
    shutil.copytree(src, dest)
    db = sqlite3.connect(dest / "results.db")
    with db:
        db.execute("DELETE FROM verdicts WHERE judge=?", (judge,))
    db.close()
    return dest


def test_glob_rules_fail_when_the_candidate_dropped_a_judge(runs, tmp_path):
    cand = load_run(_drop_judge(runs["base"], tmp_path / "novlm", "vlm-t2i"))
    p = tmp_path / "g.yaml"
    p.write_text('version: 1\ndefaults: {min_n: 10}\nmetrics:\n  "vlm-*": {regression: true}\n  "ocr.*": {regression: true}\n')
    res = evaluate(cand, load_rules(p), load_run(runs["base"]))
    missing = [c for c in res.checks if c.kind == "missing"]
    assert [(c.name, c.status) for c in missing] == [("vlm-t2i.overall: present", "fail")]
    assert "in the baseline but missing from the candidate" in missing[0].message and not res.passed
    # without a baseline there is nothing to miss; an optional rule allows it
    assert evaluate(cand, load_rules(p)).passed
    p.write_text('version: 1\ndefaults: {min_n: 10}\nmetrics:\n  "vlm-*": {regression: true, optional: true}\n')
    assert evaluate(cand, load_rules(p), load_run(runs["base"])).passed
    # metrics no rule matches are not the gate's business
    p.write_text('version: 1\ndefaults: {min_n: 10}\nmetrics:\n  "ocr.*": {regression: true}\n')
    assert evaluate(cand, load_rules(p), load_run(runs["base"])).passed


def _zero_student(run_dir: Path, case_ids: list[str], metric: str) -> None:
    db = sqlite3.connect(run_dir / "results.db")
    with db:
        db.execute(f"UPDATE verdicts SET value=0 WHERE metric=? AND image_hash IN (SELECT image_hash FROM items "
                   f"WHERE role='student' AND case_id IN ({','.join('?' * len(case_ids))}))", (metric, *case_ids))
    db.close()


def test_regression_pairs_only_cases_with_the_same_content(tmp_path, rules):
    """A baseline from before the pack was edited: its old cases must not pair with the new ones."""
    base = make_run(tmp_path / "base", n_cases=40, seed=0)
    edited = {i: f"a harder prompt number {i}" for i in range(10)}
    cand = make_run(tmp_path / "cand", n_cases=40, seed=0, prompts=edited)
    # the edited cases are harder: the candidate reads none of them
    _zero_student(cand, [f"case-{i:04d}" for i in range(10)], "word_recall")
    res = evaluate(load_run(cand), load_rules(rules), load_run(base))
    reg = next(c for c in res.checks if c.name == "ocr.word_recall: regression")
    assert reg.status == "pass" and reg.n == 60 and reg.value == 0.0
    assert "20 pairs left out (case changed since the baseline" in reg.message
    assert res.excluded_pairs == 20 and res.excluded_cases == [f"case-{i:04d}" for i in range(10)]
    md = to_markdown(res)
    assert "20 (case, seed) pairs of 10 case(s) left out" in md
    # paired on (case, seed) alone, the same data would have failed
    same_prompts = make_run(tmp_path / "cand2", n_cases=40, seed=0)
    _zero_student(same_prompts, [f"case-{i:04d}" for i in range(10)], "word_recall")
    naive = evaluate(load_run(same_prompts), load_rules(rules), load_run(base))
    assert next(c for c in naive.checks if c.name == "ocr.word_recall: regression").status == "fail"
    assert naive.excluded_pairs == 0


def test_holm_family_wise_control_beside_the_per_rule_result(tmp_path):
    """Two regression rules: p-values resample cases, Holm adjusts them over the family, and the
    per-rule status is unchanged."""
    from evalsuite.stats import holm
    from tests.reports.make_run import make_run

    base = make_run(tmp_path / "base", n_cases=30, seed=0)
    worse = make_run(tmp_path / "worse", n_cases=30, seed=0, quality={"student": 0.3}, noise={"student": 4.3})
    rules = tmp_path / "g.yaml"
    rules.write_text('version: 1\ndefaults: {min_n: 10}\nmetrics:\n  "ocr.word_recall": {regression: true}\n'
                     '  "flatbg.noise_sigma": {regression: true}\n')
    res = evaluate(load_run(worse), load_rules(rules), load_run(base))
    reg = [c for c in res.checks if c.kind == "regression"]
    assert len(reg) == 2 and all(c.n_cases == 30 and c.n == 60 for c in reg)
    assert [c.p_holm for c in reg] == pytest.approx(holm([c.p_value for c in reg]))
    wr = next(c for c in reg if c.metric == "ocr.word_recall")
    assert wr.status == "fail" and wr.p_holm <= 0.05 and wr.name in res.holm_failures
    assert "Holm p=" in wr.message
    d = to_dict(res)
    assert d["familywise"]["method"] == "holm" and wr.name in d["familywise"]["significant_failures"]
