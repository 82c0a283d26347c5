"""The CI gate: planted regressions fail, unchanged candidates pass, bad rules exit 2."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from evalsuite.cli.main import main
from evalsuite.compare import load_run
from evalsuite.gate import evaluate, load_rules, to_junit, to_markdown
from evalsuite.types import EvalsuiteError
from tests.reports.make_run import make_run

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
    rules.write_text("version: 1\ndefaults: {min_n: 20}\nmetrics:\n  mean.brightness: {regression: {tolerance: 0.01}}\n"
                     "judges:\n  '*': {max_failure_rate: 0.0}\n")
    args = ["--rules", str(rules), "--junit", str(tmp_path / "j.xml"), "--markdown", str(tmp_path / "m.md")]
    assert main(["gate", "--candidate", str(runs["same"]), "--baseline", str(runs["base"]), *args]) == 0
    assert main(["gate", "--candidate", str(runs["worse"]), "--baseline", str(runs["base"]), *args]) == 1
    res = evaluate(load_run(runs["worse"]), load_rules(rules), load_run(runs["base"]))
    reg = next(c for c in res.checks if c.kind == "regression")
    assert reg.n == 36 and reg.value == pytest.approx(-6 / 255, abs=2e-3) and reg.status == "fail"
