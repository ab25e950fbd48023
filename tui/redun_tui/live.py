"""The live model of an execution: events in, what to redraw out (no widgets, no threads).

Events outnumber redraws: a 10,000-job run sends tens of thousands of
``job_state`` events. A stream worker :meth:`EventBuffer.put`\\ s batches as
they arrive; the screen :meth:`EventBuffer.drain`\\ s them at a bounded rate,
keeping only each job's latest event, and applies them to a :class:`JobBoard`,
which says which jobs are new and which changed, so the screen redraws only
those.
"""

from __future__ import annotations

import bisect
import math
import shlex
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from redun_tui.data.model import TERMINAL_STATES, JobInfo


class EventBuffer:
    """Batches from a stream thread, coalesced per job until the UI takes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, dict[str, Any]] = {}
        self._others: list[dict[str, Any]] = []
        self.received = 0
        self.coalesced = 0

    def put(self, events: list[dict[str, Any]]) -> None:
        with self._lock:
            for event in events:
                self.received += 1
                if event.get("type") == "job_state":
                    job_id = event["job_id"]
                    earlier = self._jobs.get(job_id)
                    if earlier is not None:
                        # Keep the job's first position (parents before children) and
                        # what only an earlier event knew: when it started running.
                        self.coalesced += 1
                        started = earlier.get("started")
                        if earlier.get("state") == "running":
                            started = earlier.get("time")
                        if started is not None and "started" not in event:
                            event = {**event, "started": started}
                    self._jobs[job_id] = event
                else:
                    self._others.append(event)

    def drain(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """``(latest job_state event of each job, in arrival order; other events)``."""
        with self._lock:
            jobs, others = list(self._jobs.values()), self._others
            self._jobs, self._others = {}, []
        return jobs, others

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._jobs or self._others)


@dataclass
class Changes:
    """What one :meth:`JobBoard.apply` changed."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    finished: dict[str, Any] | None = None
    reordered: set[str] = field(default_factory=set)
    """Parents (``""``: the roots) that got a child before children already there."""

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.finished)


class JobBoard:
    """Every job of one execution, its tree, and counts by task and state."""

    def __init__(self) -> None:
        self.jobs: dict[str, JobInfo] = {}
        self.children: dict[str, list[str]] = {}
        self.roots: list[str] = []
        self.counts: Counter[tuple[str, str]] = Counter()
        self.status = "running"
        self.finished: dict[str, Any] | None = None

    def apply_jobs(self, jobs: list[JobInfo]) -> Changes:
        """Add or update jobs given as records (a snapshot)."""
        changes = Changes()
        for job in jobs:
            self._put(job, changes)
        return changes

    def apply(self, job_events: list[dict[str, Any]], others: list[dict[str, Any]]) -> Changes:
        """Apply drained events (see :meth:`EventBuffer.drain`)."""
        changes = Changes()
        for event in job_events:
            job = JobInfo.from_event(event)
            known = self.jobs.get(job.id)
            started = event.get("started")
            if known is not None:
                job.start = job.start or known.start
                job.args_summary = job.args_summary or known.args_summary
            if started and job.start is None:
                job.start = started
            self._put(job, changes)
        for event in others:
            if event.get("type") == "execution_finished":
                self.status = event.get("status", "done")
                self.finished = event
                changes.finished = event
                self._close_open_jobs(self.status, changes)
        return changes

    def _close_open_jobs(self, status: str, changes: Changes) -> None:
        """A run that is over has no running jobs: close those the stream left open.

        As the daemon closes them in the store: a running job of a failed run
        failed, every other open job was cancelled (a run interrupted by a
        daemon that died, whose last job states never reached the stream).
        """
        for job in list(self.jobs.values()):
            if job.state in TERMINAL_STATES:
                continue
            state = "failed" if status == "failed" and job.state == "running" else "cancelled"
            self._put(replace(job, state=state), changes)

    def _put(self, job: JobInfo, changes: Changes) -> None:
        known = self.jobs.get(job.id)
        if known is None:
            self.jobs[job.id] = job
            siblings = self.children.setdefault(job.parent_id, []) if job.parent_id else self.roots
            # In call order: a replay sends jobs in the order they last changed.
            place = bisect.bisect_right(siblings, self._order(job), key=self._order_of)
            if place < len(siblings):
                changes.reordered.add(job.parent_id)
            siblings.insert(place, job.id)
            self.counts[(job.task, job.state)] += 1
            changes.added.append(job.id)
            return
        if job.call_order == 0:
            job.call_order = known.call_order
        if known.state != job.state:
            self.counts[(known.task, known.state)] -= 1
            if not self.counts[(known.task, known.state)]:
                del self.counts[(known.task, known.state)]
            self.counts[(job.task, job.state)] += 1
        self.jobs[job.id] = job
        changes.updated.append(job.id)

    @staticmethod
    def _order(job: JobInfo) -> float:
        return job.call_order or math.inf  # unknown: after the known, in arrival order

    def _order_of(self, job_id: str) -> float:
        return self._order(self.jobs[job_id])

    def state_counts(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for (_, state), count in self.counts.items():
            totals[state] += count
        return dict(totals)

    def task_counts(self) -> dict[str, dict[str, int]]:
        """``{task: {state: count}}``, tasks by name."""
        table: dict[str, dict[str, int]] = {}
        for (task, state), count in sorted(self.counts.items()):
            table.setdefault(task, {})[state] = count
        return table

    @property
    def done(self) -> bool:
        return self.finished is not None

    def running(self) -> list[str]:
        return [job.id for job in self.jobs.values() if job.state not in TERMINAL_STATES]


@dataclass(frozen=True)
class JobFilter:
    """Which jobs to list: ``task:NAME state:STATE`` words, the rest is free text.

    ``state:failed,cancelled`` takes several states; text matches the task name
    or the argument summary, case-insensitively.
    """

    tasks: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    text: str = ""

    @classmethod
    def parse(cls, query: str) -> JobFilter:
        try:
            words = shlex.split(query)
        except ValueError:
            words = query.split()
        tasks: list[str] = []
        states: list[str] = []
        free: list[str] = []
        for word in words:
            key, sep, value = word.partition(":")
            if sep and key in ("task", "t"):
                tasks += [v for v in value.split(",") if v]
            elif sep and key in ("state", "s"):
                states += [v.lower() for v in value.split(",") if v]
            else:
                free.append(word)
        return cls(tuple(tasks), tuple(states), " ".join(free).lower())

    def __bool__(self) -> bool:
        return bool(self.tasks or self.states or self.text)

    def matches(self, job: JobInfo) -> bool:
        if self.states and job.state not in self.states:
            return False
        if self.tasks and not any(
            job.task == t or job.task.endswith("." + t) or t in job.task for t in self.tasks
        ):
            return False
        if self.text:
            haystack = f"{job.task} {job.args_summary} {job.id}".lower()
            if self.text not in haystack:
                return False
        return True

    def select(self, board: JobBoard) -> list[str]:
        """Ids of the matching jobs, in the order they appeared."""
        return [job.id for job in board.jobs.values() if self.matches(job)]
