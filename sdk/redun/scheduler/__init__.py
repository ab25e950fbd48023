"""The scheduler: evaluation loop, jobs, cache policy and control flow."""

from typing import Any

from redun.errors import SchedulerError
from redun.scheduler.control import (
    apply_tags,
    catch,
    catch_all,
    cond,
    get_context,
    merge_handles,
    throw,
)
from redun.scheduler.core import (
    DryRunResult,
    Scheduler,
    get_current_job,
    get_current_scheduler,
    set_current_scheduler,
)
from redun.scheduler.job import Execution, Job, JobState
from redun.scheduler.jobinfo import JobInfo
from redun.task import Task, scheduler_task

# Loaded on first use: they register scheduler tasks that most workflows never call.
_LAZY = {
    "fork_thread": "redun.scheduler.forks",
    "join_thread": "redun.scheduler.forks",
    "Thread": "redun.scheduler.forks",
    "subrun": "redun.scheduler.subrun",
    "set_arg_defaults": "redun.scheduler.binding",
    "get_arg_defaults": "redun.scheduler.binding",
    "ErrorValue": "redun.scheduler.errorvalue",
    "Traceback": "redun.scheduler.tracebacks",
    "Frame": "redun.scheduler.tracebacks",
    "Promise": "redun.promise",
    # Names redun's scheduler module has at hand (scripts import them from there).
    "Config": "redun.config",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'redun.scheduler' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


__all__ = [
    "Config",
    "DryRunResult",
    "ErrorValue",
    "Execution",
    "Frame",
    "Job",
    "JobInfo",
    "JobState",
    "Promise",
    "Scheduler",
    "SchedulerError",
    "Task",
    "Thread",
    "Traceback",
    "apply_tags",
    "catch",
    "catch_all",
    "cond",
    "merge_handles",
    "fork_thread",
    "get_arg_defaults",
    "get_context",
    "get_current_job",
    "get_current_scheduler",
    "join_thread",
    "scheduler_task",
    "set_arg_defaults",
    "set_current_scheduler",
    "subrun",
    "throw",
]
