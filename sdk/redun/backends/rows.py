"""Rows of a run's record: what the recorder's thread writes for each job.

:class:`RowBuilder` turns a job, in the state it is in, into rows of a
:class:`~redun.backends.bulk.Batch`: the job, and when it finished, its call
node with the edges to its children, its arguments, its result and argument
values (pickled inline or put in the value store, with the files inside
them), its task, and the expression it returned (for replays). It also keeps,
per execution, what the execution's calls rest on while all of them ran in it
(:class:`_RunTree`), and adds the verdict on the root's call tree once the
root is written.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import reprlib
import time
import traceback
from typing import TYPE_CHECKING, Any

from redun.backends.base import type_name_of
from redun.backends.bulk import Batch
from redun.errors import BackendError
from redun.nested import ATOMS as _ATOMS
from redun.nested import ValueWalk
from redun.scheduler import cache
from redun.scheduler.job import JobState

if TYPE_CHECKING:
    from redun.backends.db import DbBackend
    from redun.scheduler.job import Job

logger = logging.getLogger("redun")
_MISSING = object()
_UNFINISHED = frozenset({JobState.PENDING, JobState.QUEUED, JobState.RUNNING})
_PROTOCOL = pickle.HIGHEST_PROTOCOL
_pickle_dumps = pickle.dumps
_FAST_PICKLE = frozenset({int, float, bool, type(None), complex})
_FIND_BUDGET = 100_000  # objects walked per value looking for files
_STORE_RETRY_DELAYS = (0.1, 0.5)  # seconds between attempts to write the value store
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
        failed_call: str | None = None
        run = self._runs.get(execution_id)
        if run is None:
            run = self._runs[execution_id] = _RunTree()
        if job.call_hash is not None and (state is JobState.DONE or job.replayed):
            # A replayed call (cached, its expression evaluated again) is a new call too.
            self.add_call(batch, job, run)
            if job.replayed or job.context_reads:
                run.spoiled = True  # (a verdict holds no context: see cache._keep_tree_checks)
        else:
            if state not in _UNFINISHED:
                run.spoiled = True  # cached, failed, cancelled: not all of it ran here
            if job.call_hash is None and job.arg_hashes:
                arg_hashes = json.dumps(job.arg_hashes)
            if job.error is not None:
                error, trace = _format_error(job.error)
            if state is not JobState.CACHED:
                self.add_task(batch, job.task)
                if state is JobState.FAILED:
                    failed_call = self.add_failed_call(batch, job, trace)
                    if failed_call is None:
                        self.add_arguments(batch, job, None)
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
                job.call_hash or failed_call,
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
                job.reads_text(),
            )
        )
        rows["redun_evaluation"].append((job.eval_hash, call_hash, when))

    def add_failed_call(self, batch: Batch, job: Job, trace: str | None) -> str | None:
        """Record a failed job's call, its result an :class:`ErrorValue` (as redun does);
        its call hash, or None when the call was never identified (its arguments failed).

        It gets no ``redun_evaluation`` row, which cache lookups read: a failure is in
        the record, never in the cache.
        """
        if job.error is None or not job.args_hash or not job.eval_hash:
            return None
        from redun.hashing import hash_parts
        from redun.scheduler.errorvalue import ErrorValue

        value = ErrorValue.of(job.error, trace)
        try:
            result_hash = value.get_hash()
        except Exception:
            return None
        task = job.task
        children = [child.call_hash for child in job.child_jobs if child.call_hash]
        call_hash = hash_parts(task.hash, job.args_hash, result_hash, *children)
        call_keys = batch.key_set("redun_call_node")
        if call_hash in call_keys:
            return call_hash
        call_keys.add(call_hash)
        self.add_value(batch, result_hash, value)
        self.add_arguments(batch, job, call_hash)
        rows = batch.rows
        rows["redun_call_edge"].extend(
            (call_hash, position, child) for position, child in enumerate(children)
        )
        rows["redun_call_node"].append(
            (
                call_hash,
                task.hash,
                task.fullname,
                job.args_hash,
                job.eval_hash,
                result_hash,
                False,
                None,
                job.end_time or time.time(),
                None,
                task.cache,
                job.reads_text(),
            )
        )
        return call_hash

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
        args = job.call_args
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
        dir_type: Any = file_types[1]
        for item in found:
            if not isinstance(item, file_types):
                continue
            item_hash = value_hash if item is value else hash_value(item)
            if item is not value:
                batch.add("redun_subvalue", (value_hash, item_hash))
                self.add_value(batch, item_hash, item)
            if isinstance(item, dir_type):
                batch.add("redun_file", (item_hash, item.path, item.hash, None, "dir"))
                self._add_dir_files(batch, item_hash, item)
            else:
                batch.add("redun_file", _file_row(item_hash, item))

    def _add_dir_files(self, batch: Batch, dir_hash: str, item: Any) -> None:
        """A directory's files as its subvalues, each in the state the directory's hash
        records (as redun does): a file's lineage then leads to the directory's job."""
        files = item.recorded_files()
        if not files:
            return
        from redun.hashing import hash_value

        # add_value's rows for each File, without its general walk and value-store
        # lookups: a File's pickle is small, so it is always kept inline.
        keys = batch.key_set("redun_value")
        written = self.backend.written_values
        values = batch.rows["redun_value"]
        type_name = type_name_of(files[0])
        for file in files:
            file_hash = hash_value(file)
            batch.add("redun_subvalue", (dir_hash, file_hash))
            if file_hash in keys or file_hash in written:
                continue
            keys.add(file_hash)
            data = _pickle_dumps(file, _PROTOCOL)
            values.append(
                (file_hash, type_name, "pickle", "inline", data, len(data), True, preview(file))
            )
            batch.add("redun_file", _file_row(file_hash, file))

    def _get_file_types(self) -> tuple[type, ...]:
        if self._file_types is None:
            from redun.file import Dir, File

            self._file_types = (File, Dir)
        return self._file_types


def _file_row(value_hash: str, file: Any) -> tuple:
    """A File's ``redun_file`` row."""
    return (value_hash, file.path, file.hash, _local_size(file), "file")


def _local_size(item: Any) -> int | None:
    try:
        local = item.filesystem.local_path(item.path)
        return os.stat(local).st_size if local is not None else None
    except Exception:
        return None


def _bound_values(job: Job) -> dict[str, Any]:
    from redun.scheduler.binding import bind_arguments

    try:
        return bind_arguments(job.task, job.call_args, job.kwargs)
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
