"""A job's returned expression, recorded so that a cached call can be re-evaluated.

A task that returns an expression (``return add(fib(n - 1), fib(n - 2))``)
gets its result from the calls below it. The cache normally answers such a
call in one step: if every call below it is still valid, its recorded result
stands. When something below changed (a child task's code, a file a child
made), the call's own function need not run again: its returned expression,
recorded here, is evaluated again, each call in it answered by the cache on
its own. Only the calls that are no longer valid run.

The expression is pickled as it is (a few microseconds per call in it). A
task call in it is evaluated with the task as it is defined *now* (that is how
a change reaches it; a call inside a quoted expression, ``no_prov(...)``'s,
too, so that the quoted argument hashes as it would today), while a task
passed or returned as a value keeps the hash it had: a changed one makes the recorded expression invalid, as does a
file in it that changed. An expression too deep to pickle (a chain of
thousands of calls built in one loop) is not recorded: when something below
such a call changes, the call runs again, which is correct, only less
incremental.
"""

from __future__ import annotations

import pickle
from typing import Any

from redun.expression import (
    Expression,
    QuotedExpression,
    SchedulerExpression,
    SimpleExpression,
    TaskExpression,
    ValueExpression,
)

# Why a job re-evaluated its cached expression; ``redun explain`` recognises it.
REPLAY_REASON_PREFIX = "cached call re-evaluated, "


class NotRecordable(Exception):
    """A returned expression that cannot be recorded (the call re-runs instead)."""


class RecordedExpression:
    """A job's returned expression, pickled.

    Args:
        data: the pickled expression.
        preview: a short text of the expression, for ``redun log``.
    """

    __slots__ = ("data", "preview")

    def __init__(self, data: bytes, preview: str = "") -> None:
        self.data = data
        self.preview = preview

    @property
    def hash(self) -> str:
        """The value hash the store keeps it under."""
        try:  # the C SHA-1 module alone: hashlib would load OpenSSL's too (~3 ms)
            from _sha1 import sha1
        except ImportError:  # pragma: no cover - an interpreter built without it
            from hashlib import sha1

        return sha1(b"redun.expression\0" + self.data).hexdigest()

    def __getstate__(self) -> tuple[bytes, str]:
        return self.data, self.preview

    def __setstate__(self, state: tuple[bytes, str]) -> None:
        self.data, self.preview = state

    def __repr__(self) -> str:
        return f"<expression {self.preview}>" if self.preview else "<expression>"

    def restore(self) -> tuple[Any, str | None]:
        """The expression with today's tasks, and why it cannot be used (None if it can).

        It cannot be used when a task it calls is no longer defined, or when a
        value inside it is no longer valid (a file changed, a task value whose
        code changed since).
        """
        try:
            expr = pickle.loads(self.data)
        except Exception as error:  # a task gone, a class renamed...
            return None, f"its recorded expression could not be read ({error})"
        if not _still_valid(expr):
            return None, "its recorded expression holds files or tasks that changed"
        return expr, None


def record_expression(value: Any, preview: str = "") -> RecordedExpression:
    """``value`` (a task's return value holding expressions), recorded for re-evaluation.

    Raises:
        NotRecordable: it cannot be pickled, or is too deep to.
    """
    try:
        return RecordedExpression(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), preview)
    except RecursionError as error:
        raise NotRecordable("the expression is too deep to record") from error
    except Exception as error:
        raise NotRecordable(f"cannot pickle the expression: {error}") from error


def _still_valid(value: Any) -> bool:
    """False if a file or a task value inside ``value`` changed (calls' own tasks do not
    count: they are looked up by name when the expression is evaluated, and a call
    kept under an older version of its task is given today's)."""
    from redun.backends.base import value_is_valid
    from redun.nested import ATOMS, iter_nested_value
    from redun.task import get_task_registry

    registry = get_task_registry()
    stack = [value]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        cls = type(node)
        if cls is TaskExpression or cls is SchedulerExpression:
            task = node.task
            if task is not None and task.stale:
                current = registry.get(node.task_name)
                if current is not None:
                    node.task = current
                    node._hash = None
            args = node.args
            if (
                not node.kwargs
                and not node.task_options
                and (not args or all(type(arg) in ATOMS for arg in args))
            ):
                continue  # a call on plain numbers and text: the usual fan-out leaf
            parts: Any = (args, node.kwargs, node.task_options)
        elif cls is SimpleExpression:
            parts = (node.args, node.kwargs)
        elif cls is ValueExpression:
            parts = node.value
        else:
            parts = node  # the value around the expressions
        for leaf in iter_nested_value(parts):
            if type(leaf) in ATOMS:
                continue
            if isinstance(leaf, Expression):
                stack.append(leaf)
            elif type(leaf) is QuotedExpression:
                stack.append(leaf.eval())  # still an expression: its calls' tasks as above
            elif not value_is_valid(leaf):
                return False
    return True
