from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ray_cluster():
    """A real local Ray cluster with this machine's CPUs, shared by the session's Ray tests."""
    from evalsuite.ray_pool import init_ray

    ray = init_ray(None, num_cpus=2)
    yield ray
    ray.shutdown()
