"""Shared fixtures: the read-only project material in ../shared (skipped with a reason when absent), and
one Ray cluster per test module, set up to survive a loaded 2-core machine (``ray_cluster``)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared material not found at {SHARED} (it sits beside the repository in CI)")
    return SHARED


#: Ray settings for a loaded 2-core machine: a raylet starved of CPU for a while must not be declared
#: dead (Ray's defaults give up after about 5 missed 3 s health checks), and the object store stays small.
RAY_SYSTEM_CONFIG = {
    "health_check_initial_delay_ms": 10_000,
    "health_check_period_ms": 10_000,
    "health_check_timeout_ms": 60_000,
    "health_check_failure_threshold": 20,
}
RAY_TIMEOUT_S = 600  # for ray.get in tests: generous, a busy machine is slow, never wrong


def start_ray(num_cpus: int = 2):
    """A local Ray cluster sized for tests (``num_cpus`` logical CPUs, no dashboard, 256 MB object store,
    forgiving health checks); call ``ray.shutdown()`` when done. Skips the test without Ray."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        ray.shutdown()
    ray.init(
        num_cpus=num_cpus,
        num_gpus=0,
        include_dashboard=False,
        log_to_driver=False,
        namespace="toolrl-test",
        object_store_memory=256 * 1024 * 1024,
        _system_config=RAY_SYSTEM_CONFIG,
    )
    return ray


@pytest.fixture(scope="module")
def ray_cluster():
    """One Ray cluster per test module (started on first use, shut down after the module's last test)."""
    ray = start_ray()
    yield ray
    ray.shutdown()
