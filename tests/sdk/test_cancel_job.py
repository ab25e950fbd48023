"""Cancelling one job: an outcome that is never retried, whose resources stay taken
until its work has actually stopped."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from redun import Scheduler, catch, task
from redun.config import Config
from redun.errors import JobCancelled
from redun.scheduler.job import Job, JobState
from tests.conftest import wait_for

redun_namespace = "test_cancel_job"

STARTS: list[str] = []
ORDER: list[str] = []
STARTED = threading.Event()
RELEASE = threading.Event()
SLOW_DONE = threading.Event()


@task(limits=["db"], retries=2, cache=False)
def slow() -> str:
    STARTS.append("slow")
    STARTED.set()
    RELEASE.wait(30)
    ORDER.append("slow ended")
    SLOW_DONE.set()
    return "slow"


@task(limits=["db"], cache=False)
def second() -> str:
    ORDER.append("second started")
    return "second"


@task(cache=False)
def after_slow_started() -> Any:
    # Made only once slow holds the resource, so slow is surely the one that has it.
    STARTED.wait(30)
    return second()


@task(cache=False)
def recover(error: Exception) -> str:
    return f"recovered: {type(error).__name__}"


@task(cache=False)
def main() -> list:
    return [catch(slow(), JobCancelled, recover), after_slow_started()]


@task(cache=False)
def uncaught() -> str:
    return slow()


def start(scheduler: Scheduler, expr: Any) -> tuple[threading.Thread, list]:
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(scheduler.run(expr))
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def job_of(scheduler: Scheduler, name: str) -> Job:
    wait_for(lambda: any(j.task.name == name for j in scheduler.jobs()), f"a {name} job")
    return next(j for j in scheduler.jobs() if j.task.name == name)


@pytest.fixture(autouse=True)
def _reset() -> Any:
    for event in (STARTED, RELEASE, SLOW_DONE):
        event.clear()
    STARTS.clear()
    ORDER.clear()
    yield
    RELEASE.set()  # no slow thread outlives its test
    if STARTED.is_set():
        assert SLOW_DONE.wait(30)


def test_cancelled_job_is_not_retried_and_keeps_its_limits_until_it_stops() -> None:
    scheduler = Scheduler(config=Config({"limits": {"db": "1"}}))
    thread, outcome = start(scheduler, main())
    assert STARTED.wait(30)
    job = job_of(scheduler, "slow")
    scheduler.cancel_job(job, "stop it")
    wait_for(lambda: job.state is JobState.CANCELLED, "the job to be cancelled")
    # Its thread still runs: the one "db" slot is still its own, so second waits.
    RELEASE.set()
    thread.join(30)
    assert outcome == [["recovered: JobCancelled", "second"]]
    assert STARTS == ["slow"], "a cancelled job is never retried"
    assert ORDER == ["slow ended", "second started"]
    assert isinstance(job.error, JobCancelled) and "stop it" in str(job.error)


def test_uncaught_cancellation_fails_the_run_as_cancelled() -> None:
    scheduler = Scheduler(config=Config({"limits": {"db": "1"}}))
    thread, outcome = start(scheduler, uncaught())
    assert STARTED.wait(30)
    job = job_of(scheduler, "slow")
    scheduler.cancel_job(job)
    thread.join(30)
    RELEASE.set()
    (error,) = outcome
    assert isinstance(error, JobCancelled) and job.id in str(error)
    assert job.state is JobState.CANCELLED and STARTS == ["slow"]


def test_a_job_waiting_for_its_limits_can_be_cancelled_and_never_runs() -> None:
    scheduler = Scheduler(config=Config({"limits": {"db": "1"}}))
    thread, outcome = start(scheduler, main())
    assert STARTED.wait(30)
    waiting = job_of(scheduler, "second")
    assert waiting.state is JobState.PENDING
    scheduler.cancel_job(waiting)
    wait_for(lambda: waiting.state is JobState.CANCELLED, "the waiting job to be cancelled")
    RELEASE.set()
    thread.join(30)
    assert SLOW_DONE.wait(30)
    (error,) = outcome
    assert isinstance(error, JobCancelled)
    assert ORDER == ["slow ended"], "the cancelled job never started"


@task(cache=False)
def boom_once_slow_started() -> int:
    assert STARTED.wait(30)
    raise ValueError("the run fails while slow still runs")


def test_work_left_running_by_an_ended_run_keeps_its_limits_into_the_next(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="redun")
    scheduler = Scheduler(config=Config({"limits": {"db": "1"}}))
    with pytest.raises(ValueError, match="slow still runs"):
        scheduler.run([slow(), boom_once_slow_started()])
    assert scheduler.limits_used["db"] == 1, "slow's thread still runs and holds the slot"
    # The next run's job needs the slot: it waits for the old thread, then runs.
    thread, outcome = start(scheduler, second())
    wait_for(
        lambda: any("held by work of an earlier run" in r.getMessage() for r in caplog.records),
        "the scheduler to say what it waits for",
    )
    assert ORDER == []
    RELEASE.set()
    thread.join(30)
    assert outcome == ["second"]
    assert ORDER == ["slow ended", "second started"]
    assert scheduler.limits_used["db"] == 0
