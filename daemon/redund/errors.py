"""Errors of the daemon's domain; the servicer maps each to one gRPC status.

::

    RedunError
    └── DaemonError
        ├── InvalidRequest       malformed request          -> INVALID_ARGUMENT
        ├── NotFoundError        unknown id, file or task   -> NOT_FOUND
        ├── PreconditionError    the state forbids it       -> FAILED_PRECONDITION
        ├── AuthError            missing or wrong token     -> UNAUTHENTICATED
        ├── NotImplementedYet    an RPC not built yet       -> UNIMPLEMENTED
        └── StartError           the daemon cannot start (CLI exit 1 or 2)

Anything else a request raises is a bug: it becomes INTERNAL (and is logged),
never a crash of the daemon.
"""

from __future__ import annotations

from redun.errors import RedunError


class DaemonError(RedunError):
    """Base of the daemon's errors."""


class InvalidRequest(DaemonError):
    """A malformed or impossible request: bad arguments, options, an unloadable workflow."""


class NotFoundError(DaemonError):
    """An unknown execution, job, watch, file or task."""


class PreconditionError(DaemonError):
    """The current state forbids the request (e.g. cancelling a finished execution)."""


class AuthError(DaemonError):
    """A TCP call without the right token."""


class NotImplementedYet(DaemonError):
    """An RPC of the contract that this daemon does not serve yet."""


class StartError(DaemonError):
    """The daemon cannot start (bad listen address, home not writable...).

    ``usage`` is True for bad command-line input (exit code 2).
    """

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage
