"""evalsuite agreement: Spearman/Kendall/pairwise accuracy against ratings, case-clustered CIs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from evalsuite.agreement import agreement, cluster_ci, pairwise_accuracy, read_ratings
from evalsuite.cli.main import main
from evalsuite.compare import load_run
from evalsuite.types import EvalsuiteError
from tests.reports.make_run import make_run

KEY = "flatbg.noise_sigma"       # lower is better


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("agree") / "run", n_cases=10, seeds=(0, 1),
                    noise={"teacher": 2.0, "student": 5.0})


def test_pairwise_accuracy_by_hand():
    # human 1 < 2 < 3; judge orders (1,2) right, (1,3) right, (2,3) tied -> (1 + 1 + 0.5) / 3
    assert pairwise_accuracy([1, 2, 3], [0.1, 0.5, 0.5]) == pytest.approx(2.5 / 3)
    # human ties are not pairs: only (a,c) and (b,c) count, both right
    assert pairwise_accuracy([1, 1, 2], [0.3, 0.1, 0.9]) == 1.0


def test_score_ratings_that_follow_the_metric_agree_perfectly(run_dir, tmp_path):
    run = load_run(run_dir)
    vals = run.values("student", KEY)
    rows = []
    for (case, seed), v in vals.items():
        for rater, jitter in (("r1", 0.0), ("r2", 0.5)):
            rows.append({"case": case, "seed": seed, "rater": rater, "score": 10.0 - v + jitter})
    res = agreement(run, read_ratings(_write_jsonl(tmp_path / "r.jsonl", rows)), [KEY], n_boot=300)
    m = res["metrics"][KEY]
    assert m["kind"] == "score" and m["n_items"] == len(vals) and m["n_cases"] == 10
    assert m["spearman"]["value"] == pytest.approx(1.0)
    assert m["kendall"]["value"] == pytest.approx(1.0)
    assert m["pairwise"]["value"] == pytest.approx(1.0)


def test_score_agreement_matches_scipy_and_ci_resamples_cases(run_dir, tmp_path):
    run = load_run(run_dir)
    vals = run.values("student", KEY)
    rng = np.random.default_rng(3)
    rows, human, judge = [], [], []
    for (case, seed), v in sorted(vals.items()):
        h = -v + rng.normal(0, 1.0)
        rows.append({"case": case, "seed": seed, "rater": "r1", "score": h})
        human.append(h)
        judge.append(-v)
    res = agreement(run, read_ratings(_write_jsonl(tmp_path / "r.jsonl", rows)), [KEY], n_boot=500)
    m = res["metrics"][KEY]
    assert m["spearman"]["value"] == pytest.approx(stats.spearmanr(human, judge).statistic, abs=1e-4)
    assert m["kendall"]["value"] == pytest.approx(stats.kendalltau(human, judge).statistic, abs=1e-4)
    lo, hi = m["spearman"]["ci"]
    assert lo < m["spearman"]["value"] < hi


def test_cluster_ci_is_wider_than_an_item_bootstrap_when_seeds_repeat():
    # 12 cases x 4 identical seeds: resampling cases sees 12 units, not 48
    rng = np.random.default_rng(0)
    per_case = rng.normal(0, 1, 12)
    groups = {f"c{i}": [float(per_case[i])] * 4 for i in range(12)}
    ci = cluster_ci(groups, lambda xs: {"mean": float(np.mean(xs))}, n_boot=2000)["mean"]
    flat = [x for v in groups.values() for x in v]
    boots = [np.mean(rng.choice(flat, len(flat))) for _ in range(2000)]
    naive = np.quantile(boots, [0.025, 0.975])
    assert (ci[2] - ci[1]) > 1.6 * (naive[1] - naive[0])


def test_preference_ratings(run_dir, tmp_path):
    run = load_run(run_dir)
    s, t = run.values("student", KEY), run.values("teacher", KEY)
    rows = []
    for (case, seed) in sorted(s):
        if (case, seed) not in t:
            continue
        better = "student" if s[(case, seed)] < t[(case, seed)] else "teacher"   # lower sigma wins
        rows += [{"case": case, "seed": seed, "rater": "a", "preference": better},
                 {"case": case, "seed": seed, "rater": "b", "preference": better}]
    res = agreement(run, read_ratings(_write_jsonl(tmp_path / "p.jsonl", rows)), [KEY], n_boot=200)
    assert res["metrics"][KEY]["kind"] == "preference"
    assert res["metrics"][KEY]["accuracy"]["value"] == 1.0


def test_bad_ratings_name_file_and_line(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("case,seed,rater,score\nc0,0,a,3\nc1,0,a,high\n")
    with pytest.raises(EvalsuiteError, match=r"r\.csv:3: score 'high' is not a number"):
        read_ratings(p)
    p.write_text("case,seed,rater,preference\nc0,0,a,maybe\n")
    with pytest.raises(EvalsuiteError, match=r"r\.csv:2: preference 'maybe'"):
        read_ratings(p)
    q = tmp_path / "r.jsonl"
    q.write_text('{"case": "c0", "rater": "a", "score": 1}\n{oops\n')
    with pytest.raises(EvalsuiteError, match=r"r\.jsonl:2: invalid JSON"):
        read_ratings(q)


def test_cli_table_and_json(run_dir, tmp_path, capsys):
    run = load_run(run_dir)
    rows = [{"case": c, "seed": sd, "rater": "r", "score": -v} for (c, sd), v in run.values("student", KEY).items()]
    path = tmp_path / "r.csv"
    path.write_text("case,seed,rater,score\n" + "".join(f"{r['case']},{r['seed']},r,{r['score']}\n" for r in rows))
    out = tmp_path / "a.json"
    assert main(["agreement", str(run_dir), "--ratings", str(path), "--metrics", KEY, "-o", str(out)]) == 0
    assert "spearman" in capsys.readouterr().out
    assert json.loads(out.read_text())["metrics"][KEY]["spearman"]["value"] == pytest.approx(1.0)
    assert main(["agreement", str(run_dir), "--ratings", str(tmp_path / "none.csv")]) == 2
