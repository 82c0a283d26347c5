"""Sweeps over other trainers' checkpoints: LoRA files and accelerate checkpoint-N/ folders over a
base pipeline, the worse-than-best-so-far flag, TensorBoard scalars, the evaluate() API, and a
sweep committed without its images opening in compare/report.

The real tests build a tiny random-weight QwenImage pipeline (tests/fixtures/tiny_pipelines.py)
and LoRAs with peft, written in the key namings of diffusers/peft, kohya and DiffSynth-Studio.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from evalsuite import sweep as sw
from evalsuite.compare import split_cases
from evalsuite.types import EvalsuiteError
from tests.fixtures import tiny_pipelines

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

SAMPLER = {"num_inference_steps": 2, "guidance_scale": 1.0, "width": 32, "height": 32}


# --- helpers --------------------------------------------------------------------------------------
def _tensors(path: Path, tensors: dict[str, Any]) -> Path:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path))
    return path


def _small_lora(path: Path) -> Path:
    import torch

    return _tensors(path, {"transformer.transformer_blocks.0.attn.to_q.lora_A.weight": torch.zeros(2, 4),
                           "transformer.transformer_blocks.0.attn.to_q.lora_B.weight": torch.zeros(4, 2)})


def _peft_lora(tmp: Path, seed: int, std: float) -> dict[str, Any]:
    """A random peft LoRA for the tiny transformer, in diffusers naming (`transformer.` keys)."""
    from safetensors.torch import load_file

    d = tiny_pipelines.write_random_lora(tmp / f"lora-{seed}", seed=seed, std=std)
    return load_file(str(d / "pytorch_lora_weights.safetensors"))


def as_diffsynth(sd: dict[str, Any]) -> dict[str, Any]:
    """DiffSynth-Studio's naming: the DiT's own module names, peft's `lora_A.default.weight`."""
    return {k.removeprefix("transformer.").replace(".lora_A.weight", ".lora_A.default.weight")
            .replace(".lora_B.weight", ".lora_B.default.weight"): v for k, v in sd.items()}


def as_kohya(sd: dict[str, Any]) -> dict[str, Any]:
    """kohya's naming: `lora_unet_` + module path with underscores, lora_down/lora_up and alpha."""
    import torch

    out = {}
    for k, v in sd.items():
        flat = "lora_unet_" + k.removeprefix("transformer.").rsplit(".lora_", 1)[0].replace(".", "_")
        if k.endswith("lora_A.weight"):
            out[flat + ".lora_down.weight"] = v
            out[flat + ".alpha"] = torch.tensor(float(v.shape[0]))   # alpha = rank: scale 1
        else:
            out[flat + ".lora_up.weight"] = v
    return out


def _pack(root: Path, n_cases: int = 8) -> Path:
    """A 32x32 pack with flat backgrounds (flatbg) and teacher distance (fidelity)."""
    root.mkdir(parents=True)
    (root / "pack.yaml").write_text("name: tiny-sweep\nversion: 1\ndescription: tiny\n"
                                    "judges: [fidelity, flatbg]\ndefaults:\n  width: 32\n  height: 32\n"
                                    "  seeds: [0, 1]\n")
    prompts = ["a red poster", "the word OPEN", "blue background", "the quick brown fox",
               "a white sneaker", "SALE", "green", "the lazy dog"]
    rows = [{"id": f"c{i}", "kind": "t2i", "prompt": prompts[i % len(prompts)],
             "background": {"color": "#FFFFFF", "region": [0.0, 0.0, 1.0, 0.25]}} for i in range(n_cases)]
    (root / "cases.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_pipelines.write_qwen_image(tmp_path_factory.mktemp("base") / "pipe", sampler=SAMPLER)


@pytest.fixture(autouse=True)
def _hash_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALSUITE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "hash-cache"))


# --- discovery (no model loaded) ------------------------------------------------------------------
def test_checkpoint_step_from_names(tmp_path: Path) -> None:
    assert sw.checkpoint_step(tmp_path / "step-1000.safetensors") == 1000
    assert sw.checkpoint_step(tmp_path / "checkpoint-250") == 250
    assert sw.checkpoint_step(tmp_path / "lora-v2-epoch-4.safetensors") == 4    # the last number
    assert sw.checkpoint_step(tmp_path / "final.safetensors") == -1


