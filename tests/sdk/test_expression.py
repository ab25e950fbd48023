"""Lazy expressions: what calling a task builds, and what is refused."""

from __future__ import annotations

import pickle

import pytest

from redun import Scheduler, task
from redun.errors import ExpressionError
from redun.expression import SimpleExpression, TaskExpression

redun_namespace = "test_expression"


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x = x
        self.y = y


@task
def make_point(x: int, y: int) -> Point:
    return Point(x, y)


@task
def pair(a: int, b: int) -> tuple[int, int]:
    return a, b


@task(nout=3)
def triple(a: int) -> tuple:
    return a, a + 1, a + 2


@task
def numbers(n: int) -> list[int]:
    return list(range(n))


@task
def double(x: int) -> int:
    return 2 * x


@task
def get_func() -> object:
    return double


def test_calling_a_task_builds_an_expression_and_runs_nothing() -> None:
    calls = []

    @task(namespace="test_expression.local")
    def record(x: int) -> int:
        calls.append(x)
        return x

    expr = record(1)
    assert isinstance(expr, TaskExpression)
    assert expr.task_name == "test_expression.local.record"
    assert calls == []
    assert Scheduler().run(expr) == 1
    assert calls == [1]


def test_attribute_item_and_operators_are_lazy() -> None:
    scheduler = Scheduler()
    point = make_point(3, 4)
    assert isinstance(point.x, SimpleExpression)
    assert scheduler.run(point.x + point.y) == 7
    assert scheduler.run(numbers(5)[2]) == 2
    assert scheduler.run(numbers(5)[1:3]) == [1, 2]
    assert scheduler.run(double(3) * 2 - 1) == 11
    assert scheduler.run(10 - double(3)) == 4
    assert scheduler.run(-double(3)) == -6
    assert scheduler.run(double(3) > 5) is True
    assert scheduler.run(double(3) == 6) is True
    assert scheduler.run(double(1) / 4) == 0.5


def test_calling_an_expression_is_lazy() -> None:
    assert Scheduler().run(get_func()(21)) == 42


def test_bool_of_an_expression_explains_what_to_do() -> None:
    with pytest.raises(ExpressionError, match="cond"):
        if double(1):
            pass


def test_destructuring_uses_annotation_or_nout() -> None:
    a, b = pair(1, 2)
    x, y, z = triple(10)
    assert Scheduler().run([b, a, z]) == [2, 1, 12]


def test_destructuring_without_known_length_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="nout"):
        a, b = double(1)


def test_expressions_pickle() -> None:
    expr = double(make_point(1, 2).x)
    clone = pickle.loads(pickle.dumps(expr))
    assert repr(clone) == repr(expr)
    assert Scheduler().run(clone) == 2


def test_expression_hash_is_structural() -> None:
    assert double(1).get_hash() == double(1).get_hash()
    assert double(1).get_hash() != double(2).get_hash()


def test_expression_repr_shows_arguments_in_full() -> None:
    # As redun prints an expression: nested calls and long values are not cut short.
    long_text = "x" * 200
    expr = pair(make_point(1, 2), long_text)
    shown = repr(expr)
    assert long_text in shown and "make_point(1, 2)" in shown
    assert repr(expr[0]).endswith("[0]") and long_text in repr(expr[0])


def test_an_unknown_lazy_operation_is_a_not_implemented_scheduler_error() -> None:
    from redun.errors import SchedulerError

    scheduler = Scheduler(config={"backend": {"db_uri": "memory"}})
    with pytest.raises(NotImplementedError, match="unknown lazy operation 'bad_func'") as caught:
        scheduler.run(SimpleExpression("bad_func", (10,)))
    assert isinstance(caught.value, SchedulerError)
    assert scheduler.run(SimpleExpression("getitem", (["a", "b"], 1))) == "b"
