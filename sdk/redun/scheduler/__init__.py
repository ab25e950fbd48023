"""The scheduler: evaluation loop, jobs, cache policy and control flow."""

from redun.scheduler.control import apply_tags, catch, catch_all, cond, get_context, throw
from redun.scheduler.core import (
    DryRunResult,
    Scheduler,
    get_current_job,
    get_current_scheduler,
    set_current_scheduler,
)
from redun.scheduler.job import Execution, Job, JobState

__all__ = [
    "DryRunResult",
    "Execution",
    "Job",
    "JobState",
    "Scheduler",
    "apply_tags",
    "catch",
    "catch_all",
    "cond",
    "get_context",
    "get_current_job",
    "get_current_scheduler",
    "set_current_scheduler",
    "throw",
]
