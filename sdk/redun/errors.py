"""Errors raised by redun.

Every error the SDK raises on purpose derives from :class:`RedunError`::

    RedunError
    ├── UsageError              bad input from a user: unknown task, bad argument, bad option
    │   ├── TaskNotFoundError   a task name that is not registered
    │   ├── TaskArgumentError   a call's arguments do not fit the task's signature
    │   ├── TaskOptionError     a task option of the wrong type (``nout="3"``)
    │   └── ConfigError         a malformed redun.ini, or a bad value in it
    ├── ExpressionError         misuse of a lazy expression (e.g. ``if expr:``)
    ├── SchedulerError          the scheduler could not evaluate a workflow
    │   ├── NoCurrentScheduler  ``get_current_scheduler()`` outside a run
    │   ├── JobCancelled        a job was cancelled (an outcome: never retried)
    │   └── ExecutionCancelled  ``Scheduler.cancel()`` stopped the run
    ├── ExecutorError           an executor failed to run a job (not the task's own error)
    ├── InvalidValueError       a value that cannot be kept, or read back
    │   └── HashingError        a value or a piece of code could not be hashed
    ├── BackendError            the cache/provenance database failed
    └── FileError               a File or Dir could not be read, written or hashed

A task's own exception is re-raised unchanged by ``Scheduler.run``, so user
code can ``except ValueError`` as it would without redun.
"""

from __future__ import annotations


class RedunError(Exception):
    """Base class of every error redun raises on purpose."""


class UsageError(RedunError, ValueError):
    """Bad input from a user: an unknown task, a bad argument or option."""


class TaskNotFoundError(UsageError, LookupError):
    """A task name that is not registered."""


class TaskArgumentError(UsageError, TypeError):
    """A call's arguments do not fit the task's signature."""


class TaskOptionError(UsageError, TypeError):
    """A task option of the wrong type or out of range (``nout="3"``, ``nout=-1``)."""


class ConfigError(UsageError):
    """A configuration file that does not parse, or holds a bad value (names file and option)."""


class ExpressionError(RedunError, TypeError):
    """Misuse of a lazy expression."""


class SchedulerError(RedunError):
    """The scheduler could not evaluate a workflow."""


class UnknownOperation(SchedulerError, NotImplementedError):
    """A lazy expression names an operation the scheduler does not have (as redun, a
    ``NotImplementedError`` too)."""


class ExecutorNotConfigured(UsageError, SchedulerError):
    """A task names an executor no config section or ``add_executor`` defines (a
    ``SchedulerError`` too, as redun raises for it)."""


class NoCurrentScheduler(SchedulerError):
    """Raised by ``get_current_scheduler()`` when no scheduler is running."""

    def __init__(self, message: str = "no scheduler is running in this context") -> None:
        super().__init__(message)


class JobCancelled(SchedulerError):
    """A job was cancelled (by a client, or because its run stopped).

    What waited on the job fails with this error. A cancellation is an outcome,
    not a failure to retry: a job with ``retries`` is not run again.
    """


class ExecutionCancelled(SchedulerError):
    """Raised by ``Scheduler.run`` when ``Scheduler.cancel`` stopped the execution."""


class ExecutorError(RedunError):
    """An executor failed to run a job (as opposed to the task raising)."""


class InvalidValueError(RedunError):
    """A value redun cannot keep: it cannot be hashed or recorded, or a stored one
    cannot be read back (its type is gone or changed). ``redun.value`` has it too."""


class HashingError(InvalidValueError, TypeError):
    """A value or a piece of code could not be hashed (a lambda or a function defined
    inside a function as an argument or result: an :class:`InvalidValueError`, as in
    redun)."""


class BackendError(RedunError):
    """The cache and provenance database failed."""


class FileError(RedunError, OSError):
    """A File or Dir could not be read, written or hashed."""
