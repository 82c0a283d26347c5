"""The runner: render → judge → store, cached and resumable; then summarise.

Renders are keyed by (renderer fingerprint, case hash, seed); verdicts by (judge id, image hash,
teacher image hash where the judge uses it, case hash, seed). Each batch is committed to
results.db before the next starts, so killing a run loses at most one batch and re-running the
same command recomputes nothing that finished.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from evalsuite import __version__
from evalsuite.executors import ExecOptions, execute, render_key, render_threads
from evalsuite.family import families
from evalsuite.judge import Failure, Judge, Scores
from evalsuite.packs import load_pack, pack_asset_hash
from evalsuite.renderers.base import Renderer
from evalsuite.registry import JUDGES
from evalsuite.schedule import JudgeTask, JudgeUnit, RunPlan, batches, load_source
from evalsuite.store import RunStore
from evalsuite.summary import summarise
from evalsuite.types import Case, EvalsuiteError, JudgeInput, Verdict

logger = logging.getLogger(__name__)

__all__ = ["JudgeTask", "JudgeUnit", "RunConfig", "execute_judge_task", "judge_verdicts", "run_eval"]


class ImageSource(Protocol):
    def load_image(self, image_hash: str) -> Image.Image: ...

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PACK = "typography-mini"


@dataclass
class RunConfig:
    """Everything that defines a run. `model`/`teacher` are checkpoint strings for load_renderer."""

    run_dir: Path
    pack: str = DEFAULT_PACK
    model: str | None = None            # None = the registered default (registry.DEFAULT_MODELS)
    teacher: str | None = None
    model_opts: dict[str, Any] = field(default_factory=dict)
    teacher_opts: dict[str, Any] = field(default_factory=dict)
    judges: list[str] | None = None     # None = the pack's default judges
    judge_opts: dict[str, dict[str, Any]] = field(default_factory=dict)
    # judge names whose options the user set one by one (--judge-opt); options for one of them
    # that is not selected are an error. None: only unknown judge names are errors.
    explicit_judge_opts: frozenset[str] | None = None
    limit: int | None = None
    tags: list[str] | None = None
    progress: bool = True
    command: str | None = None
    fail_fast: bool = False             # raise on the first judge failure instead of recording it
    retry_failed: bool = False          # re-judge verdicts that failed in an earlier run
    ci_method: str = "percentile"       # summary CIs: percentile or bca (both resample cases)
    calibrate: int | None = None        # judges of a family with a calibration are also measured on
                                        # this many known good/bad pairs of the whole pack (summary["calibration"])
    # options a judge family's flags give every member judge: family name -> options (explicit
    # judge_opts win); applied to the selected members only
    family_opts: dict[str, dict[str, Any]] = field(default_factory=dict)
    # how to execute (local pipelined / Ray; worker counts): changes speed, never a result
    exec: ExecOptions = field(default_factory=ExecOptions)


class _Progress:
    """rich progress bars, or nothing (library use / --json)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._p: Any = None
        self._status: Any = None

    def __enter__(self) -> "_Progress":
        if self.enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            from evalsuite.console import err_console

            self._p = Progress(TextColumn("{task.description:<28}"), BarColumn(),
                               MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                               console=err_console, transient=False)
            self._p.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._p is not None:
            self._p.__exit__(*exc)

    def task(self, description: str, total: int) -> Any:
        return self._p.add_task(description, total=total) if self._p is not None else None

    def advance(self, task: Any, n: int = 1) -> None:
        if self._p is not None and task is not None:
            self._p.advance(task, n)

    def status(self, text: str) -> None:
        """One line under the bars: workers alive and throughput."""
        if self._p is None:
            return
        if self._status is None:
            self._status = self._p.add_task(text, total=None)
        else:
            self._p.update(self._status, description=text)


def _git_revision() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def resolve_models(cfg: RunConfig) -> dict[str, tuple[str, dict[str, Any]]]:
    """role -> (checkpoint, opts). No --model means the registered default student and teacher."""
    models: dict[str, tuple[str, dict[str, Any]]] = {}
    if cfg.model is None:
        from evalsuite.registry import DEFAULT_MODELS

        if not DEFAULT_MODELS.names():
            raise EvalsuiteError("no --model given and no default model is registered; pass --model CKPT")
        default = DEFAULT_MODELS.get(DEFAULT_MODELS.names()[0])()
        student = Path(default["student"])
        if not (student / "model_index.json").is_file():
            raise EvalsuiteError(f"no --model given and the bundled student is missing at {student}; "
                                 "pass --model CKPT")
        models["student"] = (str(student), cfg.model_opts)
        teacher = cfg.teacher if cfg.teacher is not None else default.get("teacher")
    else:
        models["student"] = (cfg.model, cfg.model_opts)
        teacher = cfg.teacher
    if teacher:
        models["teacher"] = (teacher, cfg.teacher_opts)
    return models


