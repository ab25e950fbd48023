"""Within one execution, a scheduler-task or operator expression is evaluated once
per parent job, however often the workflow refers to it (as in insitro/redun)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from redun import Scheduler, scheduler_task, task
from redun.promise import Promise

redun_namespace = "test_evaluate_once"

CALLS: list[Any] = []


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    CALLS.clear()


@scheduler_task(namespace=redun_namespace)
def echo(scheduler: Any, parent_job: Any, sexpr: Any, x: Any) -> Promise:
    """Its argument, unevaluated; notes each evaluation."""
    CALLS.append(x if isinstance(x, int) else "other")
    return Promise.resolved(x)


@scheduler_task(namespace=redun_namespace)
def incr(scheduler: Any, parent_job: Any, sexpr: Any, x: Any) -> Promise:
    """One more than the value of ``x``; notes each evaluation."""
    CALLS.append("incr")
    return scheduler.evaluate(x, parent_job).then(lambda value: value + 1)


class Counter:
    """A value whose method notes each call, so operator evaluations can be counted."""

    def step(self) -> Counter:
        CALLS.append("step")
        return self

    def total(self) -> int:
        return CALLS.count("step")


@task(cache=False)
def make_counter() -> Counter:
    return Counter()


@task(cache=False)
def pair_of_echoes(i: int) -> list:
    # Two expression objects with one hash: one evaluation under this job.
    return [echo(7), echo(7), i]


SHARED = echo(8)


@task(cache=False)
def shared_twice(i: int) -> list:
    # One module-level expression object, returned by two different jobs.
    return [SHARED, SHARED, i]


@task(cache=False)
def both(i: int) -> list:
    return [pair_of_echoes(i), shared_twice(i)]


def test_scheduler_expression_referenced_twice_runs_once() -> None:
    scheduler = Scheduler()
    x = echo(1)
    assert scheduler.run(x + x) == 2
    assert CALLS == [1]


def test_equal_scheduler_expressions_are_one_evaluation() -> None:
    scheduler = Scheduler()
    assert scheduler.run(echo(1) + echo(1)) == 2
    assert CALLS == [1]
    CALLS.clear()
    assert scheduler.run(echo(1) + echo(2)) == 3
    assert sorted(CALLS) == [1, 2]


def test_operator_expression_referenced_twice_runs_once() -> None:
    scheduler = Scheduler()
    counter = make_counter()
    stepped = counter.step()
    # Operators are keyed by the expression object: a second counter.step() is a step.
    result = scheduler.run([stepped, stepped, stepped, counter.step()])
    assert result[0] is result[3]
    assert CALLS == ["step", "step"]


def test_key_is_per_parent_job() -> None:
    scheduler = Scheduler()
    result = scheduler.run([both(1), both(2)])
    assert result == [[[7, 7, 1], [8, 8, 1]], [[7, 7, 2], [8, 8, 2]]]
    # Once under each of the two pair_of_echoes jobs, once under each shared_twice job.
    assert sorted(CALLS) == [7, 7, 8, 8]


def test_each_execution_evaluates_again() -> None:
    scheduler = Scheduler()
    x = echo(3)
    assert scheduler.run([x, x]) == [3, 3]
    assert scheduler.run([x, x]) == [3, 3]
    assert CALLS == [3, 3]


def test_unhashable_argument_is_still_evaluated_once() -> None:
    # A lock cannot be hashed: the expression is keyed by its identity instead.
    scheduler = Scheduler()
    lock = threading.Lock()
    x = echo(lock)
    result = scheduler.run([x, x])
    assert result[0] is lock and result[1] is lock
    assert CALLS == ["other"]


def test_scheduler_expression_too_deep_to_hash() -> None:
    depth = 3000
    top: Any = 0
    for _ in range(depth):
        top = incr(top)
    with pytest.raises(RecursionError):
        top.get_hash()
    scheduler = Scheduler()
    assert scheduler.run(top + top) == 2 * depth
    assert len(CALLS) == depth


def test_deep_operator_chain_steps_once_each() -> None:
    depth = 10_000
    chain: Any = make_counter()
    for _ in range(depth):
        chain = chain.step()
    scheduler = Scheduler()
    result = scheduler.run([chain, chain, chain.total()])
    assert result[2] == depth
    assert len(CALLS) == depth


@task(cache_scope="NONE")
def tick() -> int:
    CALLS.append("tick")
    return len(CALLS) * 10


@task
def plus(x: int, y: int) -> int:
    return x + y


@task
def uses_tick_twice() -> dict:
    x = tick()
    return {"a": plus(x, 1), "b": plus(x, 2), "c": x, "d": tick()}


def test_a_none_scoped_call_is_made_once_per_parent_job() -> None:
    # As in insitro/redun: cache_scope=NONE keeps a call out of the cache, yet one
    # call expression under one parent job (x used three times, tick() written
    # twice) is made once; the next run, replaying the cached parent, makes it again.
    scheduler = Scheduler()
    assert scheduler.run(uses_tick_twice()) == {"a": 11, "b": 12, "c": 10, "d": 10}
    assert CALLS == ["tick"]
    assert scheduler.run(uses_tick_twice()) == {"a": 21, "b": 22, "c": 20, "d": 20}
    assert CALLS == ["tick", "tick"]
    states = {job.task.name: job.state.value for job in scheduler.jobs()}
    assert states["uses_tick_twice"] == "cached"
