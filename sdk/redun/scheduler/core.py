"""The scheduler: reduces expression graphs to values, one job per distinct call.

The loop runs on the thread that called :meth:`Scheduler.run`. Executors run
task functions elsewhere and post outcomes to an inbox; the loop takes them,
settles promises (which never recurse, see :mod:`redun.promise`), checks the
cache in batches, and hands new jobs to executors in batches.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from queue import Empty, SimpleQueue
from typing import Any

from redun.config import Config
from redun.errors import (
    ExecutionCancelled,
    ExecutorError,
    JobCancelled,
    SchedulerError,
    UsageError,
)
from redun.events import (
    EventBus,
    ExecutionFinished,
    ExecutionStarted,
    JobStateChanged,
    LogLine,
)
from redun.executors.base import Executor, executor_type_for, get_executor_class
from redun.expression import (
    OPERATIONS,
    Expression,
    SchedulerExpression,
    SimpleExpression,
    TaskExpression,
    ValueExpression,
)
from redun.hashing import hash_parts, hash_value
from redun.promise import Promise, drain
from redun.scheduler.binding import bind_arguments, lazy_defaults
from redun.scheduler.cache import CacheChecker, Replay
from redun.scheduler.context import ContextEnv, context_from_config, merge_contexts
from redun.scheduler.current import (
    current_job,
    current_scheduler,
    get_current_job,
    get_current_scheduler,
    set_current_scheduler,
    set_job_context,
)
from redun.scheduler.exprkey import expression_key
from redun.scheduler.job import Execution, Job, JobState, job_options, release_jobs
from redun.scheduler.jobinfo import fill_job_info, job_info_params
from redun.scheduler.lifecycle import postprocess_result, preprocess_arguments
from redun.scheduler.limits import Limits
from redun.scheduler.reduce import reduce_value
from redun.scheduler.status import job_status_report, status_interval
from redun.task import SchedulerTask, Task, get_task_registry
from redun.task_options import CacheScope
from redun.value import lifecycle_hooks

logger = logging.getLogger("redun")

# Posted by run_job_function (or a remote executor) when a job's function actually starts.
_STARTED = "started"
# Seconds a job that started on a worker thread may wait to be shown running.
_START_NOTICE = 0.05
# Posted by a remote executor when the job waits in its platform's queue.
_QUEUED = "queued"
# States in which a job may still receive its outcome from an executor.
_ACTIVE = frozenset({JobState.PENDING, JobState.QUEUED, JobState.RUNNING})
# Posted by cancel_job.
_CANCEL = "cancel"
# Posted by cancel(): the loop stops the execution when it takes it.
_CANCEL_RUN = "cancel_run"
# Posted by an async task that awaits an expression (see redun.scheduler.async_tasks).
_EVALUATE = "evaluate"

# How deep argument evaluation may recurse before work goes to the explicit stack.
_MAX_DEPTH = 50


class DryRunResult(SchedulerError):
    """Raised by ``run(dryrun=True)`` when jobs would have to run; lists them."""

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = jobs
        names = ", ".join(sorted({job.task.fullname for job in jobs}))
        super().__init__(f"dryrun: {len(jobs)} job(s) would run ({names})")


class Scheduler:
    """Evaluates expressions: runs each distinct call once, reusing cached results.

    Args:
        config: a :class:`redun.config.Config` (``[backend]``, ``[executors.*]``,
            ``[limits]``, ``[scheduler]`` sections).
        backend: where calls and values are recorded; default from ``[backend] db_uri``,
            else an in-memory store.
        executor: an executor to use as ``default`` instead of the thread pool.
        job_status_interval: log a table of job states every this many seconds while
            the run waits (also ``[scheduler] job_status_interval``; off by default:
            ``redun run`` shows progress live).
        migrate: migrate an older database schema (True) or refuse it (False) when the
            backend opens; None follows ``[backend] automigrate``.
    """

    def __init__(
        self,
        config: Config | None = None,
        backend: Any = None,
        executor: Executor | None = None,
        logger: Any = None,
        use_task_traceback: bool = True,
        job_status_interval: int | None = None,
        migrate: bool | None = None,
    ) -> None:
        self.config = config if config is not None else Config()
        self.logger = logger or globals()["logger"]
        self.use_task_traceback = use_task_traceback
        self.events = EventBus()
        self._backend = backend
        self.executors: dict[str, Executor] = {}
        self._executor_configs = {
            name.split(".", 1)[1]: dict(section)
            for name, section in self.config.items()
            if name.startswith("executors.")
        }
        if executor is not None:
            self.add_executor(executor)
        self.limits: dict[str, int] = {
            key: int(value) for key, value in (self.config.get("limits") or {}).items()
        }
        self.context: dict = context_from_config(self.config.get("scheduler"))
        # Resources held by running jobs, per limit name (kept across runs, like redun).
        self.limits_used: defaultdict[str, int] = defaultdict(int)
        self._limits = Limits(self.limits, self.limits_used)
        self._inbox: SimpleQueue[tuple[Job, bool | str | None, Any]] = SimpleQueue()
        # Jobs whose function started on a worker thread. Appending wakes nobody: the
        # loop takes them when it wakes for something else (an outcome, at the latest
        # _START_NOTICE seconds later), so a short job costs no GIL hand-over to say
        # it started; its outcome passes it through RUNNING anyway.
        self._started: deque[tuple[Job, int]] = deque()
        self._running = False
        # As in insitro/redun: a job status table logged every this many seconds.
        self.job_status_interval = status_interval(job_status_interval, self.config)
        self._migrate = migrate  # None: the backend's own [backend] automigrate
        self._reset()

    # -- configuration -------------------------------------------------------
    @property
    def backend(self) -> Any:
        if self._backend is None:
            from redun.backends import backend_from_config

            self._backend = backend_from_config(self.config.get("backend"))
        return self._backend

    def add_executor(self, executor: Executor) -> None:
        executor.set_scheduler(self)
        self.executors[executor.name] = executor

    def get_executor(self, name: str) -> Executor:
        executor = self.executors.get(name)
        if executor is None:
            section = self._executor_configs.get(name)
            type_name = executor_type_for(name, section)
            if type_name is None:
                raise UsageError(
                    f"executor {name!r} is not configured; add an [executors.{name}] section "
                    "to redun.ini (type = threads|processes|subprocess|docker|aws_batch|gcp_batch|spark)"
                )
            executor = get_executor_class(type_name)(name, self, section or {})
            self.add_executor(executor)
            executor.start()
        return executor

    def load(self, migrate: bool | None = None) -> None:
        """Open the backend; ``migrate`` (default: the one given to the scheduler) overrides
        ``[backend] automigrate`` for an older schema."""
        if migrate is None:
            migrate = self._migrate
        self.backend.load(migrate=migrate) if hasattr(self.backend, "load") else None

    @property
    def is_running(self) -> bool:
        return self._running

    @property
    def use_cache(self) -> bool:
        """False while running with ``cache=False`` (every job re-runs)."""
        return self._use_cache

    def _reset(self) -> None:
        self.execution: Execution | None = None
        self._jobs_by_eval: dict[str, Job] = {}
        self._to_check: list[Job] = []
        self._to_run: list[Job] = []
        self._limits.drop_waiters()  # jobs of an earlier run; its holders keep theirs
        # Jobs handed to an executor whose outcome has not come back: their work is out.
        self._working: set[Job] = set()
        self._depth = 0
        self._deferred: list[tuple[Expression, Job | None, Promise]] = []
        self._dryrun = False
        self._dryrun_jobs: list[Job] = []
        self._use_cache = True
        self._cache: CacheChecker | None = None
        self._emit_jobs = False
        self._recorder: Any = None
        self._context_hashes: dict[int, tuple[dict, str]] = {}
        self._handle_forks: dict[tuple[str, str], int] = {}
        # Scheduler and operator expressions evaluated so far, per parent job (None: the
        # root): key -> (expression, value or promise). See _evaluated_under.
        self._evaluated: dict[Any, dict[Any, tuple[Expression, Any]]] = {}

    # -- running -----------------------------------------------------------
    def run(
        self,
        expr: Any,
        exec_argv: list[str] | None = None,
        dryrun: bool = False,
        cache: bool = True,
        tags: Iterable[tuple[str, Any]] = (),
        context: dict | None = None,
        execution_id: str | None = None,
    ) -> Any:
        """Evaluate ``expr`` and return its value (or raise the task's error).

        Args:
            expr: an expression (or any value holding expressions).
            exec_argv: the command line, recorded with the execution.
            dryrun: evaluate only what the cache can answer; raise :class:`DryRunResult`
                listing the jobs that would run, if any.
            cache: False re-runs every job instead of reusing recorded results.
            context: values for :func:`redun.get_context`, over the config's.
            execution_id: use this id instead of a new one.
        """
        if self._running:
            raise SchedulerError(
                "this scheduler is already running an execution; a task cannot call "
                "scheduler.run() — return an expression instead"
            )
        self._reset()
        self._drain_inbox()
        self._running = True
        # Every step of the cleanup runs even when one before it raises (a subscriber,
        # the recorder's final commit): the scheduler is never left marked running.
        with contextlib.ExitStack() as cleanup:
            cleanup.callback(self._stopped)
            return self._run(expr, cleanup, exec_argv, dryrun, cache, tags, context, execution_id)

    def _stopped(self) -> None:
        self._running = False

    def _drain_inbox(self) -> None:
        """Take what jobs of earlier runs posted since they ended: outcomes are dropped,
        output goes out as LogLines of the execution that wrote it."""
        inbox = self._inbox
        while True:
            try:
                item = inbox.get_nowait()
            except Empty:
                break
            if item[1] is not _CANCEL_RUN:  # a cancel of a run that has ended
                self._handle_outcome(*item)
        started = self._started
        while started:
            job, attempt = started.popleft()
            if job.attempt == attempt:
                self._handle_outcome(job, _STARTED, None)

    def _run(
        self,
        expr: Any,
        cleanup: contextlib.ExitStack,
        exec_argv: list[str] | None,
        dryrun: bool,
        cache: bool,
        tags: Iterable[tuple[str, Any]],
        context: dict | None,
        execution_id: str | None,
    ) -> Any:
        self._dryrun = dryrun
        self._use_cache = cache
        execution = Execution(execution_id, merge_contexts(self.context, context))
        execution.argv = list(exec_argv or [])
        self.execution = execution
        backend = self.backend
        if self._migrate is not None:
            self.load()  # before anything else opens it with the config's automigrate
        self._cache = CacheChecker(backend, get_task_registry())
        recorder = backend.recorder(self) if hasattr(backend, "recorder") else None
        if recorder is not None:
            cleanup.callback(self.events.attach(recorder))
            if hasattr(recorder, "close"):
                cleanup.callback(recorder.close)  # after ExecutionFinished: it commits that too
        self._emit_jobs = self.events.watches_jobs
        status, error_text = "failed", None

        def finished() -> None:
            self.events.emit(ExecutionFinished(execution.id, status=status, error=error_text))

        cleanup.callback(finished)
        cleanup.callback(current_scheduler.reset, current_scheduler.set(self))
        self.events.emit(ExecutionStarted(execution.id, expr=_safe_repr(expr), argv=execution.argv))
        self._recorder = recorder
        if tags:
            self.add_tags("execution", execution.id, list(tags))
        try:
            root = reduce_value(expr, self._evaluator(None))
            result = self._wait(root)
            status = "done"
            return result
        except DryRunResult:
            status = "done"
            raise
        except (KeyboardInterrupt, ExecutionCancelled) as error:
            # Ctrl-C or cancel(): cancelled. A task that raised KeyboardInterrupt failed.
            if getattr(error, "__redun_job__", None) is None:
                status = "cancelled"
            else:
                error_text = f"{type(error).__name__}: {error}"
            self._cancel_outstanding()
            raise
        except BaseException as error:
            error_text = f"{type(error).__name__}: {error}"
            self._cancel_outstanding()
            raise

    def _wait(self, root: Any) -> Any:
        if type(root) is not Promise:
            self._pump()
            return root
        inbox = self._inbox
        started = self._started
        told = False
        interval = self.job_status_interval
        next_status = None if interval is None else time.monotonic() + interval
        while True:
            self._pump()
            if not root.is_pending:
                break
            if started and self._take_started():
                continue  # outcomes came with the starts: dispatch what they freed
            if not self._working:
                told = self._wait_for_earlier_work(told)
            # While work is out, wake now and then to say which of it started.
            timeout = _START_NOTICE
            if next_status is not None:
                timeout = max(0.0, min(timeout, next_status - time.monotonic()))
            try:
                item = inbox.get(timeout=timeout)
            except Empty:
                if started and self._take_started():
                    continue
                if next_status is not None and time.monotonic() >= next_status:
                    self.log_job_statuses()
                    next_status = time.monotonic() + interval  # type: ignore[operator]
                continue
            while True:
                self._handle_outcome(*item)
                try:
                    item = inbox.get_nowait()
                except Empty:
                    break
            if started:
                self._take_started()
        if self.job_status_interval is not None:
            self.log_job_statuses()
        if root.is_rejected:
            raise root.error
        # Jobs still running were forked (fork_thread) and never joined: the
        # execution ends when they do, so their results are recorded too.
        # (Cancelled ones are over already, whatever their threads still do.)
        while not self._dryrun and any(not j.state.is_terminal for j in self._working):
            self._handle_outcome(*inbox.get())
            self._pump()
        if self._dryrun and self._dryrun_jobs:
            raise DryRunResult(self._dryrun_jobs)
        return root.value

    def _wait_for_earlier_work(self, told: bool) -> bool:
        """Nothing of this run is out: go on waiting only if work an earlier run left
        running holds resources (its outcome frees them); else nothing can ever come.

        Raises:
            DryRunResult: a dry run found what would run.
            SchedulerError: no job runs and none can start.
        """
        if self._dryrun:
            raise DryRunResult(self._dryrun_jobs)
        earlier = [job for job in self._limits.holders() if job.execution is not self.execution]
        if not earlier:
            raise SchedulerError(
                "the workflow cannot make progress: no job is running and none can start "
                f"(jobs waiting for resources: {self._limits.waiting}; limits: {self.limits})"
            )
        if not told:
            self.logger.info(
                "waiting for resources held by work of an earlier run that still runs: %s",
                ", ".join(sorted({job.task.fullname for job in earlier})),
            )
        return True

    def _take_started(self) -> bool:
        """Show running the jobs that started on a worker; True if outcomes were handled.

        A worker says a job started after posting the outcome of the one before it, so
        the outcomes in the inbox once the starts are taken are handled first: no more
        jobs show running than there are workers.
        """
        started = self._started
        taken = [started.popleft() for _ in range(len(started))]
        handled = False
        inbox = self._inbox
        while True:
            try:
                item = inbox.get_nowait()
            except Empty:
                break
            handled = True
            self._handle_outcome(*item)
        for job, attempt in taken:
            if job.attempt == attempt:  # not an earlier attempt of a job since retried
                self._handle_outcome(job, _STARTED, None)
        return handled

    def _pump(self) -> None:
        """Check the cache and dispatch jobs until nothing new appears."""
        drain()
        self._run_deferred()
        while self._to_check or self._to_run or self._deferred:
            if self._deferred:
                self._run_deferred()
                drain()
            if self._to_check:
                batch, self._to_check = self._to_check, []
                self._check_cache(batch)
                drain()
            if self._to_run:
                batch, self._to_run = self._to_run, []
                self._dispatch(batch)
                drain()

    # -- evaluation ------------------------------------------------------------
    def _evaluator(self, parent_job: Job | None) -> Callable[[Expression], Any]:
        return lambda expr: self._eval_expr(expr, parent_job)

    def evaluate(self, expr: Any, parent_job: Job | None = None) -> Promise:
        """A promise of ``expr``'s value (for scheduler tasks)."""
        value = reduce_value(expr, self._evaluator(parent_job))
        return value if type(value) is Promise else Promise.resolved(value)

    def _eval_expr(self, expr: Expression, parent_job: Job | None) -> Any:
        # Nested arguments are evaluated by direct calls up to a small depth, then
        # deferred to an explicit stack: a 100,000-deep expression never recurses.
        if self._depth >= _MAX_DEPTH:
            promise: Promise = Promise()
            self._deferred.append((expr, parent_job, promise))
            return promise
        self._depth += 1
        try:
            return self._eval_expr_now(expr, parent_job)
        finally:
            self._depth -= 1

    def _run_deferred(self) -> None:
        deferred = self._deferred
        while deferred:
            expr, parent_job, promise = deferred.pop()
            try:
                promise.do_resolve(self._eval_expr(expr, parent_job))
            except Exception as error:
                promise.do_reject(error)

    def _eval_expr_now(self, expr: Expression, parent_job: Job | None) -> Any:
        cls = type(expr)
        if cls is TaskExpression:
            return self._eval_task_expr(expr, parent_job)  # type: ignore[arg-type]
        if cls is SchedulerExpression:
            return self._eval_scheduler_expr(expr, parent_job)  # type: ignore[arg-type]
        if cls is SimpleExpression:
            return self._eval_simple_expr(expr, parent_job)  # type: ignore[arg-type]
        if cls is ValueExpression:
            return reduce_value(expr.value, self._evaluator(parent_job))  # type: ignore[attr-defined]
        if isinstance(expr, SchedulerExpression):
            return self._eval_scheduler_expr(expr, parent_job)
        if isinstance(expr, TaskExpression):
            return self._eval_task_expr(expr, parent_job)
        if isinstance(expr, SimpleExpression):
            return self._eval_simple_expr(expr, parent_job)
        raise SchedulerError(f"cannot evaluate expression of type {cls.__name__}")

    def _resolve_task(self, expr: TaskExpression) -> Task:
        task = expr.task
        if task is None or task.stale:
            # A call through a task restored from the cache runs the task as defined now.
            task = get_task_registry().require(expr.task_name)
            if expr.task_options:
                task = task.options(**expr.task_options)
        return task

    def _eval_task_expr(self, expr: TaskExpression, parent_job: Job | None) -> Any:
        task = self._resolve_task(expr)
        if task.lazy_options:
            # Options given as expressions are evaluated where the call is made.
            lazy = {name: task.options_view[name] for name in task.lazy_options}
            return _then(
                reduce_value(lazy, self._evaluator(parent_job)),
                lambda options: self._eval_task_call(task.options(**options), expr, parent_job),
            )
        return self._eval_task_call(task, expr, parent_job)

    def _eval_task_call(self, task: Task, expr: TaskExpression, parent_job: Job | None) -> Any:
        evaluate = self._evaluator(parent_job)
        args = reduce_value(expr.args, evaluate) if expr.args else ()
        kwargs: Any = expr.kwargs
        defaults: Any = lazy_defaults(task, expr.args, kwargs)
        if defaults:
            # Defaults read the context of the call they belong to (its own
            # update_context included), not the caller's.
            base = self._context_for(parent_job, {})
            context = self._context_for(parent_job, task.options_view)
            env: Any = parent_job if context is base else ContextEnv(parent_job, context)
            defaults = reduce_value(defaults, self._evaluator(env))
            kwargs = reduce_value(kwargs, evaluate) if kwargs else {}
            if type(kwargs) is Promise or type(defaults) is Promise:
                kwargs = Promise.all([kwargs, defaults]).then(lambda kd: {**kd[0], **kd[1]})
            else:
                kwargs = {**kwargs, **defaults}
        else:
            kwargs = reduce_value(kwargs, evaluate) if kwargs else {}
        if type(kwargs) is not Promise:
            if type(args) is not Promise:
                return self._call_task(task, expr, args, kwargs, parent_job)
            # A chain's link: only its argument is still to come.
            return args.then(lambda ready: self._call_task(task, expr, ready, kwargs, parent_job))
        return Promise.all([args, kwargs]).then(
            lambda ak: self._call_task(task, expr, ak[0], ak[1], parent_job)
        )

    def _evaluated_under(self, parent_job: Job | None) -> dict[Any, tuple[Expression, Any]]:
        """What was evaluated under ``parent_job`` in this execution, by key.

        Scheduler tasks are not cached calls and operators are not jobs, so without
        this an expression referenced twice (``x + x``) would be evaluated twice. As in
        insitro/redun, each is evaluated once per parent job: a scheduler expression
        keyed by its hash (``echo(1) + echo(1)`` is one evaluation), an operator
        expression by identity (hashing every ``x[0]`` would cost more than it saves).
        Task calls need none of this: their jobs are shared by call hash.
        """
        memo = self._evaluated.get(parent_job)
        if memo is None:
            memo = self._evaluated[parent_job] = {}
        return memo

    def _eval_scheduler_expr(self, expr: TaskExpression, parent_job: Job | None) -> Any:
        task = self._resolve_task(expr)
        if not isinstance(task, SchedulerTask):
            return self._eval_task_expr(expr, parent_job)
        memo = self._evaluated_under(parent_job)
        key = expression_key(expr)
        seen = memo.get(key)
        if seen is not None:
            return seen[1]
        result = task.func(self, parent_job, expr, *expr.args, **expr.kwargs)
        evaluate = self._evaluator(parent_job)
        if type(result) is Promise:
            result = result.then(lambda value: reduce_value(value, evaluate))
        else:
            result = reduce_value(result, evaluate)
        memo[key] = (expr, result)  # the expression too: it keeps its id from being reused
        return result

    def _eval_simple_expr(self, expr: SimpleExpression, parent_job: Job | None) -> Any:
        memo = self._evaluated_under(parent_job)
        seen = memo.get(id(expr))
        if seen is not None:
            return seen[1]
        result = self._apply_simple_expr(expr, parent_job)
        memo[id(expr)] = (expr, result)
        return result

    def _apply_simple_expr(self, expr: SimpleExpression, parent_job: Job | None) -> Any:
        evaluate = self._evaluator(parent_job)
        args = reduce_value(expr.args, evaluate)
        kwargs = reduce_value(expr.kwargs, evaluate) if expr.kwargs else {}
        operation = OPERATIONS.get(expr.func_name)
        if operation is None:
            raise SchedulerError(f"unknown lazy operation {expr.func_name!r}")

        def apply(ak: list) -> Any:
            return reduce_value(operation(*ak[0], **ak[1]), evaluate)

        if type(args) is not Promise and type(kwargs) is not Promise:
            return apply([args, kwargs])
        return Promise.all([args, kwargs]).then(apply)

    # -- jobs --------------------------------------------------------------------
    def _call_task(
        self, task: Task, expr: TaskExpression | None, args: tuple, kwargs: dict, parent: Job | None
    ) -> Promise:
        if lifecycle_hooks.active:
            args, kwargs = preprocess_arguments(self._handle_forks, parent, args, kwargs)
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
        args_hash = hash_parts(*[f"{name}={digest}" for name, digest in arg_hashes.items()])
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
            info_params=info_params,
        )

    def _eval_hash(self, task: Task, args_hash: str, context: dict) -> str:
        if context:
            # The context is an input like the arguments: get_context() reads it
            # anywhere below this call, so a different context is a different call.
            return hash_parts(task.hash, args_hash, self._context_hash(context))
        return hash_parts(task.hash, args_hash)

    def call_inline(
        self,
        task: Task,
        expr: TaskExpression,
        parent: Job | None,
        arg_hashes: dict[str, str],
        run: Callable[[Job, Any], Promise],
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
        args_hash = hash_parts(*[f"{name}={digest}" for name, digest in arg_hashes.items()])
        options, exported = job_options(task, parent)
        context = self._context_for(parent, options)
        eval_hash = self._eval_hash(task, args_hash, context)
        return self.add_job(
            task,
            expr,
            parent,
            (),
            {},
            arg_hashes,
            args_hash,
            eval_hash,
            context,
            inline=run,
            options=options,
            exported=exported,
        )

    def add_job(
        self,
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
        existing = self._jobs_by_eval.get(eval_hash) if scope is not CacheScope.NONE else None
        if existing is not None:
            if parent is not None:
                parent.child_jobs.append(existing)
            assert existing.promise is not None
            return existing.promise
        job = Job(task, expr, self.execution, parent)
        job.args = args
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
            # @task(tags=...) / .options(tags=...): on the job, and on the task version.
            self.add_tags("job", job.id, tags)
            self.add_tags("task", task.hash, task.get_task_option("tags") or tags)
        if (parent is not None and not parent.prov) or not options.get("prov", True):
            job.prov = False  # not recorded, nor read from the cache (as in the original)
        promise: Promise = Promise()
        job.promise = promise
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

    def _context_for(self, parent: Job | None, options: dict) -> dict:
        if parent is not None:
            base = parent.context
        else:
            base = self.execution.context if self.execution else {}
        override = options.get("_context_override")
        return merge_contexts(base, override) if override else base

    def _context_hash(self, context: dict) -> str:
        # Jobs share their parent's context object: hash each object once.
        entry = self._context_hashes.get(id(context))
        if entry is None or entry[0] is not context:
            entry = (context, hash_value(context))
            self._context_hashes[id(context)] = entry
        return entry[1]

    def _emit(self, job: Job) -> None:
        if self._emit_jobs:
            self.events.job_changed(job, _job_event)

    def _check_cache(self, jobs: list[Job]) -> None:
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

    def _replay(self, job: Job, replay: Replay) -> None:
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

    def _settle_with(self, job: Job, reduced: Any) -> None:
        if type(reduced) is Promise:
            reduced.add_waiter(_job_result_ready, (self, job))
        else:
            self._finish_job(job, reduced)

    def _start_inline(self, job: Job, cached: Any) -> None:
        try:
            outcome = job.inline(job, cached)
        except Exception as error:
            self._fail_job(job, error)
            return
        self._settle_with(job, outcome)

    def _dispatch(self, jobs: list[Job]) -> None:
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

    def _refuse_async(self, executor: Executor, batch: list[Job]) -> list[Job]:
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

    def _release(self, job: Job) -> None:
        granted = self._limits.release(job)
        if granted:
            self._to_run.extend(granted)  # they hold their resources already

    # -- outcomes (executors call these from any thread) --------------------------
    def done_job(self, job: Job, result: Any) -> None:
        """Report that ``job``'s function returned ``result``. Thread-safe."""
        self._inbox.put((job, True, result))

    def reject_job(self, job: Job, error: BaseException) -> None:
        """Report that ``job``'s function raised ``error``. Thread-safe."""
        self._inbox.put((job, False, error))

    def cancel(self, reason: str = "the execution was cancelled") -> None:
        """Stop the execution in progress, from any thread.

        The loop takes the request between outcomes (never in the middle of a
        cache lookup or a database write), cancels the jobs still pending or
        running, and ``run`` raises :class:`~redun.errors.ExecutionCancelled`
        with ``reason``. A no-op when nothing runs.
        """
        if self._running:
            self._inbox.put((None, _CANCEL_RUN, reason))  # type: ignore[arg-type]

    def cancel_job(self, job: Job, message: str = "") -> None:
        """Cancel ``job`` (pending or running). Thread-safe.

        The job ends ``cancelled`` and is never retried; what waits on it fails
        with :class:`~redun.errors.JobCancelled` (``catch`` can handle it). Its
        executor is asked to stop the work; the job's resource limits are
        released only when the work has actually stopped (its outcome comes
        back), so a cancelled thread that runs on still holds them.
        """
        self._inbox.put((job, _CANCEL, message))

    def _cancel_job_now(self, job: Job, message: str) -> None:
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

    def evaluate_for_job(self, job: Job, expr: Any, callback: Callable[[bool, Any], None]) -> None:
        """Evaluate ``expr`` as a child of running ``job``; ``callback(ok, value)`` gets the
        outcome on the scheduler's thread. Thread-safe (async tasks ``await`` through it)."""
        self._inbox.put((job, _EVALUATE, (expr, callback)))

    def post_log(self, job: Job, stream: str, text: str) -> None:
        """Report output ``text`` that ``job`` wrote to ``stream``. Thread-safe.

        The line is stamped here, where it was written, with its time and its
        job's execution: a thread that outlives its run cannot have its output
        taken for the next run's.
        """
        execution_id = job.execution.id if job.execution is not None else ""
        self._inbox.put((job, None, (stream, text, execution_id, time.time())))

    def job_queued(self, job: Job) -> None:
        """Report that ``job`` waits in a remote platform's queue. Thread-safe."""
        self._inbox.put((job, _QUEUED, None))

    def job_started(self, job: Job) -> None:
        """Report that ``job``'s function started running (remotely). Thread-safe."""
        self._inbox.put((job, _STARTED, None))

    def run_job_function(self, job: Job, inline: bool = False) -> None:
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

                    result = run_script_task(task, job.args, job.kwargs)
                else:
                    result = task.func(*job.args, **job.kwargs)
        except BaseException as error:  # noqa: BLE001 - any error fails the job, not the worker
            if inline and isinstance(error, KeyboardInterrupt):
                raise
            self._inbox.put((job, False, error))
        else:
            self._inbox.put((job, True, result))
        finally:
            current_job.reset(token)

    def _handle_outcome(self, job: Job, ok: bool | str | None, value: Any) -> None:
        if ok is None:
            if job.state is JobState.PENDING and job in self._working:
                # Output comes from a job that runs, even if no start was noticed yet.
                self._handle_outcome(job, _STARTED, None)
            if self.events.active:
                stream, text, execution_id, when = value
                self.events.emit(
                    LogLine(execution_id, job_id=job.id, stream=stream, text=text, time=when)
                )
            return
        if ok is _CANCEL_RUN:
            raise ExecutionCancelled(value)
        if job.execution is not self.execution:
            # A job of an earlier run, ended (cancelled) with it. If this is its work
            # stopping, the resources it held until now come back.
            if ok is True or ok is False:
                self._release(job)
            return
        if ok is _CANCEL:
            self._cancel_job_now(job, value)
            return
        if ok is _STARTED:
            if job.state is JobState.PENDING or job.state is JobState.QUEUED:
                job.transition(JobState.RUNNING)
                self._emit(job)
            return
        if ok is _QUEUED:
            if job.state is JobState.PENDING:
                job.transition(JobState.QUEUED)
                self._emit(job)
            return
        if ok is _EVALUATE:
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
        if job.state not in _ACTIVE:
            return  # cancelled while it ran
        if not ok:
            if job.state is JobState.PENDING and any(
                started is job and attempt == job.attempt for started, attempt in self._started
            ):
                # It started on a worker, unnoticed yet: its outcome says so.
                self._handle_outcome(job, _STARTED, None)
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

    def _finish_job(self, job: Job, result: Any) -> None:
        try:
            if lifecycle_hooks.active:
                result = postprocess_result(result, job.eval_hash)
            result_hash = hash_value(result)
        except Exception as error:
            self._fail_job(job, error)
            return
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

    def _fail_job(self, job: Job, error: BaseException) -> None:
        if job.state.is_terminal:
            return
        job.error = error
        if getattr(error, "__redun_job__", None) is None:
            try:
                error.__redun_job__ = job  # type: ignore[attr-defined]
            except Exception:
                pass
        job.transition(JobState.CANCELLED if isinstance(error, JobCancelled) else JobState.FAILED)
        self._emit(job)
        if self._evaluated:
            self._evaluated.pop(job, None)
        assert job.promise is not None
        job.promise.do_reject(error)

    def _cancel_outstanding(self) -> None:
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

    def _stop_work(self, executor_name: str, jobs: list[Job]) -> None:
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

    def add_tags(self, entity_type: str, entity_id: str, tags: Any) -> None:
        """Record ``tags`` ((key, value) pairs) on an execution, job or value of this run."""
        recorder = self._recorder
        if tags and recorder is not None and hasattr(recorder, "tag"):
            recorder.tag(entity_type, entity_id, list(tags))

    def log_job_statuses(self) -> None:
        """Log how many jobs of each task are in each state (see ``job_status_interval``)."""
        self.logger.info("job status:\n%s", "\n".join(job_status_report(self.jobs())))

    def jobs(self) -> list[Job]:
        """Every job of the current (or last) execution."""
        return list(self._jobs_by_eval.values())

    def release(self) -> None:
        """Forget the last execution's jobs, so their memory goes back now.

        Jobs refer to each other (parent and children) and to their promises and
        expressions; dropped as they are, they wait for a garbage collection, which
        at the end of a large run takes longer than the process's whole exit.
        """
        release_jobs(self._jobs_by_eval.values())
        self._reset()

    def stop(self) -> None:
        """Stop executors' workers."""
        for executor in self.executors.values():
            try:
                executor.stop()
            except Exception as error:
                raise ExecutorError(f"stopping executor {executor.name!r} failed") from error


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


__all__ = [
    "DryRunResult",
    "Scheduler",
    "get_current_job",
    "get_current_scheduler",
    "set_current_scheduler",
    "set_job_context",
]


def _notify(callback: Callable[[bool, Any], None], ok: bool, value: Any) -> None:
    callback(ok, value)


def _job_result_ready(arg: tuple, ok: bool, value: Any) -> None:
    scheduler, job = arg
    if job.state is not JobState.RUNNING and not (job.replayed and job.state is JobState.PENDING):
        return  # cancelled meanwhile
    if ok:
        scheduler._finish_job(job, value)
    else:
        scheduler._fail_job(job, value)


def _then(value: Any, func: Callable[[Any], Any]) -> Any:
    if type(value) is Promise:
        return value.then(func)
    return func(value)


def _normalize_limits(limits: Any) -> dict[str, int]:
    if isinstance(limits, dict):
        return {str(key): int(value) for key, value in limits.items()}
    return {str(name): 1 for name in limits}


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__name__}>"
    return text if len(text) < 500 else text[:497] + "..."
