"""Executors: run a RunPlan inline, pipelined on this machine, or on a Ray cluster.

All three execute the same plan (evalsuite.schedule) and commit through it, so they produce the
same images and verdicts byte for byte:

* inline: render and judge in this process, one after the other (`--judge-workers 0`);
* local (default): the renderer in this process; judges in worker *processes* beside it (CPU-bound
  judges need their own cores, not threads), judging finished images while the rest still render;
* ray: render actors (one model each, loaded once) and judge actors (engines loaded once) on a Ray
  cluster; images come back through the object store, or are written by the workers to
  `--shared-dir` and only their hashes come back. The driver stays the only writer of results.db.

Workers are built from plain data (a checkpoint string and options; judge specs), never from
pickled models, so a restarted worker rebuilds the same thing.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from evalsuite.judge import Judge
from evalsuite.schedule import JudgeTask, RenderBatch, RenderOutput, RunPlan
from evalsuite.store import ImageFolder, encode_png
from evalsuite.types import Case, EvalsuiteError, RenderRequest

logger = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")


@dataclass
class ExecOptions:
    """How to execute a run. None of it changes a result, except `render_threads` for a renderer
    on CPU, which is therefore part of that renderer's render key (`render_key`)."""

    executor: str = "local"
    judge_workers: int | None = None     # judge processes/actors; None: 1 when there is rendering to
                                         # overlap (local) / 1 (ray); 0: inline
    render_threads: int | None = None    # torch threads per renderer on CPU (None: DEFAULT_RENDER_THREADS)
    ray_address: str | None = None       # None: start a local cluster with this machine's CPUs
    workers: int | None = None           # render actors per model (None: one per GPU, else CPUs left)
    gpus_per_worker: float = 1.0
    cpus_per_worker: float = 1.0
    shared_dir: str | None = None        # workers write images here; only hashes travel


def quiet_diffusers() -> None:
    """diffusers' own tqdm bars ("Loading pipeline components...") would interleave with the rich
    display: turn them off (in the driver and in every worker)."""
    try:
        from diffusers.utils import logging as dlog

        dlog.disable_progress_bar()
    except ImportError:
        pass


DEFAULT_RENDER_THREADS = 1
"""Torch threads per renderer on CPU unless --render-threads says otherwise. CPU kernels (and so
pixels) depend on the thread count, so the default is a constant, never this machine's core count
or whatever torch.set_num_threads an earlier caller left in the process: the same seeds,
checkpoint and pack give the same images on any machine, and a resumed run matches a fresh one."""


def render_threads(opts: ExecOptions) -> int:
    return int(opts.render_threads or DEFAULT_RENDER_THREADS)


def _torch_threads() -> int | None:
    try:
        import torch
    except ImportError:
        return None
    return int(torch.get_num_threads())


def render_key(renderer: Any, opts: ExecOptions) -> str:
    """The key a renderer's images are cached under: its fingerprint, plus the thread count when it
    renders on CPU with other than the default (cached images never mix thread counts; the
    default keeps the plain fingerprint, so runs made at one thread stay cached)."""
    fp = renderer.fingerprint()
    threads = render_threads(opts)
    if threads != DEFAULT_RENDER_THREADS and renderer.threads_matter():
        fp = f"{fp}-t{threads}"
    return fp


# --- worker bodies (rebuilt in any process from plain data) ------------------------------------
class RenderHost:
    """One renderer, loaded once; renders planned batches into RenderOutputs."""

    def __init__(self, ckpt: str, opts: dict[str, Any], threads: int | None = None,
                 shared_dir: str | None = None) -> None:
        from evalsuite.runner import load_model

        quiet_diffusers()
        if threads:
            try:
                import torch

                torch.set_num_threads(int(threads))
            except ImportError:
                pass
        self.renderer = load_model(ckpt, opts)
        self.shared = ImageFolder(shared_dir) if shared_dir else None

    def render(self, requests: Sequence[RenderRequest]) -> list[RenderOutput]:
        outs = self.renderer.render(list(requests))
        if len(outs) != len(requests):
            raise EvalsuiteError(f"renderer returned {len(outs)} images for {len(requests)} requests")
        res = []
        for o in outs:
            h, png = encode_png(o.image)
            if self.shared is not None:
                self.shared.put_png(h, png)
                png = None
            res.append(RenderOutput(h, png, o.latency_s, o.image.width, o.image.height))
        return res

    def close(self) -> None:
        self.renderer.close()


