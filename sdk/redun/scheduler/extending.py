"""Evaluating under a job already recorded: insitro/redun's ``Scheduler.extend_run``.

The new call's jobs join that job's execution (which is not recorded again), the
call a child of the recorded job, so ``redun log`` and lineage show one tree.
``subrun`` extends the job that starts its sub-scheduler this way. These functions
are the scheduler's methods (see :mod:`redun.scheduler.core`).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from redun.errors import ExecutionCancelled, SchedulerError
from redun.expression import Expression
from redun.scheduler.job import Job
from redun.scheduler.root import needs_root_task, root_task

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler


class Quoted:
    """An expression to evaluate under one root job: the call :func:`extend` returns."""

    __slots__ = ("expr",)

    def __init__(self, expr: Any) -> None:
        self.expr = expr


def extend_run(
    self: Scheduler,
    expr: Any,
    parent_job_id: str,
    dryrun: bool = False,
    cache: bool = True,
    context: dict | None = None,
) -> dict:
    """Evaluate ``expr`` as a new call under a job already recorded (insitro/redun's
    ``Scheduler.extend_run``): its jobs join that job's execution, the new call as
    a child of ``parent_job_id``, so ``redun log`` and lineage show one tree.

    Returns a dict with ``job_id`` and ``call_hash`` of the new call and one of
    ``result`` (its value), ``error`` (the task's error, not raised) or ``dryrun``
    (True: ``dryrun`` found jobs that would run; ``call_hash`` is then None).

    Raises:
        ValueError: no job ``parent_job_id`` is recorded in this scheduler's store.
    """
    get_job = getattr(self.backend, "get_job", None)
    if get_job is None:
        raise ValueError(
            f"unknown parent_job_id {parent_job_id!r}: this backend "
            f"({type(self.backend).__name__}) records no jobs to extend"
        )
    details = get_job(parent_job_id)
    if details is None:
        raise ValueError(f"unknown parent_job_id {parent_job_id!r}: no such job is recorded")
    return extend(self, expr, parent_job_id, details["execution_id"], dryrun, cache, context)


def extend(
    self: Scheduler,
    expr: Any,
    parent_job_id: str,
    execution_id: str,
    dryrun: bool = False,
    cache: bool = True,
    context: dict | None = None,
) -> dict:
    """:meth:`extend_run` under a job of a known execution (which need not be
    committed yet: ``subrun`` extends the job that runs it)."""
    if self._running:
        raise SchedulerError(
            "this scheduler is already running an execution; a task cannot call "
            "scheduler.extend_run() — return an expression instead"
        )
    from redun.scheduler.core import DryRunResult  # (core imports this module)

    if not isinstance(expr, Expression) or needs_root_task(expr):
        expr = Quoted(expr)  # evaluated under one root job: the call to return
    # A stand-in for the recorded job: never recorded itself, it gives its id and
    # the execution's context to the jobs below it.
    parent = Job(root_task, None)
    parent.id = parent_job_id
    outcome: dict[str, Any] = {}
    self._reset()
    self._drain_inbox()
    self._running = True
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(self._stopped)
        try:
            outcome["result"] = self._run(
                expr,
                cleanup,
                None,
                dryrun,
                cache,
                (),
                context,
                execution_id,
                parent=parent,
            )
        except DryRunResult:
            outcome["dryrun"] = True
        except ExecutionCancelled:
            raise
        except Exception as error:
            if not parent.child_jobs or parent.child_jobs[0].error is None:
                raise  # not the call's failure: the scheduler's own
            outcome["error"] = error
    # (Read once the run's records are committed: a failed call's hash is the
    # recorder's, over its error value.)
    [job] = parent.child_jobs
    outcome["job_id"] = job.id
    outcome["call_hash"] = job.call_hash
    get_job = getattr(self.backend, "get_job", None)
    if job.call_hash is None and job.error is not None and get_job is not None:
        outcome["call_hash"] = (get_job(job.id) or {}).get("call_hash")
    return outcome
