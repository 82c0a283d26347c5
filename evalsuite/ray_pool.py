"""Ray actor pools for the Ray executor: long-lived workers, bounded in-flight work, fault recovery.

A pool holds N actors built from one *factory* (a "module:attr" callable and its keyword
arguments, so the object is rebuilt the same way in any process: a renderer, a judge). Tasks are
(key, method, args); results come back as they finish, in completion order. Each actor has at most
`max_in_flight` tasks queued, so a slow pool back-pressures the driver instead of queueing the whole
run in the object store.

Faults: actors are created with `max_restarts`/`max_task_retries`, so one that dies mid-task
(`ray.kill`, OOM, a lost node) is restarted by Ray, rebuilds its object and re-runs its in-flight
tasks. If an actor is gone for good (restarts exhausted, killed with no_restart), the pool starts a
replacement and re-submits that actor's unfinished tasks. A task may therefore run twice; callers
key results by content so that a re-run writes nothing new.

Ray is imported lazily: `import evalsuite` never needs it (`pip install "evalsuite[ray]"`).
"""

from __future__ import annotations

import importlib
import logging
import os
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from evalsuite.types import EvalsuiteError

logger = logging.getLogger(__name__)


def require_ray() -> Any:
    """The ray module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError as e:
        raise EvalsuiteError('--executor ray needs Ray: pip install "evalsuite[ray]"') from e
    return ray


def init_ray(address: str | None = None, num_cpus: int | None = None) -> Any:
    """Connect to a cluster (`address`: "auto", "ray://host:10001", "host:port") or, with None,
    start a local one with this machine's CPUs. Idempotent within a process."""
    ray = require_ray()
    if ray.is_initialized():
        return ray
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                              "logging_level": logging.WARNING}
    if address:
        kwargs["address"] = address
    else:
        kwargs["num_cpus"] = num_cpus or os.cpu_count() or 1
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise EvalsuiteError(f"--ray-address {address or '(local)'}: cannot start or reach a Ray "
                             f"cluster ({str(e).splitlines()[0][:200]})") from e
    return ray


def resolve(target: str) -> Any:
    """"package.module:attr" -> the object."""
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class _Worker:
    """The actor body: builds its object once, then calls methods on it."""

    def __init__(self, factory: str, kwargs: dict[str, Any], threads: int | None) -> None:
        if threads:
            try:
                import torch

                torch.set_num_threads(threads)
            except ImportError:
                pass
        self.pid = os.getpid()
        self.obj = resolve(factory)(**kwargs)

    def call(self, method: str, *args: Any) -> Any:
        t0 = time.perf_counter()
        out = getattr(self.obj, method)(*args)
        return out, {"pid": self.pid, "busy_s": time.perf_counter() - t0}

    def ping(self) -> int:
        return self.pid


@dataclass
class _Slot:
    actor: Any
    index: int
    in_flight: dict[Any, tuple[Any, str, tuple[Any, ...]]] = field(default_factory=dict)  # ref -> task
    busy_s: float = 0.0
    tasks: int = 0
    replaced: int = 0


