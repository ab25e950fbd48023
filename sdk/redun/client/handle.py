"""``ExecutionHandle``: one submitted run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from redun.client.convert import status_name

if TYPE_CHECKING:
    from redun.client.client import Client


class ExecutionHandle:
    """A run submitted to the daemon.

    Attributes:
        id: the execution id (events of the run carry it).
    """

    def __init__(self, client: Client, execution_id: str) -> None:
        self.client = client
        self.id = execution_id

    def events(
        self, *, replay: bool = True, exclude_logs: bool = False
    ) -> Iterator[dict[str, Any]]:
        """The run's events from its start (or from now), ending with ``execution_finished``."""
        return self.client.events(self.id, replay=replay, exclude_logs=exclude_logs)

    def result(self, timeout: float | None = None) -> Any:
        """The run's result (see :meth:`Client.result`)."""
        return self.client.result(self.id, timeout=timeout)

    def cancel(self) -> int:
        """Cancel the run; returns how many jobs were cancelled."""
        return self.client.cancel(self.id)

    def status(self) -> str:
        """ "running", "done", "failed", "cancelled" or "interrupted"."""
        return status_name(self.client.execution(self.id).status)

    def wait(self, timeout: float | None = None) -> str:
        """Wait until the run ends (or ``timeout``); returns its status."""
        response = self.client.get_result(self.id, wait=-1.0 if timeout is None else timeout)
        return status_name(response.status)

    def execution(self, *, include_jobs: bool = False) -> Any:
        return self.client.execution(self.id, include_jobs=include_jobs)

    def __repr__(self) -> str:
        return f"ExecutionHandle({self.id})"
