"""Calls: a task call becomes a job, found in the cache, replayed, or to be run.

A call is identified by its task's hash, its arguments' hashes and the context
it reads (its eval hash); a second call with the same eval hash in a run shares
the first one's job. New jobs are looked up in the cache in batches
(:class:`~redun.scheduler.cache.CacheChecker`); a hit settles the job, a replay
re-evaluates the expression the recorded call returned. The functions are
:class:`~redun.scheduler.core.Scheduler`'s methods (``self`` is the scheduler).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from redun.events import JobStateChanged
from redun.expression import Expression, TaskExpression
from redun.hashing import hash_parts, hash_value
from redun.promise import Promise
from redun.scheduler.binding import bind_arguments
from redun.scheduler.cache import Replay
from redun.scheduler.context import merge_contexts
from redun.scheduler.exprkey import expression_key
from redun.scheduler.job import Job, JobState, job_options
from redun.scheduler.jobinfo import fill_job_info, job_info_params
from redun.scheduler.lifecycle import preprocess_arguments
from redun.scheduler.reduce import reduce_value
from redun.task import Task
from redun.task_options import CacheScope
from redun.value import lifecycle_hooks

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler


def call_task(
    self: Scheduler,
    task: Task,
    expr: TaskExpression | None,
    args: tuple,
    kwargs: dict,
    parent: Job | None,
) -> Promise:
    """The job of a call of ``task`` with these arguments: hashes them and adds the job."""
    if lifecycle_hooks.active:
        args, kwargs = preprocess_arguments(self._handle_forks, parent, args, kwargs)
    arg_hashes, info_params = argument_hashes(task, args, kwargs)
    return _add_call(self, task, expr, parent, args, kwargs, arg_hashes, info_params=info_params)


def argument_hashes(task: Task, args: tuple, kwargs: dict) -> tuple[dict[str, str], Any]:
    """The hash of each argument that identifies a call (by parameter name; not the
    ``config_args`` nor the JobInfo parameters), and those JobInfo parameters."""
    bound = bind_arguments(task, args, kwargs)
    config_args = task.get_task_option("config_args")
    info_params = job_info_params(task)
    if info_params:
        # JobInfo parameters are filled in by the scheduler: not inputs.
        config_args = [*(config_args or ()), *info_params]
    arg_hashes = {
        name: hash_value(value)
        for name, value in bound.items()
        if not config_args or name not in config_args
    }
    return arg_hashes, info_params


def args_hash_of(arg_hashes: dict[str, str]) -> str:
    """The hash of a call's arguments, from :func:`argument_hashes`."""
    return hash_parts(*[f"{name}={digest}" for name, digest in arg_hashes.items()])


def hash_args_eval(type_registry: Any, task: Task, args: tuple, kwargs: dict) -> tuple[str, str]:
    """``(eval_hash, args_hash)`` of a call of ``task`` outside any context override, as
    the scheduler computes them (redun's ``redun.task.hash_args_eval``; the type
    registry argument is redun's and is not needed here)."""
    args_hash = args_hash_of(argument_hashes(task, args, kwargs)[0])
    return hash_parts(task.hash, args_hash), args_hash


def eval_hash(self: Scheduler, task: Task, args_hash: str, context: dict) -> str:
    """What identifies a call: the task's hash and the arguments' hash, as in redun.

    The run's context is not part of it: the values get_context() reads under a
    call are recorded with it (Job.context_reads) and checked against the context
    when the call is taken from the cache, so a context change re-runs only what
    read a changed value. A call under ``update_context`` is keyed by the context
    it sees too: calls of the same arguments under different overrides are not one.
    """
    execution = self.execution
    if context and (execution is None or context is not execution.context):
        return hash_parts(task.hash, args_hash, self._context_hash(context))
    return hash_parts(task.hash, args_hash)