def load_model(ckpt: str, opts: dict[str, Any]) -> Renderer:
    """"NAME:ARG" picks a registered renderer explicitly (images:DIR); otherwise auto-detect
    (evalsuite.renderers.load_renderer, which also suggests a close name for a mistyped NAME)."""
    from evalsuite.renderers import load_renderer

    return load_renderer(ckpt, **opts)


def check_judge_options(names: Sequence[str], opts: dict[str, dict[str, Any]],
                        explicit: Collection[str] | None = None) -> None:
    """Options for a judge that will not run are a mistake: an unknown judge name is an error
    (with "did you mean"); so is a registered judge that is not selected, when its options were
    given explicitly (`explicit`: the names set with --judge-opt); otherwise they are only logged."""
    from evalsuite.registry import did_you_mean

    selected = list(dict.fromkeys(names))
    for judge, o in opts.items():
        if judge in selected:
            continue
        setting = f"{judge}.{next(iter(o))}" if o else judge
        if judge not in JUDGES:
            hint = did_you_mean(judge, selected + JUDGES.names())
            raise EvalsuiteError(f"--judge-opt '{setting}': unknown judge '{judge}'{hint} "
                                 f"(selected judges: {', '.join(selected)})")
        if explicit is None or judge not in explicit:
            logger.info("options for judge %s ignored: it is not selected", judge)
            continue
        raise EvalsuiteError(f"--judge-opt '{setting}': judge '{judge}' is not selected (selected judges: "
                             f"{', '.join(selected)}); add it to --judges or drop the option")


def make_judges(names: Sequence[str], opts: dict[str, dict[str, Any]],
                explicit_opts: Collection[str] | None = None,
                family_opts: dict[str, dict[str, Any]] | None = None) -> list[Judge]:
    """Build the selected judges; bad names or options are one-line EvalsuiteErrors, raised
    before anything is rendered (options are validated once, from each judge's signature)."""
    classes = [(name, JUDGES.get(name)) for name in names]    # unknown names first
    check_judge_options(names, opts, explicit_opts)
    judges: list[Judge] = []
    for name, cls in classes:
        try:
            fam = (family_opts or {}).get(getattr(cls, "family", None) or "", {})
            judges.append(cls(**{**fam, **opts.get(name, {})}))
        except TypeError as e:
            raise EvalsuiteError(f"judge '{name}': bad options {opts.get(name)} ({e})") from e
    return judges


def preflight_judges(judges: Sequence[Judge]) -> None:
    """Call every judge's `Judge.preflight()` hook (e.g. a model-server check) before any model is
    loaded or any image rendered: a judge that cannot work stops the run here with its one-line
    EvalsuiteError instead of failing on every image hours later."""
    for j in judges:
        j.preflight()


def run_eval(cfg: RunConfig) -> dict[str, Any]:
    """Run (or resume) an evaluation; returns the summary (also written to summary.json)."""
    t0 = time.perf_counter()
    full_pack = load_pack(cfg.pack)
    pack = full_pack.select(tags=cfg.tags, limit=cfg.limit)
    judge_names = list(cfg.judges) if cfg.judges is not None else list(pack.judges)
    judges = make_judges(judge_names, cfg.judge_opts, cfg.explicit_judge_opts, cfg.family_opts)
    preflight_judges(judges)
    models = resolve_models(cfg)
    renderers = {role: load_model(ckpt, opts) for role, (ckpt, opts) in models.items()}
    store = RunStore(cfg.run_dir)
    stats: dict[str, Any] = {"rendered": 0, "render_cached": 0, "judged": 0, "judge_cached": 0}
    try:
        store.put_cases(pack.cases)
        keys = {role: render_key(r, cfg.exec) for role, r in renderers.items()}
        descriptions = {role: {**r.describe(), "checkpoint": models[role][0], "render_key": keys[role],
                               **({"cpu_threads": render_threads(cfg.exec)} if r.threads_matter() else {})}
                        for role, r in renderers.items()}
        run_json = {
            "format_version": 1, "name": store.dir.name,
            "created": (store.read_json("run.json") or {}).get(
                "created", datetime.now(timezone.utc).isoformat(timespec="seconds")),
            "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "evalsuite_version": __version__, "git_revision": _git_revision(),
            "command": cfg.command,
            "pack": {**{k: v for k, v in pack.summary().items() if k in ("name", "version", "hash", "description")},
                     "assets_hash": pack_asset_hash(pack), "root": str(pack.root)},
            "models": descriptions,
            "judges": [j.describe() for j in judges],
            "selection": {"tags": cfg.tags, "limit": cfg.limit},
        }
        store.write_json("run.json", run_json)
        for role in store.roles():
            if role not in renderers:    # e.g. the teacher of an earlier run into this directory
                store.clear_role(role)
        plan = RunPlan(store, pack, keys,
                       {role: r.batch_size for role, r in renderers.items()}, judges, stats, cfg.retry_failed)
        plan.plan()
        for r in renderers.values():    # workers (or the executor in this process) load their own
            r.close()
        with _Progress(cfg.progress) as progress:
            bars = {("render", role): progress.task(f"render {role}", n) for role, n in plan.render_totals().items()}
            bars.update({("judge", name): progress.task(f"judge {name}", n)
                         for name, n in plan.judge_totals().items() if n})
            plan.on_render = lambda role, n: progress.advance(bars.get(("render", role)), n)
            plan.on_judge = lambda name, n: progress.advance(bars.get(("judge", name)), n)
            workers = execute(plan, models, cfg.exec, cfg.fail_fast, progress.status)
        summary = summarise(store, pack, judges, descriptions, ci_method=cfg.ci_method)
        summary["timing"] = {"wall_s": round(time.perf_counter() - t0, 3), **stats,
                             "executor": cfg.exec.executor, "workers": workers}
        store.write_json("summary.json", summary)
        if cfg.calibrate:
            # the whole pack, not the --limit/--tags selection: every run of it measures the judge
            # on the same pairs (cached in the store); summary.json is already written, so a
            # calibration that fails loses nothing
            cal: dict[str, Any] = {}
            for fam in families():
                members = fam.members(judges)
                if members and fam.calibrates:
                    cal.update(fam.calibration(store, full_pack, members, cfg.calibrate, cfg.retry_failed))
            if cal:
                summary["calibration"] = cal
                store.write_json("summary.json", summary)
        return summary
    finally:
        for r in renderers.values():
            r.close()
        for j in judges:
            j.close()
        store.close()


# --- judging: planned as tasks, executed, committed by one writer ------------------------------
# The plan (evalsuite.schedule) holds the tasks: a JudgeTask holds only hashes and ids (picklable);
# a worker (evalsuite.executors) rebuilds the judge from Judge.spec() (JUDGES.get(name)(**config)),
# loads the images by hash, and returns plain Verdict rows from execute_judge_task(); the driver
# alone commits them (RunPlan.commit_judged), in whatever order they arrive.

@dataclass
class JudgeResult:
    """What executing a task produced: verdict rows and abstentions, ready for the writer."""

    judge_id: str
    verdicts: list[tuple[str, str, str, Verdict]] = field(default_factory=list)
    abstentions: list[tuple[str, str, str, int, str]] = field(default_factory=list)
    units: int = 0


def _inputs(store: ImageSource, cases: dict[str, Case], unit: JudgeUnit) -> list[JudgeInput]:
    """Rebuild a unit's JudgeInputs from the run directory (images by hash)."""
    ref = store.load_image(unit.ref_hash) if unit.ref_hash else None
    sources: dict[str, Image.Image | None] = {}
    out = []
    for h, s, cid in zip(unit.image_hashes, unit.seeds, unit.case_ids):
        case = cases[cid]
        if cid not in sources:
            sources[cid] = load_source(case)
        out.append(JudgeInput(case=case, seed=s, image=store.load_image(h), image_hash=h, role=unit.role,
                              teacher_image=ref, teacher_hash=unit.ref_hash or None, source_image=sources[cid]))
    return out


def stamp(judge: Judge, case_id: str, seed: int, scores: Scores | None) -> list[Verdict] | None:
    """The runner's stamping of one Scores into Verdicts (None: an abstention)."""
    if scores is None:
        return None
    values: dict[str, float | Failure] = dict(scores.values) or {
        m: Failure("judge returned no metric for this item") for m in judge.metrics}
    out = []
    for m, v in values.items():
        detail = {**scores.detail, **scores.metric_detail[m]} if m in scores.metric_detail else scores.detail
        if isinstance(v, Failure):
            detail = {**detail, "error_kind": v.kind} if v.kind != "error" else detail
            out.append(Verdict(case_id, seed, judge.name, m, None, ok=False, error=v.error, detail=detail))
        else:
            out.append(Verdict(case_id, seed, judge.name, m, float(v), detail=detail))
    return out


def _call(judge: Judge, fn: Any, inputs: list[JudgeInput], fail_fast: bool) -> Any:
    """fn(inputs), or the Failure it raised (the runner is the one place judge errors are caught)."""
    try:
        return fn(inputs)
    except EvalsuiteError:
        raise
    except Exception as e:  # noqa: BLE001 - any judge crash is recorded, not propagated
        if fail_fast:
            raise
        f = Failure.from_exception(e)
        logger.warning("judge %s failed on %d image(s): %s", judge.name, len(inputs), f.error)
        return f