class WorkerPool:
    """N actors of one factory; `submit` queues tasks, `results` yields (key, value, info)."""

    def __init__(self, name: str, factory: str, kwargs: dict[str, Any] | None = None, n: int = 1, *,
                 num_cpus: float = 1, num_gpus: float = 0, threads: int | None = None,
                 max_in_flight: int = 2, max_restarts: int = 2) -> None:
        ray = require_ray()
        self.name, self.factory, self.kwargs = name, factory, dict(kwargs or {})
        self.max_in_flight = max(1, max_in_flight)
        self._threads = threads
        self._cls = ray.remote(_Worker)
        self._options = dict(num_cpus=num_cpus, num_gpus=num_gpus, max_restarts=max_restarts,
                             max_task_retries=max_restarts, max_concurrency=1)
        self._slots = [self._new_slot(i) for i in range(max(1, n))]
        self._queue: deque[tuple[Any, str, tuple[Any, ...]]] = deque()
        self.replacements = 0

    def _new_slot(self, index: int) -> _Slot:
        # named, so that an operator (or a test) can find a pool's actors: ray.util.list_named_actors()
        name = f"evalsuite-{self.name}-{index}-{uuid.uuid4().hex[:8]}"
        return _Slot(self._cls.options(name=name, **self._options).remote(self.factory, self.kwargs, self._threads), index)

    @property
    def size(self) -> int:
        return len(self._slots)

    def submit(self, key: Any, method: str, *args: Any) -> None:
        self._queue.append((key, method, args))

    def pending(self) -> int:
        return len(self._queue) + sum(len(s.in_flight) for s in self._slots)

    def _dispatch(self) -> None:
        while self._queue:
            slot = min(self._slots, key=lambda s: len(s.in_flight))
            if len(slot.in_flight) >= self.max_in_flight:
                return
            key, method, args = self._queue.popleft()
            ref = slot.actor.call.remote(method, *args)
            slot.in_flight[ref] = (key, method, args)

    def _replace(self, slot: _Slot, err: BaseException) -> None:
        """The actor is gone for good: a new one takes its place and its unfinished tasks."""
        ray = require_ray()
        logger.warning("%s worker %d died (%s); starting a replacement", self.name, slot.index,
                       str(err).splitlines()[0][:200])
        lost = list(slot.in_flight.values())
        try:
            ray.kill(slot.actor, no_restart=True)
        except Exception:  # noqa: BLE001 - it is already dead
            pass
        new = self._new_slot(slot.index)
        new.replaced = slot.replaced + 1
        new.busy_s, new.tasks = slot.busy_s, slot.tasks
        self._slots[self._slots.index(slot)] = new
        self._queue.extendleft(reversed(lost))
        self.replacements += 1

    def results(self, timeout_s: float | None = None) -> Iterator[tuple[Any, Any, dict[str, Any]]]:
        """Yield (key, value, info) as tasks finish until none is left. A task whose method raised
        is yielded with the exception as its value (the caller records it as a failure)."""
        while (got := wait_any([self], timeout_s)) is not None:
            for _pool, key, value, info in got:
                yield key, value, info

    def _take(self, ref: Any, slot: _Slot) -> tuple[Any, Any, dict[str, Any]] | None:
        """The finished task of `ref`, or None when its actor died (its tasks are re-queued)."""
        ray = require_ray()
        from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError, RayTaskError

        task = slot.in_flight.pop(ref)
        try:
            value, info = ray.get(ref)
        except RayTaskError as e:          # the method raised: a result, not a fault
            return task[0], e.as_instanceof_cause(), {"worker": slot.index}
        except (ActorDiedError, RayActorError, ActorUnavailableError) as e:
            slot.in_flight[ref] = task     # re-queued with the others by _replace
            self._replace(slot, e)
            return None
        slot.busy_s += info["busy_s"]
        slot.tasks += 1
        return task[0], value, {**info, "worker": slot.index}

    def stats(self) -> list[dict[str, Any]]:
        """Per-worker timings for summary.json."""
        return [{"pool": self.name, "worker": s.index, "tasks": s.tasks, "busy_s": round(s.busy_s, 3),
                 "replaced": s.replaced} for s in self._slots]

    def actors(self) -> list[Any]:
        return [s.actor for s in self._slots]

    def close(self) -> None:
        ray = require_ray()
        for s in self._slots:
            try:
                ray.kill(s.actor, no_restart=True)
            except Exception:  # noqa: BLE001
                pass


def wait_any(pools: list[WorkerPool], timeout_s: float | None = None
             ) -> list[tuple[WorkerPool, Any, Any, dict[str, Any]]] | None:
    """Wait for the next finished task in any of `pools` (so one driver loop serves render and
    judge pools at once): [(pool, key, value, info)] (empty when the task's actor died and was
    replaced), or None when no pool has work left."""
    ray = require_ray()
    for p in pools:
        p._dispatch()
    refs = {ref: (p, slot) for p in pools for slot in p._slots for ref in slot.in_flight}
    if not refs:
        return None
    done, _ = ray.wait(list(refs), num_returns=1, timeout=timeout_s)
    if not done:
        raise EvalsuiteError(f"{', '.join(p.name for p in pools)}: no result within {timeout_s} s "
                             f"({len(refs)} task(s) in flight)")
    out = []
    for ref in done:
        p, slot = refs[ref]
        got = p._take(ref, slot)
        if got is not None:
            out.append((p, *got))
    return out
