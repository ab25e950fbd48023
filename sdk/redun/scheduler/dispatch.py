"""Dispatch: jobs to run go to their executors, in one batch per executor.

A job with resource limits waits in the resource's queue until it holds them
(see :mod:`redun.scheduler.limits`); its release, when its work has stopped,
dispatches the jobs it frees. A quick job that is the run's only work may run
on the scheduler's own thread (:meth:`redun.executors.base.Executor.runs_inline`).
The functions are :class:`~redun.scheduler.core.Scheduler`'s methods (``self``
is the scheduler).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from redun.errors import SchedulerError, UsageError
from redun.executors.base import Executor
from redun.scheduler.job import Job, JobState

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler


def dispatch(self: Scheduler, jobs: list[Job]) -> None:
    """Hand ``jobs`` to their executors, one batch per executor, once they hold their
    resources; a dry run only notes them."""
    if any(job.inline is not None for job in jobs):
        # Scheduler tasks that cache like calls evaluate here, in dry runs too.
        for job in jobs:
            if job.inline is not None:
                job.transition(JobState.RUNNING)
                self._emit(job)
                self._start_inline(job, None)
        jobs = [job for job in jobs if job.inline is None]
    if self._dryrun:
        for job in jobs:
            self._dryrun_jobs.append(job)
        return
    by_executor: dict[str, list[Job]] = {}
    for job in jobs:
        limits = job.options.get("limits")
        if limits and not self._limits.holds(job):
            try:
                if not self._limits.acquire(job, limits):
                    continue  # it waits in a resource's queue; a release dispatches it
            except UsageError as error:
                self._fail_job(job, error)
                continue
        by_executor.setdefault(job.executor_name, []).append(job)
    for name, batch in by_executor.items():
        try:
            executor = self.get_executor(name)
        except Exception as error:
            for job in batch:
                self._release(job)
                job.transition(JobState.FAILED)
                job.error = error
                self._emit(job)
                assert job.promise is not None
                job.promise.do_reject(error)
            continue
        if not executor.supports_async():
            batch = self._refuse_async(executor, batch)
        if not executor.reports_start:
            # Remote and pooled executors: a handed-over job counts as running.
            for job in batch:
                job.transition(JobState.RUNNING)
                self._emit(job)
        if (
            len(batch) == 1
            and not self._working
            and len(by_executor) == 1
            and executor.runs_inline(batch[0])
        ):
            # The run's only work, of a task seen to be quick: run it here rather
            # than hand it to a worker and wait (see Executor.runs_inline).
            self._working.add(batch[0])
            executor.run_inline(batch[0])
            continue
        self._working.update(batch)
        executor.submit_batch(batch)


def refuse_async(self: Scheduler, executor: Executor, batch: list[Job]) -> list[Job]:
    """Fail the ``async def`` jobs of an executor that cannot run them; the rest go on."""
    accepted = []
    for job in batch:
        if job.task.is_coroutine:
            self._release(job)
            self._fail_job(
                job,
                SchedulerError(
                    f"executor {executor.name!r} does not run async tasks "
                    f"({job.task.fullname} is `async def`); use a thread executor"
                ),
            )
        else:
            accepted.append(job)
    return accepted


def release(self: Scheduler, job: Job) -> None:
    """Give back ``job``'s resources; the jobs they free are queued to run."""
    granted = self._limits.release(job)
    if granted:
        self._to_run.extend(granted)  # they hold their resources already
