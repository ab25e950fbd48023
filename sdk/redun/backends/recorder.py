"""The recorder: scheduler events in, committed rows out, off the scheduler's thread.

On the scheduler's thread :class:`DbRecorder` only puts the live job (or the
execution's data) on a queue. Its thread gathers what is queued (for 20 ms
when a writer process or a database server does the heavy part, else for
``flush_interval``), keeps each job once in its newest state, turns jobs into
rows (:class:`~redun.backends.rows.RowBuilder`: job, call node, edges,
arguments, values, files, task) and commits them in one transaction: in this
process while batches are small (a cached re-run records a few rows, one per
job), through a writer process
(:mod:`~redun.backends.writer_process`), started once jobs that run have
reported ``_PROCESS_AFTER`` state changes, ahead of the batch that needs it
(not at close: nothing runs any more then), with one batch in flight while the
next is built. A finished job is therefore durable a fraction of a second after it
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
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from redun.backends.bulk import Batch, normalize_tags, postgres_plan, sqlite_statements
from redun.backends.rows import RowBuilder
from redun.backends.writer_process import WriterProcessError
from redun.errors import BackendError
from redun.events import Event, ExecutionFinished, ExecutionStarted, JobStateChanged, LogLine
from redun.scheduler.job import JobState

if TYPE_CHECKING:
    from redun.backends.db import DbBackend
    from redun.backends.writer_process import WriterProcess
    from redun.scheduler.job import Job

logger = logging.getLogger("redun")
_MAX_BATCH = 2000  # events per transaction, so one commit never grows without bound
# A run's first transactions take fewer while a writer process commits: at the end of a
# small run the last events are committed in a few pieces, each built while the one
# before commits. Committed here, pieces would not overlap, only cost: large
# transactions keep the SQLite log small (each one rewrites the index pages it touches).
_FIRST_BATCH = 500
_EAGER_WINDOW = 0.02  # seconds a streaming writer gathers events before committing
# Calls in one batch (jobs that ran: call node, values, arguments) that make starting a
# writer process worth its ~30 ms (once per run); a cached job is one cheap row.
_PROCESS_AFTER = 200
_RUNNING_AFTER = 1.0  # seconds a job runs before its "running" row is written
_START_TIMEOUT = 30.0  # seconds a run waits for its execution row to be committed
_LOG_CHUNK = 64 << 10  # a job's consecutive output on one stream is stored in rows this large


def _user() -> str:
    try:
        from redun.tags import login_name

        return login_name()
    except Exception:
        return ""


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
        self._starting = threading.Lock()
        # State changes of jobs that run (started, finished; not cached ones): the report
        # that makes _PROCESS_AFTER starts the process ahead of the batch that needs it
        # (counting finished jobs only starts it too late for a fan-out of a thousand: at
        # close), so that its start-up overlaps the rows being built.
        self._ran_events = 0
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
                    self._ran_events += 1
                    if self._ran_events >= _PROCESS_AFTER and self._process_wanted:
                        # Here, not on the writer thread's next wake: that thread waits
                        # for the interpreter lock behind the busy scheduler and workers,
                        # and the process should be ready when the first large batch is.
                        self._start_process_if(not self._closing)
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
            while True:
                items: list[tuple[str, Any]] = []
                waiters: list[threading.Event] = []
                popleft = events.popleft
                first = _FIRST_BATCH if self._process is not None else _MAX_BATCH
                limit = min(_MAX_BATCH, max(first, taken))
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
        self._start_process_if(calls >= _PROCESS_AFTER and not last)
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

    def _start_process_if(self, due: bool) -> None:
        """Start the writer process when ``due``, once: one that fails to start stays off.
        (Called on the writer thread and on the thread that reports jobs.)"""
        if due and self._process_wanted:
            with self._starting:
                if not self._process_wanted:
                    return
                self._process_wanted = False
                self._process = _start_writer_process(self.backend)

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
            # No hand-over of the interpreter lock every few jobs (it was time.sleep(0)
            # every 16): the interpreter's own switch interval serves a scheduler that
            # waits for it, and rows built sooner keep the writer process busy during
            # the run instead of after it (fan-out 10,000 684 -> 588 ms, chain 10,000
            # 947 -> 795 ms, a watch's one-task re-run 132 -> 107 ms).
            if builder.add_job(batch, job).is_terminal:
                done.append(job_id)
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
