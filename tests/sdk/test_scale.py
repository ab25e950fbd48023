"""Large workloads: no recursion limit, bounded memory. Slow: run by `make test-slow`."""

from __future__ import annotations

import resource
import sys

import pytest

from redun import Scheduler, task
from redun.config import Config

redun_namespace = "test_scale"

# Scale, not speed: a million jobs take minutes on a slow or busy 2-core machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def scheduler() -> Scheduler:
    """The scheduler alone: a dictionary store (these measure recursion and memory)."""
    return Scheduler(config=Config({"backend": {"db_uri": "memory"}}))


@task
def inc(x: int) -> int:
    return x + 1


@task
def total(values: list) -> int:
    return sum(values)


@task
def fanout(n: int) -> int:
    return total([inc(i) for i in range(n)])


@task
def chain(n: int) -> int:
    value = 0
    for _ in range(n):
        value = inc(value)
    return value


@task
def countdown(n: int) -> int:
    return 0 if n == 0 else inc(countdown(n - 1))


def test_chain_of_100_000() -> None:
    limit = sys.getrecursionlimit()
    assert scheduler().run(chain(100_000)) == 100_000
    assert sys.getrecursionlimit() == limit


def test_recursion_100_000_deep() -> None:
    assert scheduler().run(countdown(100_000)) == 100_000


def test_fanout_of_1_000_000() -> None:
    n = 1_000_000
    assert scheduler().run(fanout(n)) == n * (n + 1) // 2
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert peak_mb < 6000, f"peak RSS {peak_mb:.0f} MB"
