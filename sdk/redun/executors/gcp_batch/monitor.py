"""What GCP Batch's job and task states mean for redun's jobs: pure functions of the responses.

A Batch job holds one task group; a lone call is a job of one task, an array
of N calls a job of N tasks (element i = task i). States map so:

==========================  ==========================================
Batch                       redun
==========================  ==========================================
job QUEUED, SCHEDULED       queued
task PENDING, ASSIGNED      queued
task RUNNING                running
task SUCCEEDED              succeeded (the outcome is in the scratch)
task FAILED                 failed: its status events are the reason
task FAILED, VM lost        queued while Batch retries it (``max_retry_count``),
                            failed once the retries are spent
task UNEXECUTED             lost (the job ended before it ran): retried
job deleted or cancelled    failed (not by this run: a cancelled run forgets its jobs)
==========================  ==========================================

The functions take the package's own message objects (``batch_v1.Job``,
``batch_v1.Task``) and do no I/O: they are tested on recorded responses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from redun.executors.gcp_batch.request import (
    INFRASTRUCTURE_EXIT_CODES,
    MAX_RUN_DURATION_EXCEEDED,
    PREEMPTED,
)
from redun.executors.remote.states import Observation, Phase, Report

EVENTS_IN_REASON = 4
"""The last status events of a failed task that make up its reason."""

_EXIT_MEANING = {
    PREEMPTED: "its spot VM was preempted",
    50002: "its VM stopped reporting to Batch",
    50003: "its VM was rebooted",
    50004: "its VM became unresponsive",
    MAX_RUN_DURATION_EXCEEDED: "it ran longer than its timeout (max_run_duration)",
    50006: "its VM was recreated",
}

_JOB_PHASES = {
    "STATE_UNSPECIFIED": Phase.QUEUED,
    "QUEUED": Phase.QUEUED,
    "SCHEDULED": Phase.QUEUED,
    "RUNNING": Phase.RUNNING,
    "SUCCEEDED": Phase.SUCCEEDED,
    "FAILED": Phase.FAILED,
    "DELETION_IN_PROGRESS": Phase.FAILED,
    "CANCELLATION_IN_PROGRESS": Phase.FAILED,
    "CANCELLED": Phase.FAILED,
}


def state_name(state: Any) -> str:
    """The name of a proto-plus enum value (or of a plain int/str state)."""
    return str(getattr(state, "name", state))


def job_phase(job: Any) -> Phase:
    """The whole job's phase."""
    return _JOB_PHASES.get(state_name(job.status.state), Phase.QUEUED)


def job_is_final(job: Any) -> bool:
    return state_name(job.status.state) in ("SUCCEEDED", "FAILED", "CANCELLED")


def task_counts(job: Any) -> dict[str, int]:
    """Tasks per state from the job's aggregated status (empty if Batch gave none)."""
    counts: dict[str, int] = {}
    for group in job.status.task_groups.values():
        for state, count in group.counts.items():
            counts[state] = counts.get(state, 0) + int(count)
    return counts


def task_index(task: Any) -> int:
    """The index of a task from its name (``.../taskGroups/group0/tasks/<index>``)."""
    return int(str(task.name).rsplit("/", 1)[-1])


def max_retries(job: Any) -> int:
    groups = list(job.task_groups)
    return int(groups[0].task_spec.max_retry_count) if groups else 0


def _failures(task: Any) -> list[Any]:
    return [e for e in task.status.status_events if state_name(e.task_state) == "FAILED"]


def _exit_code(event: Any) -> int | None:
    if "task_execution" not in event:  # proto-plus: is the field set?
        return None
    return int(event.task_execution.exit_code)


def events_text(events: Iterable[Any], last: int = EVENTS_IN_REASON) -> str:
    """The descriptions of the last ``last`` status events, one per line."""
    lines = [str(event.description).strip() for event in events if str(event.description).strip()]
    return "\n".join(lines[-last:])


