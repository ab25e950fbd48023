"""Event fan-out: every subscriber gets every event it asked for, folded only when it lags.

Each subscriber has its own pending queue. A client that keeps up gets every
event, every state of every job, in order with no gaps in ``seq``. Only when
more than ``fold_after`` events wait for a subscriber (it lags: its stream is
blocked on a slow reader) does a job's newer state replace its older, still
unsent one (the latest state of a job matters, not every step); the event
that replaced others says how many (``folded``), and the batch counts them in
``coalesced``. Log events beyond ``max_logs`` pending ones, or ``max_log_chars``
characters, are dropped (and counted) rather than queued. So what one slow
client holds is bounded by ``fold_after`` plus the number of jobs plus the
log bounds, and a client that never reads costs the others nothing.

Runs on the daemon's event loop thread; nothing here blocks.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

from redund.model import Event, JobStateData, LogData

Predicate = Callable[[Event], bool]

DEFAULT_MAX_LOGS = 10_000
DEFAULT_MAX_LOG_CHARS = 8 << 20
DEFAULT_FOLD_AFTER = 10_000


class Subscriber:
    """One client's view of the event stream.

    Args:
        accepts: which events this subscriber wants.
        max_logs: how many log events may wait unsent before new ones are dropped.
        max_log_chars: how many characters of output may wait unsent.
        fold_after: how many events may wait before a job's states are folded.
    """

    def __init__(
        self,
        accepts: Predicate,
        *,
        max_logs: int = DEFAULT_MAX_LOGS,
        max_log_chars: int = DEFAULT_MAX_LOG_CHARS,
        fold_after: int = DEFAULT_FOLD_AFTER,
    ) -> None:
        self.accepts = accepts
        self.max_logs = max_logs
        self.max_log_chars = max_log_chars
        self.fold_after = fold_after
        self.coalesced = 0
        self.closed = False
        self._pending: dict[int, Event] = {}
        self._latest: dict[tuple[str, str], int] = {}  # job -> key of its pending state
        self._logs = 0
        self._log_chars = 0
        self._counter = itertools.count()
        self._wake = asyncio.Event()

    def offer(self, event: Event) -> None:
        """Queue ``event`` if wanted (folding the same job's unsent state when lagging)."""
        if self.closed or not self.accepts(event):
            return
        data = event.data
        pending = self._pending
        key = next(self._counter)
        if type(data) is JobStateData:
            job = (event.execution_id, data.job_id)
            older_key = self._latest.get(job)
            self._latest[job] = key
            if older_key is not None and len(pending) >= self.fold_after:
                older = pending.pop(older_key, None)
                if older is not None:
                    folded = older.folded + 1
                    self.coalesced += 1
                    event = event.with_folded(folded)
        elif type(data) is LogData:
            size = len(data.text)
            if self._logs >= self.max_logs or self._log_chars + size > self.max_log_chars:
                self.coalesced += 1
                return
            self._logs += 1
            self._log_chars += size
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
            self._latest.clear()
            self._logs = self._log_chars = 0
        else:
            keys = list(itertools.islice(pending, limit))
            events = [pending.pop(key) for key in keys]
            latest = self._latest
            for event in events:
                data = event.data
                if type(data) is LogData:
                    self._logs -= 1
                    self._log_chars -= len(data.text)
                elif type(data) is JobStateData:
                    job = (event.execution_id, data.job_id)
                    if latest.get(job) is not None and latest[job] not in pending:
                        del latest[job]
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

    def subscribe(self, accepts: Predicate, **bounds: int) -> Subscriber:
        """A new subscriber (``bounds``: ``max_logs``, ``max_log_chars``, ``fold_after``)."""
        subscriber = Subscriber(accepts, **bounds)
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
