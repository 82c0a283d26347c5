"""WorkerPool on a real local Ray cluster: results, task errors, and actors killed mid-run."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.slow

FACTORY = "tests.executors.doubles:Square"


def test_pool_returns_every_result_once(ray_cluster):
    from evalsuite.ray_pool import WorkerPool

    pool = WorkerPool("square", FACTORY, {"delay_s": 0.01}, n=2)
    for x in range(20):
        pool.submit(x, "run", x)
    out = {k: v for k, v, _ in pool.results(timeout_s=120)}
    assert out.keys() == set(range(20))
    assert all(v[0] == k * k for k, v in out.items())
    assert len({v[1] for v in out.values()}) == 2          # both actors worked
    assert sum(s["tasks"] for s in pool.stats()) == 20
    pool.close()


def test_task_error_is_a_result_not_a_fault(ray_cluster):
    from evalsuite.ray_pool import WorkerPool

    pool = WorkerPool("square", FACTORY, {"fail_on": 3}, n=1)
    for x in range(5):
        pool.submit(x, "run", x)
    out = {k: v for k, v, _ in pool.results(timeout_s=120)}
    assert isinstance(out[3], ValueError) and "cannot square 3" in str(out[3])
    assert [out[k][0] for k in (0, 1, 2, 4)] == [0, 1, 4, 16]
    assert pool.replacements == 0
    pool.close()


@pytest.mark.parametrize("no_restart", [False, True])
def test_actor_killed_mid_run_loses_nothing(ray_cluster, no_restart):
    """ray.kill mid-task: Ray restarts the actor (no_restart=False) or the pool replaces it
    (no_restart=True); either way every task finishes exactly once in the output."""
    ray = ray_cluster
    from evalsuite.ray_pool import WorkerPool

    pool = WorkerPool("square", FACTORY, {"delay_s": 0.2}, n=2, max_in_flight=3)
    for x in range(16):
        pool.submit(x, "run", x)
    seen: list[int] = []
    killed = False
    for k, v, _ in pool.results(timeout_s=120):
        seen.append(k)
        assert v[0] == k * k
        if not killed:
            ray.kill(pool.actors()[0], no_restart=no_restart)
            killed = True
            time.sleep(0.1)
    assert sorted(seen) == list(range(16))
    assert len(seen) == len(set(seen))
    if no_restart:
        assert pool.replacements == 1
    pool.close()
