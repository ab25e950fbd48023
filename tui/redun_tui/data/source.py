"""The data-source interface the screens use: one for the daemon, one for the database.

A :class:`DataSource` answers blocking calls; screens call it from thread
workers only, never from the UI thread. Streams are :class:`Subscription`
objects: making one never blocks (it connects when iterated), so a screen
makes it on the UI thread, iterates it in a worker, and closes it when it
goes away (closing unblocks the worker).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from redun_tui.data.model import (
    ExecutionInfo,
    FileInfo,
    JobDetail,
    JobInfo,
    LineageGraph,
    LogChunk,
    RunRequest,
    SearchHit,
    TaskInfo,
    ValuePreview,
    WatchInfo,
)
from redun_tui.errors import ReadOnlySource

T = TypeVar("T")


class Subscription(Generic[T]):
    """A stream of batches that another thread can stop.

    Args:
        batches: the batches (a generator over a network stream, or a list).
        on_close: called once by :meth:`close` (e.g. closes the stream's channel).
    """

    def __init__(
        self, batches: Iterable[list[T]], on_close: Callable[[], object] | None = None
    ) -> None:
        self._batches = batches
        self._on_close = on_close
        self.closed = False

    def __iter__(self) -> Iterator[list[T]]:
        for batch in self._batches:
            if self.closed:
                return
            yield batch

    def close(self) -> None:
        """Stop the stream (from any thread); an iteration in progress ends."""
        if self.closed:
            return
        self.closed = True
        if self._on_close is not None:
            self._on_close()


class DataSource(abc.ABC):
    """Where the screens get executions, jobs, logs, lineage and provenance from.

    Attributes:
        live: True when a daemon answers (events stream, actions work).
        description: one line for the title bar, e.g. the daemon's address.
        home: the redun home, when known.
    """

    live: bool = False
    description: str = ""
    home: str | None = None
    generation: int = 0
    """Counts the reconnections: a screen passes the one it saw to :meth:`reconnect`."""

    def reconnect(self, after: int | None = None) -> None:  # noqa: B027 - a database needs none
        """Reach the data again after its stream broke (a daemon restart); blocking.

        Args:
            after: the :attr:`generation` the caller saw when its stream broke; if
                the source has reconnected since (for another screen), nothing is done.

        Raises:
            RedunError: it still does not answer.
        """

    # -- runs ----------------------------------------------------------------
    @abc.abstractmethod
    def executions(self, limit: int = 200) -> list[ExecutionInfo]:
        """Recent executions, newest first."""

    @abc.abstractmethod
    def execution(self, execution_id: str) -> ExecutionInfo: ...

    @abc.abstractmethod
    def follow_execution(self, execution_id: str) -> Subscription[dict[str, Any]]:
        """The execution's events from its start (``job_state`` dicts and the rest), then
        live ones until it finishes."""

    @abc.abstractmethod
    def follow_all(self) -> Subscription[dict[str, Any]]:
        """Live events of every execution, without logs (for the executions list)."""

    @abc.abstractmethod
    def job(self, job_id: str) -> JobDetail: ...

    def jobs(self, execution_id: str) -> list[JobInfo]:
        """Every job of an execution (from its replayed events by default)."""
        latest: dict[str, JobInfo] = {}
        subscription = self.follow_execution(execution_id)
        try:
            for batch in subscription:
                for event in batch:
                    if event.get("type") == "job_state":
                        latest[event["job_id"]] = JobInfo.from_event(event)
        finally:
            subscription.close()
        return list(latest.values())

    @abc.abstractmethod
    def logs(self, job_id: str, *, follow: bool) -> Subscription[LogChunk]: ...

    @abc.abstractmethod
    def watches(self) -> list[WatchInfo]: ...

    # -- actions (the daemon only) ---------------------------------------------------
    def submit(self, request: RunRequest) -> str:
        """Start a run; returns its execution id."""
        raise self._read_only("submit")

    def watch(self, request: RunRequest) -> str:
        """Register a watch; returns its id."""
        raise self._read_only("watch")

    def unwatch(self, watch_id: str) -> None:
        raise self._read_only("unwatch")

    def cancel(self, execution_id: str) -> int:
        """Cancel a running execution; returns how many jobs were cancelled."""
        raise self._read_only("cancel")

    def _read_only(self, action: str) -> ReadOnlySource:
        home = f" --home {self.home}" if self.home else ""
        return ReadOnlySource(
            f"cannot {action}: browsing the database read-only; start the daemon with "
            f"'redund start{home}' and run redun-tui again"
        )

    # -- provenance --------------------------------------------------------------------
    @abc.abstractmethod
    def lineage(self, *, value_hash: str = "", file_path: str = "") -> LineageGraph: ...

    @abc.abstractmethod
    def tasks(self, query: str = "") -> list[TaskInfo]: ...

    @abc.abstractmethod
    def task(self, full_name: str) -> TaskInfo: ...

    @abc.abstractmethod
    def values(self, limit: int = 500) -> list[ValuePreview]: ...

    @abc.abstractmethod
    def value(self, value_hash: str) -> ValuePreview:
        """One value with a longer repr."""

    @abc.abstractmethod
    def files(self, prefix: str = "") -> list[FileInfo]: ...

    @abc.abstractmethod
    def search(self, query: str) -> list[SearchHit]: ...

    def close(self) -> None:  # noqa: B027 - optional: most sources hold nothing to release
        """Release connections and close open streams."""
