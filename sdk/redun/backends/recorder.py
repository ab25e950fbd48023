"""The recorder: scheduler events in, committed rows out, off the scheduler's thread.

On the scheduler's thread :class:`DbRecorder` only puts the live job (or the
execution's data) on a queue. Its thread gathers what is queued (for 20 ms
when a writer process or a database server does the heavy part, else for
``flush_interval``), keeps each job once in its newest state, turns jobs into
rows (:class:`RowBuilder`: job, call node, edges, arguments, values, files,
task) and commits them in one transaction: in this process while batches are
small (a cached re-run records a few rows, one per job), through a writer process
(:mod:`~redun.backends.writer_process`), started once ``_PROCESS_AFTER`` jobs
have run, ahead of the batch that needs it (not at close: nothing runs any more
then), with one batch in flight while the next is built. A
finished job is therefore durable a fraction of a second after it
finished; ``kill -9`` loses at most what was still queued, and every committed
call node comes with its values in the same transaction.

A running job's row (or a pending one's, for a cached call whose expression is
evaluated again) is written only once it has run for a second: most jobs of a
fan-out finish first and are written once, finished.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import reprlib
import threading
import time
import traceback
from collections import deque
from typing import TYPE_CHECKING, Any

from redun.backends.base import type_name_of
from redun.backends.bulk import Batch, normalize_tags, postgres_plan, sqlite_statements
from redun.backends.writer_process import WriterProcessError
from redun.errors import BackendError
from redun.events import Event, ExecutionFinished, ExecutionStarted, JobStateChanged, LogLine
from redun.nested import ATOMS as _ATOMS
from redun.nested import ValueWalk
from redun.scheduler import cache
from redun.scheduler.job import JobState

if TYPE_CHECKING:
    from redun.backends.db import DbBackend
    from redun.backends.writer_process import WriterProcess
    from redun.scheduler.job import Job

logger = logging.getLogger("redun")
_MISSING = object()
_UNFINISHED = frozenset({JobState.PENDING, JobState.QUEUED, JobState.RUNNING})
_PROTOCOL = pickle.HIGHEST_PROTOCOL
_pickle_dumps = pickle.dumps
_FAST_PICKLE = frozenset({int, float, bool, type(None), complex})
_FIND_BUDGET = 100_000  # objects walked per value looking for files
_STORE_RETRY_DELAYS = (0.1, 0.5)  # seconds between attempts to write the value store
_MAX_BATCH = 2000  # events per transaction, so one commit never grows without bound
# A run's first transactions take fewer: at the end of a small run the last events are
# committed in a few pieces, each built while the one before commits. Large transactions
# later on keep the SQLite log small: each one rewrites the index pages it touches.
_FIRST_BATCH = 500
_EAGER_WINDOW = 0.02  # seconds a streaming writer gathers events before committing
# Calls in one batch (jobs that ran: call node, values, arguments) that make starting a
# writer process worth its ~30 ms (once per run); a cached job is one cheap row.
_PROCESS_AFTER = 200
_RUNNING_AFTER = 1.0  # seconds a job runs before its "running" row is written
_START_TIMEOUT = 30.0  # seconds a run waits for its execution row to be committed
_LOG_CHUNK = 64 << 10  # a job's consecutive output on one stream is stored in rows this large
_YIELD_EVERY = 16  # jobs built between GIL hand-overs
_PREVIEW = reprlib.Repr()
_PREVIEW.maxstring = 160
_PREVIEW.maxother = 160
_PREVIEW.maxlist = _PREVIEW.maxtuple = _PREVIEW.maxset = _PREVIEW.maxdict = 8
_PREVIEW.maxlevel = 3


def preview(value: Any, limit: int = 200) -> str:
    """A short repr of ``value`` that stays cheap for huge containers."""
    try:
        text = repr(value) if type(value) in _FAST_PICKLE else _PREVIEW.repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _user() -> str:
    try:
        from redun.tags import login_name

        return login_name()
    except Exception:
        return ""


class _RunTree:
    """What the calls of one execution rest on, while every one of them ran in it.

    A run in which every job ran (none cached, replayed, failed or unrecorded) made
    its root's whole call tree just now, with the tasks as they are: the verdict a
    later run's tree walk would reach (:class:`~redun.backends.base.TreeCheck`) is
    known without the walk. Written with the root's call, it lets the first re-run
    take the root from the cache in one step. Only ever more conditions than the
    walk's, never fewer: a job that may not be in the tree counts too.
    """

    __slots__ = ("tasks", "checks", "spoiled")

    def __init__(self) -> None:
        self.tasks: set[tuple[str, str]] = set()
        self.checks: set[str] = set()  # values whose files a later run must find unchanged
        self.spoiled = False


class RowBuilder:
    """Turns finished jobs into rows of a :class:`Batch` (on the writer thread)."""

    def __init__(self, backend: DbBackend) -> None:
        self.backend = backend
        self.store = backend.value_store
        self._file_types: tuple[type, ...] | None = None
        self.errors: list[BackendError] = []  # value store failures, raised at close
        self._runs: dict[str, _RunTree] = {}  # by execution id
        self._done_roots: list[tuple[str, str]] = []  # (execution id, root call hash)

    def spoil(self, execution_id: str) -> None:
        """A job of the execution is not recorded (prov=False): its root gets no verdict."""
        self._runs.setdefault(execution_id, _RunTree()).spoiled = True

    def forget(self, execution_id: str) -> None:
        """The execution ended: what its calls rest on is no longer needed."""
        self._runs.pop(execution_id, None)

    def add_tree_checks(self, batch: Batch) -> None:
        """The verdicts on the roots finished in ``batch``, once every job in it is built."""
        for execution_id, call_hash in self._done_roots:
            run = self._runs.pop(execution_id, None)
            if run is None or run.spoiled or len(run.checks) > cache.MAX_TREE_CHECK_VALUES:
                continue
            batch.add(
                "redun_tree_check",
                (
                    call_hash,
                    json.dumps(sorted(run.tasks), separators=(",", ":")),
                    "[]",
                    json.dumps(sorted(run.checks), separators=(",", ":")),
                ),
            )
        self._done_roots.clear()

    # -- jobs ----------------------------------------------------------------
    def add_job(self, batch: Batch, job: Job) -> JobState:
        """Add ``job``'s row in its current state (returned) and, when done, its call."""
        state = job.state
        parent = job.parent_job
        execution = job.execution
        execution_id = execution.id if execution is not None else ""
        error = trace = None
        arg_hashes = None
        run = self._runs.get(execution_id)
        if run is None:
            run = self._runs[execution_id] = _RunTree()
        if job.call_hash is not None and (state is JobState.DONE or job.replayed):
            # A replayed call (cached, its expression evaluated again) is a new call too.
            self.add_call(batch, job, run)
            if job.replayed:
                run.spoiled = True
        else:
            if state not in _UNFINISHED:
                run.spoiled = True  # cached, failed, cancelled: not all of it ran here
            if job.call_hash is None and job.arg_hashes:
                arg_hashes = json.dumps(job.arg_hashes)
            if state is not JobState.CACHED:
                self.add_task(batch, job.task)
                if state is JobState.FAILED:
                    self.add_arguments(batch, job, None)
            if job.error is not None:
                error, trace = _format_error(job.error)
        if parent is None and execution is not None:
            if execution.job is job:
                batch.root_jobs[execution_id] = job.id
                if state is JobState.DONE and job.call_hash is not None:
                    self._done_roots.append((execution_id, job.call_hash))
            else:
                run.spoiled = True  # more than one call at the top: not the root's tree alone
        batch.append(
            "redun_job",
            (
                job.id,
                execution_id,
                parent.id if parent is not None else None,
                job.task.fullname,
                job.task.hash,
                job.eval_hash,
                job.call_hash,
                arg_hashes,
                state.value,
                job.cached,
                job.reason or None,
                job.executor_name,
                job.start_time,
                job.end_time,
                error,
                trace,
            ),
        )
        return state

    def add_call(self, batch: Batch, job: Job, run: _RunTree) -> None:
        call_hash = job.call_hash
        task = job.task
        task_hash = task.hash
        if not run.spoiled:
            run.tasks.add((task.fullname, task_hash))
            if not task.cache or task.check_valid == "shallow":
                run.spoiled = True  # the walk would stop here, or find it not valid
        call_keys = batch.key_set("redun_call_node")
        if call_hash in call_keys:
            return  # the same call as an earlier job's in this batch: the same checks
        call_keys.add(call_hash)
        result_hash = job.result_hash
        assert call_hash is not None and result_hash is not None
        when = job.end_time or time.time()
        if task_hash not in self.backend.written_tasks:
            self.add_task(batch, task)
        needs_check = self.add_value(batch, result_hash, job.result)
        if needs_check:
            run.checks.add(result_hash)
        if not self.add_arguments(batch, job, call_hash, run.checks):
            run.spoiled = True
        rows = batch.rows
        edges = rows["redun_call_edge"]
        position = 0
        for child in job.child_jobs:
            child_hash = child.call_hash
            if child_hash:
                edges.append((call_hash, position, child_hash))
                position += 1
        expr_hash = job.expr_hash
        if expr_hash is None and job.returned is not None:
            expr_hash = self.add_expression(batch, job.returned)
        rows["redun_call_node"].append(
            (
                call_hash,
                task_hash,
                task.fullname,
                job.args_hash,
                job.eval_hash,
                result_hash,
                needs_check,
                None,  # arg_hashes: redun_argument holds them
                when,
                expr_hash,
                task.cache,
            )
        )
        rows["redun_evaluation"].append((job.eval_hash, call_hash, when))

    def add_expression(self, batch: Batch, returned: Any) -> str | None:
        """Record the expression a task returned (for replays); its value hash, or None."""
        from redun.scheduler.replay import NotRecordable, record_expression

        try:
            recorded = record_expression(returned)
        except NotRecordable:
            return None  # the call re-runs when something below it changes
        expr_hash = recorded.hash
        keys = batch.key_set("redun_value")
        if expr_hash in keys or expr_hash in self.backend.written_values:
            return expr_hash
        keys.add(expr_hash)
        # The expression is pickled already: one cheap pickle of the bytes, no second walk.
        pickled = _pickle_dumps(recorded, _PROTOCOL)
        data: bytes | None = pickled
        size: int | None = len(pickled)
        location = "inline"
        if len(pickled) > self.store.inline_max_bytes:
            try:
                data, size, location = self._store_value(expr_hash, recorded)
            except Exception:
                return None  # not kept: the call re-runs when something below it changes
        batch.rows["redun_value"].append(
            # No preview: the repr of every parent's expression would cost more than the
            # pickle; `redun log` shows the call's result, which is what users read.
            (expr_hash, "redun.expression", "pickle", location, data, size, False, None)
        )
        return expr_hash

    def add_arguments(
        self, batch: Batch, job: Job, call_hash: str | None, checks: set[str] | None = None
    ) -> bool:
        """Add the arguments' values (and, given ``call_hash``, the call's argument rows);
        the hashes of those that need validity checks go into ``checks``. False: a value
        was not at hand, so whether it needs checks is not known."""
        arg_hashes = job.arg_hashes
        if not arg_hashes:
            return True
        args = job.args
        if (
            not job.kwargs
            and len(args) == len(arg_hashes)
            and not any(name[0] == "*" for name in arg_hashes)
        ):
            # Positional call of every parameter: the common case, without re-binding.
            pairs: Any = zip(arg_hashes.items(), args)
        else:
            bound = _bound_values(job)
            pairs = ((item, bound.get(item[0], _MISSING)) for item in arg_hashes.items())
        add_value = self.add_value
        argument_rows = batch.rows["redun_argument"]
        known = True
        for (name, value_hash), value in pairs:
            if value is not _MISSING:
                if add_value(batch, value_hash, value) and checks is not None:
                    checks.add(value_hash)
            else:
                known = False
            if call_hash is not None:
                argument_rows.append((call_hash, name, value_hash))
        return known

    def add_task(self, batch: Batch, task: Any) -> None:
        task_hash = task.hash
        if task_hash in self.backend.written_tasks or batch.has("redun_task", task_hash):
            return
        code_parts: dict[str, str] = {}
        if task.version is None:
            try:
                code_parts = dict(task.code_hash.parts)
            except Exception:
                code_parts = {}
        batch.add(
            "redun_task",
            (
                task_hash,
                task.fullname,
                task.namespace,
                task.name,
                task.version,
                task.source,
                json.dumps(code_parts, sort_keys=True),
            ),
        )

    # -- values --------------------------------------------------------------
    def add_value(self, batch: Batch, value_hash: str, value: Any) -> bool:
        """Add ``value``'s rows (and its files'); returns whether it needs validity checks."""
        cls = type(value)
        if cls in _ATOMS:
            if cls in _FAST_PICKLE:
                # Numbers, None: the hot path of a fan-out.
                keys = batch.key_set("redun_value")
                if value_hash in keys or value_hash in self.backend.written_values:
                    return False
                keys.add(value_hash)
                data = _pickle_dumps(value, _PROTOCOL)
                batch.rows["redun_value"].append(
                    (
                        value_hash,
                        cls.__name__,
                        "pickle",
                        "inline",
                        data,
                        len(data),
                        False,
                        repr(value),
                    )
                )
                return False
            files: list[Any] = []
            needs_check = False
        else:
            # Files (their rows below) and tasks: both have a validity to check later.
            walk = ValueWalk(value, _FIND_BUDGET, tasks=True)
            files = list(walk)
            # A value too large to walk whole may hold files past the budget: check it.
            needs_check = bool(files) or not walk.complete
        keys = batch.key_set("redun_value")
        if value_hash in keys or value_hash in self.backend.written_values:
            return needs_check
        keys.add(value_hash)
        location = "inline"
        data_or_none: bytes | None
        size: int | None
        try:
            if cls in (str, bytes) and len(value) < 4096:
                data_or_none = _pickle_dumps(value, _PROTOCOL)
                size = len(data_or_none)
            else:
                data_or_none, size, location = self._store_value(value_hash, value)
        except BackendError as error:
            # The value store kept failing: the run's other rows are still committed,
            # the value is recorded as not reusable, and close() raises the error.
            logger.error("%s", error)
            self.errors.append(error)
            data_or_none, size, location = None, None, "none"
        except Exception:
            # Not picklable (a lock, a generator...): recorded, but not reusable.
            logger.debug("value %s cannot be pickled; not reusable", value_hash, exc_info=True)
            data_or_none, size, location = None, None, "none"
        batch.rows["redun_value"].append(
            (
                value_hash,
                type_name_of(value),
                "pickle",
                location,
                data_or_none,
                size,
                needs_check,
                preview(value),
            )
        )
        if files:
            self._add_files(batch, value_hash, value, files)
        return needs_check

    def _store_value(self, value_hash: str, value: Any) -> tuple[bytes | None, int | None, str]:
        """``(data, size, location)`` of a value: small ones inline, large ones in the store.

        A store error (a disk, S3) is retried a few times before it counts.

        Raises:
            BackendError: the store kept failing.
            Exception: the value cannot be pickled (whatever pickle raised).
        """
        store = self.store
        for attempt, delay in enumerate((*_STORE_RETRY_DELAYS, None)):
            try:
                if store.exists(value_hash):
                    return None, store.size(value_hash), "store"
                data, size = store.dump(value_hash, value)
                return data, size, "inline" if data is not None else "store"
            except OSError as error:
                if delay is None:
                    raise BackendError(
                        f"the value store {store.root} could not write value {value_hash[:12]} "
                        f"(tried {attempt + 1} times): {error}; the value is recorded but "
                        "cannot be reused"
                    ) from error
                logger.warning(
                    "the value store %s failed writing value %s (%s); retrying",
                    store.root,
                    value_hash[:12],
                    error,
                )
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _add_files(self, batch: Batch, value_hash: str, value: Any, found: list[Any]) -> None:
        from redun.hashing import hash_value

        file_types = self._get_file_types()
        for item in found:
            if not isinstance(item, file_types):
                continue
            item_hash = value_hash if item is value else hash_value(item)
            if item is not value:
                batch.add("redun_subvalue", (value_hash, item_hash))
                self.add_value(batch, item_hash, item)
            kind = "dir" if "Dir" in type(item).__name__ else "file"
            batch.add(
                "redun_file",
                (
                    item_hash,
                    item.path,
                    item.hash,
                    _local_size(item) if kind == "file" else None,
                    kind,
                ),
            )

    def _get_file_types(self) -> tuple[type, ...]:
        if self._file_types is None:
            from redun.file import Dir, File

            self._file_types = (File, Dir)
        return self._file_types