def test_find_lora_files_and_accelerate_folders(tmp_path: Path) -> None:
    import torch

    root, base = tmp_path / "out", tmp_path / "base"
    base.mkdir()
    (base / "model_index.json").write_text("{}")
    _small_lora(root / "step-1000.safetensors")
    _small_lora(root / "step-200.safetensors")
    _small_lora(root / "checkpoint-300" / "pytorch_lora_weights.safetensors")
    _tensors(root / "checkpoint-400" / "transformer" / "diffusion_pytorch_model.safetensors", {"w": torch.zeros(2)})
    (root / "checkpoint-400" / "transformer" / "config.json").write_text("{}")
    _tensors(root / "checkpoint-500" / "model.safetensors", {"proj_out.weight": torch.zeros(2)})
    (root / "checkpoint-600").mkdir()                   # accelerate has not written it yet
    (root / "checkpoint-600" / "optimizer.bin").write_bytes(b"x")
    found = sw.find_checkpoints(root, base)
    assert [(c.name, c.step, c.kind) for c in found] == [
        ("step-200", 200, "lora"), ("checkpoint-300", 300, "lora"), ("checkpoint-400", 400, "weights"),
        ("checkpoint-500", 500, "weights"), ("step-1000", 1000, "lora")]
    assert found[0].model == str(base) and found[0].opts == {"lora": str(root / "step-200.safetensors")}
    assert found[2].opts == {"weights": str(root / "checkpoint-400" / "transformer")}
    with pytest.raises(EvalsuiteError, match=r"out/(step|checkpoint)-\d+(.safetensors)? holds LoRA or denoiser weights.*--base DIR"):
        sw.find_checkpoints(root)


def test_corrupt_lora_file_is_one_line_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evalsuite.cli.main import main

    root, base = tmp_path / "out", tmp_path / "base"
    base.mkdir()
    (base / "model_index.json").write_text("{}")
    good = _small_lora(root / "step-100.safetensors")
    bad = root / "step-200.safetensors"
    bad.write_bytes(good.read_bytes()[:40])              # copied mid-write
    rc = main(["sweep", str(root), "--base", str(base), "--pack", "typography-mini",
               "--sweep-dir", str(tmp_path / "s")])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert str(bad) in err and "not a readable .safetensors file" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "s" / "sweep.json").exists()     # checked before anything was computed
    # a file that is not a LoRA over --base
    bad.unlink()
    _tensors(root / "step-300.safetensors", {"proj_out.weight": __import__("torch").zeros(2)})
    with pytest.raises(EvalsuiteError, match=r"step-300.safetensors: no LoRA keys"):
        sw.find_checkpoints(root, base)


# --- the worse-than-best-so-far flag ---------------------------------------------------------------
class _Run:
    """Fast double of compare.RunData: per-(case, seed) values of one metric."""

    def __init__(self, values: dict[tuple[str, int], float], hib: bool = True) -> None:
        self._v, self._hib = values, hib
        self.items = {"student": {k: "h" for k in values}}
        self.case_hashes: dict[str, dict[tuple[str, int], str]] = {}

    def metric_keys(self, role: str | None = None) -> list[str]:
        return ["m"]

    def values(self, role: str, key: str) -> dict[tuple[str, int], float]:
        return self._v

    def higher_is_better(self, key: str) -> bool:
        return self._hib


def _vals(per_case: dict[str, float]) -> dict[tuple[str, int], float]:
    return {(c, s): v + 0.01 * s for c, v in per_case.items() for s in (0, 1)}


