"""Jobs: one evaluation of a task call, and its lifecycle."""

from __future__ import annotations

import _random
import enum
import json
import os
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from redun.errors import SchedulerError

if TYPE_CHECKING:
    from redun.expression import TaskExpression
    from redun.promise import Promise
    from redun.task import Task


class JobState(enum.Enum):
    """Where a job is in its life. Terminal: CACHED, DONE, FAILED, CANCELLED.

    QUEUED: a remote executor's platform accepted the job and it waits in the
    platform's queue (a cloud queue, a busy array); not yet running.
    """

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    CACHED = "cached"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    # Members are singletons: hash by identity, in C (Enum's own __hash__ is Python code,
    # and states are looked up in sets several times per job).
    __hash__ = object.__hash__

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({JobState.CACHED, JobState.DONE, JobState.FAILED, JobState.CANCELLED})

# Legal transitions. RUNNING -> PENDING and QUEUED -> PENDING are retries. A queued
# job that finishes passes through RUNNING (it ran, even if no poll saw it run). A cached
# call whose returned expression is evaluated again (see redun.scheduler.replay) never
# runs: it waits in PENDING for the calls below it, then becomes CACHED (or FAILED).
_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset(
        {JobState.QUEUED, JobState.RUNNING, JobState.CACHED, JobState.FAILED, JobState.CANCELLED}
    ),
    JobState.QUEUED: frozenset(
        {JobState.RUNNING, JobState.FAILED, JobState.CANCELLED, JobState.PENDING}
    ),
    JobState.RUNNING: frozenset(
        {JobState.DONE, JobState.FAILED, JobState.CANCELLED, JobState.PENDING}
    ),
    JobState.CACHED: frozenset(),
    JobState.DONE: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
}


_NO_EXPORTS: dict = {}


def job_options(task: Task, parent: Job | None) -> tuple[dict, dict]:
    """(options in force for a call of ``task`` under ``parent``, options it exports).

    Precedence, lowest first: the task's definition, options exported by the
    jobs above, then the call's own ``task.options(...)``/``export_options(...)``.
    Without exports anywhere this returns the task's own (shared) dict.
    """
    inherited = parent.exported if parent is not None else _NO_EXPORTS
    own_keys = task._export_options
    if not inherited and not own_keys:
        return task.options_view, _NO_EXPORTS
    options = task.options_view
    if inherited:
        options = {**task._task_options_base, **inherited, **task._task_options_override}
    keys = own_keys.union(inherited)
    exported = {key: options[key] for key in keys if key in options}
    return options, exported


class IllegalTransition(SchedulerError):
    """A job was asked to move to a state it cannot reach from where it is."""


def _seed() -> int:
    return int.from_bytes(os.urandom(32), "big")


# Random ids without a system call each: a generator seeded from the OS, and again in
# a forked child (which would otherwise repeat its parent's ids). Not the ``random``
# module's generator, which user code may seed (nor its import, 2 ms at start-up).
_ids = _random.Random(_seed())
_bits = _ids.getrandbits
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _ids.seed(_seed()))


def new_id() -> str:
    """A random 32-hex-digit id (uuid4-sized, cheaper to make)."""
    return f"{_bits(128):032x}"


class Execution:
    """One top-level run of the scheduler."""

    __slots__ = ("id", "context", "job", "start_time", "argv")

    def __init__(self, id: str | None = None, context: dict | None = None) -> None:
        self.id = id or new_id()
        self.context = context or {}
        self.job: Job | None = None
        self.start_time = time.time()
        self.argv: list[str] = []

    def __repr__(self) -> str:
        return f"Execution(id={self.id[:8]})"


