"""Errors of the daemon client.

::

    RedunError
    └── ClientError                  a call to the daemon failed
        ├── DaemonUnavailable        no daemon answers at the address
        ├── NotFound                 an unknown execution, job, file or task
        ├── InvalidArgument          a malformed request (bad arguments, bad workflow)
        ├── FailedPrecondition       the current state forbids it (e.g. already finished)
        ├── Unauthenticated          a TCP call without the right token
        └── ExecutionError           the run itself did not produce a result
            ├── ExecutionFailed      a task failed, or the workflow did not load
            ├── ExecutionCancelled   it was cancelled
            └── ExecutionInterrupted the daemon died while it ran
"""

from __future__ import annotations

from redun.errors import RedunError


class ClientError(RedunError):
    """A call to the daemon failed. ``code`` is the gRPC status name, e.g. "NOT_FOUND"."""

    code = "UNKNOWN"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class DaemonUnavailable(ClientError):
    """No daemon answers at the address (not started, or stopped)."""

    code = "UNAVAILABLE"


class NotFound(ClientError):
    """An unknown execution, job, file or task."""

    code = "NOT_FOUND"


class InvalidArgument(ClientError):
    """A malformed request: a bad argument, option, or a workflow that does not load."""

    code = "INVALID_ARGUMENT"


class FailedPrecondition(ClientError):
    """The current state forbids the request (e.g. cancelling a finished run)."""

    code = "FAILED_PRECONDITION"


class Unauthenticated(ClientError):
    """A TCP call without the daemon's token."""

    code = "UNAUTHENTICATED"


class ExecutionError(ClientError):
    """The run did not produce a result.

    Attributes:
        execution_id: the run.
        status: "failed", "cancelled" or "interrupted".
        error_type: the exception's class name, e.g. "ValueError" ("" if none).
        traceback: the formatted traceback ("" if none).
    """

    code = "OK"

    def __init__(
        self,
        message: str,
        *,
        execution_id: str = "",
        status: str = "",
        error_type: str = "",
        traceback: str = "",
    ) -> None:
        super().__init__(message)
        self.execution_id = execution_id
        self.status = status
        self.error_type = error_type
        self.traceback = traceback


class ExecutionFailed(ExecutionError):
    """A task failed, or the workflow did not load."""


class ExecutionCancelled(ExecutionError):
    """The run was cancelled."""


class ExecutionInterrupted(ExecutionError):
    """The daemon died while the run was in flight."""