def _one(out: Any, n: int) -> list[Any]:
    """A judge must return one Scores (or None) per item; anything else fails every item."""
    if isinstance(out, list) and len(out) == n:
        return [x if x is None or isinstance(x, Scores)
                else Failure(f"judge returned {type(x).__name__}, not Scores") for x in out]
    got = len(out) if isinstance(out, list) else type(out).__name__
    return [Failure(f"judge returned {got} results for {n} items")] * n


def score_items(judge: Judge, inputs: Sequence[JudgeInput], fail_fast: bool = False) -> list[Scores | None]:
    """judge.score(inputs) with failures caught once: a crashing batch is re-scored item by item,
    so one bad image cannot sink the others; a crashing item fails its metrics_for()."""
    inputs = list(inputs)
    out = _call(judge, judge.score, inputs, fail_fast)
    if isinstance(out, Failure) and len(inputs) > 1:
        per_item = []
        for inp in inputs:
            x = _call(judge, judge.score, [inp], fail_fast)
            per_item.append(x if isinstance(x, Failure) else _one(x, 1)[0])
    else:
        per_item = [out] * len(inputs) if isinstance(out, Failure) else _one(out, len(inputs))
    return [Scores.failed(judge.metrics_for(inp), sc.error, sc.kind) if isinstance(sc, Failure) else sc
            for inp, sc in zip(inputs, per_item)]


def score_case(judge: Judge, inputs: Sequence[JudgeInput], fail_fast: bool = False) -> Scores:
    """Case granularity: one Scores for all seeds of one case."""
    out = _call(judge, judge.score, list(inputs), fail_fast)
    sc = out if isinstance(out, Failure) else _one(out, 1)[0]
    return Scores.failed(list(judge.metrics), sc.error, sc.kind) if isinstance(sc, Failure) else sc


def score_pack(judge: Judge, inputs: Sequence[JudgeInput], fail_fast: bool = False) -> Scores:
    """Pack granularity: update() over batches of the selection, then compute()."""
    def run(xs: list[JudgeInput]) -> Scores:
        for batch in batches(xs, judge.batch_size):
            judge.update(batch)
        return judge.compute()
    out = _call(judge, run, list(inputs), fail_fast)
    return Scores.failed(list(judge.metrics), out.error, out.kind) if isinstance(out, Failure) else out


def judge_verdicts(judge: Judge, inputs: Sequence[JudgeInput], fail_fast: bool = False) -> list[Verdict]:
    """Judge `inputs` as the runner does, without a run directory (tests, calibration, benchmarks):
    image granularity per item, case granularity per case (seed -1), pack over all (case "*")."""
    if judge.granularity == "pack":
        return stamp(judge, "*", -1, score_pack(judge, inputs, fail_fast)) or []
    if judge.granularity == "case":
        by_case: dict[str, list[JudgeInput]] = defaultdict(list)
        for it in inputs:
            by_case[it.case.id].append(it)
        return [v for cid, its in by_case.items() for v in stamp(judge, cid, -1, score_case(judge, its, fail_fast)) or []]
    return [v for it, sc in zip(inputs, score_items(judge, inputs, fail_fast))
            for v in stamp(judge, it.case.id, it.seed, sc) or []]


def execute_judge_task(judge: Judge, task: JudgeTask, store: ImageSource, cases: dict[str, Case],
                       fail_fast: bool = False) -> JudgeResult:
    """Judge one task; pure apart from reading images (`store`: anything with load_image(hash),
    e.g. the run's RunStore or a worker's image folder), so it is safe in a worker process."""
    res = JudgeResult(task.judge_id, units=len(task.units))
    if judge.granularity in ("pack", "case"):
        for unit in task.units:
            inputs = _inputs(store, cases, unit)
            sc = (score_pack if judge.granularity == "pack" else score_case)(judge, inputs, fail_fast)
            res.verdicts += [(unit.key_image, "", unit.case_hash, v) for v in stamp(judge, unit.case_id, -1, sc) or []]
        return res
    inputs = [_inputs(store, cases, u)[0] for u in task.units]
    for unit, sc in zip(task.units, score_items(judge, inputs, fail_fast)):
        vs = stamp(judge, unit.case_id, unit.seed, sc)
        if vs is None:
            res.abstentions.append((unit.key_image, unit.ref_hash, unit.case_hash, unit.seed,
                                    "no metric applies to this image"))
        else:
            res.verdicts += [(unit.key_image, unit.ref_hash, unit.case_hash, v) for v in vs]
    return res