def test_regression_flag_selects_on_one_half_and_tests_on_the_other() -> None:
    cases = [f"c{i}" for i in range(12)]
    sel, test = split_cases(cases)
    assert len(sel) == len(test) == 6 and not sel & test
    # A is better than B on the selection half, B better on the test half: the best so far is A
    # (chosen on selection cases), so C (= B's values) measured on test cases is not worse.
    a = {c: (1.0 if c in sel else 0.5) for c in cases}
    b = {c: (0.5 if c in sel else 1.0) for c in cases}
    noisy_worse = {c: 0.2 + 0.05 * (i % 3) for i, c in enumerate(cases)}
    reg = sw.regressions([("A", _Run(_vals(a))), ("B", _Run(_vals(b))), ("C", _Run(_vals(b))),
                          ("D", _Run(_vals(noisy_worse)))])
    assert reg["split"] == "cases" and reg["selection_cases"] == 6 and reg["test_cases"] == 6
    cps = reg["checkpoints"]
    assert cps["A"]["compared"] == {}                      # nothing before the first checkpoint
    assert cps["B"]["compared"]["m"]["best"] == "A" and cps["B"]["worse_than_best"] == []
    assert cps["C"]["compared"]["m"]["best"] == "A"        # B ties A on selection; first one kept
    assert cps["C"]["compared"]["m"]["delta"] == pytest.approx(0.5)   # test half: 1.0 - 0.5
    # D is worse on every test case: its CI (resampling cases) is below 0 -> flagged
    d = cps["D"]["compared"]["m"]
    assert d["worse"] and d["ci"][1] < 0 and d["n_cases"] == 6 and cps["D"]["worse_than_best"] == ["m"]


def test_regression_flag_respects_lower_is_better_and_noise() -> None:
    import numpy as np

    cases = [f"c{i}" for i in range(20)]
    rng = np.random.default_rng(0)
    base = {c: float(v) for c, v in zip(cases, rng.normal(1.0, 0.3, len(cases)))}
    same = {c: v + float(e) for (c, v), e in zip(base.items(), rng.normal(0, 0.01, len(cases)))}
    grown = {c: v + 0.5 for c, v in base.items()}          # noise grew: sigma up on every case
    reg = sw.regressions([("s1", _Run(_vals(base), hib=False)), ("s2", _Run(_vals(same), hib=False)),
                          ("s3", _Run(_vals(grown), hib=False))])
    assert reg["checkpoints"]["s2"]["worse_than_best"] == []
    c3 = reg["checkpoints"]["s3"]["compared"]["m"]
    assert c3["worse"] and c3["ci"][0] > 0 and c3["delta"] == pytest.approx(0.5, abs=0.02)


def test_regression_flag_leaves_out_cases_whose_content_changed() -> None:
    cases = [f"c{i}" for i in range(12)]
    _sel, test = split_cases(cases)
    a = _Run(_vals({c: 1.0 for c in cases}))
    b = _Run(_vals({c: 0.5 for c in cases}))
    changed = sorted(test)[:2]             # edited between the two runs: same id, other content
    a.case_hashes = {"student": {(c, s): "old" for c in cases for s in (0, 1)}}
    b.case_hashes = {"student": {(c, s): ("new" if c in changed else "old") for c in cases for s in (0, 1)}}
    got = sw.regressions([("A", a), ("B", b)])["checkpoints"]["B"]["compared"]["m"]
    assert got["n_cases"] == len(test) - 2 and got["delta"] == pytest.approx(-0.5) and got["worse"]


def test_compact_run_leaves_one_self_contained_file(tmp_path: Path) -> None:
    """A committed results.db (no -wal/-shm beside it) must still hold everything written."""
    from evalsuite.store import RunReader, RunStore, compact_run
    from evalsuite.types import Case

    run = tmp_path / "run"
    store = RunStore(run)
    store.put_cases([Case(f"c{i}", "t2i", f"a sign saying {i}", (0, 1)) for i in range(3)])
    reader = RunReader(run)      # an open reader keeps the WAL from being folded at close
    store.close()
    assert (run / "results.db-wal").is_file()
    reader.close()
    compact_run(run)
    # SQLite header byte 18: 1 = rollback journal, 2 = WAL
    assert (run / "results.db").read_bytes()[18] == 1
    assert not (run / "results.db-wal").exists() and not (run / "results.db-shm").exists()
    clone = tmp_path / "clone"
    clone.mkdir()
    shutil.copyfile(run / "results.db", clone / "results.db")
    with RunReader(clone) as rd:
        assert [c.case_id for c in rd.cases()] == ["c0", "c1", "c2"]


