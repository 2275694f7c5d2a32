"""How the benchmarks that fan work out to worker processes time it: wall clock, and a CPU-based time that
other jobs on a shared machine do not inflate.

>>> wall, cpu, result = timed(lambda: sum(range(100_000)))
>>> result, wall >= 0 and cpu >= 0
(4999950000, True)
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def timed(action: Callable[[], T], workers: int = 1) -> tuple[float, float, T]:
    """Run ``action``; (wall seconds, CPU-based seconds, its result). The CPU-based time is this process's
    CPU seconds plus those of the worker processes it finished (joined) divided by ``workers``: the wall
    time on an idle machine with ``workers`` cores, the work perfectly balanced."""
    own, children = cpu_seconds(resource.RUSAGE_SELF), cpu_seconds(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = action()
    wall = time.perf_counter() - start
    children = cpu_seconds(resource.RUSAGE_CHILDREN) - children
    return wall, cpu_seconds(resource.RUSAGE_SELF) - own + children / workers, result