def call_inline(
    self: Scheduler,
    task: Task,
    expr: TaskExpression | None,
    parent: Job | None,
    arg_hashes: dict[str, str],
    run: Callable[[Job, Any], Any],
) -> Promise:
    """A scheduler task evaluated as a cached, recorded call of its own (``catch``).

    Args:
        task: the scheduler task (with the call's options).
        expr: the scheduler expression being evaluated.
        parent: the job it is evaluated in.
        arg_hashes: what identifies the call (name -> hash).
        run: ``run(job, cached)`` evaluates the call under ``job`` (``cached`` is the
            expression recorded by an earlier call, or None) and returns a promise;
            it sets ``job.returned`` to the expression whose value is the result.
    """
    return _add_call(self, task, expr, parent, (), {}, arg_hashes, inline=run)


def _add_call(
    self: Scheduler,
    task: Task,
    expr: TaskExpression | None,
    parent: Job | None,
    args: tuple,
    kwargs: dict,
    arg_hashes: dict[str, str],
    **extra: Any,
) -> Promise:
    """The job of a call identified by ``arg_hashes``: its hashes, options and context
    made, then :func:`add_job` (``extra``: its ``inline`` or ``info_params``)."""
    args_hash = args_hash_of(arg_hashes)
    options, exported = job_options(task, parent)
    context = self._context_for(parent, options)
    eval_hash = self._eval_hash(task, args_hash, context)
    return self.add_job(
        task,
        expr,
        parent,
        args,
        kwargs,
        arg_hashes,
        args_hash,
        eval_hash,
        context,
        options=options,
        exported=exported,
        **extra,
    )


def add_job(
    self: Scheduler,
    task: Task,
    expr: TaskExpression | None,
    parent: Job | None,
    args: tuple,
    kwargs: dict,
    arg_hashes: dict[str, str],
    args_hash: str,
    eval_hash: str,
    context: dict,
    *,
    inline: Callable[[Job, Any], Promise] | None = None,
    options: dict,
    exported: dict,
    info_params: Any = None,
) -> Promise:
    """A promise of the call's value: a new job, or the job of the same call in this run.

    ``inline`` makes a job of a scheduler task that caches like a call (``catch``):
    instead of an executor, ``inline(job, None)`` evaluates it, or on a replay
    ``inline(job, recorded_expression)``; it returns a promise and sets
    ``job.returned`` to the expression it evaluated.
    """
    scope = options.get("cache_scope", CacheScope.BACKEND)
    none_key: Any = None
    none_expr: Expression | None = None
    if scope is not CacheScope.NONE:
        existing = self._jobs_by_eval.get(eval_hash)
        if existing is not None:
            if parent is not None:
                parent.child_jobs.append(existing)
            assert existing.promise is not None
            return existing.promise
    elif expr is not None:
        none_expr = expr
        # As in insitro/redun, even a NONE-scoped call is made once per parent job
        # for one expression (``x`` used twice, or ``f()`` written twice in a task):
        # only separate parents, or separate runs, call it again.
        none_key = ("cache_scope=NONE", expression_key(expr))
        seen = self._evaluated_under(parent).get(none_key)
        if seen is not None:
            return seen[1]
    job = Job(task, expr, self.execution, parent)
    job.call_args = args
    job.kwargs = kwargs
    job.arg_hashes = arg_hashes
    job.args_hash = args_hash
    job.eval_hash = eval_hash
    job.options = options  # shared, read-only
    job.exported = exported
    job.context = context
    job.inline = inline
    if options is not task.options_view:
        job.executor_name = options.get("executor", "default")
    if info_params:
        fill_job_info(job, info_params)
    tags = options.get("tags")
    if tags:
        # As in redun: the job gets the tags in force for the call (.options(tags=...)
        # over @task(tags=...)); the task version only the decorator's own.
        self.add_tags("job", job.id, tags)
        own = task._task_options_base.get("tags")
        if own:
            self.add_tags("task", task.hash, own)
    if (parent is not None and not parent.prov) or not options.get("prov", True):
        job.prov = False  # not recorded, nor read from the cache (as in the original)
    promise: Promise = Promise()
    job.promise = promise
    if none_expr is not None:
        self._evaluated_under(parent)[none_key] = (none_expr, promise)
    if parent is not None:
        parent.child_jobs.append(job)
    elif self.execution is not None and self.execution.job is None:
        self.execution.job = job
    # A NONE-scoped job is never shared: keyed by its own id, it is found by nobody.
    self._jobs_by_eval[eval_hash if scope is not CacheScope.NONE else job.id] = job
    self._emit(job)
    if self._use_cache and scope is CacheScope.BACKEND and job.prov:
        self._to_check.append(job)
    else:
        if not self._use_cache:
            job.reason = "cache disabled"
        elif scope is CacheScope.CSE:
            job.reason = "task has cache=False"
        elif scope is CacheScope.NONE:
            job.reason = "task has cache_scope=NONE"
        else:
            job.reason = "prov=False: not recorded, so never taken from the cache"
        self._to_run.append(job)
    return promise


