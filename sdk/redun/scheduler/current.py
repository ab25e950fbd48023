"""What is current in this context: the running scheduler, and the job whose task runs.

Both live in :class:`~contextvars.ContextVar` objects: a task's thread (or an
async task's own context) sees its own job, and a scheduler run inside another
(``subrun``) does not leak into its caller.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler
    from redun.scheduler.job import Job

current_scheduler: contextvars.ContextVar[Scheduler | None] = contextvars.ContextVar(
    "redun_scheduler", default=None
)
current_job: contextvars.ContextVar[Job | None] = contextvars.ContextVar("redun_job", default=None)


def get_current_scheduler(required: bool = True) -> Scheduler | None:
    """The scheduler running in this context (raises NoCurrentScheduler if none and required)."""
    scheduler = current_scheduler.get()
    if scheduler is None and required:
        from redun.errors import NoCurrentScheduler

        raise NoCurrentScheduler()
    return scheduler


def set_current_scheduler(scheduler: Scheduler | None) -> None:
    current_scheduler.set(scheduler)


def get_current_job() -> Job | None:
    """The job whose task function is running in this thread, if any."""
    return current_job.get()


def set_job_context(job: Job | None) -> None:
    """Make ``job`` the current job of this context (an async task's own context)."""
    current_job.set(job)
