"""The job lifecycle: legal moves, a precise error for the others, and QUEUED in between."""

from __future__ import annotations

import pytest

from redun import task
from redun.scheduler.job import IllegalTransition, Job, JobState


@task(namespace="job_states")
def noop() -> None:
    pass


def job() -> Job:
    return Job(noop, None, None)


def test_a_remote_job_is_queued_then_runs() -> None:
    j = job()
    for state in (JobState.QUEUED, JobState.RUNNING, JobState.DONE):
        j.transition(state)
    assert j.state is JobState.DONE and j.end_time is not None


def test_a_queued_job_can_fail_be_cancelled_or_be_retried() -> None:
    for state in (JobState.FAILED, JobState.CANCELLED, JobState.PENDING):
        j = job()
        j.transition(JobState.QUEUED)
        j.transition(state)
        assert j.state is state


@pytest.mark.parametrize(
    "path",
    [
        (JobState.QUEUED, JobState.DONE),  # it ran: RUNNING comes first
        (JobState.QUEUED, JobState.CACHED),
        (JobState.RUNNING, JobState.QUEUED),
        (JobState.DONE, JobState.QUEUED),
    ],
)
def test_illegal_moves_name_the_job_and_both_states(path) -> None:
    j = job()
    *before, last = path
    for state in before:
        if state is JobState.DONE:
            j.transition(JobState.RUNNING)
        j.transition(state)
    with pytest.raises(
        IllegalTransition, match=rf"\(job_states.noop\) cannot go from \w+ to {last.value}"
    ):
        j.transition(last)


# A worker thread says a job started without waking the scheduler (a short job's
# outcome passes it through RUNNING anyway); the scheduler notices within moments.
_attempts: list[int] = []


@task(namespace="job_states")
def lone_sleeper(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


@task(namespace="job_states", retries=1)
def fails_once(seconds: float) -> str:
    import time

    _attempts.append(1)
    time.sleep(seconds)
    if len(_attempts) == 1:
        raise ValueError("first attempt fails")
    return "second attempt"


def _timeline(scheduler, expr) -> list[tuple[str, str, float]]:
    import time

    from redun.events import JobStateChanged

    seen: list[tuple[str, str, float]] = []

    def watch(event: object) -> None:
        if isinstance(event, JobStateChanged):
            seen.append((event.task, event.state, time.monotonic()))

    scheduler.events.subscribe(watch)
    scheduler.run(expr)
    return seen


def test_a_long_job_is_shown_running_while_it_runs() -> None:
    from redun import Scheduler
    from redun.backends.memory import MemoryBackend

    seen = _timeline(Scheduler(backend=MemoryBackend()), lone_sleeper(0.6))
    mine = [(state, when) for name, state, when in seen if name.endswith("lone_sleeper")]
    states = [state for state, _ in mine]
    assert states == ["pending", "running", "done"]
    # Running was said while the function still slept, not with its outcome.
    assert mine[2][1] - mine[1][1] > 0.4


def test_a_retried_job_is_shown_running_once_per_attempt() -> None:
    from redun import Scheduler
    from redun.backends.memory import MemoryBackend

    _attempts.clear()
    # The first attempt fails before its start is noticed: it is shown running all the same.
    seen = _timeline(Scheduler(backend=MemoryBackend()), fails_once(0.0))
    states = [state for name, state, _ in seen if name.endswith("fails_once")]
    assert states == ["pending", "running", "pending", "running", "done"]


def test_a_job_made_by_hand_moves_as_in_redun() -> None:
    # redun's tests and custom schedulers set eval_args, then resolve or reject.
    from redun.promise import Promise

    @task(namespace="job_states_by_hand")
    def ten() -> int:
        return 10

    job = Job(ten, ten())
    assert job.status == "PENDING"
    job.eval_args = ((1,), {"k": 2})
    assert job.status == "RUNNING" and job.args == ((1,), {"k": 2})
    job.promise = Promise()
    job.resolve(10)
    assert job.status == "DONE" and job.result == 10 and job.promise.value == 10

    failing = Job(ten, ten())
    failing.eval_args = ((), {})
    error = ValueError("no")
    failing.reject(error)
    assert failing.status == "FAILED" and failing.error is error
