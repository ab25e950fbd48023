"""The executor interface that every back end implements.

An executor receives jobs whose arguments are concrete, runs each job's task,
and reports the outcome to the scheduler from any thread with
``scheduler.done_job(job, result)`` or ``scheduler.reject_job(job, error)``.
Remote executors (AWS Batch, GCP Batch, Spark, subprocess) build on
:mod:`redun.executors.remote`, which ships many small jobs at once and stops
remote work on ``cancel_batch``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from redun.errors import ExecutorError, UsageError

# ExecutorError is importable from here, as in redun.
__all__ = [
    "Executor",
    "ExecutorError",
    "executor_type_for",
    "executor_types",
    "get_executor_class",
    "register_executor",
]

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler
    from redun.scheduler.job import Job


class Executor:
    """Base class: subclasses implement :meth:`submit` (and usually ``submit_batch``).

    ``reports_start``: True if the executor runs jobs through
    ``scheduler.run_job_function`` (which says when a job really starts); else a
    job counts as running from the moment it is handed over.
    """

    reports_start = False

    def __init__(self, name: str, scheduler: Scheduler | None = None, config: Any = None) -> None:
        self.name = name
        self._scheduler = scheduler
        self.config: dict = dict(config or {})

    @property
    def scheduler(self) -> Scheduler:
        if self._scheduler is None:
            raise UsageError(f"executor {self.name!r} is not attached to a scheduler")
        return self._scheduler

    def set_scheduler(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler

    def start(self) -> None:
        """Prepare to run jobs (start workers). Called before the first submit."""

    def stop(self) -> None:
        """Release workers. Jobs still running may be abandoned."""

    def submit(self, job: Job) -> None:
        """Run ``job`` and report its outcome to the scheduler (from any thread)."""
        raise NotImplementedError

    def submit_script(self, job: Job) -> None:
        """Run a script task's job (see :func:`redun.script`). An executor that
        overrides this receives its script jobs here rather than in :meth:`submit`
        (as in insitro/redun); otherwise :meth:`submit` gets them too."""
        self.submit(job)

    def submit_batch(self, jobs: list[Job]) -> None:
        """Run several jobs; remote executors override this to batch them."""
        scripts_apart = type(self).submit_script is not Executor.submit_script
        for job in jobs:
            if scripts_apart and job.task.script:
                self.submit_script(job)
            else:
                self.submit(job)

    def log(self, *messages: Any, **kwargs: Any) -> None:
        """Show a message through the scheduler's log, prefixed with this executor."""
        self.scheduler.log(f"Executor[{self.name}]:", *messages, **kwargs)

    def supports_async(self) -> bool:
        """Whether it runs ``async def`` tasks (their awaits need the scheduler in-process)."""
        return False

    def runs_inline(self, job: Job) -> bool:
        """Whether the scheduler may run ``job`` on its own thread, when it is the only
        work of the run (nothing else to wait for): an in-process executor says yes for
        tasks it has seen finish quickly. The scheduler then calls :meth:`run_inline`."""
        return False

    def run_inline(self, job: Job) -> None:
        """Run ``job`` on the calling (the scheduler's) thread; see :meth:`runs_inline`."""
        self.scheduler.run_job_function(job, inline=True)

    def cancel(self, job: Job) -> None:
        """Stop ``job`` if possible. Local executors cannot interrupt a running thread."""

    def cancel_batch(self, jobs: list[Job]) -> None:
        """Stop several jobs (a cancelled run's); remote executors stop them in bulk.

        Jobs this executor never received may be among them: ignore those.
        """
        for job in jobs:
            self.cancel(job)


_registry: dict[str, str | type[Executor]] = {
    "threads": "redun.executors.local.LocalExecutor",
    "local": "redun.executors.local.LocalExecutor",
    "processes": "redun.executors.processes.ProcessExecutor",
    "aws_batch": "redun.executors.aws_batch.AWSBatchExecutor",
    "gcp_batch": "redun.executors.gcp_batch.GCPBatchExecutor",
    "spark": "redun.executors.spark.SparkExecutor",
    "spark_driver": "redun.executors.spark.SparkDriverExecutor",
    "subprocess": "redun.executors.subproc.SubprocessExecutor",
    "docker": "redun.executors.docker.DockerExecutor",
    "alias": "redun.executors.alias.AliasExecutor",
}


# Executors that exist without configuration (the original's names included).
_BUILT_IN = {"default": "threads", "threads": "threads", "local": "threads",
             "processes": "processes", "process": "processes"}  # fmt: skip


def executor_type_for(name: str, section: dict | None) -> str | None:
    """The executor type of ``[executors.NAME]`` (or of a built-in name); None if unknown.

    ``class = pkg.module.Class`` names a user's executor class; ``type = local``
    takes the original's ``mode = thread|process`` (see :mod:`redun.executors.local`).
    """
    if section is None:
        return _BUILT_IN.get(name)
    return str(section.get("class") or section.get("type", "threads"))


def register_executor(name: str, cls: str | type[Executor] | None = None) -> Any:
    """Register an executor type by name; ``cls`` may be a dotted path, loaded on use.

    Without ``cls`` it is a class decorator: ``@register_executor("my_type")``.
    """
    if cls is None:

        def decorate(executor_class: type[Executor]) -> type[Executor]:
            _registry[name] = executor_class
            return executor_class

        return decorate
    _registry[name] = cls
    return cls


def executor_types() -> list[str]:
    """The ``type =`` names an ``[executors.NAME]`` section may use (loaded or not)."""
    return sorted(_registry)


def get_executor_class(type_name: str) -> type[Executor]:
    """The executor class for a ``type =`` name in ``[executors.NAME]``.

    A dotted path (``mypkg.executors.MyExecutor``) names a class of the user's own.
    """
    target = _registry.get(type_name)
    if target is None and "." in type_name:
        target = _import_class(type_name)
    if target is None:
        if type_name == "aws_glue":
            raise UsageError(
                "executor type 'aws_glue': AWS Glue is not run by this engine; set "
                "type = spark_driver (and master = ...) to run those tasks on Spark, where "
                "redun.glue's get_spark_session()/get_spark_context() give their session"
            )
        raise UsageError(
            f"unknown executor type {type_name!r}; known types: {', '.join(sorted(_registry))}"
        )
    if isinstance(target, str):
        module_name, _, class_name = target.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise UsageError(
                f"executor type {type_name!r} is not available ({exc}); "
                "install the matching extra, e.g. pip install 'redun[aws]'"
            ) from exc
        target = getattr(module, class_name)
        _registry[type_name] = target
    return target


def _import_class(path: str) -> type[Executor]:
    module_name, _, class_name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"executor class {path!r}: cannot import {module_name!r} ({exc})") from exc
    target = getattr(module, class_name, None)
    if not (isinstance(target, type) and issubclass(target, Executor)):
        raise UsageError(
            f"executor class {path!r}: {class_name!r} in {module_name!r} is not a "
            "subclass of redun.executors.base.Executor"
        )
    return target
