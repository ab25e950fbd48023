"""The task stack hung on a failure's error: the calls that led to it, outermost first."""

from __future__ import annotations

import pytest

from redun import Scheduler, task
from redun.config import Config
from redun.scheduler.taskstack import MAX_DEPTH

redun_namespace = "stack"


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@task
def explode(x: int, thing: object = None) -> int:
    raise KeyError(x)


@task
def descend(n: int) -> int:
    if n == 0:
        return explode(n, Unprintable())
    return descend(n - 1)


@task
def two_levels(values: list) -> int:
    return explode(len(values))


def run_failing(expr: object) -> BaseException:
    scheduler = Scheduler(config=Config({"backend": {"db_uri": "memory"}}))
    with pytest.raises(KeyError) as caught:
        scheduler.run(expr)
    return caught.value


def test_each_call_with_its_arguments_outermost_first() -> None:
    error = run_failing(two_levels(list(range(100))))
    outer, inner = error.__redun_task_stack__.lines()  # type: ignore[attr-defined]
    assert outer.startswith("stack.two_levels(values=[0, 1, 2, 3, 4, 5, ...])")
    assert inner.startswith("stack.explode(x=100, thing=None)")
    job = error.__redun_job__  # type: ignore[attr-defined]
    assert f"job {job.id[:8]}" in inner and "test_task_stack.py:" in inner


def test_a_deep_stack_keeps_its_ends_and_an_unprintable_argument_its_type() -> None:
    error = run_failing(descend(MAX_DEPTH + 10))
    lines = error.__redun_task_stack__.lines()  # type: ignore[attr-defined]
    assert len(lines) == MAX_DEPTH + 1
    assert lines[0].startswith(f"stack.descend(n={MAX_DEPTH + 10})")
    # descend(50) ... descend(0) and explode: 52 calls, 40 shown.
    assert lines[MAX_DEPTH // 2].startswith("... 12 more call(s) ...")
    assert lines[-2].startswith("stack.descend(n=0)")
    assert lines[-1].startswith("stack.explode(x=0, thing=<Unprintable instance at ")


def test_the_stack_is_not_recorded_with_the_error() -> None:
    from redun.scheduler import ErrorValue

    error = run_failing(two_levels([1]))
    recorded = ErrorValue.of(error).error
    assert not hasattr(recorded, "__redun_task_stack__")
