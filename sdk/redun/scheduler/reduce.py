"""Reduce values that may hold lazy expressions to concrete values.

A task's arguments and results can be plain data with expressions anywhere
inside lists, tuples, dicts and sets. :func:`reduce_value` finds them, asks
``evaluate`` for each, and rebuilds the container once all are ready.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from redun.expression import Expression
from redun.promise import Promise

Evaluate = Callable[[Expression], Any]  # returns a value or a Promise

_ATOMS = frozenset({int, str, float, bool, type(None), bytes, complex})


def reduce_value(value: Any, evaluate: Evaluate) -> Any:
    """Return ``value`` with its expressions evaluated, or a Promise of that."""
    cls = type(value)
    if cls in _ATOMS:
        return value
    if isinstance(value, Expression):
        return evaluate(value)
    if cls is list or cls is tuple or cls is set or cls is frozenset:
        return _reduce_sequence(value, evaluate)
    if cls is dict:
        return _reduce_dict(value, evaluate)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        reduced = _reduce_sequence(tuple(value), evaluate)
        if reduced is value or (type(reduced) is tuple and reduced == tuple(value)):
            return value
        return _then(reduced, lambda items: cls(*items))
    if hasattr(cls, "__dataclass_fields__"):
        return _reduce_dataclass(value, evaluate)
    if isinstance(value, (list, tuple, dict)):
        # Subclasses of containers: reduce the items, keep the type when possible.
        if isinstance(value, dict):
            reduced = _reduce_dict(dict(value), evaluate)
        else:
            reduced = _reduce_sequence(list(value), evaluate)
        return _then(reduced, lambda items: _rebuild(cls, items, value))
    return value


def _rebuild(cls: type, items: Any, original: Any) -> Any:
    try:
        return cls(items)
    except Exception:
        return original


def _then(value: Any, func: Callable[[Any], Any]) -> Any:
    if type(value) is Promise:
        return value.then(func)
    return func(value)


def _reduce_sequence(seq: Any, evaluate: Evaluate) -> Any:
    results: list[Any] | None = None
    promises: list[int] = []
    for index, item in enumerate(seq):
        if type(item) in _ATOMS:
            continue
        reduced = reduce_value(item, evaluate)
        if reduced is item:
            continue
        if results is None:
            results = list(seq)
        results[index] = reduced
        if type(reduced) is Promise:
            promises.append(index)
    if results is None:
        return seq
    cls = type(seq)
    if not promises:
        return results if cls is list else cls(results)
    out: Promise[Any] = Promise()
    state = [len(promises), results, cls]
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
        cls = state[2]
        out.do_resolve(results if cls is list else cls(results))


def _reduce_dict(mapping: dict, evaluate: Evaluate) -> Any:
    keys = list(mapping.keys())
    values = list(mapping.values())
    reduced_keys = _reduce_sequence(keys, evaluate)
    reduced_values = _reduce_sequence(values, evaluate)
    if reduced_keys is keys and reduced_values is values:
        return mapping
    if type(reduced_keys) is not Promise and type(reduced_values) is not Promise:
        return dict(zip(reduced_keys, reduced_values))
    return Promise.all([reduced_keys, reduced_values]).then(lambda kv: dict(zip(kv[0], kv[1])))


def _reduce_dataclass(value: Any, evaluate: Evaluate) -> Any:
    """A dataclass instance with the expressions in its fields evaluated."""
    names = [name for name in value.__dataclass_fields__ if hasattr(value, name)]
    fields = [getattr(value, name) for name in names]
    reduced = _reduce_sequence(fields, evaluate)
    if reduced is fields:
        return value

    def rebuild(items: list) -> Any:
        # A shallow copy with the new field values; object.__setattr__ also
        # works for frozen dataclasses.
        new = copy.copy(value)
        for name, item in zip(names, items):
            object.__setattr__(new, name, item)
        return new

    return _then(reduced, rebuild)
