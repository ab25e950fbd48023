"""The thread executor's pool grows by need: blocking jobs get every thread, a fan-out of
quick calls a few.

Twenty threads taking the interpreter's lock in turns run a thousand tiny calls
slower than two or three; jobs that block need a thread each. The pool grows
from the workers: one that takes a job while others wait starts another
thread unless the job's task is known to be quick, and a check notices known-quick
jobs that turned slow and hold every thread.
"""

from __future__ import annotations

import threading

from redun import Scheduler, task
from redun.config import Config

redun_namespace = "test_thread_pool"

WIDTH = 12  # jobs that can only finish together: each needs the others running
NAMES: set[str] = set()
BARRIER: list[threading.Barrier] = []


@task(cache=False)
def leaf(i: int, meet: bool = False) -> int:
    NAMES.add(threading.current_thread().name)
    if meet:
        BARRIER[0].wait()  # BrokenBarrierError after its timeout: not all ran at once
    return i


@task(cache=False)
def fan(n: int, meet: bool = False) -> list:
    return [leaf(i, meet) for i in range(n)]


def _scheduler(workers: int = 20) -> Scheduler:
    config = Config({"executors.default": {"type": "threads", "max_workers": str(workers)}})
    return Scheduler(config=config)


def _meet(scheduler: Scheduler, n: int) -> list:
    BARRIER[:] = [threading.Barrier(n, timeout=10)]
    return scheduler.run(fan(n, meet=True))


def test_blocking_jobs_of_a_new_task_run_at_once() -> None:
    scheduler = _scheduler()
    try:
        assert _meet(scheduler, WIDTH) == list(range(WIDTH))
    finally:
        scheduler.stop()


def test_quick_jobs_that_turn_slow_still_get_every_thread() -> None:
    scheduler = _scheduler()
    try:
        assert scheduler.run(fan(200)) == list(range(200))  # leaf is now known quick
        assert _meet(scheduler, WIDTH) == list(range(WIDTH))
    finally:
        scheduler.stop()


def test_a_fan_out_of_quick_calls_runs_on_a_few_threads() -> None:
    counts = []
    for _ in range(3):
        scheduler = _scheduler()
        try:
            NAMES.clear()
            assert scheduler.run(fan(1000)) == list(range(1000))
            counts.append(len(NAMES))
        finally:
            scheduler.stop()
    # All twenty before the pool grew by need; a loaded machine may add a few.
    assert min(counts) <= 6, counts


def test_max_workers_still_bounds_the_pool() -> None:
    scheduler = _scheduler(workers=3)
    try:
        NAMES.clear()
        BARRIER[:] = [threading.Barrier(3, timeout=10)]
        assert scheduler.run(fan(9, meet=True)) == list(range(9))
        assert len(NAMES) == 3
    finally:
        scheduler.stop()
