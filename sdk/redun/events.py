"""Typed events the scheduler emits, and the bus that delivers them.

Every observer of a run (the CLI progress display, the database recorder, the
daemon's event streams) subscribes to an :class:`EventBus`; the scheduler
knows none of them. Events are emitted on the scheduler's own thread, in
order; a subscriber that needs to do slow work hands it to its own thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redun.scheduler.job import Job


@dataclass(slots=True)
class Event:
    """Base of all events. ``time`` is seconds since the epoch."""

    execution_id: str
    time: float = field(default_factory=time.time, kw_only=True)

    type = "event"


@dataclass(slots=True)
class ExecutionStarted(Event):
    """An execution began evaluating ``expr`` (its repr)."""

    expr: str = ""
    argv: list[str] = field(default_factory=list)

    type = "execution_started"


@dataclass(slots=True)
class ExecutionFinished(Event):
    """An execution ended: ``status`` is done, failed or cancelled."""

    status: str = "done"
    error: str | None = None
    result_repr: str | None = None

    type = "execution_finished"


@dataclass(slots=True)
class JobStateChanged(Event):
    """A job moved to ``state`` (pending, running, cached, done, failed, cancelled).

    ``job`` is the live job object for in-process subscribers; the other fields are
    plain data for the wire.
    """

    job_id: str = ""
    task: str = ""
    state: str = ""
    parent_job_id: str | None = None
    executor: str = ""
    cached: bool = False
    reason: str = ""
    job: Job | None = field(default=None, repr=False)

    type = "job_state"


@dataclass(slots=True)
class LogLine(Event):
    """A line a job wrote to ``stream`` (stdout or stderr)."""

    job_id: str = ""
    stream: str = "stdout"
    text: str = ""

    type = "log"


@dataclass(slots=True)
class WatchTriggered(Event):
    """A watched file changed and its workflow is re-run."""

    watch_id: str = ""
    changed_paths: list[str] = field(default_factory=list)

    type = "watch_triggered"


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
