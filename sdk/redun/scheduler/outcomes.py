"""Outcomes: what executors report, from any thread, and what the loop makes of it.

Executors post to the scheduler's inbox (a job's result or error, its start,
its output, an await of an async task); the loop takes each message on its own
thread (:meth:`~redun.scheduler.core.Scheduler.run`) and settles the job:
retried, failed, or finished with its result hashed and its call hash made.
The functions are :class:`~redun.scheduler.core.Scheduler`'s methods (``self``
is the scheduler).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from redun.errors import ExecutionCancelled, JobCancelled
from redun.events import LogLine
from redun.hashing import hash_parts, hash_value
from redun.scheduler.current import current_job
from redun.scheduler.job import Job, JobState
from redun.scheduler.lifecycle import postprocess_result
from redun.scheduler.reduce import reduce_value
from redun.value import lifecycle_hooks

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler

# What the inbox carries besides outcomes (True/False) and output (None).
# Posted by run_job_function (or a remote executor) when a job's function actually starts.
STARTED = "started"
# Posted by a remote executor when the job waits in its platform's queue.
QUEUED = "queued"
# Posted by cancel_job.
CANCEL = "cancel"
# Posted by cancel(): the loop stops the execution when it takes it.
CANCEL_RUN = "cancel_run"
# Posted by an async task that awaits an expression (see redun.scheduler.async_tasks).
EVALUATE = "evaluate"
# States in which a job may still receive its outcome from an executor.
ACTIVE = frozenset({JobState.PENDING, JobState.QUEUED, JobState.RUNNING})

# The default root job of an execution (redun.scheduler.root).
ROOT_TASK = "redun.root_task"


def done_job(self: Scheduler, job: Job, result: Any, job_tags: Iterable = ()) -> None:
    """Report that ``job``'s function returned ``result``. Thread-safe.

    ``job_tags``: ``(key, value)`` pairs to record on the job (what an executor
    knows of it, such as where it ran)."""
    if job_tags:
        _tag_job(self, job, job_tags)
    self._inbox.put((job, True, result))


def reject_job(
    self: Scheduler,
    job: Job,
    error: BaseException,
    error_traceback: Any = None,
    job_tags: Iterable = (),
) -> None:
    """Report that ``job``'s function raised ``error``. Thread-safe.

    ``error_traceback``: the traceback to record and show for it, as text or as a
    :class:`redun.scheduler.Traceback` (what executors written for insitro/redun
    pass); by default the error's own. ``job_tags`` as for :func:`done_job`.
    """
    if error_traceback is not None and not getattr(error, "__redun_traceback__", None):
        try:
            error.__redun_traceback__ = _traceback_text(error_traceback)  # type: ignore[attr-defined]
        except Exception:  # __slots__, or a traceback that cannot be read: the error's own
            pass
    if job_tags:
        _tag_job(self, job, job_tags)
    self._inbox.put((job, False, error))


def _traceback_text(error_traceback: Any) -> str:
    if isinstance(error_traceback, str):
        return error_traceback
    text = getattr(error_traceback, "text", None)
    if callable(text):
        return str(text())
    return "Traceback (most recent call last):\n" + "".join(error_traceback.format())


def _tag_job(self: Scheduler, job: Job, job_tags: Any) -> None:
    """Record an executor's ``(key, value)`` tags on ``job``; tags of another shape are
    logged and dropped (the job's outcome still counts)."""
    try:
        items = job_tags.items() if isinstance(job_tags, dict) else job_tags
        tags = [(str(key), value) for key, value in items]
    except Exception as error:
        self.log(
            f"job {job.id[:8]}: executor tags {job_tags!r} ignored: expected (key, value) "
            f"pairs ({error})",
            level=logging.WARNING,
        )
        return
    self.add_tags("job", job.id, tags)


def evaluate_for_job(
    self: Scheduler, job: Job, expr: Any, callback: Callable[[bool, Any], None]
) -> None:
    """Evaluate ``expr`` as a child of running ``job``; ``callback(ok, value)`` gets the
    outcome on the scheduler's thread. Thread-safe (async tasks ``await`` through it)."""
    self._inbox.put((job, EVALUATE, (expr, callback)))


def post_log(self: Scheduler, job: Job, stream: str, text: str) -> None:
    """Report output ``text`` that ``job`` wrote to ``stream``. Thread-safe.

    The line is stamped here, where it was written, with its time and its
    job's execution: a thread that outlives its run cannot have its output
    taken for the next run's.
    """
    execution_id = job.execution.id if job.execution is not None else ""
    self._inbox.put((job, None, (stream, text, execution_id, time.time())))


def job_queued(self: Scheduler, job: Job) -> None:
    """Report that ``job`` waits in a remote platform's queue. Thread-safe."""
    self._inbox.put((job, QUEUED, None))


def job_started(self: Scheduler, job: Job) -> None:
    """Report that ``job``'s function started running (remotely). Thread-safe."""
    self._inbox.put((job, STARTED, None))


def run_job_function(self: Scheduler, job: Job, inline: bool = False) -> None:
    """Run ``job``'s task function in this thread and report the outcome.

    What the function prints is captured as the job's log lines (see
    :mod:`redun.logs`); they are posted before the outcome. ``inline``: this is
    the scheduler's thread, where Ctrl-C stops the run (as it does while a worker
    runs the job) instead of failing the job.
    """
    from redun.logs import JobOutput

    self._started.append((job, job.attempt))
    token = current_job.set(job)
    task = job.task
    try:
        with JobOutput(
            lambda stream, text: self.post_log(job, stream, text),
            job_id=job.id,
            task_name=task.fullname,
        ):
            if task.script:
                from redun.scripting import run_script_task

                result = run_script_task(task, job.call_args, job.kwargs)
            else:
                result = task.func(*job.call_args, **job.kwargs)
    except BaseException as error:  # noqa: BLE001 - any error fails the job, not the worker
        if inline and isinstance(error, KeyboardInterrupt):
            raise
        self._inbox.put((job, False, error))
    else:
        self._inbox.put((job, True, result))
    finally:
        current_job.reset(token)


def handle_outcome(self: Scheduler, job: Job, ok: bool | str | None, value: Any) -> None:
    """Act on one inbox message about ``job`` (see the message constants above)."""
    if ok is None:
        if job.state is JobState.PENDING and job in self._working:
            # Output comes from a job that runs, even if no start was noticed yet.
            self._handle_outcome(job, STARTED, None)
        if self.events.active:
            stream, text, execution_id, when = value
            self.events.emit(
                LogLine(execution_id, job_id=job.id, stream=stream, text=text, time=when)
            )
        return
    if ok is CANCEL_RUN:
        raise ExecutionCancelled(value)
    if job.execution is not self.execution:
        # A job of an earlier run, ended (cancelled) with it. If this is its work
        # stopping, the resources it held until now come back.
        if ok is True or ok is False:
            self._release(job)
        return
    if ok is CANCEL:
        self._cancel_job_now(job, value)
        return
    if ok is STARTED:
        if job.state is JobState.PENDING or job.state is JobState.QUEUED:
            job.transition(JobState.RUNNING)
            self._emit(job)
        return
    if ok is QUEUED:
        if job.state is JobState.PENDING:
            job.transition(JobState.QUEUED)
            self._emit(job)
        return
    if ok is EVALUATE:
        expr, callback = value
        try:
            promise = self.evaluate(expr, job)
        except Exception as error:
            callback(False, error)
        else:
            promise.add_waiter(_notify, callback)
        return
    if job in self._working:
        # Its work has stopped: only now are its resources free again.
        self._working.discard(job)
        self._release(job)
    if job.state not in ACTIVE:
        return  # cancelled while it ran
    if not ok:
        if job.state is JobState.PENDING and any(
            started is job and attempt == job.attempt for started, attempt in self._started
        ):
            # It started on a worker, unnoticed yet: its outcome says so.
            self._handle_outcome(job, STARTED, None)
        retries = int(job.options.get("retries", 0) or 0)
        if (
            job.attempt < retries
            and isinstance(value, Exception)
            # A remote executor marks user-code failures: only its platform's
            # failures (a lost host, a preemption) are worth another attempt.
            and not getattr(value, "__redun_no_retry__", False)
            and not isinstance(value, JobCancelled)  # an outcome, never retried
        ):
            job.attempt += 1
            # A new attempt evaluates afresh what it awaits (an async task).
            self._evaluated.pop(job, None)
            if job.state is not JobState.PENDING:
                job.transition(JobState.PENDING)
                self._emit(job)
            self._to_run.append(job)
            return
        self._fail_job(job, value)
        return
    if job.state is not JobState.RUNNING:
        # It ran, even if its start was not noticed (a worker thread says so quietly,
        # a remote job can finish between two polls).
        job.transition(JobState.RUNNING)
        self._emit(job)
    reduced = reduce_value(value, self._evaluator(job))
    if reduced is not value and not job.task.is_coroutine:
        # It returned expressions: recorded, so that a later run can re-evaluate them
        # when only calls below this one changed (an async task's awaits are not in it).
        job.returned = value
    self._settle_with(job, reduced)


def finish_job(self: Scheduler, job: Job, result: Any) -> None:
    """``job`` returned ``result``: hash it, make the call hash, settle the job's promise."""
    try:
        if lifecycle_hooks.active:
            result = postprocess_result(result, job.eval_hash)
        result_hash = hash_value(result)
    except Exception as error:
        if job.task.fullname != ROOT_TASK or job.parent_job is not None:
            self._fail_job(job, error)
            return
        # An execution's own root (a list holding a lock, say) ends on a value the
        # engine cannot hash: it is the run's result, never looked up, so it stands.
        result_hash = hash_parts("redun.root_task: unhashable result", job.id)
    job.result = result
    job.result_hash = result_hash
    children = [child.call_hash for child in job.child_jobs if child.call_hash]
    job.call_hash = hash_parts(job.task.hash, job.args_hash, result_hash, *children)
    job.reason = job.reason or "no earlier call with this code and these arguments"
    job.transition(JobState.CACHED if job.replayed else JobState.DONE)
    self._emit(job)
    if self._evaluated:
        self._evaluated.pop(job, None)  # nothing is evaluated under it any more
    assert job.promise is not None
    job.promise.do_resolve(result)


def fail_job(self: Scheduler, job: Job, error: BaseException) -> None:
    """``job`` failed (or was cancelled) with ``error``: settle its promise with it."""
    if job.state.is_terminal:
        return
    job.error = error
    if getattr(error, "__redun_job__", None) is None:
        try:
            error.__redun_job__ = job  # type: ignore[attr-defined]
            if not isinstance(error, JobCancelled):
                from redun.scheduler.taskstack import task_stack  # failures only

                error.__redun_task_stack__ = task_stack(job)  # type: ignore[attr-defined]
        except Exception:
            pass
    job.transition(JobState.CANCELLED if isinstance(error, JobCancelled) else JobState.FAILED)
    self._emit(job)
    if self._evaluated:
        self._evaluated.pop(job, None)
    assert job.promise is not None
    job.promise.do_reject(error)


def _notify(callback: Callable[[bool, Any], None], ok: bool, value: Any) -> None:
    callback(ok, value)