# --- real pipelines --------------------------------------------------------------------------------
def _copy_as_committed(src: Path, dst: Path) -> Path:
    """What a clone of a committed sweep holds: no images, no WAL files (distill/results/.gitignore)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("images", "by-case", "*-wal", "*-shm", "tensorboard"))
    return dst


@pytest.mark.slow
def test_lora_file_sweep_end_to_end(tmp_path: Path, base: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch
    from safetensors.torch import save_file
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    import evalsuite
    from evalsuite.cli.main import main

    torch.set_num_threads(1)
    ck = tmp_path / "lora-run"
    ck.mkdir()
    # three trainers' namings; the LoRA grows noisier with training (std up)
    save_file(_peft_lora(tmp_path, seed=1, std=0.05), str(ck / "step-100.safetensors"))
    save_file(as_kohya(_peft_lora(tmp_path, seed=2, std=0.1)), str(ck / "step-200.safetensors"))
    save_file(as_diffsynth(_peft_lora(tmp_path, seed=3, std=3.0)), str(ck / "step-300.safetensors"))
    pack = _pack(tmp_path / "pack")
    sdir = tmp_path / "sweep"
    data = sw.run_sweep(sw.SweepConfig(checkpoints=ck, sweep_dir=sdir, pack=str(pack), teacher=str(base),
                                       base=base, judges=["fidelity", "flatbg"]))
    assert [(c["name"], c["step"], c["kind"]) for c in data["checkpoints"]] == [
        ("step-100", 100, "lora"), ("step-200", 200, "lora"), ("step-300", 300, "lora")]
    psnr = [c["metrics"]["fidelity.psnr"]["mean"] for c in data["checkpoints"]]
    # every LoRA changed the pixels (identical images would be capped at 100 dB) and the noisiest most
    assert all(p < 100 for p in psnr) and psnr[2] < min(psnr[:2])
    reg = data["regressions"]
    assert reg["split"] == "cases" and reg["selection_cases"] == 4 and reg["test_cases"] == 4
    last = data["checkpoints"][2]
    assert "fidelity.psnr" in last["worse_than_best"]
    assert last["vs_best_so_far"]["fidelity.psnr"]["ci"][1] < 0

    # TensorBoard: one scalar per metric per checkpoint step, the sweep's means
    acc = EventAccumulator(str(sdir / "tensorboard"))
    acc.Reload()
    events = acc.Scalars("eval/fidelity.psnr")
    assert [e.step for e in events] == [100, 200, 300]
    assert [e.value for e in events] == pytest.approx(psnr, rel=1e-6)
    assert [e.value for e in acc.Scalars("eval_worse_than_best/fidelity.psnr")][-1] == 1.0

    # the API on one of those files gives the sweep's numbers (same weights, seeds, pack)
    summary = evalsuite.evaluate(ck / "step-200.safetensors", pack=str(pack), teacher=base, base=base,
                                 run_dir=tmp_path / "api", judges=["fidelity", "flatbg"],
                                 step=200, tensorboard=tmp_path / "tb-api")
    assert summary["metrics"]["student"]["fidelity.psnr"]["mean"] == pytest.approx(psnr[1], rel=1e-9)
    acc = EventAccumulator(str(tmp_path / "tb-api"))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("eval/fidelity.psnr")] == [(200, pytest.approx(psnr[1]))]

    # committed without images: compare and report still open it
    clone = _copy_as_committed(sdir, tmp_path / "clone" / "sweep")
    assert not list(clone.rglob("*.png"))
    capsys.readouterr()
    assert main(["compare", str(clone), "--json"]) == 0
    best = {b["key"]: b for b in json.loads(capsys.readouterr().out)["best"]}
    assert best["fidelity.psnr"]["checkpoint"] in ("step-100", "step-200")
    assert best["fidelity.psnr"]["mean"] == pytest.approx(max(psnr[:2]), rel=1e-6)   # summary rounds
    out = tmp_path / "report.html"
    assert main(["report", str(clone), "-o", str(out)]) == 0
    html = out.read_text()
    assert "step-300" in html and "fidelity.psnr" in html


@pytest.mark.slow
def test_accelerate_checkpoint_folders_and_in_memory_pipeline(tmp_path: Path, base: Path) -> None:
    import torch
    from diffusers import QwenImagePipeline
    from safetensors.torch import save_file

    import evalsuite

    torch.set_num_threads(1)
    ck = tmp_path / "out"
    # checkpoint-10: a LoRA (diffusers' LoRA scripts' save hook); checkpoint-20: transformer/ of a
    # full fine-tune (other weights); checkpoint-30: accelerate's raw model.safetensors holding the
    # base's own weights; optimizer state beside them, as accelerate writes it
    (ck / "checkpoint-10").mkdir(parents=True)
    save_file(_peft_lora(tmp_path, seed=4, std=0.5), str(ck / "checkpoint-10" / "pytorch_lora_weights.safetensors"))
    tiny_pipelines.build_transformer(seed=7).save_pretrained(ck / "checkpoint-20" / "transformer")
    (ck / "checkpoint-30").mkdir()
    save_file({k: v.contiguous() for k, v in tiny_pipelines.build_transformer(seed=0).state_dict().items()},
              str(ck / "checkpoint-30" / "model.safetensors"))
    for d in ("checkpoint-10", "checkpoint-20", "checkpoint-30"):
        (ck / d / "optimizer.bin").write_bytes(b"\0" * 8)
    pack = _pack(tmp_path / "pack", n_cases=4)
    from evalsuite.cli.main import main

    assert main(["sweep", str(ck), "--base", str(base), "--pack", str(pack), "--teacher", str(base),
                 "--judges", "fidelity", "--sweep-dir", str(tmp_path / "sweep"),
                 "--tensorboard", str(tmp_path / "trainer-logs" / "evalsuite")]) == 0
    data = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert data["base"] == str(base)
    assert list((tmp_path / "trainer-logs" / "evalsuite").glob("events.out.tfevents.*"))
    assert [(c["step"], c["kind"]) for c in data["checkpoints"]] == [(10, "lora"), (20, "weights"), (30, "weights")]
    psnr = {c["step"]: c["metrics"]["fidelity.psnr"]["mean"] for c in data["checkpoints"]}
    assert psnr[30] == 100.0                    # the base's own weights: the teacher's pixels exactly
    assert psnr[10] < 100.0 and psnr[20] < 100.0

    # an in-memory pipeline (as a training script holds it), here the base: the teacher's pixels
    pipe = QwenImagePipeline.from_pretrained(str(base))
    summary = evalsuite.evaluate(pipe, pack=str(pack), teacher=base, run_dir=tmp_path / "api",
                                 judges=["fidelity"], **{k: v for k, v in SAMPLER.items()})
    assert summary["metrics"]["student"]["fidelity.psnr"]["mean"] == 100.0
    # weights that do not fit the denoiser: one line naming the file
    (ck / "checkpoint-40").mkdir()
    save_file({"proj_out.weight": torch.zeros(3, 3)}, str(ck / "checkpoint-40" / "model.safetensors"))
    with pytest.raises(EvalsuiteError, match=r"weights .*checkpoint-40/model.safetensors do not fit .* keys missing"):
        evalsuite.evaluate(ck / "checkpoint-40", pack=str(pack), base=base, run_dir=tmp_path / "api2",
                           judges=["flatbg"])


def test_watch_waits_for_a_lora_file_still_being_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While watching, an unreadable weight file is a file being written: evaluated once it reads."""
    import threading
    import time

    import evalsuite.runner

    calls: list[Any] = []

    def run_eval(cfg: Any) -> dict[str, Any]:      # fast double: records what would be rendered
        calls.append(cfg)
        cfg.run_dir.mkdir(parents=True, exist_ok=True)
        return {"metrics": {"student": {"m.x": {"mean": 1.0, "ci": [1, 1], "n": 1, "failures": 0}}}}

    monkeypatch.setattr(evalsuite.runner, "run_eval", run_eval)
    root, base = tmp_path / "out", tmp_path / "base"
    base.mkdir()
    (base / "model_index.json").write_text("{}")
    good = _small_lora(tmp_path / "good.safetensors")
    root.mkdir()
    (root / "step-100.safetensors").write_bytes(good.read_bytes()[:30])     # half written
    shutil.copyfile(good, root / "step-50.safetensors")                      # complete: goes first

    def trainer() -> None:
        time.sleep(0.4)
        (root / "step-100.safetensors").write_bytes(good.read_bytes())
        (root / sw.DONE_MARKER).write_text("{}")

    t = threading.Thread(target=trainer)
    t.start()
    data = sw.run_sweep(sw.SweepConfig(checkpoints=root, sweep_dir=tmp_path / "s", pack="typography-mini",
                                       base=base, watch=True, poll_s=0.05, idle_timeout_s=20,
                                       write_tensorboard=False))
    t.join()
    assert [c["name"] for c in data["checkpoints"]] == ["step-50", "step-100"]
    assert [c.model_opts for c in calls] == [{"lora": str(root / "step-50.safetensors")},
                                             {"lora": str(root / "step-100.safetensors")}]
    assert calls[0].model == str(base)


