"""redun.functools over real runs."""

from __future__ import annotations

import pytest

from redun import Scheduler, task
from redun.functools import (
    apply_func,
    as_task,
    compose,
    const,
    delay,
    eval_,
    flat_map,
    flatten,
    force,
    identity,
    map_,
    seq,
    starmap,
    zip_,
)

redun_namespace = "test_functools"
ORDER: list[int] = []


@task
def inc(x: int) -> int:
    return x + 1


@task
def double(x: int) -> int:
    return 2 * x


@task
def pair(x: int) -> list:
    return [x, x]


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def remember(x: int) -> int:
    ORDER.append(x)
    return x


@pytest.fixture
def scheduler() -> Scheduler:
    return Scheduler()


def test_map_and_starmap(scheduler: Scheduler) -> None:
    assert scheduler.run(map_(inc, [1, 2, 3])) == [2, 3, 4]
    assert scheduler.run(map_(inc, pair(5))) == [6, 6]
    assert scheduler.run(starmap(add, [{"a": 1, "b": 2}, {"a": 3, "b": 4}])) == [3, 7]


def test_flat_map_flatten_zip(scheduler: Scheduler) -> None:
    assert scheduler.run(flat_map(pair, [1, 2])) == [1, 1, 2, 2]
    assert scheduler.run(flatten([[1], pair(2)])) == [1, 2, 2]
    assert scheduler.run(zip_([1, 2], pair(3))) == [(1, 3), (2, 3)]


def test_compose_identity_const(scheduler: Scheduler) -> None:
    assert scheduler.run(compose(double, inc)(3)) == 8
    assert scheduler.run(identity(inc(1))) == 2
    assert scheduler.run(const(1, inc(5))) == 1


def test_delay_force(scheduler: Scheduler) -> None:
    delayed = delay(inc(1))
    assert scheduler.run(force(delayed)) == 2


def test_seq_runs_in_order(scheduler: Scheduler) -> None:
    ORDER.clear()
    assert scheduler.run(seq([remember(3), remember(1), remember(2)])) == [3, 1, 2]
    assert ORDER == [3, 1, 2]


def test_eval_and_apply_func(scheduler: Scheduler) -> None:
    assert scheduler.run(eval_("x * 10 + y", inc(1), y=3, pos_args=["x"])) == 23
    assert scheduler.run(apply_func(max, inc(1), 7)) == 7
    assert scheduler.run(as_task(len)(pair(1))) == 2