class Job:
    """One evaluation of a task with concrete arguments."""

    __slots__ = (
        "id",
        "task",
        "expr",
        "call_args",
        "kwargs",
        "arg_hashes",
        "args_hash",
        "eval_hash",
        "call_hash",
        "result_hash",
        "parent_job",
        "child_jobs",
        "execution",
        "state",
        "start_time",
        "end_time",
        "result",
        "error",
        "promise",
        "cached",
        "reason",
        "attempt",
        "executor_name",
        "limits",
        "options",
        "exported",
        "context",
        "returned",
        "expr_hash",
        "replayed",
        "prov",
        "inline",
        "context_reads",
    )

    def __init__(
        self,
        task: Task,
        expr: TaskExpression | None,
        execution: Execution | None = None,
        parent_job: Job | None = None,
    ) -> None:
        self.id = new_id()
        self.task = task
        self.expr = expr
        self.call_args: tuple = ()
        self.kwargs: dict = {}
        self.arg_hashes: dict[str, str] = {}
        self.args_hash = ""
        self.eval_hash = ""
        self.call_hash: str | None = None
        self.result_hash: str | None = None
        self.parent_job = parent_job
        self.child_jobs: list[Job] = []
        self.execution = execution
        self.state = JobState.PENDING
        self.start_time = time.time()
        self.end_time: float | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.promise: Promise | None = None
        self.cached = False
        self.reason = ""
        self.attempt = 0
        self.executor_name = task.executor_name
        self.limits: dict[str, int] = {}
        self.options: dict = {}
        self.exported: dict = _NO_EXPORTS
        self.context: dict = {}
        # What the function returned, when it held expressions (recorded for replays).
        self.returned: Any = None
        # The value hash of the recorded returned expression, once known.
        self.expr_hash: str | None = None
        # True when the call came from the cache and only its expression was re-evaluated.
        self.replayed = False
        # False when the job's provenance is not recorded (prov=False, or under such a job).
        self.prov = True
        # For scheduler tasks that cache like a call (catch): evaluates in the scheduler
        # instead of an executor; called as inline(job, cached_expression_or_None).
        self.inline: Any = None
        # Context values read by get_context under this job (its expression, the
        # defaults of the calls it made): {var_path: value hash, "-" if absent}, and
        # "*": the whole context's hash for a read under update_context. None: none.
        self.context_reads: dict[str, str] | None = None

    def reads_text(self) -> str:
        """:attr:`context_reads` as recorded with the call ("" for none)."""
        reads = self.context_reads
        return json.dumps(reads, sort_keys=True, separators=(",", ":")) if reads else ""

    def transition(self, new_state: JobState) -> None:
        """Move to ``new_state``, refusing moves the lifecycle does not allow."""
        if new_state not in _TRANSITIONS[self.state]:
            raise IllegalTransition(
                f"job {self.id[:8]} ({self.task.fullname}) cannot go from "
                f"{self.state.value} to {new_state.value}"
            )
        self.state = new_state
        if new_state in _TERMINAL:
            self.end_time = time.time()

    @property
    def args(self) -> tuple[tuple, dict]:
        """The call's arguments as insitro/redun's executors read them:
        ``args, kwargs = job.args`` (the scheduler itself reads :attr:`call_args`
        and :attr:`kwargs`)."""
        return (self.call_args, self.kwargs)

    @property
    def eval_args(self) -> tuple[tuple, dict]:
        """The same as :attr:`args`. Set (as redun's scheduler does when it starts a job),
        it gives the call's arguments and moves a pending job to running."""
        return (self.call_args, self.kwargs)

    @eval_args.setter
    def eval_args(self, value: tuple[tuple, dict]) -> None:
        args, kwargs = value
        self.call_args, self.kwargs = tuple(args), dict(kwargs)
        if self.state is JobState.PENDING:
            self.transition(JobState.RUNNING)

    def resolve(self, result: Any) -> None:
        """End the job with ``result`` (done), as redun's ``Job.resolve``; its promise is
        fulfilled. The scheduler's own path is ``scheduler.done_job``."""
        self._settle(JobState.DONE, result, None)

    def reject(self, error: BaseException) -> None:
        """End the job with ``error`` (failed), as redun's ``Job.reject``; its promise is
        rejected. The scheduler's own path is ``scheduler.reject_job``."""
        self._settle(JobState.FAILED, None, error)

    def _settle(self, state: JobState, result: Any, error: BaseException | None) -> None:
        if self.state is JobState.PENDING and state is JobState.DONE:
            self.transition(JobState.RUNNING)
        self.transition(state)
        self.result, self.error = result, error
        promise = self.promise
        if promise is not None and promise.is_pending:
            if error is None:
                promise.do_resolve(result)
            else:
                promise.do_reject(error)

    @property
    def status(self) -> str:
        return self.state.value.upper()

    @property
    def task_name(self) -> str:
        return self.task.fullname

    @property
    def duration(self) -> float | None:
        return None if self.end_time is None else self.end_time - self.start_time

    def get_option(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    def get_options(self) -> dict:
        return dict(self.options)

    def get_raw_options(self) -> dict:
        """The task's options with the call's own over them (``task.options(...)()``),
        as given: before the scheduler folds in exported options."""
        expr_options = self.expr.task_options if self.expr is not None else None
        return {**self.task.get_task_options(), **(expr_options or {})}

    def get_export_options(self) -> dict:
        """The options this job passes down to every job below it."""
        return dict(self.exported)

    def get_context(self) -> dict:
        return self.context

    def __repr__(self) -> str:
        return f"Job(id={self.id[:8]}, task={self.task.fullname}, state={self.state.value})"

    def __reduce__(self) -> Any:
        # A job is not a value: pickled inside something that refers to it (an error
        # keeps its job for messages), it becomes None.
        return (_none, ())


def _none() -> None:
    return None


def release_jobs(jobs: Iterable[Job]) -> None:
    """Break the reference cycles of finished jobs (parent and children, promise, expression)
    so that they are freed as soon as nothing else holds them."""
    for job in jobs:
        job.child_jobs = []
        job.parent_job = None
        job.promise = None
        job.expr = None
        job.returned = None
