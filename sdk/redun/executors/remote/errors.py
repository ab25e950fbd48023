"""Errors of remote execution, under :class:`redun.errors.ExecutorError`::

    ExecutorError
    ├── ProtocolError        a call or outcome file is missing, truncated, unreadable,
    │                        or written by a redun speaking another protocol version
    ├── InfrastructureError  the platform lost the job (host terminated, preempted,
    │                        container could not start): retried up to ``retries``
    └── RemoteTaskError      stands in for a task's exception that could not travel
                             back (not picklable, or not importable here)

A task's own exception comes back as itself (``except ValueError`` works), with
its remote traceback; none of these wrap it.
"""

from __future__ import annotations

from redun.errors import ExecutorError


class ProtocolError(ExecutorError):
    """A call or outcome in the scratch cannot be used (missing, truncated, other version)."""


class InfrastructureError(ExecutorError):
    """The platform lost a job that did not fail by itself; worth another attempt."""


class RemoteTaskError(ExecutorError):
    """A task's exception that could not be rebuilt here; its type, message and traceback.

    Attributes:
        error_type: the original exception's qualified class name.
        error_message: ``str()`` of the original exception.
    """

    def __init__(self, error_type: str, error_message: str) -> None:
        self.error_type = error_type
        self.error_message = error_message
        super().__init__(f"{error_type}: {error_message}")

    def __reduce__(self) -> tuple:
        return (RemoteTaskError, (self.error_type, self.error_message))
