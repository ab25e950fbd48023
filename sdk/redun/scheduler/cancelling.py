"""Cancelling: one job (``cancel_job``), or the whole run (``cancel``, Ctrl-C, an error).

A cancelled job ends ``cancelled`` and is never retried; its executor is asked
to stop the work, and its resources are released only once the work has
stopped (a thread cannot be killed). The functions are
:class:`~redun.scheduler.core.Scheduler`'s methods (``self`` is the scheduler).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from redun.errors import JobCancelled
from redun.scheduler.job import Job, JobState
from redun.scheduler.outcomes import CANCEL, CANCEL_RUN

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler


def cancel(self: Scheduler, reason: str = "the execution was cancelled") -> None:
    """Stop the execution in progress, from any thread.

    The loop takes the request between outcomes (never in the middle of a
    cache lookup or a database write), cancels the jobs still pending or
    running, and ``run`` raises :class:`~redun.errors.ExecutionCancelled`
    with ``reason``. A no-op when nothing runs.
    """
    if self._running:
        self._inbox.put((None, CANCEL_RUN, reason))  # type: ignore[arg-type]


def cancel_job(self: Scheduler, job: Job, message: str = "") -> None:
    """Cancel ``job`` (pending or running). Thread-safe.

    The job ends ``cancelled`` and is never retried; what waits on it fails
    with :class:`~redun.errors.JobCancelled` (``catch`` can handle it). Its
    executor is asked to stop the work; the job's resource limits are
    released only when the work has actually stopped (its outcome comes
    back), so a cancelled thread that runs on still holds them.
    """
    self._inbox.put((job, CANCEL, message))


def cancel_job_now(self: Scheduler, job: Job, message: str) -> None:
    """Cancel ``job`` on the loop's thread (see :func:`cancel_job`)."""
    if job.state.is_terminal:
        return
    for queue in (self._to_check, self._to_run):
        if job in queue:
            queue.remove(job)
    self._limits.forget(job)
    if job in self._working:
        self._stop_work(job.executor_name, [job])
    else:
        self._release(job)  # granted resources it will never use
    error = JobCancelled(message or f"job {job.id} ({job.task.fullname}) was cancelled")
    self._fail_job(job, error)


def cancel_outstanding(self: Scheduler) -> None:
    """The run is over early: cancel every job not finished, stopping work still out."""
    for job in list(self._jobs_by_eval.values()):
        if job not in self._working:
            self._release(job)  # granted resources whose work never started
        # (Work still out keeps its resources until it stops, even into the next run.)
    outstanding = [job for job in self._jobs_by_eval.values() if not job.state.is_terminal]
    by_executor: dict[str, list[Job]] = {}
    for job in outstanding:
        if job in self._working:
            by_executor.setdefault(job.executor_name, []).append(job)
    for name, jobs in by_executor.items():
        # Remote executors stop their platform's jobs here, all at once.
        self._stop_work(name, jobs)
    for job in outstanding:
        job.transition(JobState.CANCELLED)
        self._emit(job)
    self._working.clear()


def stop_work(self: Scheduler, executor_name: str, jobs: list[Job]) -> None:
    """Ask the executor to stop ``jobs``; a refusal is logged (the jobs end either way)."""
    executor = self.executors.get(executor_name)
    if executor is None:
        return
    try:
        if len(jobs) == 1:
            executor.cancel(jobs[0])
        else:
            executor.cancel_batch(jobs)
    except Exception:
        self.logger.warning(
            "executor %r could not stop job(s) %s (%s); their work may go on",
            executor_name,
            ", ".join(job.id for job in jobs),
            ", ".join(sorted({job.task.fullname for job in jobs})),
            exc_info=True,
        )