def _local_size(item: Any) -> int | None:
    try:
        local = item.filesystem.local_path(item.path)
        return os.stat(local).st_size if local is not None else None
    except Exception:
        return None


def _bound_values(job: Job) -> dict[str, Any]:
    from redun.scheduler.binding import bind_arguments

    try:
        return bind_arguments(job.task, job.args, job.kwargs)
    except Exception:
        return {}


def _format_error(error: BaseException) -> tuple[str, str]:
    text = f"{type(error).__name__}: {error}"
    remote = getattr(error, "__redun_traceback__", None)
    if remote:
        return text, str(remote)
    try:
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    except Exception:
        trace = text
    return text, trace


class DbRecorder:
    """Records a run's events into a :class:`DbBackend` from a writer thread.

    Call it with each event (it is an :class:`~redun.events.EventBus`
    subscriber); :meth:`close` commits what is left and stops the thread,
    raising the first write error, if any.
    """

    def __init__(self, backend: DbBackend, scheduler: Any = None) -> None:
        self.backend = backend
        self.scheduler = scheduler
        self.builder = RowBuilder(backend)
        # A deque, not a queue: appending wakes nobody. The writer thread wakes on its
        # own every few milliseconds and takes everything at once, so the scheduler
        # does not hand the GIL over for every event.
        self._events: deque[tuple[str, Any]] = deque()
        self._wake = threading.Event()
        self._error: BaseException | None = None
        self._final: set[str] = set()
        self._deferred: dict[str, tuple[Job, float]] = {}
        # Output of jobs not yet written in their final state: [stream, parts, size] chunks.
        self._logs: dict[str, list[list[Any]]] = {}
        # Started with the first large batch: a run that records a few rows (a cached
        # re-run) commits them here, without paying for a process it would not use.
        self._process: WriterProcess | None = None
        self._process_wanted = _wants_writer_process(backend)
        # Events of jobs that ran (not cached): once there are _PROCESS_AFTER, the writer
        # thread starts the process ahead of the batch that needs it, so that its start-up
        # overlaps the rows being built.
        self._running_seen = 0
        self._closing = False
        self._in_flight: list[tuple[int, Batch, list[str]]] = []
        self._thread = threading.Thread(target=self._run, name="redun-db-writer", daemon=True)
        self._thread.start()

    def job_changed(self, job: Job) -> None:
        """A job observer (:meth:`redun.events.EventBus.attach`): no event is built."""
        # Pending jobs are not written: they become running or cached moments later
        # (but a cached call re-evaluating its expression stays pending a while).
        # Jobs with prov=False (and those below them) are not written at all.
        if job.prov:
            if job.state is not JobState.PENDING or job.replayed:
                self._events.append(("job", job))
                if not job.cached:
                    self._running_seen += 1
        elif job.execution is not None:
            self._events.append(("unrecorded", job.execution.id))

    def __call__(self, event: Event) -> None:
        cls = type(event)
        if cls is JobStateChanged:
            job = event.job  # type: ignore[attr-defined]
            if job is not None:
                self.job_changed(job)
        elif cls is ExecutionStarted:
            self._events.append(("execution", event))
            # Committed before any job runs: a process that dies in a task
            # (os._exit, a segfault) leaves a 'running' execution whose pid is
            # gone, which 'redun log' shows as interrupted.
            self.flush(timeout=_START_TIMEOUT)
        elif cls is ExecutionFinished:
            self._events.append(("execution_end", event))
        elif cls is LogLine:
            self._events.append(("log", event))

    def tag(self, entity_type: str, entity_id: str, tags: Any) -> None:
        """Record tags with the next batch."""
        self._events.append(("tags", (entity_type, entity_id, tags)))

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything recorded so far is committed."""
        done = threading.Event()
        self._events.append(("flush", done))
        self._wake.set()
        done.wait(timeout)

    def _run(self) -> None:
        events = self._events
        interval = self.backend.flush_interval
        # With the work done elsewhere (a writer process, a database server) batches
        # stream as they come, so the commits overlap the run instead of trailing it.
        eager = self._process_wanted or self.backend.sqlite_file() is None
        window = min(interval, _EAGER_WINDOW) if eager else interval
        stopping = False
        taken = 0
        while not stopping:
            self._wake.wait(window)
            self._wake.clear()
            if self._process_wanted and self._running_seen >= _PROCESS_AFTER and not self._closing:
                self._process_wanted = False  # one attempt: a process that fails stays off
                self._process = _start_writer_process(self.backend)
            while True:
                items: list[tuple[str, Any]] = []
                waiters: list[threading.Event] = []
                popleft = events.popleft
                limit = min(_MAX_BATCH, max(_FIRST_BATCH, taken))
                while len(items) < limit:
                    try:
                        item = popleft()
                    except IndexError:
                        break
                    kind = item[0]
                    if kind == "stop":
                        stopping = True
                    elif kind == "flush":
                        waiters.append(item[1])
                    else:
                        items.append(item)
                taken += len(items)
                more = bool(events) and not stopping
                try:
                    if items or (self._deferred and not more) or waiters or stopping:
                        self._write(items, everything=stopping or bool(waiters), last=stopping)
                    if stopping or waiters:
                        self._settle_all()
                except BaseException as error:  # report at close; keep draining
                    if self._error is None:
                        self._error = error
                for waiter in waiters:
                    waiter.set()
                if not more:
                    break
        if self._process is not None:
            self._process.close()
            self._process = None

    def _commit(self, batch: Batch, done: list[str], calls: int = 0, last: bool = False) -> None:
        """Commit ``batch`` (with ``calls`` call nodes); ``done`` are jobs it writes in
        their final state; ``last``: the run is over, nothing follows this batch."""
        # A writer process takes the commits off the scheduler's GIL while it runs; for
        # the last batch, with nothing left to run, starting one only adds its start-up
        # (a re-run whose jobs were all cached commits one batch, at close).
        if self._process_wanted and calls >= _PROCESS_AFTER and not last:
            self._process_wanted = False  # one attempt: a process that fails stays off
            self._process = _start_writer_process(self.backend)
        process = self._process
        if process is not None:
            try:
                plan = (
                    sqlite_statements(batch) if process.kind == "sqlite" else postgres_plan(batch)
                )
                seq = process.submit(plan)
            except WriterProcessError:
                self._abandon_process()
            else:
                self._in_flight.append((seq, batch, done))
                # Keep one batch in flight: the next one is built while it commits.
                while len(self._in_flight) > 1:
                    self._settle(self._in_flight[0])
                return
        self.backend.write(batch)
        self._final.update(done)

    def _settle(self, entry: tuple[int, Batch, list[str]]) -> None:
        seq, batch, done = entry
        process = self._process
        try:
            if process is None:
                raise WriterProcessError("no writer process")
            process.wait(seq)
        except WriterProcessError:
            # Gone or failing: carry on in this process (inserts are idempotent), which
            # retries, and raises a BackendError naming the database if it fails too.
            self._abandon_process()
            return
        self._in_flight.remove(entry)
        self.backend.mark_written(batch)
        self._final.update(done)

    def _settle_all(self) -> None:
        while self._in_flight:
            self._settle(self._in_flight[0])

    def _abandon_process(self) -> None:
        if self._process is not None:
            self._process.close()
            self._process = None
        pending, self._in_flight = self._in_flight, []
        for _, batch, done in pending:
            self.backend.write(batch)
            self._final.update(done)

    def _write(
        self, items: list[tuple[str, Any]], everything: bool = False, last: bool = False
    ) -> None:
        batch = Batch()
        jobs: dict[str, Job] = {}
        final = self._final
        ended: list[str] = []
        for kind, payload in items:
            if kind == "job":
                if payload.id not in final:
                    jobs[payload.id] = payload
            elif kind == "execution":
                batch.add("redun_execution", _execution_row(payload))
            elif kind == "execution_end":
                ended.append(payload.execution_id)
                batch.execution_updates.append(
                    {
                        "id": payload.execution_id,
                        "end_time": payload.time,
                        "status": payload.status,
                        "error": payload.error,
                    }
                )
            elif kind == "tags":
                entity_type, entity_id, tags = payload
                for key, value in normalize_tags(tags):
                    batch.add("redun_tag", (entity_type, entity_id, key, value))
            elif kind == "log":
                self._keep_log(payload.job_id, payload.stream, payload.text)
            elif kind == "unrecorded":
                self.builder.spoil(payload)
        # Verdicts on cached call trees found valid in this run (read by later runs).
        for row in self.backend.take_tree_checks():
            batch.add("redun_tree_check", row)
        # A job seen running is written as running only once it has run for a while:
        # most jobs of a fan-out finish first and are written once, finished.
        now = time.monotonic()
        deferred = self._deferred
        for job_id, (job, seen_at) in deferred.items():  # oldest first
            if now - seen_at < _RUNNING_AFTER and not everything:
                break
            jobs.setdefault(job_id, job)
        builder = self.builder
        done: list[str] = []
        built = 0
        for job_id, job in jobs.items():
            if not job.state.is_terminal and not everything:
                seen = deferred.get(job_id)
                if seen is None:
                    deferred[job_id] = (job, now)
                    continue
                if now - seen[1] < _RUNNING_AFTER:
                    continue
            deferred.pop(job_id, None)
            # The state read once: the scheduler may move the job on while we build.
            if builder.add_job(batch, job).is_terminal:
                done.append(job_id)
            built += 1
            if built % _YIELD_EVERY == 0:
                # Hand the GIL over now and then: a scheduler waiting for it (a chain of
                # jobs that each need it for a moment) must not wait a whole switch
                # interval (5 ms) per job while we build rows.
                time.sleep(0)
        for job_id in done:
            self._add_log(batch, job_id)
        builder.add_tree_checks(batch)
        for execution_id in ended:
            builder.forget(execution_id)
        self._commit(batch, done, len(batch.rows["redun_call_node"]), last)

    def _keep_log(self, job_id: str, stream: str, text: str) -> None:
        """Hold a job's output until the job is written (a job's output is bounded at
        its source, :data:`redun.logs.MAX_JOB_OUTPUT`)."""
        if not job_id or job_id in self._final:
            return
        chunks = self._logs.setdefault(job_id, [])
        last = chunks[-1] if chunks else None
        if last is not None and last[0] == stream and last[2] + len(text) <= _LOG_CHUNK:
            last[1].append(text)
            last[2] += len(text)
        else:
            chunks.append([stream, [text], len(text)])

    def _add_log(self, batch: Batch, job_id: str) -> None:
        chunks = self._logs.pop(job_id, None)
        for position, (stream, parts, _) in enumerate(chunks or ()):
            batch.append("redun_job_log", (job_id, position, stream, "".join(parts)))

    def close(self) -> None:
        """Commit everything recorded so far and stop the writer thread.

        Raises:
            BackendError: a batch could not be written.
        """
        self._closing = True
        if self._thread.is_alive():
            self._events.append(("stop", None))
            self._wake.set()
            self._thread.join()
        if self._error is None and self.builder.errors:
            first, count = self.builder.errors[0], len(self.builder.errors)
            self.builder.errors.clear()
            more = f" ({count - 1} more value(s) failed the same way)" if count > 1 else ""
            self._error = BackendError(f"{first}{more}")
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def _wants_writer_process(backend: DbBackend) -> bool:
    """``[backend] writer = process`` (the default)."""
    return str(backend.config.get("writer", "process")).lower() == "process"


def _start_writer_process(backend: DbBackend) -> WriterProcess | None:
    """A writer process for SQLite files and PostgreSQL through psycopg2; None means this
    process writes (a thread)."""
    from redun.backends.writer_process import WriterProcess

    path = backend.sqlite_file()
    try:
        if path is not None:
            return WriterProcess("sqlite", {"path": path, "busy_ms": backend.busy_ms})
        params = backend.psycopg2_params()
        if params is not None:
            return WriterProcess("postgresql", params)
    except (OSError, WriterProcessError):
        return None
    return None


def _hostname() -> str:
    uname = getattr(os, "uname", None)
    if uname is not None:  # what gethostname() returns, without importing socket
        return str(uname().nodename)
    import socket

    return socket.gethostname()


def _execution_row(event: Any) -> tuple:
    return (
        event.execution_id,
        None,
        json.dumps(list(event.argv)),
        event.expr,
        event.time,
        None,
        "running",
        None,
        _user(),
        _hostname(),
        os.getpid(),
        os.getcwd(),
    )
