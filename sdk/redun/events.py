"""Typed events the scheduler emits, and the bus that delivers them.

Every observer of a run (the CLI progress display, the database recorder, the
daemon's event streams) subscribes to an :class:`EventBus`; the scheduler
knows none of them. Events are emitted on the scheduler's own thread, in
order; a subscriber that needs to do slow work hands it to its own thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import time as _now
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redun.scheduler.job import Job


class Event:
    """Base of all events. ``time`` is seconds since the epoch (now, unless given).

    Events are plain slotted classes written out by hand rather than dataclasses:
    they are built on every run's import path, where generating a dataclass's
    methods costs more than the rest of this module. ``_fields`` names the fields
    in constructor order; equality and repr follow it.
    """

    __slots__ = ("execution_id", "time")
    _fields: tuple[str, ...] = ("execution_id",)
    _hidden: tuple[str, ...] = ()  # fields left out of repr
    type = "event"

    def __init__(self, execution_id: str, *, time: float | None = None) -> None:
        self.execution_id = execution_id
        self.time = _now() if time is None else time

    def __repr__(self) -> str:
        shown = [
            f"{name}={getattr(self, name)!r}" for name in self._fields if name not in self._hidden
        ]
        shown.insert(1, f"time={self.time!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self.time == other.time and all(  # type: ignore[attr-defined]
            getattr(self, name) == getattr(other, name) for name in self._fields
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value


class ExecutionStarted(Event):
    """An execution began evaluating ``expr`` (its repr)."""

    __slots__ = ("expr", "argv")
    _fields = ("execution_id", "expr", "argv")
    type = "execution_started"

    def __init__(
        self,
        execution_id: str,
        expr: str = "",
        argv: list[str] | None = None,
        *,
        time: float | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.time = _now() if time is None else time
        self.expr = expr
        self.argv = [] if argv is None else argv


class ExecutionFinished(Event):
    """An execution ended: ``status`` is done, failed or cancelled."""

    __slots__ = ("status", "error", "result_repr")
    _fields = ("execution_id", "status", "error", "result_repr")
    type = "execution_finished"

    def __init__(
        self,
        execution_id: str,
        status: str = "done",
        error: str | None = None,
        result_repr: str | None = None,
        *,
        time: float | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.time = _now() if time is None else time
        self.status = status
        self.error = error
        self.result_repr = result_repr


class JobStateChanged(Event):
    """A job moved to ``state`` (pending, running, cached, done, failed, cancelled).

    ``job`` is the live job object for in-process subscribers; the other fields are
    plain data for the wire.
    """

    __slots__ = ("job_id", "task", "state", "parent_job_id", "executor", "cached", "reason", "job")
    _fields = (
        "execution_id",
        "job_id",
        "task",
        "state",
        "parent_job_id",
        "executor",
        "cached",
        "reason",
        "job",
    )
    _hidden = ("job",)
    type = "job_state"

    def __init__(
        self,
        execution_id: str,
        job_id: str = "",
        task: str = "",
        state: str = "",
        parent_job_id: str | None = None,
        executor: str = "",
        cached: bool = False,
        reason: str = "",
        job: Job | None = None,
        *,
        time: float | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.time = _now() if time is None else time
        self.job_id = job_id
        self.task = task
        self.state = state
        self.parent_job_id = parent_job_id
        self.executor = executor
        self.cached = cached
        self.reason = reason
        self.job = job


class LogLine(Event):
    """A line a job wrote to ``stream`` (stdout or stderr)."""

    __slots__ = ("job_id", "stream", "text")
    _fields = ("execution_id", "job_id", "stream", "text")
    type = "log"

    def __init__(
        self,
        execution_id: str,
        job_id: str = "",
        stream: str = "stdout",
        text: str = "",
        *,
        time: float | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.time = _now() if time is None else time
        self.job_id = job_id
        self.stream = stream
        self.text = text


class WatchTriggered(Event):
    """A watched file changed and its workflow is re-run."""

    __slots__ = ("watch_id", "changed_paths")
    _fields = ("execution_id", "watch_id", "changed_paths")
    type = "watch_triggered"

    def __init__(
        self,
        execution_id: str,
        watch_id: str = "",
        changed_paths: list[str] | None = None,
        *,
        time: float | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.time = _now() if time is None else time
        self.watch_id = watch_id
        self.changed_paths = [] if changed_paths is None else changed_paths


Subscriber = Callable[[Event], Any]

logger = logging.getLogger("redun")


class EventBus:
    """Delivers events to subscribers in order, on the emitting thread.

    Each subscriber is isolated: one that raises is logged (its first failure
    with the traceback, later ones at debug level) and the event still reaches
    the others. An observer's bug must not stop the run it observes.

    Job states are the one event per state change of every job, so the bus has a
    cheaper path for them: an in-process observer that only needs the job itself
    registers with :meth:`observe_jobs` (and subscribes with ``job_states=False``
    for the other events); it is called with the live :class:`~redun.scheduler.job.Job`,
    and no :class:`JobStateChanged` is built unless a subscriber asks for them.
    """

    __slots__ = ("_subscribers", "_job_subscribers", "_observers", "_failures")

    def __init__(self) -> None:
        self._subscribers: tuple[Subscriber, ...] = ()  # every event but job states
        self._job_subscribers: tuple[Subscriber, ...] = ()  # JobStateChanged events
        self._observers: tuple[Callable[[Job], Any], ...] = ()  # the job, on each change
        self._failures: dict[int, int] = {}  # id(subscriber) -> events it raised on

    def subscribe(self, subscriber: Subscriber, *, job_states: bool = True) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it. With ``job_states=False``
        it gets every event but :class:`JobStateChanged` (see :meth:`observe_jobs`)."""
        self._subscribers = (*self._subscribers, subscriber)
        if job_states:
            self._job_subscribers = (*self._job_subscribers, subscriber)

        def unsubscribe() -> None:
            self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)
            self._job_subscribers = tuple(s for s in self._job_subscribers if s is not subscriber)

        return unsubscribe

    def observe_jobs(self, observer: Callable[[Job], Any]) -> Callable[[], None]:
        """Call ``observer(job)`` each time a job changes state (the job's fields say
        how); returns a function that removes it."""
        self._observers = (*self._observers, observer)

        def unsubscribe() -> None:
            self._observers = tuple(o for o in self._observers if o is not observer)

        return unsubscribe

    def attach(self, listener: Subscriber) -> Callable[[], None]:
        """Subscribe ``listener``; if it has a ``job_changed(job)`` method, job states
        reach it through that (:meth:`observe_jobs`) instead of as events. Returns a
        function that removes it."""
        job_changed = getattr(listener, "job_changed", None)
        if job_changed is None:
            return self.subscribe(listener)
        unobserve = self.observe_jobs(job_changed)
        unsubscribe = self.subscribe(listener, job_states=False)

        def detach() -> None:
            unobserve()
            unsubscribe()

        return detach

    @property
    def active(self) -> bool:
        """True if anyone listens (lets emitters skip building events)."""
        return bool(self._subscribers or self._observers)

    @property
    def watches_jobs(self) -> bool:
        """True if anyone wants job state changes."""
        return bool(self._job_subscribers or self._observers)

    def emit(self, event: Event) -> None:
        if type(event) is JobStateChanged:
            job = event.job
            if job is not None:
                for observer in self._observers:
                    try:
                        observer(job)
                    except Exception:
                        self._failed(observer, event.type)
            subscribers = self._job_subscribers
        else:
            subscribers = self._subscribers
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                self._failed(subscriber, event.type)

    def job_changed(self, job: Job, event_for: Callable[[Job], JobStateChanged]) -> None:
        """``job`` changed state: observers get the job, and subscribers of job states
        the event ``event_for(job)`` builds (only if there are any)."""
        for observer in self._observers:
            try:
                observer(job)
            except Exception:
                self._failed(observer, JobStateChanged.type)
        subscribers = self._job_subscribers
        if subscribers:
            event = event_for(job)
            for subscriber in subscribers:
                try:
                    subscriber(event)
                except Exception:
                    self._failed(subscriber, event.type)

    def _failed(self, subscriber: Callable[..., Any], event_type: str) -> None:
        count = self._failures.get(id(subscriber), 0) + 1
        self._failures[id(subscriber)] = count
        if count == 1:
            logger.exception(
                "event subscriber %r failed on a %s event; the run goes on without it "
                "(later failures are logged at debug level)",
                subscriber,
                event_type,
            )
        else:
            logger.debug("event subscriber %r failed again (%d times)", subscriber, count)


def event_to_dict(event: Event) -> dict[str, Any]:
    """Plain-data form of an event (the ``redun events --json`` shape)."""
    data: dict[str, Any] = {"type": event.type}
    for name in event.__slots__:  # type: ignore[attr-defined]
        if name == "job":
            continue
        data[name] = getattr(event, name)
    data["time"] = event.time
    return data