def task_observation(task: Any, *, retries: int, job_final: bool) -> Observation:
    """What one task's status means (see the module's table)."""
    state = state_name(task.status.state)
    if state in ("PENDING", "ASSIGNED", "STATE_UNSPECIFIED"):
        return Observation(Phase.QUEUED, _retry_note(task, retries))
    if state == "RUNNING":
        return Observation(Phase.RUNNING, _retry_note(task, retries))
    if state == "SUCCEEDED":
        return Observation(Phase.SUCCEEDED)
    if state == "UNEXECUTED":
        return Observation(Phase.LOST, "the Batch job ended before this task ran")
    failures = _failures(task)
    code = _exit_code(failures[-1]) if failures else None
    events = events_text(task.status.status_events)
    if code in INFRASTRUCTURE_EXIT_CODES:
        meaning = _EXIT_MEANING[code]
        if len(failures) <= retries and not job_final:
            return Observation(
                Phase.QUEUED,
                f"{meaning} (exit code {code}); Batch runs it again "
                f"(retry {len(failures)} of {retries})",
            )
        spent = f"after {len(failures) - 1} retries" if retries else "and retries = 0"
        return Observation(
            Phase.FAILED, f"{meaning} (exit code {code}) {spent}; Batch said:\n{events}"
        )
    if code == MAX_RUN_DURATION_EXCEEDED:
        return Observation(Phase.FAILED, f"{_EXIT_MEANING[code]}; Batch said:\n{events}")
    return Observation(Phase.FAILED, f"Batch said:\n{events}" if events else "")


def _retry_note(task: Any, retries: int) -> str:
    failures = _failures(task)
    if not failures:
        return ""
    code = _exit_code(failures[-1])
    meaning = _EXIT_MEANING.get(code or 0, "it failed")
    return f"{meaning} (exit code {code}); Batch runs it again (retry {len(failures)} of {retries})"


def report(job: Any, tasks: Iterable[Any] | None, *, array: bool) -> Report:
    """The report of one Batch job from its status and (if listed) its tasks.

    Args:
        job: the ``batch_v1.Job``.
        tasks: its tasks, or None when they were not listed this time (an
            array's elements then follow the whole job, a lone job its counts).
        array: True for an array submission (element i = task i).
    """
    phase = job_phase(job)
    reason = ""
    state = state_name(job.status.state)
    if state in ("DELETION_IN_PROGRESS", "CANCELLATION_IN_PROGRESS", "CANCELLED"):
        reason = f"the Batch job was {'deleted' if 'DELETION' in state else 'cancelled'} outside this run"
        return Report(phase, reason)
    if phase is Phase.FAILED:
        reason = events_text(job.status.status_events, 2)
    final = job_is_final(job)
    retries = max_retries(job)
    elements = {
        task_index(task): task_observation(task, retries=retries, job_final=final)
        for task in tasks or ()
    }
    if array:
        return Report(phase, reason, elements)
    if 0 in elements:
        observed = elements[0]
        return Report(observed.phase, observed.reason)
    if phase is Phase.RUNNING:
        counts = task_counts(job)
        if counts.get("RUNNING"):
            return Report(Phase.RUNNING)
        if counts.get("SUCCEEDED"):
            return Report(Phase.SUCCEEDED)
        return Report(Phase.QUEUED)
    return Report(phase, reason)


def needs_tasks(job: Any, before: tuple[str, dict[str, int]] | None, *, array: bool) -> bool:
    """True if the job's tasks must be listed to know its elements.

    Args:
        job: the ``batch_v1.Job`` just read.
        before: ``(state, task counts)`` at the last poll, or None.
        array: True for an array submission.
    """
    counts = task_counts(job)
    if not counts:  # no aggregate: only the tasks can tell
        return job_phase(job) is not Phase.QUEUED
    if before is not None and before == (state_name(job.status.state), counts):
        return False  # nothing moved since the last poll
    if not array:
        # A lone job's counts say queued, running or succeeded. A failure needs its events,
        # and so does a task that went back (Batch retries it): they say why.
        went_back = before is not None and _progress(counts) < _progress(before[1])
        return bool(counts.get("FAILED")) or job_phase(job) is Phase.FAILED or went_back
    return True


_PROGRESS = {"PENDING": 0, "ASSIGNED": 1, "RUNNING": 2, "SUCCEEDED": 3}


def _progress(counts: dict[str, int]) -> int:
    return max((_PROGRESS.get(state, 0) for state, n in counts.items() if n), default=0)


def listing_key(job: Any) -> tuple[str, dict[str, int]]:
    """What :func:`needs_tasks` compares: the job's state and its task counts."""
    return state_name(job.status.state), task_counts(job)
