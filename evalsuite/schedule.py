"""The run's plan, made once by the driver: render batches and judge batches with their dependencies.

Every executor (inline, the local pipelined pool, Ray) runs the same plan, which is what makes
their images and verdicts byte-identical: render batches are cut here and never re-cut (CPU kernels
depend on the batch's composition), and each judge batch is fixed here as a list of slots (role,
case, seed) that becomes a JudgeTask as soon as the renders it needs are committed. So judging of
finished images starts while the rest still render, in whatever order renders arrive.

The driver is the only writer: `commit_render` and `commit_judged` write to results.db as results
arrive, so a driver killed at any point leaves a run that the same command resumes.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from evalsuite.judge import Judge
from evalsuite.packs import Pack
from evalsuite.store import Item, RunStore
from evalsuite.types import Case, EvalsuiteError, RenderRequest, group_hash

logger = logging.getLogger(__name__)

Slot = tuple[str, str, int]          # (role, case_id, seed)


def batches(seq: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), max(1, n)):
        yield seq[i:i + n]


def load_source(case: Case) -> Image.Image | None:
    """An edit case's source image (None for text-to-image)."""
    if case.source is None:
        return None
    try:
        with Image.open(case.source) as im:
            return im.convert("RGB")
    except OSError as e:
        raise EvalsuiteError(f"case '{case.id}': cannot read source image {case.source} ({e})") from e


@dataclass(frozen=True)
class RenderBatch:
    """One render call: slots of one role sharing kind and size, cut by the renderer's batch size."""

    index: int
    role: str
    slots: tuple[tuple[str, int], ...]     # (case_id, seed)


@dataclass(frozen=True)
class RenderOutput:
    """One rendered image as a worker hands it back: PNG bytes (object store) or, when the worker
    wrote it to a shared folder, only its hash (png None)."""

    image_hash: str
    png: bytes | None
    latency_s: float
    width: int
    height: int


@dataclass(frozen=True)
class JudgeUnit:
    """One thing to judge: an image (with its reference), all seeds of a case, or a role's pack."""

    case_id: str                 # "*" for a pack
    seed: int                    # -1 for case and pack granularity
    role: str
    image_hashes: tuple[str, ...]   # one for an image; the case's seeds; the pack's images
    seeds: tuple[int, ...]
    case_ids: tuple[str, ...]       # the case of each image
    ref_hash: str                # teacher image hash, "" when none
    key_image: str               # verdict key: the image hash, or the group hash
    case_hash: str


@dataclass(frozen=True)
class JudgeTask:
    """A batch of units for one judge (one role per task: verdicts are keyed by case and seed)."""

    judge_id: str
    units: tuple[JudgeUnit, ...]
    planned: int = 0             # units in the planned batch (cached ones were dropped)


@dataclass(frozen=True)
class _Planned:
    """A judge batch as planned: what it judges and which renders it waits for."""

    judge: int                   # index into RunPlan.judges
    kind: str                    # "image" | "case" | "pack"
    role: str
    slots: tuple[tuple[str, int, bool], ...]   # (case_id, seed, uses the teacher's image)
    deps: frozenset[Slot]


