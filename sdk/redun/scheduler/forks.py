"""``fork_thread`` and ``join_thread``: evaluate an expression in the background.

A job normally ends when everything it returned is evaluated. ``fork_thread(expr)``
starts evaluating ``expr`` and returns a :class:`Thread` at once, so the job that
forked it can finish while ``expr`` still runs; ``join_thread(thread)`` waits for
(or, in a later execution, recomputes through the cache) its value.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any

from redun.hashing import hash_parts, hash_value
from redun.promise import Promise
from redun.task import scheduler_task
from redun.value import Value

# Promises of forked expressions, per scheduler, by thread id.
_promises: weakref.WeakKeyDictionary[Any, dict[str, Promise]] = weakref.WeakKeyDictionary()
_ids = itertools.count(1)


class Thread(Value):
    """A handle on an expression being evaluated in the background."""

    type_name = "redun.Thread"

    def __init__(self, promise_id: str, expr_hash: str, expr: Any) -> None:
        self._promise_id = promise_id
        self._hash = hash_parts("Thread", expr_hash)
        self._expr = expr

    def get_hash(self, data: bytes | None = None) -> str:
        return self._hash

    def __getstate__(self) -> dict:
        return {"promise_id": self._promise_id, "hash": self._hash, "expr": self._expr}

    def __setstate__(self, state: dict) -> None:
        self._promise_id = state["promise_id"]
        self._hash = state["hash"]
        self._expr = state["expr"]

    def __repr__(self) -> str:
        return f"Thread({self._expr!r})"


@scheduler_task(namespace="redun")
def fork_thread(scheduler: Any, parent_job: Any, sexpr: Any, expr: Any) -> Promise:
    """Start evaluating ``expr`` and return a :class:`Thread` for it at once."""
    promise = scheduler.evaluate(expr, parent_job)
    promise_id = f"thread-{next(_ids)}"
    _promises.setdefault(scheduler, {})[promise_id] = promise
    return Promise.resolved(Thread(promise_id, hash_value(expr), expr))


@scheduler_task(namespace="redun")
def join_thread(scheduler: Any, parent_job: Any, sexpr: Any, thread: Any) -> Any:
    """The value of a forked expression (waiting for it if it still runs)."""

    def join(concrete: Thread) -> Any:
        promise = _promises.get(scheduler, {}).pop(concrete._promise_id, None)
        if promise is not None:
            return promise
        # Forked in another execution: evaluate again (cached calls are hits).
        return scheduler.evaluate(concrete._expr, parent_job)

    return scheduler.evaluate(thread, parent_job).then(join)
