"""Reduce values that may hold lazy expressions to concrete values.

A task's arguments and results can be plain data with expressions anywhere
inside the containers :mod:`redun.nested` defines (lists, tuples, sets, dicts,
namedtuples, dataclasses). :func:`reduce_value` finds them, asks ``evaluate``
for each, and rebuilds the container once all are ready.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redun.expression import Expression
from redun.nested import ATOMS, Kind, children, kind_of, rebuild
from redun.promise import Promise

Evaluate = Callable[[Expression], Any]  # returns a value or a Promise

_LEAVES = (Kind.LEAF, Kind.VALUE)


def reduce_value(value: Any, evaluate: Evaluate) -> Any:
    """Return ``value`` with its expressions evaluated, or a Promise of that."""
    cls = type(value)
    if cls in ATOMS:
        return value
    if isinstance(value, Expression):
        return evaluate(value)
    kind = kind_of(value)
    if kind in _LEAVES:
        return value
    if cls is list or cls is tuple:
        items = value  # the common case: reduce in place of a copy
    else:
        items = children(value, kind)
    reduced = _reduce_items(items, evaluate)
    if reduced is items:
        return value
    if type(reduced) is Promise:
        return reduced.then(lambda new: rebuild(value, kind, new))
    return rebuild(value, kind, reduced)


def _reduce_items(items: list | tuple, evaluate: Evaluate) -> Any:
    """``items`` itself when nothing in it changed, else a new list or a Promise of one."""
    results: list[Any] | None = None
    promises: list[int] = []
    for index, item in enumerate(items):
        if type(item) in ATOMS:
            continue
        reduced = reduce_value(item, evaluate)
        if reduced is item:
            continue
        if results is None:
            results = list(items)
        results[index] = reduced
        if type(reduced) is Promise:
            promises.append(index)
    if results is None:
        return items
    if not promises:
        return results
    out: Promise[Any] = Promise()
    state = [len(promises), results]
    for index in promises:
        results[index].add_waiter(_item_ready, (out, state, index))
    return out


def _item_ready(arg: tuple, ok: bool, value: Any) -> None:
    out, state, index = arg
    if not out.is_pending:
        return
    if not ok:
        out.do_reject(value)
        return
    results = state[1]
    results[index] = value
    state[0] -= 1
    if state[0] == 0:
        out.do_resolve(results)
