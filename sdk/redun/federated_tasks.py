"""Federated tasks (redun's entrypoints published by other teams' configs): not supported.

The names exist so code that imports them still loads; calling one raises
:class:`FederatedTasksNotSupported` with what to do instead. A federated task
in redun runs a task defined in another repository's config, launched through
AWS Lambda or a REST proxy; here, import that workflow's module and call its
task, or submit it to the daemon (``redun submit``).
"""

from __future__ import annotations

from typing import Any

from redun.errors import UsageError

__all__ = [
    "FederatedTasksNotSupported",
    "federated_task",
    "lambda_federated_task",
    "launch_federated_task",
    "rest_federated_task",
]


class FederatedTasksNotSupported(UsageError, NotImplementedError):
    """Raised by every federated-task entry point."""


def _unsupported(name: str) -> FederatedTasksNotSupported:
    return FederatedTasksNotSupported(
        f"{name}() is not supported by this engine: federated tasks (entrypoints from "
        "another config, launched via AWS Lambda or a REST proxy) are not implemented. "
        "Import the workflow's module and call its task, or run it with 'redun submit'."
    )


def federated_task(*args: Any, **kwargs: Any) -> Any:
    """Not supported: raises :class:`FederatedTasksNotSupported`."""
    raise _unsupported("federated_task")


def lambda_federated_task(*args: Any, **kwargs: Any) -> Any:
    """Not supported: raises :class:`FederatedTasksNotSupported`."""
    raise _unsupported("lambda_federated_task")


def rest_federated_task(*args: Any, **kwargs: Any) -> Any:
    """Not supported: raises :class:`FederatedTasksNotSupported`."""
    raise _unsupported("rest_federated_task")


def launch_federated_task(*args: Any, **kwargs: Any) -> Any:
    """Not supported: raises :class:`FederatedTasksNotSupported`."""
    raise _unsupported("launch_federated_task")
