"""Nested values: the one set of rules for what a value holds.

Containers, whose contents are walked:

* lists, tuples (namedtuples included), sets and frozensets, and their subclasses;
* dicts and their subclasses: keys and values;
* dataclass instances: their fields.

A :class:`~redun.value.Value` (a File, a Dir) is a leaf that may declare the
values inside it with ``iter_subvalues()``. Everything else is a leaf: an
object hashed by its state is not taken apart here.

Every part of redun that looks inside values uses these rules, so they cannot
drift apart: the cache's validity check (a File deleted inside a dataclass
result invalidates the call, as it does inside a list), the recorder (which
files a value holds), ``redun explain``, the daemon's watch dependencies,
scripts' staging, and the scheduler's reduction of lazy expressions inside
arguments and results.

Walks are iterative (a structure nested 100,000 deep does not recurse), visit
a container reached twice once (a value that contains itself ends), and take
a *budget*: how many non-atomic objects they may visit before they stop and
say they did not finish (:attr:`ValueWalk.complete`).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

from redun.value import Value

__all__ = [
    "ATOMS",
    "DEFAULT_BUDGET",
    "Kind",
    "ValueWalk",
    "all_valid",
    "children",
    "holds_values",
    "iter_nested_value",
    "kind_of",
    "map_nested_value",
    "rebuild",
]

# Leaves that cannot hold anything: skipped without counting against a budget.
ATOMS = frozenset({int, str, float, bool, type(None), bytes, complex})

# How many objects a walk visits by default before it gives up (and says so).
DEFAULT_BUDGET = 1_000_000


class Kind:
    """What :func:`kind_of` says about a value (plain ints: this is the hot path)."""

    LEAF = 0
    SEQUENCE = 1  # list, tuple, set, frozenset and their subclasses (not namedtuples)
    RECORD = 2  # a namedtuple
    MAPPING = 3  # dict and its subclasses: keys, then values
    DATACLASS = 4  # a dataclass instance: its fields
    VALUE = 5  # a redun Value: a leaf that may declare subvalues


_SEQUENCE_TYPES = (list, tuple, set, frozenset)


def kind_of(value: Any) -> int:
    """How ``value`` nests (a :class:`Kind`)."""
    cls = type(value)
    if cls in ATOMS:
        return Kind.LEAF
    if cls is list or cls is tuple or cls is set or cls is frozenset:
        return Kind.SEQUENCE
    if cls is dict:
        return Kind.MAPPING
    if isinstance(value, Value):
        return Kind.VALUE
    if isinstance(value, tuple):
        return Kind.RECORD if isinstance(getattr(cls, "_fields", None), tuple) else Kind.SEQUENCE
    if isinstance(value, _SEQUENCE_TYPES):
        return Kind.SEQUENCE
    if isinstance(value, dict):
        return Kind.MAPPING
    if hasattr(cls, "__dataclass_fields__") and not isinstance(value, type):
        return Kind.DATACLASS
    return Kind.LEAF


_MISSING = object()


def children(value: Any, kind: int) -> list[Any]:
    """The values directly inside ``value`` of kind ``kind`` (see :func:`kind_of`).

    A mapping gives its keys, then its values; a dataclass its fields in
    order (an ``init=False`` field never set is left out); a Value what its
    ``iter_subvalues()`` declares.
    """
    if kind == Kind.SEQUENCE or kind == Kind.RECORD:
        return list(value)
    if kind == Kind.MAPPING:
        return [*value.keys(), *value.values()]
    if kind == Kind.DATACLASS:
        found = []
        for field in dataclasses.fields(value):
            item = getattr(value, field.name, _MISSING)
            if item is not _MISSING:
                found.append(item)
        return found
    if kind == Kind.VALUE:
        declare = getattr(value, "iter_subvalues", None)
        return list(declare()) if declare is not None else []
    return []


def rebuild(value: Any, kind: int, items: list[Any]) -> Any:
    """A value like ``value`` holding ``items`` (as :func:`children` gave them) instead.

    Containers rebuild as their own type. A subclass whose constructor does
    not take its items becomes its builtin base (its items are right; its
    type is lost rather than its items). A dataclass is a shallow copy with
    the new field values. Leaves and Values are returned as they are.
    """
    cls = type(value)
    if kind == Kind.SEQUENCE:
        if cls is list:
            return items
        if cls is tuple or cls is set or cls is frozenset:
            return cls(items)
        try:
            return cls(items)
        except Exception:
            base = next(b for b in _SEQUENCE_TYPES if isinstance(value, b))
            return base(items)
    if kind == Kind.RECORD:
        return cls(*items)
    if kind == Kind.MAPPING:
        half = len(items) // 2
        pairs = zip(items[:half], items[half:])
        if cls is dict:
            return dict(pairs)
        try:
            mapping = copy.copy(value)  # keeps a defaultdict's factory, a Counter's type
            mapping.clear()
            mapping.update(pairs)
            return mapping
        except Exception:
            return dict(zip(items[:half], items[half:]))
    if kind == Kind.DATACLASS:
        # A shallow copy with the new field values (init=False fields included);
        # object.__setattr__ also works on frozen dataclasses, and __init__ and
        # __post_init__ do not run again on values they already checked.
        names = [f.name for f in dataclasses.fields(value) if hasattr(value, f.name)]
        new = copy.copy(value)
        for name, item in zip(names, items):
            object.__setattr__(new, name, item)
        return new
    return value


class ValueWalk:
    """The :class:`~redun.value.Value` objects inside a value, itself included.

    Iterate it to get each Value once (containers walked by the rules above,
    a Value's declared subvalues after it). When ``budget`` objects were
    visited the walk stops early and :attr:`complete` turns False: a caller
    that must not miss a Value then assumes the worst.

    Args:
        value: what to walk.
        budget: how many non-atomic objects to visit at most (None: no limit).
        tasks: also yield the tasks inside, those called by expressions kept in it
            included (a task kept in a cached value has a validity too: it is stale
            once its code changed).
    """

    __slots__ = ("value", "budget", "complete", "tasks")

    def __init__(
        self, value: Any, budget: int | None = DEFAULT_BUDGET, *, tasks: bool = False
    ) -> None:
        self.value = value
        self.budget = budget
        self.complete = True
        self.tasks = tasks

    def __iter__(self) -> Iterator[Any]:
        budget = self.budget
        stack = [self.value]
        seen: set[int] = set()
        while stack:
            item = stack.pop()
            if type(item) in ATOMS:
                continue
            if budget is not None:
                budget -= 1
                if budget < 0:
                    self.complete = False
                    return
            kind = kind_of(item)
            if kind == Kind.LEAF:
                if self.tasks:
                    cls = type(item)
                    if getattr(cls, "_redun_task", False):
                        yield item
                        continue
                    # An expression kept as a value (quote(expr)): the tasks it calls
                    # and the values in its arguments.
                    parts = getattr(cls, "_nested_parts", None)
                    if parts is not None and id(item) not in seen:
                        seen.add(id(item))
                        stack.extend(parts(item))
                continue
            key = id(item)
            if key in seen:
                continue
            seen.add(key)
            if kind == Kind.VALUE:
                yield item
            stack.extend(children(item, kind))


def holds_values(value: Any, budget: int | None = DEFAULT_BUDGET, *, tasks: bool = False) -> bool:
    """True if ``value`` holds a Value (or a task, with ``tasks``), or is too large to tell
    within ``budget``."""
    walk = ValueWalk(value, budget, tasks=tasks)
    for _ in walk:
        return True
    return not walk.complete


def all_valid(value: Any, *, tasks: bool = False) -> bool:
    """False if any Value (or task, with ``tasks``) inside ``value`` says it is no longer
    valid (walks all of it)."""
    return all(item.is_valid() for item in ValueWalk(value, None, tasks=tasks))


_LEAVE = object()  # marks, on the stack, the end of a container's items


def iter_nested_value(value: Any) -> Iterator[Any]:
    """Yield the leaves inside ``value`` (Values are leaves here), depth-first in order.

    A container reached twice is walked twice, as redun does.

    Raises:
        ValueError: a container holds itself.
    """
    stack: list[Any] = [value]
    active: set[int] = set()  # the containers being walked (cycle check)
    while stack:
        item = stack.pop()
        if item is _LEAVE:
            active.discard(stack.pop())
            continue
        kind = kind_of(item)
        if kind == Kind.LEAF or kind == Kind.VALUE:
            yield item
            continue
        key = id(item)
        if key in active:
            raise ValueError(f"cannot walk a {type(item).__name__} that contains itself")
        active.add(key)
        items = children(item, kind)
        items.reverse()
        stack.append(key)
        stack.append(_LEAVE)
        stack.extend(items)


def map_nested_value(func: Callable[[Any], Any], value: Any) -> Any:
    """``value`` with ``func`` applied to each leaf, containers rebuilt alike.

    Iterative: a structure nested 100,000 deep maps without recursion.

    Raises:
        ValueError: a container holds itself.
    """
    kind = kind_of(value)
    if kind == Kind.LEAF or kind == Kind.VALUE:
        return func(value)
    # A frame: [container, its kind, its children, what they mapped to so far].
    frames: list[list[Any]] = [[value, kind, children(value, kind), []]]
    active = {id(value)}
    while True:
        container, kind, items, mapped = frames[-1]
        if len(mapped) < len(items):
            item = items[len(mapped)]
            item_kind = kind_of(item)
            if item_kind == Kind.LEAF or item_kind == Kind.VALUE:
                mapped.append(func(item))
            elif id(item) in active:
                raise ValueError(f"cannot map a {type(item).__name__} that contains itself")
            else:
                active.add(id(item))
                frames.append([item, item_kind, children(item, item_kind), []])
            continue
        frames.pop()
        active.discard(id(container))
        result = rebuild(container, kind, mapped)
        if not frames:
            return result
        frames[-1][3].append(result)