class _Pngs:
    """Images by hash from PNG bytes sent along with a task, else from a folder."""

    def __init__(self, pngs: dict[str, bytes] | None, folder: ImageFolder | None) -> None:
        self.pngs, self.folder = pngs or {}, folder

    def load_image(self, image_hash: str) -> Image.Image:
        import io

        if image_hash in self.pngs:
            with Image.open(io.BytesIO(self.pngs[image_hash])) as im:
                im.load()
                return im.copy()
        if self.folder is None:
            raise EvalsuiteError(f"image {image_hash[:12]} was not sent to the judge worker")
        return self.folder.load_image(image_hash)


class JudgeHost:
    """The run's judges rebuilt from their specs (engines loaded once per process); judges tasks."""

    def __init__(self, specs: list[dict[str, Any]], cases: list[Case], images_dir: str | None = None,
                 fail_fast: bool = False) -> None:
        from evalsuite.ray_pool import resolve

        self.judges: dict[str, Judge] = {}
        for spec in specs:
            j = resolve(spec["target"])(**spec["config"])
            j.preflight()          # what it records there (e.g. a served model) is part of its id
            self.judges[j.judge_id()] = j
        self.cases = {c.id: c for c in cases}
        self.folder = ImageFolder(images_dir) if images_dir else None
        self.fail_fast = fail_fast

    def run(self, task: JudgeTask, pngs: dict[str, bytes] | None = None) -> Any:
        from evalsuite.runner import execute_judge_task

        judge = self.judges.get(task.judge_id)
        if judge is None:
            raise EvalsuiteError(f"judge {task.judge_id} rebuilt from its spec has another id; its "
                                 "options do not round-trip")
        return execute_judge_task(judge, task, _Pngs(pngs, self.folder), self.cases, self.fail_fast)

    def close(self) -> None:
        for j in self.judges.values():
            j.close()


# the judge host of a local worker process (ProcessPoolExecutor initializer)
_HOST: JudgeHost | None = None


def _init_process(specs: list[dict[str, Any]], cases: list[Case], images_dir: str, fail_fast: bool) -> None:
    global _HOST
    import logging as _logging

    _logging.basicConfig(level=_logging.WARNING)
    _HOST = JudgeHost(specs, cases, images_dir, fail_fast)


def _run_in_process(task: JudgeTask) -> tuple[Any, dict[str, Any]]:
    assert _HOST is not None
    t0 = time.perf_counter()
    out = _HOST.run(task)
    return out, {"pid": os.getpid(), "busy_s": time.perf_counter() - t0}


