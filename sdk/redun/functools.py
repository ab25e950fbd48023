"""Higher-order helpers over tasks and lazy values (``map_``, ``seq``, ``compose``...)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from textwrap import dedent
from typing import Any, TypeVar

from redun.expression import QuotedExpression, SchedulerExpression, quote
from redun.promise import Promise
from redun.task import PartialTask, Task, scheduler_task, task

T = TypeVar("T")

__all__ = [
    "apply_func",
    "as_task",
    "compose",
    "const",
    "delay",
    "eval_",
    "flat_map",
    "flatten",
    "force",
    "identity",
    "map_",
    "no_prov",
    "seq",
    "starmap",
    "zip_",
]


@task(namespace="redun", version="1")
def identity(x: T) -> T:
    """Return ``x`` (useful to make a value lazy)."""
    return x


@task(namespace="redun", version="1")
def compose_apply(tasks: Sequence[Task], *args: Any, **kwargs: Any) -> Any:
    """Apply ``tasks`` right to left: ``compose_apply([f, g], x) == f(g(x))``."""
    *outer, innermost = tasks
    value = innermost(*args, **kwargs)
    for each in reversed(outer):
        value = each(value)
    return value


def compose(*tasks: Task) -> Task:
    """A task computing ``tasks[0](tasks[1](...(args)))``."""
    if not tasks:
        raise ValueError("compose() needs at least one task")
    return compose_apply.partial(tasks)


def delay(x: T) -> PartialTask:
    """Wrap ``x`` so it is evaluated only when :func:`force` d."""
    return identity.partial(x)


def force(x: Task[[], T]) -> T:
    """Evaluate a value wrapped by :func:`delay`."""
    return x()


@scheduler_task(namespace="redun")
def seq(scheduler: Any, parent_job: Any, sexpr: SchedulerExpression, exprs: Sequence[Any]) -> Any:
    """Evaluate ``exprs`` one after another (not in parallel); returns their values."""
    items = list(exprs)
    results: list[Any] = []

    def step(index: int) -> Any:
        if index == len(items):
            return results
        return scheduler.evaluate(items[index], parent_job).then(lambda value: keep(index, value))

    def keep(index: int, value: Any) -> Any:
        results.append(value)
        return step(index + 1)

    return step(0)


@task(namespace="redun", version="1")
def const(x: T, _: Any) -> T:
    """Return ``x`` once ``_`` has been evaluated (forces ``_`` to run first)."""
    return x


@task(namespace="redun", version="1")
def apply_func(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a plain (module-level) function on lazy arguments."""
    return func(*args, **kwargs)


def as_task(func: Callable[..., T]) -> PartialTask:
    """A task that calls the plain function ``func``: ``as_task(max)(a, b)``."""
    return apply_func.partial(func)


@task(namespace="redun", version="1")
def eval_(code: str, *args: Any, **kwargs: Any) -> Any:
    """Evaluate a Python expression with keyword arguments as variables.

    Positional arguments are named by the ``pos_args`` keyword:
    ``eval_("x + 1", value, pos_args=["x"])``.
    """
    names = kwargs.pop("pos_args", [])
    if len(names) != len(args):
        raise TypeError(
            f"eval_ got {len(args)} positional argument(s) but pos_args names {len(names)}"
        )
    variables = {**dict(zip(names, args)), **kwargs}
    return eval(dedent(code), variables)  # noqa: S307 - evaluating user code is the point


@scheduler_task(namespace="redun", version="1")
def map_(
    scheduler: Any, parent_job: Any, sexpr: SchedulerExpression, a_task: Any, values: Any
) -> Any:
    """Apply ``a_task`` to each value: ``map_(f, [1, 2]) == [f(1), f(2)]`` (in parallel)."""

    def apply(args: list) -> Any:
        func, items = args
        return scheduler.evaluate([func(item) for item in items], parent_job)

    return Promise.all(
        [scheduler.evaluate(a_task, parent_job), scheduler.evaluate(values, parent_job)]
    ).then(apply)


def starmap(a_task: Task[..., T], kwargs: Any = ()) -> list[T]:
    """Apply ``a_task`` to each dict of keyword arguments."""
    return map_(eval_.partial("a_task(**x)", pos_args=["x"], a_task=a_task), kwargs)


@task(namespace="redun", version="1")
def flatten(list_of_lists: Sequence[Sequence[T]]) -> list[T]:
    """Concatenate a list of lists."""
    return [item for inner in list_of_lists for item in inner]


@task(namespace="redun", version="1")
def flat_map(a_task: Task[..., list[T]], values: list) -> list[T]:
    """``map_`` then ``flatten``."""
    return flatten(map_(a_task, values))


@task(namespace="redun", version="1")
def zip_(*lists: list[T]) -> list[tuple[T, ...]]:
    """``zip`` as a task."""
    return list(zip(*lists))


@task(name="no_prov_helper", namespace="redun", version="1", prov=False)
def _no_prov_helper(expr: QuotedExpression[T]) -> T:
    # prov=False: this job and every job below it are neither recorded nor cached.
    return expr.eval()


@task(name="no_prov", namespace="redun", version="1", check_valid="shallow")
def _no_prov(expr: QuotedExpression[T]) -> T:
    # Recorded, and shallow: a later run takes the whole unrecorded subtree's result from
    # this call in one step.
    return _no_prov_helper(expr)


def no_prov(expr: T) -> T:
    """Evaluate ``expr`` without recording the jobs inside it, as one cached unit.

    Only the ``redun.no_prov`` call is recorded (with ``check_valid="shallow"``):
    a later run with the same expression takes its result from the cache in one
    step, without re-running or re-checking what is inside.
    """
    return _no_prov(quote(expr))
