"""A small promise whose callbacks never recurse.

The scheduler reduces expression graphs of any depth (a chain of 100,000
calls, a fan-out of a million) with these promises. Resolving a promise never
calls its waiters directly: it appends them to a per-thread run queue that is
drained in a loop (a trampoline), so the Python stack stays flat however long
the chain of promises is.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
S = TypeVar("S")

_PENDING, _FULFILLED, _REJECTED = 0, 1, 2

# A waiter is (fn, arg): called as fn(arg, ok, value) once the promise settles.
Waiter = tuple[Callable[[Any, bool, Any], None], Any]


class _RunQueue(threading.local):
    def __init__(self) -> None:
        self.items: deque[tuple[Callable[[Any, bool, Any], None], Any, bool, Any]] = deque()
        self.draining = False


_run_queue = _RunQueue()


def drain() -> None:
    """Run queued promise callbacks until none are left (re-entrant calls return at once)."""
    rq = _run_queue
    if rq.draining:
        return
    rq.draining = True
    items = rq.items
    popleft = items.popleft
    try:
        while items:
            fn, arg, ok, value = popleft()
            fn(arg, ok, value)
    finally:
        rq.draining = False


def pending_callbacks() -> int:
    return len(_run_queue.items)


class Promise(Generic[T]):
    """The eventual result (or error) of evaluating something."""

    __slots__ = ("_state", "_value", "_waiters")

    def __init__(self, func: Callable[[Callable, Callable], None] | None = None) -> None:
        self._state = _PENDING
        self._value: Any = None
        self._waiters: list[Waiter] | None = None
        if func is not None:
            try:
                func(self.do_resolve, self.do_reject)
            except Exception as error:
                self.do_reject(error)

    # -- state -------------------------------------------------------------
    @property
    def is_pending(self) -> bool:
        return self._state == _PENDING

    @property
    def is_fulfilled(self) -> bool:
        return self._state == _FULFILLED

    @property
    def is_rejected(self) -> bool:
        return self._state == _REJECTED

    @property
    def value(self) -> T:
        if self._state != _FULFILLED:
            raise ValueError("promise is not fulfilled")
        return self._value

    @property
    def error(self) -> BaseException:
        if self._state != _REJECTED:
            raise ValueError("promise is not rejected")
        return self._value

    # -- settling ----------------------------------------------------------
    def do_resolve(self, value: Any) -> Promise[T]:
        if self._state != _PENDING:
            return self
        if type(value) is Promise:
            if value is self:
                return self.do_reject(TypeError("a promise cannot resolve to itself"))
            value.add_waiter(_settle_from, self)
            return self
        self._settle(True, value)
        return self

    def do_reject(self, error: BaseException) -> Promise[T]:
        if self._state == _PENDING:
            self._settle(False, error)
        return self

    def _settle(self, ok: bool, value: Any) -> None:
        self._state = _FULFILLED if ok else _REJECTED
        self._value = value
        waiters = self._waiters
        if waiters:
            self._waiters = None
            append = _run_queue.items.append
            for fn, arg in waiters:
                append((fn, arg, ok, value))
            drain()

    # -- waiting -------------------------------------------------------------
    def add_waiter(self, fn: Callable[[Any, bool, Any], None], arg: Any) -> None:
        """Call ``fn(arg, ok, value)`` once settled (queued, never nested)."""
        if self._state == _PENDING:
            if self._waiters is None:
                self._waiters = [(fn, arg)]
            else:
                self._waiters.append((fn, arg))
        else:
            _run_queue.items.append((fn, arg, self._state == _FULFILLED, self._value))
            drain()

    def then(
        self,
        resolver: Callable[[T], Any] | None = None,
        rejector: Callable[[BaseException], Any] | None = None,
    ) -> Promise[Any]:
        """A promise of ``resolver(value)`` (or ``rejector(error)``); either may return a promise."""
        out: Promise[Any] = Promise()
        self.add_waiter(_run_then, (out, resolver, rejector))
        return out

    def catch(self, rejector: Callable[[BaseException], Any]) -> Promise[Any]:
        return self.then(None, rejector)

    @classmethod
    def resolved(cls, value: Any) -> Promise[Any]:
        return cls().do_resolve(value)

    @classmethod
    def rejected(cls, error: BaseException) -> Promise[Any]:
        return cls().do_reject(error)

    @classmethod
    def all(cls, values: list[Any]) -> Promise[list[Any]]:
        """A promise of the list of values, any of which may be a promise."""
        out: Promise[list[Any]] = Promise()
        results = list(values)
        pending = [index for index, value in enumerate(results) if type(value) is Promise]
        if not pending:
            return out.do_resolve(results)
        # Count first: a settled promise may call back before the loop ends.
        remaining = [len(pending)]
        for index in pending:
            results[index].add_waiter(_all_item, (out, results, remaining, index))
        return out

    def __repr__(self) -> str:
        state = ("pending", "fulfilled", "rejected")[self._state]
        return f"<Promise {state}>"


def _settle_from(target: Promise, ok: bool, value: Any) -> None:
    if ok:
        target.do_resolve(value)
    else:
        target.do_reject(value)


def _run_then(arg: tuple, ok: bool, value: Any) -> None:
    out, resolver, rejector = arg
    handler = resolver if ok else rejector
    if handler is None:
        _settle_from(out, ok, value)
        return
    try:
        result = handler(value)
    except Exception as error:
        out.do_reject(error)
        return
    out.do_resolve(result)


def _all_item(arg: tuple, ok: bool, value: Any) -> None:
    out, results, remaining, index = arg
    if not out.is_pending:
        return
    if not ok:
        out.do_reject(value)
        return
    results[index] = value
    remaining[0] -= 1
    if remaining[0] == 0:
        out.do_resolve(results)


def wait_promises(promises: list[Promise]) -> Promise[list[Promise]]:
    """A promise of ``promises`` themselves, once every one has settled, fulfilled or
    rejected (as redun's ``wait_promises``; :meth:`Promise.all` stops at the first
    error)."""
    out: Promise[list[Promise]] = Promise()
    items = list(promises)
    if not items:
        return out.do_resolve(items)
    remaining = [len(items)]
    for item in items:
        item.add_waiter(_waited, (out, items, remaining))
    return out


def _waited(arg: tuple, ok: bool, value: Any) -> None:
    out, items, remaining = arg
    remaining[0] -= 1
    if remaining[0] == 0:
        out.do_resolve(items)
