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
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from PIL import Image

from evalsuite import __version__
from evalsuite.judge import Judge
from evalsuite.packs import Pack, load_pack, pack_asset_hash
from evalsuite.registry import JUDGES
from evalsuite.store import Item, RunStore
from evalsuite.summary import summarise
from evalsuite.types import (Case, EvalsuiteError, JudgeInput, RenderRequest, Verdict,
                             group_hash)

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO_ROOT / "distill" / "models" / "student"
DEFAULT_TEACHER = REPO_ROOT / "distill" / "models" / "teacher-base"
DEFAULT_PACK = "typography-mini"


@dataclass
class RunConfig:
    """Everything that defines a run. `model`/`teacher` are checkpoint strings for load_renderer."""

    run_dir: Path
    pack: str = DEFAULT_PACK
    model: str | None = None            # None = the bundled student
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
    calibrate: int | None = None        # judges with a calibration (VLM) are also measured on this
                                        # many known good/bad pairs of the whole pack (summary["calibration"])


class _Progress:
    """rich progress bars, or nothing (library use / --json)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._p: Any = None

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


def _git_revision() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def resolve_models(cfg: RunConfig) -> dict[str, tuple[str, dict[str, Any]]]:
    """role -> (checkpoint, opts). No --model means the bundled student and its teacher."""
    models: dict[str, tuple[str, dict[str, Any]]] = {}
    if cfg.model is None:
        if not (DEFAULT_MODEL / "model_index.json").is_file():
            raise EvalsuiteError(f"no --model given and the bundled student is missing at {DEFAULT_MODEL}; "
                                 "pass --model CKPT")
        models["student"] = (str(DEFAULT_MODEL), cfg.model_opts)
        teacher = cfg.teacher if cfg.teacher is not None else str(DEFAULT_TEACHER)
    else:
        models["student"] = (cfg.model, cfg.model_opts)
        teacher = cfg.teacher
    if teacher:
        models["teacher"] = (teacher, cfg.teacher_opts)
    return models


def load_model(ckpt: str, opts: dict[str, Any]) -> Any:
    """"NAME:ARG" picks a registered renderer explicitly (images:DIR); otherwise auto-detect
    (evalsuite.renderers.load_renderer, which also suggests a close name for a mistyped NAME)."""
    from evalsuite.renderers import load_renderer

    return load_renderer(ckpt, **opts)


def check_judge_options(names: Sequence[str], opts: dict[str, dict[str, Any]],
                        explicit: Collection[str] | None = None) -> None:
    """Options for a judge that will not run are a mistake: an unknown judge name is an error
    (with "did you mean"); so is a registered judge that is not selected, when its options were
    given explicitly (`explicit`: the names set with --judge-opt). Options that flags give every
    judge of a family (--vlm-url ...) are not explicit; unselected, they are only logged."""
    import difflib

    selected = list(dict.fromkeys(names))
    for judge, o in opts.items():
        if judge in selected:
            continue
        setting = f"{judge}.{next(iter(o))}" if o else judge
        if judge not in JUDGES:
            close = difflib.get_close_matches(judge, selected + JUDGES.names(), n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise EvalsuiteError(f"--judge-opt '{setting}': unknown judge '{judge}'{hint} "
                                 f"(selected judges: {', '.join(selected)})")
        if explicit is None or judge not in explicit:
            logger.info("options for judge %s ignored: it is not selected", judge)
            continue
        raise EvalsuiteError(f"--judge-opt '{setting}': judge '{judge}' is not selected (selected judges: "
                             f"{', '.join(selected)}); add it to --judges or drop the option")


def make_judges(names: Sequence[str], opts: dict[str, dict[str, Any]],
                explicit_opts: Collection[str] | None = None) -> list[Judge]:
    """Build the selected judges; bad names or options are one-line EvalsuiteErrors, raised
    before anything is rendered (judges validate their settings in __init__)."""
    classes = [(name, JUDGES.get(name)) for name in names]    # unknown names first
    check_judge_options(names, opts, explicit_opts)
    judges: list[Judge] = []
    for name, cls in classes:
        try:
            judges.append(cls(**opts.get(name, {})))
        except TypeError as e:
            raise EvalsuiteError(f"judge '{name}': bad options {opts.get(name)} ({e})") from e
    return judges


def preflight_judges(judges: Sequence[Judge]) -> None:
    """Call each judge's `preflight()` hook (e.g. a VLM endpoint check) before anything is loaded
    or rendered: a judge that cannot work stops the run here with its one-line EvalsuiteError."""
    for j in judges:
        hook = getattr(j, "preflight", None)
        if callable(hook):
            hook()


def run_eval(cfg: RunConfig) -> dict[str, Any]:
    """Run (or resume) an evaluation; returns the summary (also written to summary.json)."""
    t0 = time.perf_counter()
    full_pack = load_pack(cfg.pack)
    pack = full_pack.select(tags=cfg.tags, limit=cfg.limit)
    judge_names = list(cfg.judges) if cfg.judges is not None else list(pack.judges)
    judges = make_judges(judge_names, cfg.judge_opts, cfg.explicit_judge_opts)
    preflight_judges(judges)
    models = resolve_models(cfg)
    renderers = {role: load_model(ckpt, opts) for role, (ckpt, opts) in models.items()}
    store = RunStore(cfg.run_dir)
    stats: dict[str, Any] = {"rendered": 0, "render_cached": 0, "judged": 0, "judge_cached": 0}
    try:
        store.put_cases(pack.cases)
        descriptions = {role: {**r.describe(), "checkpoint": models[role][0]} for role, r in renderers.items()}
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
        with _Progress(cfg.progress) as progress:
            items: dict[str, dict[tuple[str, int], Item]] = {}
            for role, renderer in renderers.items():
                items[role] = _render_role(store, pack, role, renderer, progress, stats)
            for judge in judges:
                _judge_all(store, pack, judge, items, progress, stats, cfg.fail_fast, cfg.retry_failed)
        summary = summarise(store, pack, judges, descriptions)
        summary["timing"] = {"wall_s": round(time.perf_counter() - t0, 3), **stats}
        store.write_json("summary.json", summary)
        if cfg.calibrate:
            # the whole pack, not the --limit/--tags selection: every run of it measures the judge
            # on the same pairs (cached in calibration.json); summary.json is already written, so a
            # calibration that fails loses nothing
            cal = {j.name: r for j in judges
                   if (r := j.calibration(store.dir, full_pack, cfg.calibrate, cfg.retry_failed)) is not None}
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


def _batches(seq: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), max(1, n)):
        yield seq[i:i + n]


def _load_source(case: Case) -> Image.Image | None:
    if case.source is None:
        return None
    try:
        with Image.open(case.source) as im:
            return im.convert("RGB")
    except OSError as e:
        raise EvalsuiteError(f"case '{case.id}': cannot read source image {case.source} ({e})") from e


def _render_role(store: RunStore, pack: Pack, role: str, renderer: Any, progress: _Progress,
                 stats: dict[str, Any]) -> dict[tuple[str, int], Item]:
    fp = renderer.fingerprint()
    done: dict[tuple[str, int], Item] = {}
    todo: list[tuple[Case, int]] = []
    store.clear_role(role)
    for case in pack.cases:
        ch = case.content_hash()
        for seed in case.seeds:
            h = store.get_render(fp, ch, seed)
            if h is None:
                todo.append((case, seed))
            else:
                it = Item(role, case.id, seed, ch, fp, h)
                store.add_item(it)
                done[(case.id, seed)] = it
                stats["render_cached"] += 1
    if not todo:
        return done
    # Group by what a batch must share: kind and size.
    groups: dict[tuple[str, int | None, int | None], list[tuple[Case, int]]] = defaultdict(list)
    for case, seed in todo:
        groups[(case.kind, case.width, case.height)].append((case, seed))
    task = progress.task(f"render {role}", len(todo))
    for group in groups.values():
        for batch in _batches(group, renderer.batch_size):
            reqs = [RenderRequest(case.id, case.prompt, seed, case.width, case.height,
                                  _load_source(case), case.kind) for case, seed in batch]
            outs = renderer.render(reqs)
            if len(outs) != len(reqs):
                raise EvalsuiteError(f"renderer for {role} returned {len(outs)} images for {len(reqs)} requests")
            rows = []
            for (case, seed), out in zip(batch, outs):
                h = store.put_image(out.image)
                ch = case.content_hash()
                rows.append((fp, ch, seed, h, out.latency_s, out.image.width, out.image.height))
                it = Item(role, case.id, seed, ch, fp, h)
                done[(case.id, seed)] = it
            store.add_renders(rows)
            for (case, seed) in batch:
                store.add_item(done[(case.id, seed)])
            stats["rendered"] += len(batch)
            progress.advance(task, len(batch))
    return done


def _judge_all(store: RunStore, pack: Pack, judge: Judge, items: dict[str, dict[tuple[str, int], Item]],
               progress: _Progress, stats: dict[str, Any], fail_fast: bool,
               retry_failed: bool = False) -> None:
    jid = judge.judge_id()
    done = store.has_verdicts(jid, include_failed=not retry_failed)
    teacher_items = items.get("teacher", {})
    uses_teacher = judge.needs_teacher or judge.uses_teacher
    needs = {c.id: judge.needs_teacher_for(c) for c in pack.cases}
    cases = [c for c in pack.cases if judge.applies_to(c)]
    if judge.granularity == "case":
        _judge_cases(store, judge, jid, done, cases, items, progress, stats, fail_fast)
        return
    todo: list[tuple[Case, Item, Item | None]] = []
    for role, role_items in items.items():
        for case in cases:
            if needs[case.id] and role == "teacher":
                continue
            for seed in case.seeds:
                it = role_items.get((case.id, seed))
                if it is None:
                    continue
                ref = teacher_items.get((case.id, seed)) if (uses_teacher and role != "teacher") else None
                if needs[case.id] and ref is None:
                    continue
                key = (it.image_hash, ref.image_hash if ref else "", it.case_hash, seed)
                if key in done:
                    stats["judge_cached"] += 1
                    continue
                done.add(key)   # the same image in two roles is judged once
                todo.append((case, it, ref))
    if not todo:
        return
    task = progress.task(f"judge {judge.name}", len(todo))
    # A judge reports verdicts by (case_id, seed), so a batch holds one role's images only.
    by_role: dict[str, list[tuple[Case, Item, Item | None]]] = defaultdict(list)
    for t in todo:
        by_role[t[1].role].append(t)
    for batch in (b for group in by_role.values() for b in _batches(group, judge.batch_size)):
        inputs = [JudgeInput(case=case, seed=it.seed, image=store.load_image(it.image_hash),
                             image_hash=it.image_hash, role=it.role,
                             teacher_image=store.load_image(ref.image_hash) if ref else None,
                             teacher_hash=ref.image_hash if ref else None,
                             source_image=_load_source(case)) for case, it, ref in batch]
        verdicts = _safe_score(judge, inputs, fail_fast)
        by_key: dict[tuple[str, int], list[Verdict]] = defaultdict(list)
        for v in verdicts:
            by_key[(v.case_id, v.seed)].append(v)
        rows, abstained = [], []
        for (case, it, ref), inp in zip(batch, inputs):
            vs = by_key.get((case.id, it.seed))
            if not vs and judge.may_abstain:
                abstained.append((it.image_hash, ref.image_hash if ref else "", it.case_hash, it.seed,
                                  "no metric applies to this image"))
                continue
            vs = vs or [Verdict.failure(inp, judge.name, m, "judge returned no verdict for this image")
                        for m in judge.metrics]
            rows += [(it.image_hash, ref.image_hash if ref else "", it.case_hash, v) for v in vs]
        store.add_verdicts(jid, rows)
        if abstained:
            store.add_abstentions(jid, abstained)
        stats["judged"] += len(batch)
        progress.advance(task, len(batch))


def _judge_cases(store: RunStore, judge: Judge, jid: str, done: set[tuple[str, str, str, int]],
                 cases: list[Case], items: dict[str, dict[tuple[str, int], Item]],
                 progress: _Progress, stats: dict[str, Any], fail_fast: bool) -> None:
    todo: list[tuple[Case, list[Item], str]] = []
    for role, role_items in items.items():
        for case in cases:
            its = [role_items[(case.id, s)] for s in case.seeds if (case.id, s) in role_items]
            if not its:
                continue
            gh = group_hash([i.image_hash for i in its])
            key = (gh, "", its[0].case_hash, -1)
            if key in done:
                stats["judge_cached"] += 1
                continue
            done.add(key)
            todo.append((case, its, gh))
    if not todo:
        return
    task = progress.task(f"judge {judge.name}", len(todo))
    for case, its, gh in todo:
        inputs = [JudgeInput(case=case, seed=i.seed, image=store.load_image(i.image_hash),
                             image_hash=i.image_hash, role=i.role, source_image=_load_source(case))
                  for i in its]
        verdicts = _safe_score(judge, inputs, fail_fast)
        if not verdicts:
            verdicts = [Verdict.failure(case, judge.name, m, "judge returned no verdict") for m in judge.metrics]
        store.add_verdicts(jid, [(gh, "", its[0].case_hash, Verdict(
            case.id, -1, v.judge, v.metric, v.value, v.ok, v.error, v.detail)) for v in verdicts])
        stats["judged"] += 1
        progress.advance(task, 1)


def _safe_score(judge: Judge, inputs: list[JudgeInput], fail_fast: bool) -> list[Verdict]:
    """Call the judge; a crash becomes failure verdicts for every item and metric, never zeros."""
    try:
        return judge.score(inputs)
    except EvalsuiteError:
        raise
    except Exception as e:  # noqa: BLE001 - any judge crash is recorded, not propagated
        if fail_fast:
            raise
        msg = f"{type(e).__name__}: {e}".splitlines()[0][:500]
        logger.warning("judge %s failed on a batch of %d: %s", judge.name, len(inputs), msg)
        return [Verdict.failure(inp, judge.name, m, msg) for inp in inputs for m in judge.metrics]
