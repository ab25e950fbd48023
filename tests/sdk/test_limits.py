"""Resource limits: per-resource wait queues (no job re-offered for nothing), clear
errors, and resources that always come back. Speed lives in bench/limits.py."""

from __future__ import annotations

import pytest

from redun import Scheduler, catch, task
from redun.config import Config
from redun.errors import UsageError
from redun.scheduler.limits import Limits, normalize_limits

redun_namespace = "test_limits"


def test_normalize() -> None:
    assert normalize_limits(["a", "b"]) == {"a": 1, "b": 1}
    assert normalize_limits({"a": "2"}) == {"a": 2}


def test_waiters_are_granted_first_come_first_served() -> None:
    limits = Limits({"db": 2})
    assert limits.acquire("j1", ["db"]) and limits.acquire("j2", ["db"])
    assert not limits.acquire("j3", ["db"]) and not limits.acquire("j4", ["db"])
    assert limits.waiting == 2
    assert limits.release("j1") == ["j3"]
    assert limits.holds("j3") and limits.used == {"db": 2}
    assert limits.release("j2") == ["j4"]
    assert limits.release("j3") == [] and limits.release("j4") == []
    assert limits.used == {"db": 0} and limits.waiting == 0


def test_a_big_request_is_not_starved_by_small_ones() -> None:
    limits = Limits({"db": 2})
    assert limits.acquire("small1", ["db"])
    assert not limits.acquire("big", {"db": 2})
    assert not limits.acquire("small2", ["db"]), "it queues behind the big one"
    assert limits.release("small1") == ["big"]
    assert limits.release("big") == ["small2"]


def test_a_job_blocked_on_two_resources_moves_to_the_one_still_full() -> None:
    limits = Limits({"a": 1, "b": 1})
    assert limits.acquire("holds_a", ["a"]) and limits.acquire("holds_b", ["b"])
    assert not limits.acquire("both", ["a", "b"])
    assert limits.release("holds_a") == [], "b is still taken"
    assert limits.waiting == 1
    assert limits.release("holds_b") == ["both"]
    assert limits.used == {"a": 1, "b": 1}


def test_a_release_looks_only_at_the_head_of_the_freed_queue() -> None:
    # Whatever waits on another resource is not looked at: the cost of a
    # release does not grow with everything that waits.
    limits = Limits({"a": 1, "b": 1})
    assert limits.acquire("holds_a", ["a"]) and limits.acquire("holds_b", ["b"])
    for i in range(1000):
        assert not limits.acquire(f"on_b{i}", ["b"])
    assert not limits.acquire("on_a", ["a"])
    assert limits.release("holds_a") == ["on_a"]
    assert limits.waiting == 1000


def test_cancelled_waiter_is_skipped() -> None:
    limits = Limits({"db": 1})
    assert limits.acquire("j1", ["db"])
    assert not limits.acquire("j2", ["db"]) and not limits.acquire("j3", ["db"])
    limits.forget("j2")
    assert limits.release("j1") == ["j3"]


@task(limits={"db": 3})
def greedy() -> int:
    return 1


def test_asking_for_more_than_the_capacity_is_a_clear_error() -> None:
    scheduler = Scheduler(config=Config({"limits": {"db": "2"}}))
    with pytest.raises(UsageError, match=r"3 of resource 'db' whose limit is 2.*\[limits\] db = 3"):
        scheduler.run(greedy())


@task(limits=["db"], executor="nowhere")
def misrouted() -> int:
    return 1


@task(limits=["db"])
def fine() -> int:
    return 2


@task
def recover(error: Exception) -> int:
    return -1


def test_a_job_whose_executor_fails_gives_its_resources_back() -> None:
    scheduler = Scheduler(config=Config({"limits": {"db": "1"}}))
    assert scheduler.run([catch(misrouted(), UsageError, recover), fine()]) == [-1, 2]


def test_random_workload_never_overcommits_and_everyone_runs() -> None:
    import random

    rng = random.Random(19)
    capacities = {"a": 2, "b": 3, "c": 1}
    limits = Limits(capacities)
    running: list[str] = []
    started: set[str] = set()

    def release(job: str) -> None:
        granted = limits.release(job)
        running.extend(granted)
        started.update(granted)

    for i in range(2000):
        wanted = {
            name: rng.randint(1, cap) for name, cap in capacities.items() if rng.random() < 0.5
        }
        job = f"j{i}"
        if limits.acquire(job, wanted or {"a": 1}):
            running.append(job)
            started.add(job)
        if running and rng.random() < 0.6:
            release(running.pop(rng.randrange(len(running))))
        for name, cap in capacities.items():
            assert 0 <= limits.used.get(name, 0) <= cap
    while running:
        release(running.pop(0))
    assert limits.waiting == 0 and len(started) == 2000
    assert all(limits.used.get(name, 0) == 0 for name in capacities)
