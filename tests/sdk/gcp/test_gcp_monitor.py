"""What Batch's job and task states mean: the pure mapping, on responses built from the
package's own message classes (as the service sends them), with no client and no threads."""

from __future__ import annotations

import pytest

batch_v1 = pytest.importorskip("google.cloud.batch_v1")

from redun.executors.gcp_batch.monitor import needs_tasks, report, task_observation  # noqa: E402
from redun.executors.remote.states import Phase  # noqa: E402

NAME = "projects/p/locations/r/jobs/redun-a-0123456789abcdef-01234567"
JobState = batch_v1.JobStatus.State
TaskState = batch_v1.TaskStatus.State


def job(state: str, counts: dict[str, int] | None = None, retries: int = 2, events=()) -> object:
    return batch_v1.Job(
        name=NAME,
        uid="uid-1",
        task_groups=[
            batch_v1.TaskGroup(task_count=3, task_spec=batch_v1.TaskSpec(max_retry_count=retries))
        ],
        status=batch_v1.JobStatus(
            state=JobState[state],
            status_events=[batch_v1.StatusEvent(description=text) for text in events],
            task_groups={"group0": batch_v1.JobStatus.TaskGroupStatus(counts=counts or {})},
        ),
    )


def task(index: int, state: str, *failures: tuple[int, str]) -> object:
    events = [
        batch_v1.StatusEvent(
            description="Task state is updated from ASSIGNED to RUNNING",
            task_state=TaskState.RUNNING,
        )
    ]
    for code, text in failures:
        events.append(
            batch_v1.StatusEvent(
                description=text,
                task_state=TaskState.FAILED,
                task_execution=batch_v1.TaskExecution(exit_code=code),
            )
        )
    return batch_v1.Task(
        name=f"{NAME}/taskGroups/group0/tasks/{index}",
        status=batch_v1.TaskStatus(state=TaskState[state], status_events=events),
    )


PREEMPTED = (
    50001,
    "Task state is updated from RUNNING to FAILED due to Spot VM preemption with exit code 50001.",
)
USER_FAILURE = (1, "Task state is updated from RUNNING to FAILED with exit code 1.")


@pytest.mark.parametrize(
    "state, phase",
    [
        ("QUEUED", Phase.QUEUED),
        ("SCHEDULED", Phase.QUEUED),
        ("RUNNING", Phase.RUNNING),
        ("SUCCEEDED", Phase.SUCCEEDED),
        ("FAILED", Phase.FAILED),
    ],
)
def test_job_states(state, phase) -> None:
    assert report(job(state), None, array=True).phase is phase


def test_an_arrays_elements_come_from_its_tasks() -> None:
    listed = [task(0, "SUCCEEDED"), task(1, "RUNNING"), task(2, "ASSIGNED")]
    made = report(job("RUNNING", {"SUCCEEDED": 1, "RUNNING": 1, "ASSIGNED": 1}), listed, array=True)
    assert {i: o.phase for i, o in made.elements.items()} == {
        0: Phase.SUCCEEDED,
        1: Phase.RUNNING,
        2: Phase.QUEUED,
    }


def test_a_failed_tasks_events_are_its_reason() -> None:
    observed = task_observation(task(0, "FAILED", USER_FAILURE), retries=2, job_final=False)
    assert observed.phase is Phase.FAILED
    assert "from RUNNING to FAILED with exit code 1." in observed.reason


def test_a_preempted_task_waits_while_batch_retries_it_then_fails() -> None:
    once = task(0, "FAILED", PREEMPTED)
    waiting = task_observation(once, retries=2, job_final=False)
    assert waiting.phase is Phase.QUEUED and "retry 1 of 2" in waiting.reason
    thrice = task(0, "FAILED", PREEMPTED, PREEMPTED, PREEMPTED)
    spent = task_observation(thrice, retries=2, job_final=False)
    assert spent.phase is Phase.FAILED and "after 2 retries" in spent.reason
    assert "Spot VM preemption with exit code 50001" in spent.reason
    # once the job has ended, nothing retries it any more
    ended = task_observation(once, retries=2, job_final=True)
    assert ended.phase is Phase.FAILED


def test_a_task_running_again_after_preemption_says_so() -> None:
    observed = task_observation(task(0, "RUNNING", PREEMPTED), retries=2, job_final=False)
    assert observed.phase is Phase.RUNNING
    assert observed.reason.startswith("its spot VM was preempted (exit code 50001)")


def test_a_timeout_and_an_unexecuted_task() -> None:
    timed_out = task(0, "FAILED", (50005, "... exceeded max run duration with exit code 50005"))
    observed = task_observation(timed_out, retries=2, job_final=False)
    assert observed.phase is Phase.FAILED and "longer than its timeout" in observed.reason
    lost = task_observation(task(1, "UNEXECUTED"), retries=0, job_final=True)
    assert lost.phase is Phase.LOST


def test_a_lone_job_follows_its_counts_until_its_task_fails() -> None:
    lone = NAME.replace("redun-a-0123456789abcdef", "redun-" + "ab" * 20)
    running = job("RUNNING", {"RUNNING": 1})
    running.name = lone
    assert report(running, None, array=False).phase is Phase.RUNNING
    assert not needs_tasks(running, ("SCHEDULED", {"ASSIGNED": 1}), array=False)
    back = job("RUNNING", {"PENDING": 1})  # went back: Batch retries it
    assert needs_tasks(back, ("RUNNING", {"RUNNING": 1}), array=False)
    failed = job("FAILED", {"FAILED": 1}, events=["Job state is set from RUNNING to FAILED"])
    assert needs_tasks(failed, ("RUNNING", {"RUNNING": 1}), array=False)
    made = report(failed, [task(0, "FAILED", USER_FAILURE)], array=False)
    assert made.phase is Phase.FAILED and "exit code 1" in made.reason


def test_an_array_is_listed_only_when_something_moved() -> None:
    now = job("RUNNING", {"RUNNING": 2, "PENDING": 1})
    assert needs_tasks(now, None, array=True)
    assert not needs_tasks(now, ("RUNNING", {"RUNNING": 2, "PENDING": 1}), array=True)
    assert needs_tasks(now, ("RUNNING", {"RUNNING": 1, "PENDING": 2}), array=True)
    # no aggregate counts: a queued job has nothing to list, a running one must be listed
    assert not needs_tasks(job("QUEUED"), None, array=True)
    assert needs_tasks(job("RUNNING"), ("RUNNING", {}), array=True)


def test_a_job_deleted_elsewhere_fails_its_calls() -> None:
    made = report(job("DELETION_IN_PROGRESS"), None, array=True)
    assert made.phase is Phase.FAILED and "deleted outside this run" in made.reason


def test_a_cloud_logging_entry_is_a_line_of_a_task() -> None:
    from google.cloud.logging_v2.types import LogEntry

    from redun.executors.gcp_batch.cloudlog import entry_line

    def entry(**fields):
        return LogEntry(log_name="projects/p/logs/batch_task_logs", **fields)

    labels = {"job_uid": "uid-1", "task_id": "task/uid-1-group0-17/0/0"}
    assert entry_line(entry(text_payload="hello", severity=200, labels=labels)) == (
        17,
        "stdout",
        "hello\n",
    )
    assert entry_line(entry(text_payload="oops\n", severity=500, labels=labels)) == (
        17,
        "stderr",
        "oops\n",
    )
    assert entry_line(entry(text_payload="agent", labels={"job_uid": "uid-1"})) is None