class WorkerStats:
    """Per-worker task counts and busy time, for summary.json["timing"]["workers"]."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, Any], dict[str, Any]] = {}

    def add(self, pool: str, worker: Any, busy_s: float, n: int = 1) -> None:
        r = self.rows.setdefault((pool, worker), {"pool": pool, "worker": worker, "tasks": 0, "busy_s": 0.0})
        r["tasks"] += n
        r["busy_s"] += busy_s

    def rows_list(self) -> list[dict[str, Any]]:
        return [{**r, "busy_s": round(r["busy_s"], 3)} for r in self.rows.values()]


# --- executors --------------------------------------------------------------------------------
def execute(plan: RunPlan, models: dict[str, tuple[str, dict[str, Any]]], opts: ExecOptions,
            fail_fast: bool = False, status: Any = None) -> list[dict[str, Any]]:
    """Run `plan` with the chosen executor; returns per-worker timings. `status(text)` is told the
    workers alive and the throughput as the run goes."""
    if opts.executor not in EXECUTORS:
        raise EvalsuiteError(f"--executor '{opts.executor}': not one of {', '.join(EXECUTORS)}")
    quiet_diffusers()
    threads = render_threads(opts) if plan.render_batches else None
    if opts.executor == "ray":
        return _run_ray(plan, models, opts, threads, fail_fast, status)
    return _run_local(plan, models, opts, threads, fail_fast, status)


def _specs(plan: RunPlan) -> list[dict[str, Any]]:
    """Judge specs with the class's import path (a judge registered at run time, e.g. by a test or
    a plugin, is rebuilt from its class, not from a registry the worker has not seen)."""
    return [{**j.spec(), "target": f"{type(j).__module__}:{type(j).__qualname__}"} for j in plan.judges]


def _portable(plan: RunPlan) -> bool:
    """Whether every judge class can be imported by path in another process."""
    return all(type(j).__module__ != "__main__" and "<locals>" not in type(j).__qualname__
               for j in plan.judges)


def _judge_of(plan: RunPlan, task: JudgeTask) -> Judge:
    return next(j for j in plan.judges if j.judge_id() == task.judge_id)


def _run_local(plan: RunPlan, models: dict[str, tuple[str, dict[str, Any]]], opts: ExecOptions,
               threads: int | None, fail_fast: bool, status: Any) -> list[dict[str, Any]]:
    from evalsuite.runner import execute_judge_task

    stats = WorkerStats()
    n = opts.judge_workers
    if n is None:
        n = 1 if plan.render_batches and plan.judges else 0
    if n and not _portable(plan):
        logger.info("a judge class is not importable by path; judging in this process")
        n = 0
    pool: ProcessPoolExecutor | None = None
    futures: dict[Future[Any], tuple[Judge, JudgeTask]] = {}
    t0 = time.perf_counter()

    def collect(block: bool) -> None:
        if not futures:
            return
        done, _ = wait(list(futures), timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for f in done:
            judge, _task = futures.pop(f)
            result, info = f.result()            # a worker's EvalsuiteError is raised here
            stats.add("judge", info["pid"], info["busy_s"])
            plan.commit_judged(judge, result)

    def dispatch() -> None:
        for judge, task in plan.ready_tasks():
            if pool is None:
                t = time.perf_counter()
                plan.commit_judged(judge, execute_judge_task(judge, task, plan.store, plan.cases, fail_fast))
                stats.add("judge", os.getpid(), time.perf_counter() - t)
            else:
                futures[pool.submit(_run_in_process, task)] = (judge, task)

    if n > 0:
        import multiprocessing as mp

        # spawn, not fork: the driver may already hold torch/OpenMP threads
        pool = ProcessPoolExecutor(n, mp_context=mp.get_context("spawn"), initializer=_init_process,
                                   initargs=(_specs(plan), list(plan.pack.cases), str(plan.store.images.dir),
                                             fail_fast))
    hosts: dict[str, RenderHost] = {}
    caller_threads = _torch_threads()     # renders run in the caller's process: restored at the end
    try:
        dispatch()
        for batch in plan.render_batches:
            host = hosts.get(batch.role)
            if host is None:
                ckpt, mopts = models[batch.role]
                host = hosts[batch.role] = RenderHost(ckpt, mopts, threads)
            t = time.perf_counter()
            outs = host.render(plan.requests(batch))
            stats.add(f"render-{batch.role}", os.getpid(), time.perf_counter() - t)
            plan.commit_render(batch, outs)
            dispatch()
            collect(block=False)
            if status:
                status(f"workers: render 1 · judge {n or 'inline'} · "
                       f"{plan.stats['rendered'] / max(1e-9, time.perf_counter() - t0):.2f} img/s")
        while futures:
            collect(block=True)
            dispatch()
        dispatch()
    finally:
        for h in hosts.values():
            h.close()
        if caller_threads:
            import torch

            torch.set_num_threads(caller_threads)
        if pool is not None:
            for f in futures:
                f.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
    plan.check_complete()
    return stats.rows_list()


def _task_pngs(plan: RunPlan, task: JudgeTask) -> dict[str, bytes]:
    hashes = {h for u in task.units for h in u.image_hashes} | {u.ref_hash for u in task.units if u.ref_hash}
    return {h: plan.store.image_path(h).read_bytes() for h in hashes}


def render_placement(gpus: float, cpus: float, opts: ExecOptions, n_judge: int) -> tuple[int, dict[str, float]]:
    """(render actors per model, each actor's Ray resources) on a cluster with `gpus` GPUs and
    `cpus` CPUs: one actor per `--gpus-per-worker` GPUs when the cluster has GPUs, else one per
    `--cpus-per-worker` CPUs not taken by the judge actors (at least one). --workers overrides
    the count."""
    if gpus >= 1:
        per = max(1.0, opts.gpus_per_worker)
        return opts.workers or max(1, int(gpus // per)), {"num_gpus": per, "num_cpus": 0}
    left = max(opts.cpus_per_worker, cpus - n_judge)
    n_render = opts.workers or max(1, int(left // opts.cpus_per_worker))
    if n_render * opts.cpus_per_worker + n_judge > cpus:
        fit = max(1, int((cpus - n_judge) // opts.cpus_per_worker))
        logger.warning("%d render worker(s) x %g CPU + %d judge worker(s) do not fit the cluster's %g "
                       "CPUs; using %d render worker(s)", n_render, opts.cpus_per_worker, n_judge, cpus, fit)
        n_render = fit
    return n_render, {"num_gpus": 0, "num_cpus": opts.cpus_per_worker}


def _run_ray(plan: RunPlan, models: dict[str, tuple[str, dict[str, Any]]], opts: ExecOptions,
             threads: int | None, fail_fast: bool, status: Any) -> list[dict[str, Any]]:
    from evalsuite.ray_pool import WorkerPool, init_ray, wait_any

    ray = init_ray(opts.ray_address)
    res = ray.cluster_resources()
    gpus, cpus = float(res.get("GPU", 0)), float(res.get("CPU", 1))
    shared = str(Path(opts.shared_dir).resolve()) if opts.shared_dir else None
    if shared:
        Path(shared).mkdir(parents=True, exist_ok=True)
    n_judge = opts.judge_workers if opts.judge_workers is not None else 1
    n_judge = n_judge if plan.judges else 0
    if n_judge and not _portable(plan):
        raise EvalsuiteError("--executor ray: every judge class must be importable by module path "
                             "(not defined in __main__ or inside a function)")
    n_render, render_res = render_placement(gpus, cpus, opts, n_judge)
    stats_rows: list[dict[str, Any]] = []
    judge_pool = (WorkerPool("judge", "evalsuite.executors:JudgeHost",
                             {"specs": _specs(plan), "cases": list(plan.pack.cases), "images_dir": shared,
                              "fail_fast": fail_fast}, n=n_judge, num_cpus=1)
                  if n_judge else None)
    inflight: dict[int, tuple[Judge, JudgeTask]] = {}
    t0 = time.perf_counter()
    counter = iter(range(1 << 62))

    def dispatch() -> None:
        for judge, task in plan.ready_tasks():
            if judge_pool is None:      # no judges: nothing is ever ready
                continue
            k = next(counter)
            inflight[k] = (judge, task)
            judge_pool.submit(k, "run", task, None if shared else _task_pngs(plan, task))

    def handle(pool: Any, key: Any, value: Any, batches: dict[int, RenderBatch]) -> None:
        if isinstance(value, BaseException):
            if isinstance(value, EvalsuiteError):
                raise value
            raise EvalsuiteError(f"{pool.name} worker failed: {type(value).__name__}: "
                                 f"{str(value).splitlines()[0][:300] if str(value) else ''}") from value
        if pool is judge_pool:
            judge, _task = inflight.pop(key)
            plan.commit_judged(judge, value)
        else:
            batch = batches.pop(key)
            if shared:
                for out in value:
                    plan.store.adopt_image(out.image_hash, ImageFolder(shared).image_path(out.image_hash))
            plan.commit_render(batch, value)
        dispatch()

    def show(pools: list[Any]) -> None:
        if status:
            alive = " · ".join(f"{p.name} {p.size}" + (f" (replaced {p.replacements})" if p.replacements else "")
                               for p in pools)
            status(f"workers: {alive} · {plan.stats['rendered'] / max(1e-9, time.perf_counter() - t0):.2f} img/s")

    try:
        dispatch()
        by_role: dict[str, list[RenderBatch]] = defaultdict(list)
        for b in plan.render_batches:
            by_role[b.role].append(b)
        for role, role_batches in by_role.items():
            ckpt, mopts = models[role]
            pool = WorkerPool(f"render-{role}", "evalsuite.executors:RenderHost",
                              {"ckpt": ckpt, "opts": mopts, "threads": threads, "shared_dir": shared},
                              n=n_render, threads=threads, **render_res)
            pools = [pool] + ([judge_pool] if judge_pool else [])
            todo = list(reversed(role_batches))
            batches: dict[int, RenderBatch] = {}
            cap = 2 * pool.size * pool.max_in_flight
            try:
                while todo or pool.pending():
                    while todo and pool.pending() < cap:    # feed lazily: requests hold source images
                        b = todo.pop()
                        batches[b.index] = b
                        pool.submit(b.index, "render", plan.requests(b))
                    show(pools)
                    for p, key, value, _info in wait_any(pools) or []:
                        handle(p, key, value, batches)
            finally:
                stats_rows += pool.stats()
                pool.close()
        if judge_pool is not None:
            while judge_pool.pending():
                show([judge_pool])
                for p, key, value, _info in wait_any([judge_pool]) or []:
                    handle(p, key, value, {})
            stats_rows += judge_pool.stats()
    finally:
        if judge_pool is not None:
            judge_pool.close()
    plan.check_complete()
    return stats_rows
