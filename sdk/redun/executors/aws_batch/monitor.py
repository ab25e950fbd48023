"""What AWS Batch's job states mean for redun's jobs: pure functions of ``describe_jobs``.

==========================================  ==========================================
AWS Batch (a job, or an array's child)      redun
==========================================  ==========================================
SUBMITTED, PENDING, RUNNABLE, STARTING      queued (RUNNABLE too long: a warning note)
RUNNING                                     running
SUCCEEDED                                   succeeded (the outcome is in the scratch)
FAILED, host terminated / spot reclaimed    lost: redun retries it up to ``retries``
FAILED, attempt duration exceeded           failed: it ran longer than its timeout
FAILED, anything else                       failed, with ``statusReason`` and exit code
==========================================  ==========================================

An array's parent is never waited on (a failed child leaves it non-terminal
for a while): its ``statusSummary`` only says whether its children moved
since the last poll, and the children (``<arrayJobId>:<index>``) are
described themselves. The functions take the response dictionaries and do no
I/O: they are tested on recorded responses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from redun.executors.remote.states import Observation, Phase

QUEUED_STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING")
ACTIVE_STATES = (*QUEUED_STATES, "RUNNING")
FINAL_STATES = ("SUCCEEDED", "FAILED")

_HOST_LOST = re.compile(
    r"^Host EC2 \(instance [^)]*\) terminated|spot (instance|task).*(interrupt|reclaim|terminat)"
    r"|^Your Spot Task was interrupted",
    re.IGNORECASE,
)
_TIMED_OUT = re.compile(r"attempt duration exceeded", re.IGNORECASE)


def is_host_lost(reason: str) -> bool:
    """True if AWS says the job's host went away (spot reclaim, instance terminated)."""
    return bool(_HOST_LOST.search(reason or ""))


def failure_text(job: Mapping[str, Any]) -> str:
    """AWS's words about a failed job: its statusReason, the container's reason, exit code."""
    parts = []
    reason = str(job.get("statusReason") or "").strip()
    if reason:
        parts.append(f"statusReason: {reason}")
    container = job.get("container") or {}
    if container.get("reason"):
        parts.append(f"container: {container['reason']}")
    if container.get("exitCode") is not None:
        parts.append(f"exit code {container['exitCode']}")
    return "; ".join(parts)


def observe(
    job: Mapping[str, Any], *, runnable_for: float | None = None, warn_after: float = 900.0
) -> Observation:
    """What one described job (or array child) means (see the module's table).

    Args:
        job: one entry of ``describe_jobs``' ``jobs``.
        runnable_for: seconds this job has been seen RUNNABLE, if it is.
        warn_after: RUNNABLE longer than this earns a warning note.
    """
    status = str(job.get("status") or "SUBMITTED")
    if status in QUEUED_STATES:
        if status == "RUNNABLE" and runnable_for is not None and runnable_for >= warn_after:
            return Observation(Phase.QUEUED, stuck_warning(warn_after, job))
        return Observation(Phase.QUEUED)
    if status == "RUNNING":
        return Observation(Phase.RUNNING)
    if status == "SUCCEEDED":
        return Observation(Phase.SUCCEEDED)
    reason = str(job.get("statusReason") or "")
    words = failure_text(job)
    if is_host_lost(reason):
        return Observation(Phase.LOST, f"AWS Batch lost its host ({words})")
    if _TIMED_OUT.search(reason):
        seconds = (job.get("timeout") or {}).get("attemptDurationSeconds")
        limit = f" ({seconds} s)" if seconds else ""
        return Observation(Phase.FAILED, f"it ran longer than its timeout{limit}; {words}")
    return Observation(Phase.FAILED, f"AWS Batch said: {words}" if words else "")


def stuck_warning(seconds: float, job: Mapping[str, Any]) -> str:
    queue = str(job.get("jobQueue") or "its queue").rsplit("/", 1)[-1]
    return (
        f"RUNNABLE for more than {seconds:.0f} s: no compute environment of {queue} has started it. "
        "Check that the queue's compute environments are ENABLED and VALID, that their "
        "instance types can hold the task's vcpus, memory and gpus, and that their maxvCpus "
        "is not reached"
    )


def summary_key(job: Mapping[str, Any]) -> tuple[tuple[str, int], ...]:
    """An array parent's child counts per state (what tells that its children moved)."""
    summary = (job.get("arrayProperties") or {}).get("statusSummary") or {}
    return tuple(sorted((str(k), int(v)) for k, v in summary.items()))


def parent_phase(job: Mapping[str, Any]) -> Phase:
    """An array's phase as a whole: running once any child started, else queued. Never final."""
    summary = dict(summary_key(job))
    if any(summary.get(state) for state in ("RUNNING", "SUCCEEDED", "FAILED")):
        return Phase.RUNNING
    if str(job.get("status")) in ("RUNNING", "SUCCEEDED", "FAILED"):
        return Phase.RUNNING
    return Phase.QUEUED


def child_index(job: Mapping[str, Any]) -> int | None:
    """The index of an array child (``<arrayJobId>:<index>``), or None for another job."""
    index = (job.get("arrayProperties") or {}).get("index")
    if index is not None:
        return int(index)
    job_id = str(job.get("jobId") or "")
    head, sep, tail = job_id.rpartition(":")
    return int(tail) if sep and tail.isdigit() else None


def log_stream(job: Mapping[str, Any]) -> str:
    """The CloudWatch stream of a job's output, once AWS has named it ("" before)."""
    container = job.get("container") or {}
    stream = container.get("logStreamName")
    if stream:
        return str(stream)
    for attempt in reversed(job.get("attempts") or []):
        stream = (attempt.get("container") or {}).get("logStreamName")
        if stream:
            return str(stream)
    return ""
