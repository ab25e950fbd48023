"""catch_all(): every expression of a nested value runs to its end; ``recover``
gets the same nested value with each result or exception in its place."""

from __future__ import annotations

from typing import Any

import pytest

from redun import Scheduler, catch_all, task
from redun.utils import map_nested_value

redun_namespace = "test_catch_all"

STARTED: list[Any] = []


@task(cache=False)
def good(x: int) -> int:
    STARTED.append(x)
    return x


@task(cache=False)
def bad(message: str) -> int:
    STARTED.append(message)
    raise ValueError(message)


@task(cache=False)
def zeroed(results: Any) -> Any:
    return map_nested_value(lambda r: 0 if isinstance(r, Exception) else r, results)


@task(cache=False)
def messages(results: Any) -> Any:
    return map_nested_value(lambda r: f"error: {r}" if isinstance(r, Exception) else r, results)


@task(cache=False)
def error_types() -> tuple:
    return (KeyError, ValueError)


@pytest.fixture(autouse=True)
def clear() -> None:
    STARTED.clear()


def test_all_succeed_gives_the_values() -> None:
    assert Scheduler().run(catch_all([good(1), good(2), good(3)], ValueError, zeroed)) == [1, 2, 3]


def test_recover_gets_results_and_errors_in_place() -> None:
    scheduler = Scheduler()
    assert scheduler.run(catch_all([good(4), bad("boom"), good(5)], ValueError, zeroed)) == [
        4,
        0,
        5,
    ]
    # Everything ran, the failure did not stop its siblings.
    assert sorted(map(str, STARTED)) == ["4", "5", "boom"]


def test_nested_dicts_lists_and_tuples_keep_their_shape() -> None:
    value = {"a": good(1), "b": (bad("x"), 2), "c": [good(3), [bad("y")]]}
    assert Scheduler().run(catch_all(value, ValueError, messages)) == {
        "a": 1,
        "b": ("error: x", 2),
        "c": [3, ["error: y"]],
    }


def test_error_classes_may_be_an_expression() -> None:
    assert Scheduler().run(catch_all([bad("z"), good(7)], error_types(), zeroed)) == [0, 7]


def test_an_error_of_another_class_is_raised() -> None:
    with pytest.raises(ValueError, match="boom"):
        Scheduler().run(catch_all([good(1), bad("boom")], KeyError, zeroed))


def test_without_recover_the_first_error_is_raised_after_all_ran() -> None:
    with pytest.raises(ValueError, match="first"):
        Scheduler().run(catch_all([bad("first"), good(2)]))
    assert sorted(map(str, STARTED)) == ["2", "first"]


def test_empty() -> None:
    assert Scheduler().run(catch_all([], ValueError, zeroed)) == []