@pytest.mark.slow
def test_lora_matching_no_layer_is_an_error_not_the_base_model(tmp_path: Path, base: Path) -> None:
    import torch

    from evalsuite.renderers import load_renderer
    from evalsuite.types import RenderRequest

    f = _tensors(tmp_path / "other-model.safetensors",
                 {"transformer.double_blocks.0.img_attn.qkv.lora_A.weight": torch.ones(2, 16),
                  "transformer.double_blocks.0.img_attn.qkv.lora_B.weight": torch.ones(48, 2)})
    r = load_renderer(str(base), lora=str(f), device="cpu")
    with pytest.raises(EvalsuiteError, match=r"(cannot load LoRA .*other-model.safetensors .*not found|other-model.safetensors: none of its keys match)"):
        r.render([RenderRequest(case_id="c", prompt="a red poster", seed=0, width=32, height=32)])


def test_summary_only_sweep_says_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A sweep committed as summaries alone (the old way) names the missing run data."""
    from evalsuite.cli.main import main

    d = tmp_path / "sweep"
    (d / "step-000010").mkdir(parents=True)
    (d / "step-000010" / "summary.json").write_text("{}")
    (d / "sweep.json").write_text(json.dumps({"kind": "sweep", "name": "s", "pack": "p", "checkpoints": [
        {"name": "step-000010", "step": 10, "run_dir": "step-000010"}]}))
    for verb in ("compare", "report"):
        assert main([verb, str(d)]) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert "1 checkpoints have summary.json but no results.db" in err and str(d) in err


def test_evaluate_argument_errors(tmp_path: Path) -> None:
    import evalsuite

    with pytest.raises(EvalsuiteError, match="pass run_dir=DIR"):
        evalsuite.evaluate(str(tmp_path), pack="typography-mini")
    with pytest.raises(EvalsuiteError, match="step= and tensorboard= together"):
        evalsuite.evaluate(str(tmp_path), run_dir=tmp_path / "r", step=3)
    lora = _small_lora(tmp_path / "step-5.safetensors")
    with pytest.raises(EvalsuiteError, match=r"step-5.safetensors holds LoRA .* base=DIR"):
        evalsuite.evaluate(lora, run_dir=tmp_path / "r")


@pytest.mark.slow
def test_lora_namings_of_three_trainers_give_the_same_pixels(tmp_path: Path, base: Path) -> None:
    """One LoRA written as diffusers/peft, kohya and DiffSynth-Studio write it: the same images,
    and not the base model's."""
    import numpy as np
    import torch
    from safetensors.torch import save_file

    from evalsuite.renderers import load_renderer
    from evalsuite.types import RenderRequest

    torch.set_num_threads(1)
    sd = _peft_lora(tmp_path, seed=5, std=0.5)
    files = {"diffusers": tmp_path / "d.safetensors", "kohya": tmp_path / "k.safetensors",
             "diffsynth": tmp_path / "s.safetensors"}
    save_file(sd, str(files["diffusers"]))
    save_file(as_kohya(sd), str(files["kohya"]))
    save_file(as_diffsynth(sd), str(files["diffsynth"]))
    req = [RenderRequest(case_id="c", prompt="a red poster", seed=0, width=32, height=32)]

    def pixels(**opts: Any) -> Any:
        return np.asarray(load_renderer(str(base), device="cpu", **opts).render(req)[0].image).astype(int)

    ref = pixels(lora=str(files["diffusers"]))
    assert np.abs(ref - pixels()).max() > 0
    for name in ("kohya", "diffsynth"):
        assert np.array_equal(pixels(lora=str(files[name])), ref), name
