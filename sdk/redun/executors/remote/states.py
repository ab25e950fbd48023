"""What platform states mean for jobs: the monitor's decisions, as pure functions.

A back end's ``poll`` turns its platform's answer into a :class:`Report` per
submission: a :class:`Phase` for the whole job and, for arrays, one per
element. :func:`decide` compares a report with what the scheduler was last
told and returns :class:`Instruction` s (tell it the job is queued or
running; note a platform message; collect a finished element's outcome).
:func:`settle` says what a finished element's outcome means (done, failed, or
lost to the platform and worth another attempt). Neither does I/O, so both
are tested on recorded data without threads.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from redun.errors import ExecutorError
from redun.executors.remote.errors import InfrastructureError, ProtocolError


class Phase(enum.Enum):
    """A remote job (or array element) as its platform sees it."""

    QUEUED = "queued"
    """Accepted, waiting for capacity (AWS SUBMITTED..STARTING, GCP QUEUED/SCHEDULED)."""
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    """Ended with exit status 0."""
    FAILED = "failed"
    """Ended with a non-zero status: the task (or the entrypoint) failed by itself."""
    LOST = "lost"
    """Ended by the platform: host terminated, preempted, container could not start."""
    UNKNOWN = "unknown"
    """The platform does not know the job (yet, or any more)."""

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({Phase.SUCCEEDED, Phase.FAILED, Phase.LOST})


@dataclass(frozen=True, slots=True)
class Observation:
    """One element's phase and the platform's words about it (a status reason)."""

    phase: Phase
    reason: str = ""


@dataclass(frozen=True)
class Report:
    """A back end's answer for one submission.

    Args:
        phase: the job as a whole (an array's parent).
        reason: the platform's words about the whole job.
        elements: for arrays, what is known per element index; an element not
            listed is taken from the whole (waiting, while the whole runs).
    """

    phase: Phase
    reason: str = ""
    elements: Mapping[int, Observation] = field(default_factory=dict)

    def element(self, index: int, array: bool) -> Observation:
        """What this report says of element ``index`` (0 for a lone job)."""
        if not array:
            return Observation(self.phase, self.reason)
        found = self.elements.get(index)
        if found is not None:
            return found
        if self.phase is Phase.RUNNING:
            return Observation(Phase.QUEUED, "")
        return Observation(self.phase, self.reason)


class Told(enum.IntEnum):
    """What the scheduler was last told about an element."""

    NOTHING = 0
    QUEUED = 1
    RUNNING = 2


@dataclass(slots=True)
class Seen:
    """The monitor's memory of one element between polls."""

    told: Told = Told.NOTHING
    reason: str = ""
    unknown_since: float | None = None


class Act(enum.Enum):
    QUEUED = "queued"
    """Tell the scheduler the job waits in the platform's queue."""
    RUNNING = "running"
    """Tell the scheduler the job runs."""
    NOTE = "note"
    """Add the platform's message to the job's output."""
    COLLECT = "collect"
    """The element is finished: read its outcome and settle it."""


@dataclass(frozen=True, slots=True)
class Instruction:
    act: Act
    index: int
    phase: Phase = Phase.UNKNOWN
    text: str = ""


def decide(
    seen: Mapping[int, Seen],
    report: Report | None,
    *,
    array: bool,
    now: float,
    lost_after: float,
    only: Iterable[int] | None = None,
) -> list[Instruction]:
    """What to do about the watched elements of one submission, given its latest report.

    ``seen`` is updated in place (what the scheduler will have been told).

    Args:
        seen: the elements still watched, by index.
        report: the back end's report, or None if it did not mention the job.
        array: True for an array submission.
        now: the current time (seconds).
        lost_after: how long a job may stay unknown to the platform before it
            counts as lost (platforms list a new job a little late).
        only: look at these element indexes only (those the report lists, when
            nothing else changed since the last poll); None: every watched element.
    """
    instructions: list[Instruction] = []
    if only is None:
        items: Iterable[tuple[int, Seen]] = list(seen.items())
    else:
        items = [(index, seen[index]) for index in only if index in seen]
    for index, memory in items:
        observed = (
            report.element(index, array) if report is not None else Observation(Phase.UNKNOWN)
        )
        phase = observed.phase
        if phase is Phase.UNKNOWN:
            if memory.unknown_since is None:
                memory.unknown_since = now
            if now - memory.unknown_since >= lost_after:
                text = observed.reason or (
                    f"the platform has not known this job for {now - memory.unknown_since:.0f}s"
                )
                instructions.append(Instruction(Act.COLLECT, index, Phase.LOST, text))
            continue
        memory.unknown_since = None
        if observed.reason and observed.reason != memory.reason and not phase.is_final:
            memory.reason = observed.reason
            instructions.append(Instruction(Act.NOTE, index, phase, observed.reason))
        if phase is Phase.QUEUED:
            if memory.told < Told.QUEUED:
                memory.told = Told.QUEUED
                instructions.append(Instruction(Act.QUEUED, index, phase))
        elif phase is Phase.RUNNING:
            if memory.told < Told.RUNNING:
                memory.told = Told.RUNNING
                instructions.append(Instruction(Act.RUNNING, index, phase))
        else:
            instructions.append(Instruction(Act.COLLECT, index, phase, observed.reason))
    return instructions


class Verdict(enum.Enum):
    OUTCOME = "outcome"
    """The element wrote its outcome: use it (its result, or its task's error)."""
    FAIL = "fail"
    """Fail the job with ``error``; it is not retried."""
    RETRY = "retry"
    """The platform lost the job: fail it with ``error``, which the scheduler may retry."""


@dataclass(frozen=True)
class Settlement:
    verdict: Verdict
    outcome: dict[str, Any] | None = None
    error: BaseException | None = None


def settle(
    phase: Phase,
    reason: str,
    outcome: dict[str, Any] | None,
    problem: ProtocolError | None,
    *,
    token: str,
    label: str,
    where: str,
) -> Settlement:
    """What a finished element means for its job.

    An outcome written for this submission (same ``token``) wins whatever the
    platform says: a job that wrote its result and then lost its host is
    done. Without one, success is a protocol failure (no result), a non-zero
    exit is the job's failure, and a platform loss is worth another attempt.

    Args:
        phase: the element's final phase.
        reason: the platform's words about it.
        outcome: the decoded outcome found in the scratch, if any.
        problem: why the outcome in the scratch could not be read, if it could not.
        token: the submission's token (an outcome of an older submission is stale).
        label: names the job in messages.
        where: the call's directory in the scratch, for messages.
    """
    if problem is not None:
        return Settlement(Verdict.FAIL, error=problem)
    if outcome is not None and (not token or outcome.get("token") == token):
        return Settlement(Verdict.OUTCOME, outcome=outcome)
    why = f": {reason}" if reason else ""
    if phase is Phase.SUCCEEDED:
        return Settlement(
            Verdict.FAIL,
            error=ProtocolError(f"{label} ended successfully but wrote no result to {where}{why}"),
        )
    if phase is Phase.LOST:
        return Settlement(
            Verdict.RETRY,
            error=InfrastructureError(f"{label} was lost by its platform{why}"),
        )
    return Settlement(
        Verdict.FAIL,
        error=ExecutorError(
            f"{label} failed without writing a result or an error to {where}{why} "
            "(killed, out of memory, or the entrypoint could not start; see its output)"
        ),
    )
