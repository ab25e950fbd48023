"""The scheduler: reduces expression graphs to values, one job per distinct call.

The loop runs on the thread that called :meth:`Scheduler.run`. Executors run
task functions elsewhere and post outcomes to an inbox; the loop takes them,
settles promises (which never recurse, see :mod:`redun.promise`), checks the
cache in batches, and hands new jobs to executors in batches.

This module holds the scheduler's state, its configuration and the loop; the
loop's work is in modules of its own, whose functions are the scheduler's
methods: :mod:`~redun.scheduler.evaluation` (expressions),
:mod:`~redun.scheduler.calls` (jobs and the cache),
:mod:`~redun.scheduler.dispatch` (executors and resources),
:mod:`~redun.scheduler.outcomes` (what executors report),
:mod:`~redun.scheduler.cancelling` and :mod:`~redun.scheduler.extending`
(evaluating under a job already recorded).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from queue import Empty, SimpleQueue
from typing import Any

from redun.config import Config
from redun.errors import (
    ExecutionCancelled,
    ExecutorError,
    ExecutorNotConfigured,
    SchedulerError,
)
from redun.events import EventBus, ExecutionFinished, ExecutionStarted
from redun.executors.base import Executor, executor_type_for, get_executor_class
from redun.expression import Expression
from redun.promise import Promise, drain
from redun.scheduler import calls, cancelling, dispatch, evaluation, extending, outcomes
from redun.scheduler.cache import CacheChecker
from redun.scheduler.context import context_from_config, merge_contexts
from redun.scheduler.current import (
    current_scheduler,
    get_current_job,
    get_current_scheduler,
    set_current_scheduler,
    set_job_context,
)
from redun.scheduler.job import Execution, Job, release_jobs
from redun.scheduler.limits import Limits
from redun.scheduler.outcomes import CANCEL_RUN, STARTED
from redun.scheduler.reduce import reduce_value
from redun.scheduler.root import evaluate_under_root, needs_root_task
from redun.scheduler.status import job_status_report, status_interval
from redun.task import get_task_registry

logger = logging.getLogger("redun")

# Seconds a job that started on a worker thread may wait to be shown running.
_START_NOTICE = 0.05


class DryRunResult(SchedulerError):
    """Raised by ``run(dryrun=True)`` when jobs would have to run; lists them."""

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = jobs
        # Why they would run (a few per task), as logged; "" when not explained.
        self.report = ""
        names = ", ".join(sorted({job.task.fullname for job in jobs}))
        super().__init__(f"dryrun: {len(jobs)} job(s) would run ({names})")


class Scheduler:
    """Evaluates expressions: runs each distinct call once, reusing cached results.

    Args:
        config: a :class:`redun.config.Config` (``[backend]``, ``[executors.*]``,
            ``[limits]``, ``[scheduler]`` sections).
        backend: where calls and values are recorded; default from ``[backend] db_uri``,
            else a private ``sqlite:///:memory:`` database, as in redun.
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
        self.executors: dict[str, Executor] = _Executors(self)
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
        # Warnings not to give, as in redun: ``[scheduler] ignore_warnings = namespace``.
        self.ignore_warnings: set[str] = set(
            str((self.config.get("scheduler") or {}).get("ignore_warnings") or "")
            .replace(",", " ")
            .split()
        )
        self._warned_namespace: set[str] = set()
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

    @property
    def type_registry(self) -> Any:
        """The process's value type registry (redun's ``scheduler.type_registry``)."""
        from redun.value import get_type_registry

        return get_type_registry()

    def add_executor(self, executor: Executor) -> None:
        executor.set_scheduler(self)
        self.executors[executor.name] = executor

    def get_executor(self, name: str, _aliases: tuple[str, ...] = ()) -> Executor:
        executor = self.executors.get(name)
        if executor is None:
            section = self._executor_configs.get(name)
            type_name = executor_type_for(name, section)
            if type_name is None:
                raise ExecutorNotConfigured(
                    f"executor {name!r} is not configured; add an [executors.{name}] section "
                    "to redun.ini (type = threads|processes|subprocess|docker|aws_batch|gcp_batch"
                    "|spark|alias)"
                )
            if type_name == "alias":
                return self._resolve_alias(name, section, _aliases)
            executor = get_executor_class(type_name)(name, self, section or {})
            self.add_executor(executor)
            executor.start()
        return executor

    def _resolve_alias(self, name: str, section: Any, aliases: tuple[str, ...]) -> Executor:
        """``[executors.NAME] type = alias``: the target executor itself, also known by
        NAME from now on (see :mod:`redun.executors.alias`)."""
        from redun.executors.alias import target_name_of

        target = target_name_of(name, section)
        if target in (*aliases, name):
            chain = " -> ".join((*aliases, name, target))
            raise ExecutorNotConfigured(f"executor aliases go round in a circle: {chain}")
        try:
            executor = self.get_executor(target, (*aliases, name))
        except ExecutorNotConfigured as error:
            raise ExecutorNotConfigured(
                f"executor {name!r} is an alias of {target!r}, which is not configured: {error}"
            ) from None
        self.executors[name] = executor
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
            if item[1] is not CANCEL_RUN:  # a cancel of a run that has ended
                self._handle_outcome(*item)
        started = self._started
        while started:
            job, attempt = started.popleft()
            if job.attempt == attempt:
                self._handle_outcome(job, STARTED, None)

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
        parent: Job | None = None,
    ) -> Any:
        """``run``'s work; with ``parent`` (see :meth:`extend_run`), ``expr`` is
        evaluated under that job, in its execution, which is not recorded again."""
        self._dryrun = dryrun
        self._use_cache = cache
        execution = Execution(execution_id, merge_contexts(self.context, context))
        execution.argv = list(exec_argv or [])
        self.execution = execution
        if parent is not None:
            parent.execution = execution
            parent.context = execution.context
        backend = self.backend
        if self._migrate is not None:
            self.load()  # before anything else opens it with the config's automigrate
        self._cache = CacheChecker(backend, get_task_registry(), execution.context)
        recorder = backend.recorder(self) if hasattr(backend, "recorder") else None
        if recorder is not None:
            cleanup.callback(self.events.attach(recorder))
            if hasattr(recorder, "close"):
                cleanup.callback(recorder.close)  # after ExecutionFinished: it commits that too
        self._emit_jobs = self.events.watches_jobs
        status, error_text = "failed", None

        def finished() -> None:
            self.events.emit(ExecutionFinished(execution.id, status=status, error=error_text))

        if parent is None:
            cleanup.callback(finished)
        cleanup.callback(current_scheduler.reset, current_scheduler.set(self))
        if parent is None:
            self.events.emit(
                ExecutionStarted(execution.id, expr=_safe_repr(expr), argv=execution.argv)
            )
        self._recorder = recorder
        if "namespace" not in self.ignore_warnings:
            self._warn_tasks_without_namespace()
        if tags:
            self.add_tags("execution", execution.id, list(tags))
        try:
            if type(expr) is extending.Quoted:
                root = evaluate_under_root(self, expr.expr, parent)
            elif needs_root_task(expr):
                root = evaluate_under_root(self, expr)  # one root job, as in redun
            else:
                root = reduce_value(expr, self._evaluator(parent))
            result = self._wait(root)
            status = "done"
            return result
        except DryRunResult as dry:
            status = "done"
            self._explain_dryrun(dry)
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
            self._log_failure(error)
            raise

    def _explain_dryrun(self, dry: DryRunResult) -> None:
        """Log why the jobs of a dry run would run (a few per task, each compared with
        its closest recorded call), as redun logs its cache misses; the text is kept
        as ``dry.report``."""
        from redun.explain import report_run

        try:
            dry.report = report_run(self.backend, dry.jobs, dryrun=True)
        except Exception as error:  # the dry run's answer stands without its reasons
            self.log(f"dryrun: cannot say why the jobs would run: {error}", level=logging.WARNING)
            return
        self.log(dry.report.removeprefix("[redun] "))

    def _log_failure(self, error: BaseException) -> None:
        """Log redun's "*** Execution failed" report of a task's error on the
        scheduler's logger (INFO: shown where logging is set up, as redun's is)."""
        if getattr(error, "__redun_job__", None) is None:
            return
        from redun.scheduler.taskstack import failure_report

        try:
            lines = failure_report(error)
        except Exception:  # the error itself is raised whatever its report does
            return
        for line in lines:
            self.log(line)

    def _warn_tasks_without_namespace(self) -> None:
        """As redun does: say which tasks have no namespace (each once per scheduler)."""
        missing = [
            task
            for task in get_task_registry()
            if not task.namespace and task.fullname not in self._warned_namespace
        ]
        if not missing:
            return
        self._warned_namespace.update(task.fullname for task in missing)
        names = ", ".join(
            f"{os.path.basename(task.func.__code__.co_filename)}:{task.func.__name__}"
            if hasattr(task.func, "__code__")
            else task.fullname
            for task in missing
        )
        message = (
            f"tasks without a namespace: {names}. Give them one (@task(namespace=...) or "
            "the module's redun_namespace = ...), as redun will require; [scheduler] "
            "ignore_warnings = namespace silences this"
        )
        self.logger.warning(message)  # one argument: redun's callers read call_args[0][0]

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
                self._handle_outcome(job, STARTED, None)
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

    # The rest of the loop's work lives in modules of its own, one idea each; their
    # functions take the scheduler as ``self`` and are its methods.

    # -- evaluation: expressions to promises (redun.scheduler.evaluation) ----------
    evaluate = evaluation.evaluate
    _evaluator = evaluation.evaluator
    _eval_expr = evaluation.eval_expr
    _run_deferred = evaluation.run_deferred
    _eval_expr_now = evaluation.eval_expr_now
    _resolve_task = evaluation.resolve_task
    _eval_task_expr = evaluation.eval_task_expr
    _eval_task_call = evaluation.eval_task_call
    _evaluated_under = evaluation.evaluated_under
    _eval_scheduler_expr = evaluation.eval_scheduler_expr
    _eval_simple_expr = evaluation.eval_simple_expr
    _apply_simple_expr = evaluation.apply_simple_expr

    # -- calls: jobs, the cache, replays (redun.scheduler.calls) --------------------
    add_job = calls.add_job
    call_inline = calls.call_inline
    _call_task = calls.call_task
    _eval_hash = calls.eval_hash
    _context_for = calls.context_for
    _context_hash = calls.context_hash
    _emit = calls.emit
    _check_cache = calls.check_cache
    _replay = calls.replay
    _settle_with = calls.settle_with
    _start_inline = calls.start_inline

    # -- dispatch: jobs to executors, resources (redun.scheduler.dispatch) ----------
    # Evaluating under a job already recorded (redun's extend_run; subrun).
    extend_run = extending.extend_run
    _extend = extending.extend

    _dispatch = dispatch.dispatch
    _refuse_async = dispatch.refuse_async
    _release = dispatch.release

    # -- outcomes: what executors report, from any thread (redun.scheduler.outcomes) -
    done_job = outcomes.done_job
    reject_job = outcomes.reject_job
    evaluate_for_job = outcomes.evaluate_for_job
    post_log = outcomes.post_log
    job_queued = outcomes.job_queued
    job_started = outcomes.job_started
    run_job_function = outcomes.run_job_function
    _handle_outcome = outcomes.handle_outcome
    _finish_job = outcomes.finish_job
    _fail_job = outcomes.fail_job

    # -- cancelling: a job, or the whole run (redun.scheduler.cancelling) -----------
    cancel = cancelling.cancel
    cancel_job = cancelling.cancel_job
    _cancel_job_now = cancelling.cancel_job_now
    _cancel_outstanding = cancelling.cancel_outstanding
    _stop_work = cancelling.stop_work

    # -- the rest of the public API ---------------------------------------------------
    def add_tags(self, entity_type: str, entity_id: str, tags: Any) -> None:
        """Record ``tags`` ((key, value) pairs) on an execution, job or value of this run."""
        recorder = self._recorder
        if tags and recorder is not None and hasattr(recorder, "tag"):
            recorder.tag(entity_type, entity_id, list(tags))

    def log(
        self, *messages: Any, indent: int = 0, multiline: bool = False, level: int = logging.INFO
    ) -> None:
        """Log ``messages`` (joined by spaces) on :attr:`logger`, a record per line unless
        ``multiline``, each line indented by ``indent`` spaces (redun's ``Scheduler.log``)."""
        text = " ".join(str(message) for message in messages)
        pad = " " * indent
        for line in [text] if multiline else text.split("\n"):
            self.logger.log(level, pad + line)

    def get_job_status_report(self) -> list[str]:
        """The lines of redun's job status table: a row per task and one for ALL, a
        column per status (see ``job_status_interval``)."""
        return job_status_report(self.jobs())

    def log_job_statuses(self) -> None:
        """Log the job status table, a record per line between empty ones, as redun
        does (see ``job_status_interval``)."""
        self.log()
        for line in self.get_job_status_report():
            self.log(line)
        self.log()

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
        """Stop executors' workers (each once: an alias's name shares its target's)."""
        for executor in {id(e): e for e in self.executors.values()}.values():
            try:
                executor.stop()
            except Exception as error:
                raise ExecutorError(f"stopping executor {executor.name!r} failed") from error


__all__ = [
    "DryRunResult",
    "Scheduler",
    "get_current_job",
    "get_current_scheduler",
    "set_current_scheduler",
    "set_job_context",
]


class _Executors(dict):
    """The scheduler's executors by name. ``executors["NAME"]`` starts a configured (or
    built-in) one that has not run anything yet, as redun's scheduler has them all from
    the start; ``get``, ``in`` and iteration see only those started."""

    def __init__(self, scheduler: Scheduler) -> None:
        super().__init__()
        self._scheduler = scheduler

    def __missing__(self, name: str) -> Executor:
        try:
            return self._scheduler.get_executor(name)
        except ExecutorNotConfigured:
            raise KeyError(name) from None


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__name__}>"
    return text if len(text) < 500 else text[:497] + "..."
