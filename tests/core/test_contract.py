"""The v2 judge contract: Scores/Failure stamped by the runner, pack granularity, options from the
signature with "did you mean", the cache key minus the ignore list."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

import numpy as np
import pytest
from PIL import Image

from evalsuite.executors import ExecOptions
from evalsuite.family import JudgeFamily
from evalsuite.judge import Failure, Judge, Scores
from evalsuite.runner import RunConfig, judge_verdicts, run_eval
from evalsuite.types import Case, EvalsuiteError, JudgeInput, MetricSpec
from tests.core.conftest import write_pack
from tests.core.doubles import SpreadJudge
from tests.core.test_runner import cfg as runner_cfg


def cfg(tmp_path, pack, **kw):
    # judged in this process (judge_workers=0): the tests read the doubles' call records
    return runner_cfg(tmp_path, pack, **{"judges": ["spread", "mean"], "exec": ExecOptions(judge_workers=0), **kw})


def test_pack_level_judge_sees_the_whole_selection_once_per_role(tmp_path):
    pack = write_pack(tmp_path / "p", n=4)
    s = run_eval(cfg(tmp_path, pack))
    # the oracle: the std of every student image's mean brightness, from the stored images
    db = sqlite3.connect(tmp_path / "run" / "results.db")
    hashes = [r[0] for r in db.execute("SELECT image_hash FROM items WHERE role='student'")]
    means = [np.asarray(Image.open(tmp_path / "run" / "images" / f"{h}.png"), dtype=np.float64).mean() / 255
             for h in hashes]
    m = s["metrics"]["student"]
    assert m["spread.images"]["mean"] == 8 and m["spread.images"]["pack_level"]
    assert m["spread.brightness_std"]["mean"] == pytest.approx(float(np.std(means)), abs=1e-6)
    assert SpreadJudge.batches == [3, 3, 2, 3, 3, 2]      # update() per batch, both roles
    # cached: a re-run computes nothing; a smaller selection is a new pack key
    s2 = run_eval(cfg(tmp_path, pack))
    assert s2["timing"]["judged"] == 0 and s2["metrics"]["student"]["spread.images"]["mean"] == 8
    s3 = run_eval(cfg(tmp_path, pack, limit=2))
    assert s3["metrics"]["student"]["spread.images"]["mean"] == 4


def test_pack_level_failure_is_recorded_not_zero(tmp_path, monkeypatch):
    pack = write_pack(tmp_path / "p", n=2)

    def boom(self):
        raise RuntimeError("distribution fit failed")
    monkeypatch.setattr(SpreadJudge, "compute", boom)
    s = run_eval(cfg(tmp_path, pack, teacher=None, model="pattern:0"))
    e = s["metrics"]["student"]["spread.brightness_std"]
    assert e["mean"] is None and e["failures"] == 1
    assert list(e["errors"]) == ["RuntimeError: distribution fit failed"]


class _Partial(Judge):
    """Scores one metric, fails another with a kind, abstains on seed 1, crashes on seed 2."""

    name = "partial"
    version = 1
    metrics = {"a": MetricSpec(True), "b": MetricSpec(True)}

    def score(self, items: Sequence[JudgeInput]) -> list[Scores | None]:
        if any(it.seed == 2 for it in items):
            raise ValueError("seed 2 is unreadable")
        return [None if it.seed == 1 else
                Scores({"a": 0.25, "b": Failure("server said no", "unreachable")}, {"k": it.seed})
                for it in items]


def test_runner_stamps_scores_and_isolates_a_crashing_item():
    case = Case("c", "t2i", "p", (0, 1, 2))
    im = Image.new("RGB", (8, 8))
    vs = judge_verdicts(_Partial(), [JudgeInput(case, s, im, "h") for s in (0, 1, 2)])
    by = {(v.seed, v.metric): v for v in vs}
    assert set(by) == {(0, "a"), (0, "b"), (2, "a"), (2, "b")}        # seed 1 abstained
    assert by[(0, "a")].ok and by[(0, "a")].value == 0.25 and by[(0, "a")].judge == "partial"
    assert not by[(0, "b")].ok and by[(0, "b")].value is None
    assert by[(0, "b")].error == "server said no" and by[(0, "b")].detail == {"k": 0, "error_kind": "unreachable"}
    # the crash of seed 2 fails only seed 2, with the exception's message (never a zero)
    assert not by[(2, "a")].ok and by[(2, "a")].error == "seed 2 is unreadable"


def test_options_from_the_signature_validated_once_with_did_you_mean():
    j = SpreadJudge(scale="2")
    assert j.config == {"scale": 2.0} and SpreadJudge.options() == {"scale": 1.0}
    assert j.judge_id() == SpreadJudge(scale=2).judge_id() != SpreadJudge().judge_id()
    with pytest.raises(EvalsuiteError, match=r"unknown setting 'scal'; did you mean 'scale'\?"):
        SpreadJudge(scal=2)
    with pytest.raises(EvalsuiteError, match="option 'scale' must be float, got 'x'"):
        SpreadJudge(scale="x")
    with pytest.raises(EvalsuiteError, match="has no options"):
        _Partial(a=1)


class _Threads(Judge):
    name = "threads"
    version = 1
    metrics = {"x": MetricSpec(True)}
    cache_ignore = frozenset({"threads"})

    def __init__(self, level: int = 1, threads: int = 4) -> None:
        pass


def test_cache_key_ignores_declared_keys():
    assert _Threads(threads=1).judge_id() == _Threads(threads=16).judge_id() != _Threads(level=2).judge_id()
    assert _Threads(threads=16).config == {"level": 1, "threads": 16}
    assert _Threads().spec() == {"name": "threads", "config": {"level": 1, "threads": 4}}


def test_pack_judge_alone_with_judge_verdicts():
    case = Case("c", "t2i", "p", (0, 1))
    ims = [Image.new("RGB", (4, 4), (v, v, v)) for v in (0, 255)]
    vs = {v.metric: v for v in judge_verdicts(SpreadJudge(), [JudgeInput(case, s, im, str(s))
                                                              for s, im in enumerate(ims)])}
    assert vs["brightness_std"].value == pytest.approx(0.5) and vs["brightness_std"].case_id == "*"
    assert vs["images"].value == 2 and vs["images"].seed == -1


def test_judges_list_and_show_cli(capsys):
    import json

    from evalsuite.cli.main import main

    assert main(["judges", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert {"ocr", "flatbg", "fidelity", "diversity", "colorfulness"} <= set(rows)
    assert rows["diversity"]["granularity"] == "case" and rows["fidelity"]["reference"] == "optional"
    assert main(["judges", "show", "flatbg", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["version"] == 4 and d["options"]["grid_min_amp"] == 0.5
    assert d["metrics"]["sigma"] == {"higher_is_better": False, "range": [0.0, None],
                                     "description": "wavelet-MAD noise sigma on the flat region (0-255)"}
    assert main(["judges", "show", "flatbgg"]) == 2
    assert "did you mean 'flatbg'?" in capsys.readouterr().err


def test_default_models_come_from_the_registry(tmp_path):
    from evalsuite.registry import DEFAULT_MODELS
    from evalsuite.runner import resolve_models

    models = resolve_models(RunConfig(run_dir=tmp_path))
    want = DEFAULT_MODELS.get("bundled")()
    assert models["student"][0] == want["student"] and models["teacher"][0] == want["teacher"]
    assert want["student"].endswith("distill/models/student")
    assert "teacher" not in resolve_models(RunConfig(run_dir=tmp_path, teacher=""))


class _ToyFamily(JudgeFamily):
    """A judge family as a third party would write it: a flag, a summary section, console lines."""

    name = "toyfam"
    calibrates = True

    def add_arguments(self, parser, run=False):
        parser.add_argument("--toy-level", type=float)

    def judge_options(self, args):
        return {"level": args.toy_level} if getattr(args, "toy_level", None) is not None else {}

    def summary_section(self, store, judges):
        return {j.name: {"roles": store.roles(), "level": j.config["level"]} for j in judges}

    def calibration(self, store, pack, judges, n, retry_failed=False):
        store.put_record("calibration", "toy", {"n": n})
        return {j.name: {"n": n, "failures": 0, "cached_in_store": store.get_record("calibration", "toy")}
                for j in judges}

    def console(self, summary):
        return [f"toy section for {', '.join(summary.get(self.name, {}))}"]


class _ToyFamJudge(Judge):
    name = "toyj"
    version = 1
    family = "toyfam"
    metrics = {"x": MetricSpec(True)}

    def __init__(self, level: float = 0.0) -> None:
        pass

    def score(self, items):
        return [Scores({"x": self.config["level"]}) for _ in items]


@pytest.fixture
def toy_family():
    from evalsuite.family import families
    from evalsuite.registry import FAMILIES, JUDGES

    FAMILIES.register("toyfam", _ToyFamily)
    JUDGES.register("toyj", _ToyFamJudge)
    families.cache_clear()
    yield
    FAMILIES._targets.pop("toyfam", None)
    JUDGES._targets.pop("toyj", None)
    families.cache_clear()


def test_a_family_plugs_in_flags_summary_calibration_and_console(tmp_path, toy_family, capsys):
    from evalsuite.cli.main import main

    pack = write_pack(tmp_path / "p", n=2)
    rc = main(["run", "--model", "pattern:0", "--no-teacher", "--pack", str(pack), "--judges", "toyj,mean",
               "--toy-level", "0.25", "--run-dir", str(tmp_path / "run"), "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and "toy section for toyj" in out
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert s["toyfam"] == {"toyj": {"roles": ["student"], "level": 0.25}}
    assert s["metrics"]["student"]["toyj.x"]["mean"] == 0.25
    s2 = run_eval(runner_cfg(tmp_path, pack, judges=["toyj"], teacher=None, calibrate=3,
                             family_opts={"toyfam": {"level": 0.5}}))
    assert s2["calibration"]["toyj"]["cached_in_store"] == {"n": 3}
    assert s2["metrics"]["student"]["toyj.x"]["mean"] == 0.5


def test_preflight_hook_of_every_judge_runs_before_anything_renders(tmp_path, monkeypatch):
    """Judge.preflight() is called for each selected judge, family or not, before any model loads:
    a judge that cannot work stops the run with its one-line error and no run directory data."""
    pack = write_pack(tmp_path / "p", n=2)
    called: list[str] = []

    def ok(self):
        called.append(self.name)
    monkeypatch.setattr(SpreadJudge, "preflight", ok)
    run_eval(cfg(tmp_path, pack, run_dir=tmp_path / "ok"))
    assert called == ["spread"]

    def down(self):
        raise EvalsuiteError(f"{self.name}: its server is down")
    renders: list[int] = []
    monkeypatch.setattr(SpreadJudge, "preflight", down)
    monkeypatch.setattr("evalsuite.runner.load_model", lambda *a, **k: renders.append(1))
    with pytest.raises(EvalsuiteError, match="spread: its server is down"):
        run_eval(cfg(tmp_path, pack, run_dir=tmp_path / "down"))
    assert renders == [] and not (tmp_path / "down" / "results.db").exists()
    assert Judge.preflight(SpreadJudge()) is None and SpreadJudge().fingerprint() is None   # the defaults
