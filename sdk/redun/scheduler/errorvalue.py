"""A failed call's result in the record: its error, as in insitro/redun.

A job that fails is recorded with a call node like any other, whose result is
an :class:`ErrorValue` holding the exception and its traceback, so lineage and
``job.call_node.value.value_parsed.error`` show what went wrong. Failures are
never taken from the cache: their calls get no evaluation row, which is what
cache lookups read.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

from redun.value import Value

# What the scheduler hangs on an error while it is handled; not part of the error.
_ENGINE_ATTRIBUTES = (
    "__redun_job__",
    "__redun_traceback__",
    "__redun_no_retry__",
    "__redun_task_stack__",
)


class ErrorValue(Value):
    """The result of a call that raised ``error`` (``traceback``: its text, if known)."""

    type_name = "redun.ErrorValue"

    def __init__(self, error: BaseException, traceback: Any = None) -> None:
        self.error = error
        self.traceback = traceback

    @classmethod
    def of(cls, error: BaseException, traceback: Any = None) -> ErrorValue:
        """The error as it can be recorded: the engine's attributes dropped, and as a
        plain ``Exception("Type: message")`` when it cannot be pickled (as redun does)."""
        recordable: BaseException
        try:
            recordable = copy.copy(error)
            state = getattr(recordable, "__dict__", None)
            if state:
                for name in _ENGINE_ATTRIBUTES:
                    state.pop(name, None)
            pickle.loads(pickle.dumps(recordable, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception:
            recordable = Exception(f"{type(error).__name__}: {error}")
        return cls(recordable, traceback)

    def __repr__(self) -> str:
        return f"ErrorValue({self.error!r})"

    def get_hash(self, data: bytes | None = None) -> str:
        from redun.hashing import hash_parts

        error = self.error
        kind = f"{type(error).__module__}.{type(error).__qualname__}"
        return hash_parts("redun.ErrorValue", kind, repr(error.args), str(self.traceback or ""))

    def __getstate__(self) -> dict:
        return {"error": self.error, "traceback": self.traceback}

    def __setstate__(self, state: dict) -> None:
        self.error = state["error"]
        self.traceback = state["traceback"]
