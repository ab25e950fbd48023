"""Runs: submit, follow, cancel and finish executions, each in its own runner.

:class:`RunManager` owns the executions the daemon started (live ones with
their jobs, and a bounded number of finished ones), turns what runners report
into numbered events for the :class:`~redund.hub.Hub`, and records in the
database what a runner could not (a crash, a kill, an interruption).

Hooks for what comes next: ``submit(..., watch_id=..., reject_load_errors=False)``
turns a workflow that does not load into a failed run instead of an error,
and ``on_finished`` listeners receive each finished record (before its
``execution_finished`` event is published) with
``record.dependencies`` (``{"modules": [...], "files": [...]}``: the user's
source files the run imported and the local files its tasks read or wrote).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from redun.scheduler.job import new_id
from redund.errors import InvalidRequest, NotFoundError, PreconditionError, StartError
from redund.hub import Hub
from redund.model import (
    TERMINAL_JOB_STATES,
    ErrorInfo,
    Event,
    ExecutionFinishedData,
    ExecutionRecord,
    ExecutionStartedData,
    ExecutionStatus,
    JobRecord,
    JobStateData,
    LogData,
    RunSpec,
    ValuePreview,
)
from redund.runners import RunnerHandle, RunnerPool
from redund.store import Store
from redund.tasks import TaskSet
from redund.wire import JOB_TAG, LOG_TAG, STARTED_TAG, JobUpdate, LogChunk

log = logging.getLogger("redund")

LOAD_TIMEOUT = 120.0  # seconds a workflow may take to import
CANCEL_GRACE = 3.0  # seconds a cancelled runner gets before it is killed
EXIT_WAIT = 5.0  # seconds to learn how a runner that closed its channel ended
KEEP_FINISHED = 50  # finished executions kept in memory (older ones: the database)
KEEP_FINISHED_JOBS = 100_000  # about 90 MB of job records
KEEP_FINISHED_LOG_CHARS = 64 << 20
MAX_LOG_CHARS = 4 << 20  # captured output kept per execution
INFLIGHT_SUFFIX = ".json"
TEMP_SUFFIX = ".tmp"  # a journal entry being written

FinishedListener = Callable[[ExecutionRecord], Any]


class RunManager:
    """The executions of one daemon.

    Args:
        home: the redun home (its database and config are the runs').
        pool: forks runners.
        store: reads and fixes up the database.
        hub: where events go.
        inflight_dir: a journal of runs in flight (survives kill -9).
    """

    def __init__(
        self, home: str, pool: RunnerPool, store: Store, hub: Hub, inflight_dir: str
    ) -> None:
        self.home = home
        self.pool = pool
        self.store = store
        self.hub = hub
        self.inflight_dir = inflight_dir
        self.records: OrderedDict[str, ExecutionRecord] = OrderedDict()
        self.job_index: dict[str, str] = {}  # job id -> execution id (live records)
        self.handles: dict[str, RunnerHandle] = {}
        self.on_finished: list[FinishedListener] = []
        self.stopping = False
        self._finished: dict[str, asyncio.Event] = {}
        self._cancelling: set[str] = set()
        self._tasks = TaskSet()

    # -- queries -------------------------------------------------------------
    @property
    def running_count(self) -> int:
        return len(self.handles)

    def live(self, execution_id: str) -> ExecutionRecord | None:
        return self.records.get(execution_id)

    def live_job(self, job_id: str) -> JobRecord | None:
        execution_id = self.job_index.get(job_id)
        record = self.records.get(execution_id) if execution_id else None
        return record.jobs.get(job_id) if record is not None else None

    async def wait_finished(self, execution_id: str, timeout: float | None) -> bool:
        """Whether the execution finished within ``timeout`` seconds (None: no limit)."""
        event = self._finished.get(execution_id)
        if event is None:
            return True
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    # -- submit -------------------------------------------------------------------
    async def submit(
        self, spec: RunSpec, *, watch_id: str = "", reject_load_errors: bool = True
    ) -> ExecutionRecord:
        """Start a run; returns once its workflow loaded and its execution is registered.

        Raises:
            NotFoundError: the workflow file or the task does not exist.
            InvalidRequest: bad arguments, or the workflow does not import.
            PreconditionError: the daemon is stopping.
        """
        if self.stopping:
            raise PreconditionError("the daemon is stopping; it accepts no new runs")
        execution_id = new_id()
        try:
            handle = await self.pool.start_runner(execution_id)
        except StartError as error:
            raise PreconditionError(str(error)) from error
        early: list[tuple] = []
        try:
            # Only a watch uses what a run depended on (collecting it reads the store).
            message = ("run", spec.to_dict(), execution_id, self.home, reject_load_errors)
            await handle.send((*message, bool(watch_id)))
            reply = await asyncio.wait_for(self._await_ready(handle, early), LOAD_TIMEOUT)
        except asyncio.TimeoutError:
            handle.kill()
            handle.close()
            raise InvalidRequest(
                f"workflow {spec.workflow_path} did not load within {LOAD_TIMEOUT:.0f} s "
                "(does it run something at import?)"
            ) from None
        except BaseException:
            handle.kill()
            handle.close()
            raise
        if reply is None:
            how = await self._exit_status(handle)
            handle.close()
            raise InvalidRequest(
                f"loading workflow {spec.workflow_path} ended its runner: the process {how}"
            )
        if reply[0] == "rejected":
            handle.close()
            rejection = ErrorInfo.from_tuple(reply[2])
            text = rejection.message if rejection is not None else "rejected"
            if rejection is not None and rejection.type in (
                "SyntaxError",
                "IndentationError",
                "TabError",
            ):
                text = f"cannot load workflow {spec.workflow_path}: {rejection.type}: {text}"
            if reply[1] == "not_found":
                raise NotFoundError(text)
            raise InvalidRequest(text)
        record = ExecutionRecord(execution_id, spec, watch_id=watch_id)
        self.records[execution_id] = record
        self.handles[execution_id] = handle
        self._finished[execution_id] = asyncio.Event()
        self._journal(record, handle)
        started = Event(
            execution_id, record.next_seq(), record.start_time, ExecutionStartedData(spec, watch_id)
        )
        record.started_event = started
        events = [started]
        for frame in early:
            events += self._apply_events(record, frame[1])
        self.hub.publish(events)
        self._tasks.spawn(self._follow(record, handle), name=f"run-{execution_id[:8]}")
        log.info("execution %s started: %s %s", execution_id, spec.workflow_path, spec.task)
        return record

    async def _await_ready(self, handle: RunnerHandle, early: list[tuple]) -> tuple | None:
        while True:
            message = await handle.recv()
            if message is None or message[0] in ("ready", "rejected"):
                return message
            if message[0] == "events":
                early.append(message)

    async def _exit_status(self, handle: RunnerHandle) -> str:
        try:
            return await asyncio.wait_for(asyncio.shield(handle.exited), EXIT_WAIT)
        except asyncio.TimeoutError:
            handle.kill()
            return "stopped answering"

    # -- following a run -------------------------------------------------------------
    async def _follow(self, record: ExecutionRecord, handle: RunnerHandle) -> None:
        finished = False
        try:
            while True:
                message = await handle.recv()
                if message is None:
                    break
                kind = message[0]
                if kind == "events":
                    self.hub.publish(self._apply_events(record, message[1]))
                elif kind == "finished" and not finished:
                    finished = True
                    _, status, error, result, pickled, deps, recorded = message
                    record.pickled = pickled or b""
                    record.dependencies = deps or {}
                    await self._finish(
                        record,
                        ExecutionStatus(status),
                        ErrorInfo.from_tuple(error),
                        ValuePreview.from_tuple(result),
                        recorded=bool(recorded),
                    )
                # A frame already buffered is read without suspending: let health
                # checks and other clients in between frames.
                await asyncio.sleep(0)
            if not finished:
                how = await self._exit_status(handle)
                status, error = self._death_reason(record, how)
                await self._finish(record, status, error, None)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug here must not leave the run running forever
            log.exception("following execution %s failed", record.id)
            handle.kill()
            await self._finish(
                record,
                ExecutionStatus.FAILED,
                ErrorInfo(
                    "DaemonError",
                    f"internal error in the daemon while following the run: "
                    f"{type(error).__name__}: {error}",
                ),
                None,
            )
        finally:
            handle.close()
            self.handles.pop(record.id, None)

    def _death_reason(self, record: ExecutionRecord, how: str) -> tuple[ExecutionStatus, ErrorInfo]:
        if record.id in self._cancelling:
            return ExecutionStatus.CANCELLED, ErrorInfo(
                "Cancelled", f"cancelled by a client; the runner {how}"
            )
        if self.stopping:
            return ExecutionStatus.CANCELLED, ErrorInfo(
                "Cancelled", f"the daemon stopped; the runner {how}"
            )
        hint = ""
        if "exited with code" in how:
            hint = " (did a task call os._exit() or exit the process?)"
        elif "SIGKILL" in how:
            hint = " (killed from outside, e.g. out of memory)"
        elif "SIGSEGV" in how or "SIGBUS" in how or "SIGABRT" in how:
            hint = " (a crash in native code)"
        return ExecutionStatus.FAILED, ErrorInfo(
            "RunnerDied", f"the runner process {how} before the run finished{hint}"
        )

    def _apply_events(self, record: ExecutionRecord, items: list[tuple]) -> list[Event]:
        events: list[Event] = []
        for item in items:
            tag = item[0]
            if tag == JOB_TAG:
                events.append(self._apply_job(record, JobUpdate.from_wire(item)))
            elif tag == LOG_TAG:
                chunk = LogChunk.from_wire(item)
                text = chunk.text
                room = MAX_LOG_CHARS - record.log_chars
                if room <= 0:
                    continue  # the runner caps output first; this is the daemon's own bound
                if len(text) > room:
                    text = text[:room]
                data = LogData(chunk.job_id, chunk.stream, text)
                event = Event(record.id, record.next_seq(), chunk.time, data)
                record.logs.append(event)
                record.log_chars += len(text)
                events.append(event)
            elif tag == STARTED_TAG:
                record.start_time = min(record.start_time, item[1])
        return events

    def _apply_job(self, record: ExecutionRecord, update: JobUpdate) -> Event:
        when, job_id, parent_id, state = update.time, update.job_id, update.parent_id, update.state
        job = record.jobs.get(job_id)
        if job is None:
            job = JobRecord(job_id, record.id, parent_id, update.task)
            job.create_time = when
            record.jobs[job_id] = job
            job.call_order = len(record.jobs)
            self.job_index[job_id] = record.id
            parent = record.jobs.get(parent_id) if parent_id else None
            if parent is not None:
                parent.child_count += 1
            elif not parent_id and not record.root_job_id:
                record.root_job_id = job_id
            record.counts.move(None, state)
        else:
            record.counts.move(job.state, state)
        job.state = state
        job.executor = update.executor
        job.cached = update.cached
        job.reason = update.reason
        if update.call_hash:
            job.call_hash = update.call_hash
        if update.args_summary is not None:
            job.args_summary = update.args_summary
        if update.task_hash:
            job.task_hash = update.task_hash
        if update.error:
            job.error = ErrorInfo.from_tuple(update.error)
        if state == "running":
            job.start_time = when
        elif state in TERMINAL_JOB_STATES:
            job.end_time = when
            if not job.start_time:
                job.start_time = when
        event = Event(record.id, record.next_seq(), when, JobStateData.of(job))
        job.event = event
        return event

    async def _finish(
        self,
        record: ExecutionRecord,
        status: ExecutionStatus,
        error: ErrorInfo | None,
        result: ValuePreview | None,
        *,
        recorded: bool = False,
    ) -> None:
        """Publish the end of a run, then record it. ``recorded``: the runner's
        scheduler already committed it, so its journal entry goes and waiters are
        answered before the daemon's write, which then only closes what the runner
        left open."""
        if record.status.is_final:
            return
        now = time.time()
        events: list[Event] = []
        for job in record.jobs.values():
            if job.state in TERMINAL_JOB_STATES:
                continue
            new_state = (
                "failed"
                if job.state == "running" and status is ExecutionStatus.FAILED
                else "cancelled"
            )
            record.counts.move(job.state, new_state)
            job.state = new_state
            job.end_time = now
            if new_state == "failed":
                job.error = error
            event = Event(record.id, record.next_seq(), now, JobStateData.of(job))
            job.event = event
            events.append(event)
        record.status = status
        record.error = error
        record.result = result
        record.end_time = now
        finished = Event(
            record.id,
            record.next_seq(),
            now,
            ExecutionFinishedData(status, error, result, record.duration, record.counts),
        )
        record.finished_event = finished
        events.append(finished)
        # Listeners first (the watches measure what the run left): a client that acts
        # on execution_finished (deletes an output, saves a file) acts after that, so
        # its change counts, instead of passing for the finished run's own write.
        for listener in list(self.on_finished):
            try:
                listener(record)
            except Exception:
                log.exception("an on_finished listener failed")
        self.hub.publish(events)
        self._cancelling.discard(record.id)
        if recorded:  # nothing is left for a restart to record: no journal entry
            self._unjournal(record.id)
            self._wake_waiters(record.id)
        try:
            await asyncio.to_thread(self.store.finish_execution, record, status, error)
        except Exception:
            # The journal keeps the outcome until it is in the database: the next
            # start records it, instead of the run staying "running" forever.
            log.exception(
                "recording the end of execution %s failed; its journal entry keeps the "
                "outcome for the next start of the daemon to record",
                record.id,
            )
            self._journal_outcome(record, status, error)
        else:
            self._unjournal(record.id)
        self._wake_waiters(record.id)
        log.info("execution %s %s", record.id, status.value)
        self._evict()

    def _wake_waiters(self, execution_id: str) -> None:
        done = self._finished.pop(execution_id, None)
        if done is not None:
            done.set()

    def _evict(self) -> None:
        finished = [r for r in self.records.values() if r.status.is_final]
        jobs = sum(len(r.jobs) for r in finished)
        chars = sum(r.log_chars for r in finished)
        while len(finished) > 1 and (  # the newest stays, for its result
            len(finished) > KEEP_FINISHED
            or jobs > KEEP_FINISHED_JOBS
            or chars > KEEP_FINISHED_LOG_CHARS
        ):
            oldest = finished.pop(0)
            jobs -= len(oldest.jobs)
            chars -= oldest.log_chars
            self.records.pop(oldest.id, None)
            for job_id in oldest.jobs:
                self.job_index.pop(job_id, None)

    # -- cancel -------------------------------------------------------------------------
    async def cancel(self, execution_id: str) -> int:
        """Cancel a running execution; returns how many jobs were cancelled.

        Raises:
            NotFoundError: no such execution.
            PreconditionError: it already finished, or this daemon does not run it.
        """
        record = self.records.get(execution_id)
        if record is None:
            stored = await asyncio.to_thread(self.store.get_execution, execution_id)
            if stored is None:
                raise NotFoundError(f"no execution {execution_id!r}")
            if stored.status is ExecutionStatus.RUNNING:
                raise PreconditionError(
                    f"execution {execution_id} is not run by this daemon (started by "
                    "'redun run'?); stop it where it runs"
                )
            raise PreconditionError(
                f"execution {execution_id} already finished ({stored.status.value})"
            )
        if record.status.is_final:
            raise PreconditionError(
                f"execution {execution_id} already finished ({record.status.value})"
            )
        pending = sum(1 for job in record.jobs.values() if job.state not in TERMINAL_JOB_STATES)
        await self._stop_run(record)
        return pending

    async def _stop_run(self, record: ExecutionRecord) -> None:
        handle = self.handles.get(record.id)
        self._cancelling.add(record.id)
        if handle is not None:
            try:
                await handle.send(("cancel",))
            except (ConnectionError, OSError):
                pass
        if not await self.wait_finished(record.id, CANCEL_GRACE):
            if handle is not None:
                handle.kill()
            await self.wait_finished(record.id, EXIT_WAIT + 1)

    async def cancel_job(self, job_id: str) -> int:
        """Cancel one running job (it fails as cancelled, and what waits on it)."""
        job = self.live_job(job_id)
        if job is None:
            raise NotFoundError(f"no running job {job_id!r}")
        if job.state not in ("queued", "running"):
            raise PreconditionError(
                f"job {job_id} is {job.state}; only a running job can be cancelled "
                "(cancel its execution instead)"
            )
        handle = self.handles.get(job.execution_id)
        if handle is None:
            raise PreconditionError(f"job {job_id}'s execution is not running")
        await handle.send(("cancel_job", job_id))
        return 1

    async def stop(self) -> None:
        """Cancel every run in flight (recorded as cancelled), then stop following."""
        self.stopping = True
        running = [r for r in self.records.values() if not r.status.is_final]
        await asyncio.gather(*(self._stop_run(record) for record in running))
        await self._tasks.close()

    # -- the in-flight journal ------------------------------------------------------------
    def _journal_path(self, execution_id: str) -> str:
        return os.path.join(self.inflight_dir, execution_id + INFLIGHT_SUFFIX)

    def _journal(self, record: ExecutionRecord, handle: RunnerHandle) -> None:
        self._write_journal(
            record.id,
            {
                "id": record.id,
                "pid": handle.pid,
                "start_time": record.start_time,
                "spec": record.spec.to_dict(),
                "watch_id": record.watch_id,
            },
        )

    def _journal_outcome(
        self, record: ExecutionRecord, status: ExecutionStatus, error: ErrorInfo | None
    ) -> None:
        """Rewrite a finished run's entry with its outcome (its runner is gone)."""
        self._write_journal(
            record.id,
            {
                "id": record.id,
                "pid": 0,
                "start_time": record.start_time,
                "end_time": record.end_time,
                "spec": record.spec.to_dict(),
                "watch_id": record.watch_id,
                "status": status.value,
                "error": list(error.to_tuple()) if error is not None else None,
            },
        )

    def _write_journal(self, execution_id: str, entry: dict[str, Any]) -> None:
        """Write an entry whole or not at all: a temporary file, fsync'ed, renamed over."""
        path = self._journal_path(execution_id)
        temp = f"{path}.{os.getpid()}{TEMP_SUFFIX}"
        try:
            os.makedirs(self.inflight_dir, exist_ok=True)
            with open(temp, "w", encoding="utf-8") as out:
                json.dump(entry, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
            _fsync_dir(self.inflight_dir)
        except OSError:
            log.exception("cannot journal execution %s", execution_id)
            try:
                os.unlink(temp)
            except OSError:
                pass

    def _unjournal(self, execution_id: str) -> None:
        try:
            os.unlink(self._journal_path(execution_id))
        except OSError:
            pass

    def recover(self) -> list[str]:
        """Record the end of runs a previous daemon left in its journal; returns their ids.

        A run still in flight when that daemon died is marked interrupted (its
        runner, if it survived, is killed); a run that finished but whose end
        could not be recorded gets its journaled outcome. An entry is removed
        only once the database has it, so a failure here is retried at the next
        start.
        """
        recovered: list[str] = []
        try:
            names = sorted(os.listdir(self.inflight_dir))
        except OSError:
            return recovered
        for name in names:
            path = os.path.join(self.inflight_dir, name)
            if name.endswith(TEMP_SUFFIX):
                _remove(path)  # a write cut short: the entry it replaced, if any, is whole
                continue
            if not name.endswith(INFLIGHT_SUFFIX):
                continue
            try:
                with open(path, encoding="utf-8") as handle:
                    entry = json.load(handle)
                spec = RunSpec.from_dict(entry.get("spec") or {"workflow_path": "", "task": ""})
            except (OSError, ValueError, TypeError, KeyError):
                log.exception("in-flight journal entry %s is unreadable; set aside", name)
                os.replace(path, path + ".unreadable")
                continue
            try:
                _kill_stale_runner(int(entry.get("pid") or 0))
                if entry.get("status"):
                    record = ExecutionRecord(entry["id"], spec)
                    record.start_time = float(entry.get("start_time") or 0.0)
                    record.end_time = float(entry.get("end_time") or 0.0)
                    self.store.finish_execution(
                        record,
                        ExecutionStatus(entry["status"]),
                        ErrorInfo.from_tuple(entry["error"]),
                    )
                else:
                    self.store.mark_interrupted(
                        entry["id"],
                        spec,
                        float(entry.get("start_time") or 0.0),
                        "the daemon stopped (it was killed or crashed) while this run was in flight",
                    )
            except Exception:
                log.exception("cannot record the end of run %s yet; kept for the next start", name)
                continue
            recovered.append(entry["id"])
            _remove(path)
        return recovered


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_dir(path: str) -> None:
    """Make a rename in ``path`` durable (where the platform allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _kill_stale_runner(pid: int) -> None:
    """Kill a runner a dead daemon left behind (only if it still is one of ours)."""
    if pid <= 0:
        return
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read()
    except OSError:
        return
    if b"redund.factory" in cmdline:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