@dataclass
class RunPlan:
    """What the run still has to do, and the one place its results are committed."""

    store: RunStore
    pack: Pack
    fingerprints: dict[str, str]           # role -> renderer fingerprint (roles in render order)
    batch_sizes: dict[str, int]
    judges: list[Judge]
    stats: dict[str, Any]
    retry_failed: bool = False
    render_batches: list[RenderBatch] = field(default_factory=list)
    items: dict[str, dict[tuple[str, int], Item]] = field(default_factory=dict)
    on_render: Callable[[str, int], None] | None = None     # (role, n) for progress
    on_judge: Callable[[str, int], None] | None = None      # (judge name, n)

    def __post_init__(self) -> None:
        self.cases = {c.id: c for c in self.pack.cases}
        self._planned: list[_Planned] = []
        self._waiting: dict[Slot, list[int]] = defaultdict(list)
        self._missing: list[int] = []
        self._done: list[set[tuple[str, str, str, int]]] = []
        self._ready: list[int] = []
        self._emitted = 0
        self.judged_units = 0

    # --- planning ---------------------------------------------------------------------------
    def plan(self) -> None:
        """Look up cached renders and verdicts; cut render and judge batches (once)."""
        store = self.store
        for role, fp in self.fingerprints.items():
            store.clear_role(role)
            done: dict[tuple[str, int], Item] = {}
            groups: dict[tuple[str, int | None, int | None], list[tuple[str, int]]] = defaultdict(list)
            for case in self.pack.cases:
                ch = case.content_hash()
                for seed in case.seeds:
                    h = store.get_render(fp, ch, seed)
                    if h is None:
                        groups[(case.kind, case.width, case.height)].append((case.id, seed))
                    else:
                        done[(case.id, seed)] = Item(role, case.id, seed, ch, fp, h)
                        self.stats["render_cached"] += 1
            store.add_items(done.values())
            self.items[role] = done
            for group in groups.values():
                for b in batches(group, self.batch_sizes[role]):
                    self.render_batches.append(RenderBatch(len(self.render_batches), role, tuple(b)))
        for j, judge in enumerate(self.judges):
            self._done.append(store.has_verdicts(judge.judge_id(), include_failed=not self.retry_failed))
            for p in self._plan_judge(j, judge):
                self._add(p)

    def render_totals(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for b in self.render_batches:
            out[b.role] += len(b.slots)
        return dict(out)

    def judge_totals(self) -> dict[str, int]:
        out: dict[str, int] = {j.name: 0 for j in self.judges}
        for p in self._planned:
            out[self.judges[p.judge].name] += len(p.slots) if p.kind == "image" else 1
        return out

    def _plan_judge(self, j: int, judge: Judge) -> list[_Planned]:
        roles = list(self.fingerprints)
        cases = [c for c in self.pack.cases if judge.applies_to(c)]
        out: list[_Planned] = []
        if judge.granularity == "pack":
            for role in roles:
                slots = tuple((c.id, s, False) for c in cases for s in c.seeds)
                if slots:   # the pack key covers all of the role's images: wait for every one
                    deps = frozenset((role, c.id, s) for c in self.pack.cases for s in c.seeds)
                    out.append(_Planned(j, "pack", role, slots, deps))
            return out
        if judge.granularity == "case":
            for role in roles:
                for case in cases:
                    slots = tuple((case.id, s, False) for s in case.seeds)
                    out.append(_Planned(j, "case", role, slots, frozenset((role, case.id, s) for s in case.seeds)))
            return out
        has_teacher = "teacher" in roles
        for role in roles:
            slots: list[tuple[str, int, bool]] = []
            for case in cases:
                ref_mode = judge.reference_for(case)
                if ref_mode == "required" and role == "teacher":
                    continue
                uses_ref = ref_mode != "none" and role != "teacher" and has_teacher
                if ref_mode == "required" and not uses_ref:
                    continue
                slots += [(case.id, s, uses_ref) for s in case.seeds]
            for b in batches(slots, judge.batch_size):
                deps = {(role, c, s) for c, s, _ in b} | {("teacher", c, s) for c, s, r in b if r}
                out.append(_Planned(j, "image", role, tuple(b), frozenset(deps)))
        return out

    def _add(self, p: _Planned) -> None:
        i = len(self._planned)
        self._planned.append(p)
        missing = [d for d in p.deps if (d[1], d[2]) not in self.items[d[0]]]
        self._missing.append(len(missing))
        for d in missing:
            self._waiting[d].append(i)
        if not missing:
            self._ready.append(i)

    # --- execution --------------------------------------------------------------------------
    def requests(self, batch: RenderBatch) -> list[RenderRequest]:
        out = []
        for cid, seed in batch.slots:
            c = self.cases[cid]
            out.append(RenderRequest(c.id, c.prompt, seed, c.width, c.height, load_source(c), c.kind))
        return out

    def commit_render(self, batch: RenderBatch, outputs: Sequence[RenderOutput]) -> None:
        """Record a finished render batch (its images already in the run directory, or PNG bytes to
        write); the judge batches it completes become ready."""
        if len(outputs) != len(batch.slots):
            raise EvalsuiteError(f"renderer for {batch.role} returned {len(outputs)} images for "
                                 f"{len(batch.slots)} requests")
        fp = self.fingerprints[batch.role]
        rows, new = [], []
        for (cid, seed), out in zip(batch.slots, outputs):
            if out.png is not None:
                self.store.put_png(out.image_hash, out.png)
            ch = self.cases[cid].content_hash()
            rows.append((fp, ch, seed, out.image_hash, out.latency_s, out.width, out.height))
            new.append(Item(batch.role, cid, seed, ch, fp, out.image_hash))
        self.store.add_renders(rows)
        self.store.add_items(new)
        for it in new:
            self.items[batch.role][(it.case_id, it.seed)] = it
            for i in self._waiting.pop((batch.role, it.case_id, it.seed), []):
                self._missing[i] -= 1
                if self._missing[i] == 0:
                    self._ready.append(i)
        self.stats["rendered"] += len(batch.slots)
        if self.on_render:
            self.on_render(batch.role, len(batch.slots))

    def ready_tasks(self) -> list[tuple[Judge, JudgeTask]]:
        """Judge batches whose renders are all committed, as tasks (cached units dropped); each
        planned batch is handed out once."""
        out = []
        ready, self._ready = self._ready, []
        for i in ready:
            p = self._planned[i]
            judge = self.judges[p.judge]
            units = self._units(p)
            skipped = (len(p.slots) if p.kind == "image" else 1) - len(units)
            if skipped and self.on_judge:
                self.on_judge(judge.name, skipped)
            if units:
                out.append((judge, JudgeTask(judge.judge_id(), tuple(units), len(units))))
        self._emitted += len(ready)
        return out

    def _want(self, j: int, key: tuple[str, str, str, int]) -> bool:
        if key in self._done[j]:
            self.stats["judge_cached"] += 1
            return False
        self._done[j].add(key)     # the same image in two roles is judged once
        return True

    def _units(self, p: _Planned) -> list[JudgeUnit]:
        its = self.items[p.role]
        if p.kind == "pack":
            sel = [its[(c, s)] for c, s, _ in p.slots]
            gh, ch = self.store.pack_key(p.role)
            if not self._want(p.judge, (gh, "", ch, -1)):
                return []
            return [JudgeUnit("*", -1, p.role, tuple(i.image_hash for i in sel), tuple(i.seed for i in sel),
                              tuple(i.case_id for i in sel), "", gh, ch)]
        if p.kind == "case":
            sel = [its[(c, s)] for c, s, _ in p.slots]
            gh = group_hash([i.image_hash for i in sel])
            if not self._want(p.judge, (gh, "", sel[0].case_hash, -1)):
                return []
            cid = p.slots[0][0]
            return [JudgeUnit(cid, -1, p.role, tuple(i.image_hash for i in sel), tuple(i.seed for i in sel),
                              (cid,) * len(sel), "", gh, sel[0].case_hash)]
        teacher = self.items.get("teacher", {})
        units = []
        for cid, seed, uses_ref in p.slots:
            it = its[(cid, seed)]
            rh = teacher[(cid, seed)].image_hash if uses_ref else ""
            if self._want(p.judge, (it.image_hash, rh, it.case_hash, seed)):
                units.append(JudgeUnit(cid, seed, p.role, (it.image_hash,), (seed,), (cid,), rh,
                                       it.image_hash, it.case_hash))
        return units

    def commit_judged(self, judge: Judge, result: Any) -> None:
        """Record a judged task (a runner.JudgeResult) in one transaction."""
        self.store.add_verdicts(result.judge_id, result.verdicts)
        if result.abstentions:
            self.store.add_abstentions(result.judge_id, result.abstentions)
        self.stats["judged"] += result.units
        self.judged_units += result.units
        if self.on_judge:
            self.on_judge(judge.name, result.units)

    def finished(self) -> bool:
        """Every planned judge batch has been handed out."""
        return self._emitted == len(self._planned) and not self._ready

    def check_complete(self) -> None:
        """After the executor: nothing may be left waiting (a lost render would show here)."""
        if not self.finished():
            left = len(self._planned) - self._emitted
            raise EvalsuiteError(f"{left} judge batch(es) never became ready: renders missing "
                                 f"({sum(1 for _ in self._waiting)} slot(s)); re-run the same command to resume")
