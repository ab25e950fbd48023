"""An observer's bug does not stop the run: subscribers are isolated, and every
step of a run's cleanup happens even when one before it fails."""

from __future__ import annotations

import gc
import logging
import threading
import time
import weakref
from pathlib import Path

import pytest

from redun import Scheduler, task
from redun.backends import MemoryBackend
from redun.backends.queries import StoreReader
from redun.config import Config
from redun.errors import BackendError
from redun.events import Event, EventBus, ExecutionFinished, JobStateChanged

redun_namespace = "test_run_cleanup"


@task
def inc(x: int) -> int:
    return x + 1


@task
def fanout(n: int) -> list:
    return [inc(i) for i in range(n)]


class Raises:
    """A subscriber that raises on events of one type (all, if None)."""

    def __init__(self, kind: type | None = None) -> None:
        self.kind = kind
        self.calls = 0

    def __call__(self, event: Event) -> None:
        self.calls += 1
        if self.kind is None or isinstance(event, self.kind):
            raise RuntimeError(f"subscriber bug on {event.type}")


def test_bus_isolates_and_logs_each_subscriber(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    seen: list[str] = []
    bad = Raises()
    bus.subscribe(bad)
    bus.subscribe(lambda event: seen.append(event.type))
    with caplog.at_level(logging.DEBUG, logger="redun"):
        for _ in range(3):
            bus.emit(ExecutionFinished("x"))
    assert seen == ["execution_finished"] * 3, "the others still get every event"
    assert bad.calls == 3
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "subscriber bug" in (errors[0].exc_text or "")
    assert sum("failed again" in r.getMessage() for r in caplog.records) == 2


def test_a_raising_subscriber_does_not_brick_the_scheduler(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/redun.db"
    scheduler = Scheduler(config=Config({"backend": {"db_uri": url}}))
    scheduler.events.subscribe(Raises(ExecutionFinished))
    scheduler.events.subscribe(Raises(JobStateChanged))
    assert scheduler.run(fanout(3)) == [1, 2, 3]
    assert not scheduler.is_running
    assert scheduler.run(fanout(4)) == [1, 2, 3, 4], "the next run is not refused"
    scheduler.backend.close()
    # The recorder's final commit happened: both executions are closed as done.
    statuses = [e.status for e in StoreReader(scheduler.backend).executions()]
    assert statuses == ["done", "done"]


class FailingRecorder:
    def __call__(self, event: Event) -> None:
        pass

    def close(self) -> None:
        raise BackendError("the final commit failed")


class FailingCommitBackend(MemoryBackend):
    """A memory store whose recorder's final commit fails."""

    def recorder(self, scheduler: object) -> FailingRecorder:
        return FailingRecorder()


def test_a_failing_final_commit_is_raised_and_the_scheduler_is_free() -> None:
    scheduler = Scheduler(backend=FailingCommitBackend())
    finished: list[str] = []
    scheduler.events.subscribe(
        lambda event: (
            finished.append(event.status) if isinstance(event, ExecutionFinished) else None
        )
    )
    with pytest.raises(BackendError, match="final commit"):
        scheduler.run(inc(1))
    assert finished == ["done"], "ExecutionFinished went out before the commit"
    assert not scheduler.is_running
    with pytest.raises(BackendError):
        scheduler.run(inc(2))  # runs (not "already running"), and fails the same way


@task
async def twice(x: int) -> int:
    return 2 * x


@task
def threads_and_async(n: int) -> list:
    return [fanout(n), twice(n)]


def _run_and_drop(n: int) -> weakref.ref:
    scheduler = Scheduler(backend=MemoryBackend())
    assert scheduler.run(threads_and_async(n)) == [[i + 1 for i in range(n)], 2 * n]
    return weakref.ref(scheduler)


def test_a_dropped_scheduler_frees_its_threads_and_jobs() -> None:
    """Worker threads and the async loop outlive a run, not their scheduler: a script
    or a test suite that makes many schedulers keeps neither their threads nor their
    job graphs (each of these schedulers started a dozen threads and an event loop)."""
    before = threading.active_count()
    refs = [_run_and_drop(12) for _ in range(10)]
    gc.collect()
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        alive = [ref for ref in refs if ref() is not None]
        # The last one may still be the thread's current scheduler, as in redun.
        if len(alive) <= 1 and threading.active_count() <= before + 14:
            break
        time.sleep(0.05)
        gc.collect()
    assert len([ref for ref in refs if ref() is not None]) <= 1
    assert threading.active_count() <= before + 14, [t.name for t in threading.enumerate()]