def context_for(self: Scheduler, parent: Job | None, options: dict) -> dict:
    """The context a call under ``parent`` reads, with the call's own overrides."""
    if parent is not None:
        base = parent.context
    else:
        base = self.execution.context if self.execution else {}
    override = options.get("_context_override")
    return merge_contexts(base, override) if override else base


def context_hash(self: Scheduler, context: dict) -> str:
    """The hash of ``context``, computed once per context object."""
    # Jobs share their parent's context object: hash each object once.
    entry = self._context_hashes.get(id(context))
    if entry is None or entry[0] is not context:
        entry = (context, hash_value(context))
        self._context_hashes[id(context)] = entry
    return entry[1]


def emit(self: Scheduler, job: Job) -> None:
    """Tell job-state subscribers (the recorder, the live display) about ``job``."""
    if self._emit_jobs:
        self.events.job_changed(job, _job_event)


def check_cache(self: Scheduler, jobs: list[Job]) -> None:
    """Look ``jobs`` up in the cache, in one batch: hits settle, replays re-evaluate,
    the rest are queued to run."""
    assert self._cache is not None
    for job, hit in self._cache.lookup(jobs):
        if hit is None:
            self._to_run.append(job)
            continue
        if isinstance(hit, Replay):
            self._replay(job, hit)
            continue
        job.cached = True
        job.call_hash = hit.call_hash
        job.result_hash = hit.result_hash
        job.result = hit.value
        job.reason = "cached: same code and arguments as an earlier call"
        job.transition(JobState.CACHED)
        self._emit(job)
        assert job.promise is not None
        job.promise.do_resolve(hit.value)


def replay(self: Scheduler, job: Job, replay: Replay) -> None:
    """Take ``job`` from the cache, re-evaluating the expression its call returned."""
    job.cached = True
    job.replayed = True
    job.reason = replay.reason
    job.expr_hash = replay.expr_hash
    self._emit(job)  # still pending (its function does not run), now known as cached
    if job.inline is not None:
        self._start_inline(job, replay.expr)
    else:
        self._settle_with(job, reduce_value(replay.expr, self._evaluator(job)))


def settle_with(self: Scheduler, job: Job, reduced: Any) -> None:
    """Finish ``job`` with ``reduced``, now or once the promise it is settles."""
    if type(reduced) is Promise:
        reduced.add_waiter(_job_result_ready, (self, job))
    else:
        self._finish_job(job, reduced)


def start_inline(self: Scheduler, job: Job, cached: Any) -> None:
    """Evaluate a scheduler task that caches like a call (see :func:`call_inline`)."""
    try:
        outcome = job.inline(job, cached)
    except Exception as error:
        self._fail_job(job, error)
        return
    self._settle_with(job, outcome)


def _job_event(job: Job) -> JobStateChanged:
    """The event of ``job``'s current state, for subscribers of job states."""
    parent = job.parent_job
    return JobStateChanged(
        job.execution.id if job.execution else "",
        job_id=job.id,
        task=job.task.fullname,
        state=job.state._value_,
        parent_job_id=parent.id if parent is not None else None,
        executor=job.executor_name,
        cached=job.cached,
        reason=job.reason,
        job=job,
    )


def _job_result_ready(arg: tuple, ok: bool, value: Any) -> None:
    scheduler, job = arg
    if job.state is not JobState.RUNNING and not (job.replayed and job.state is JobState.PENDING):
        return  # cancelled meanwhile
    if ok:
        scheduler._finish_job(job, value)
    else:
        scheduler._fail_job(job, value)
