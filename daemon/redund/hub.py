"""Event fan-out: every subscriber gets every event it asked for, coalesced when it lags.

Each subscriber has its own pending queue. A job's newer state replaces its
older, still unsent state (the latest state of a job matters, not every
step), and the replaced event is counted in ``coalesced``. Log events beyond
``max_logs`` pending ones are dropped (and counted) rather than queued. So
what one slow client holds is bounded by the number of jobs in flight plus
``max_logs``, and a client that never reads costs the others nothing.

Runs on the daemon's event loop thread; nothing here blocks.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

from redund.model import Event, JobStateData, LogData

Predicate = Callable[[Event], bool]

DEFAULT_MAX_LOGS = 10_000


class Subscriber:
    """One client's view of the event stream.

    Args:
        accepts: which events this subscriber wants.
        max_logs: how many log events may wait unsent before new ones are dropped.
    """

    def __init__(self, accepts: Predicate, *, max_logs: int = DEFAULT_MAX_LOGS) -> None:
        self.accepts = accepts
        self.max_logs = max_logs
        self.coalesced = 0
        self.closed = False
        self._pending: dict[object, Event] = {}
        self._logs = 0
        self._counter = itertools.count()
        self._wake = asyncio.Event()

    def offer(self, event: Event) -> None:
        """Queue ``event`` if wanted (replacing the same job's unsent state)."""
        if self.closed or not self.accepts(event):
            return
        data = event.data
        pending = self._pending
        if type(data) is JobStateData:
            key: object = (event.execution_id, data.job_id)
            if pending.pop(key, None) is not None:
                self.coalesced += 1
        elif type(data) is LogData:
            if self._logs >= self.max_logs:
                self.coalesced += 1
                return
            self._logs += 1
            key = next(self._counter)
        else:
            key = next(self._counter)
        pending[key] = event
        self._wake.set()

    def take(self, limit: int) -> list[Event]:
        """Up to ``limit`` queued events, oldest first."""
        pending = self._pending
        if not pending:
            return []
        if len(pending) <= limit:
            events = list(pending.values())
            pending.clear()
            self._logs = 0
        else:
            keys = list(itertools.islice(pending, limit))
            events = [pending.pop(key) for key in keys]
            self._logs -= sum(1 for event in events if type(event.data) is LogData)
        if not pending:
            self._wake.clear()
        return events

    def take_coalesced(self) -> int:
        count, self.coalesced = self.coalesced, 0
        return count

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    async def wait(self) -> None:
        """Until something is queued (or the subscriber is closed)."""
        if not self._pending and not self.closed:
            self._wake.clear()
            await self._wake.wait()

    def close(self) -> None:
        """Stop queueing; wakes a waiting reader."""
        self.closed = True
        self._wake.set()


class Hub:
    """Delivers published events to subscribers."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, accepts: Predicate, *, max_logs: int = DEFAULT_MAX_LOGS) -> Subscriber:
        subscriber = Subscriber(accepts, max_logs=max_logs)
        self._subscribers.append(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscriber.close()
        try:
            self._subscribers.remove(subscriber)
        except ValueError:
            pass

    def publish(self, events: list[Event]) -> None:
        for subscriber in self._subscribers:
            offer = subscriber.offer
            for event in events:
                offer(event)

    def close_all(self) -> None:
        for subscriber in list(self._subscribers):
            subscriber.close()
        self._subscribers.clear()

    def __len__(self) -> int:
        return len(self._subscribers)
