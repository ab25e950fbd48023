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
