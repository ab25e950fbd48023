"""A runner's events on their way to the daemon: the scheduler's events and the run's output.

:class:`EventForwarder` subscribes to the scheduler and ships job states, log
lines and the execution's end to the daemon in bounded frames, from a thread
of its own; :func:`capture_fds` routes what the run prints (Python's
``sys.stdout``/``sys.stderr``, and fds 1 and 2 for C code and child
processes) into it.
"""

from __future__ import annotations

import collections
import os
import signal
import sys
import threading
import time
from typing import Any

from redun.events import Event, ExecutionFinished, ExecutionStarted, JobStateChanged, LogLine
from redun.expression import format_arguments
from redun.scheduler.current import get_current_job
from redund.failures import error_tuple
from redund.wire import JOB_TAG, STARTED_TAG, BlockingChannel, LogChunk

try:  # per-job output capture in the SDK (when present, it emits LogLine events itself)
    from redun.logs import get_current_output
except ImportError:  # pragma: no cover - older SDK
    get_current_output = None  # type: ignore[assignment]

FLUSH_DELAY = 0.002
MAX_RUN_LOG_CHARS = 4 << 20  # output shipped per run (what the daemon keeps); the rest is dropped
MAX_LOG_ITEM_CHARS = 64 << 10  # consecutive output of one job merges into items this large
MAX_FRAME_ITEMS = 2000
MAX_FRAME_CHARS = 1 << 20
EXIT_DAEMON_GONE = 75
TRUNCATED_LINE = (
    f"[redun: this run's output passed {MAX_RUN_LOG_CHARS >> 20} MiB; the rest is not kept]\n"
)


class EventForwarder:
    """A scheduler subscriber that ships events to the daemon in bounded frames.

    The scheduler thread only appends to a deque; a sender thread drains it
    every couple of milliseconds, at most :data:`MAX_FRAME_ITEMS` items or
    about :data:`MAX_FRAME_CHARS` characters of output per frame, so the
    daemon never has to swallow one huge frame. Output is capped here, at
    the source: consecutive output of one job merges into one item, and past
    :data:`MAX_RUN_LOG_CHARS` per run (what the daemon keeps) it is dropped,
    with one line saying so. Job states are never dropped: what waits is
    bounded by the number of jobs, and output by the cap.
    """

    def __init__(self, channel: BlockingChannel) -> None:
        self.channel = channel
        self.queue: collections.deque[Any] = collections.deque()
        self.jobs: dict[str, Any] = {}
        self.finished: ExecutionFinished | None = None
        self.log_budget = MAX_RUN_LOG_CHARS
        self.dropped_chars = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()  # cuts the sender's flush delay short at close
        self._stop = False
        self._thread = threading.Thread(target=self._send_loop, name="redund-forward", daemon=True)
        self._thread.start()

    def __call__(self, event: Event) -> None:
        cls = type(event)
        if cls is JobStateChanged:
            self._job_update(
                event.time,
                event.job_id,  # type: ignore[attr-defined]
                event.parent_job_id or "",  # type: ignore[attr-defined]
                event.task,  # type: ignore[attr-defined]
                event.state,  # type: ignore[attr-defined]
                event.executor,  # type: ignore[attr-defined]
                event.cached,  # type: ignore[attr-defined]
                event.reason or "",  # type: ignore[attr-defined]
                event.job,  # type: ignore[attr-defined]
            )
        elif cls is LogLine:
            self.log(event.job_id, event.stream, event.text, event.time)  # type: ignore[attr-defined]
        elif cls is ExecutionStarted:
            self._append((STARTED_TAG, event.time))
        elif cls is ExecutionFinished:
            self.finished = event  # type: ignore[assignment]

    def job_changed(self, job: Any) -> None:
        """A job observer (:meth:`redun.events.EventBus.attach`): no event is built."""
        parent = job.parent_job
        self._job_update(
            time.time(),
            job.id,
            parent.id if parent is not None else "",
            job.task.fullname,
            job.state._value_,
            job.executor_name,
            job.cached,
            job.reason or "",
            job,
        )

    def _job_update(
        self,
        when: float,
        job_id: str,
        parent_job_id: str,
        task: str,
        state: str,
        executor: str,
        cached: bool,
        reason: str,
        job: Any,
    ) -> None:
        """Queue a job's report: :meth:`JobUpdate.to_wire`'s tuple, made directly (three
        reports per job on the scheduler's thread: the record in between cost a third
        of a report); tests/daemon/test_forwarder.py holds it to the record."""
        summary = error = task_hash = None
        call_hash = ""
        if job is not None:
            jobs = self.jobs
            if job_id not in jobs:
                jobs[job_id] = job
                summary = format_arguments(job.call_args, job.kwargs, limit=40)
                task_hash = job.task.hash
            if state == "failed" and job.error is not None:
                error = error_tuple(job.error)
            call_hash = job.call_hash or ""
        self._append(
            (
                JOB_TAG,
                when,
                job_id,
                parent_job_id,
                task,
                state,
                executor,
                cached,
                reason,
                call_hash,
                summary,
                error,
                task_hash,
            )
        )

    def _append(self, item: Any) -> None:
        with self._lock:
            self.queue.append(item)
            wake = len(self.queue) == 1
        if wake:
            self._wake.set()

    def log(self, job_id: str, stream: str, text: str, when: float | None = None) -> None:
        """Queue output; merged with the job's previous output, dropped past the run's cap."""
        if not text:
            return
        with self._lock:
            if self.log_budget <= 0:
                self.dropped_chars += len(text)
                return
            if len(text) >= self.log_budget:
                self.dropped_chars += len(text) - self.log_budget
                text = text[: self.log_budget]
                if not text.endswith("\n"):
                    text += "\n"
                text += TRUNCATED_LINE
            self.log_budget -= len(text)
            queue = self.queue
            last = queue[-1] if queue else None
            if (
                type(last) is _PendingLog
                and last.job_id == job_id
                and last.stream == stream
                and last.size + len(text) <= MAX_LOG_ITEM_CHARS
            ):
                last.parts.append(text)
                last.size += len(text)
                return
            queue.append(_PendingLog(when or time.time(), job_id, stream, text))
            wake = len(queue) == 1
        if wake:
            self._wake.set()

    def _take_frame(self) -> list[tuple]:
        """The next frame's items (bounded), taken off the queue."""
        items: list[tuple] = []
        chars = 0
        with self._lock:
            queue = self.queue
            while queue and len(items) < MAX_FRAME_ITEMS and chars < MAX_FRAME_CHARS:
                item = queue.popleft()
                if type(item) is _PendingLog:
                    chars += item.size
                    item = item.to_wire()
                items.append(item)
        return items

    def _drain(self) -> None:
        while True:
            items = self._take_frame()
            if not items:
                return
            self.channel.send(("events", items))

    def _send_loop(self) -> None:
        try:
            while not self._stop:
                self._wake.wait(0.05)
                self._wake.clear()
                if len(self.queue) < 256:
                    self._closing.wait(FLUSH_DELAY)
                self._drain()
        except OSError:
            daemon_gone()

    def close(self) -> None:
        """Stop the sender and send what is left."""
        self._stop = True
        self._closing.set()
        self._wake.set()
        self._thread.join()
        self._drain()


class _PendingLog:
    """Output waiting to be sent: parts joined only when the frame is made."""

    __slots__ = ("when", "job_id", "stream", "parts", "size")

    def __init__(self, when: float, job_id: str, stream: str, text: str) -> None:
        self.when = when
        self.job_id = job_id
        self.stream = stream
        self.parts = [text]
        self.size = len(text)

    def to_wire(self) -> tuple:
        return LogChunk(self.when, self.job_id, self.stream, "".join(self.parts)).to_wire()


class RunnerStream:
    """``sys.stdout``/``sys.stderr`` of a runner: output becomes log events.

    Output of a job whose capture the SDK handles is dropped here (the SDK
    already sent it); other output inside a job is attributed to the job;
    the rest is the runner's own output (empty job id).
    """

    quiet_for_jobs = True
    """Job output written here is already shipped as log events: the SDK's process
    workers, which inherit the runner's file descriptors, do not echo it."""

    def __init__(self, forwarder: EventForwarder, stream: str, encoding: str = "utf-8") -> None:
        self.forwarder = forwarder
        self.stream = stream
        self.encoding = encoding

    def write(self, text: str) -> int:
        if not text:
            return 0
        if get_current_output is not None and get_current_output(required=False) is not None:
            return len(text)
        job = get_current_job()
        self.forwarder.log(job.id if job is not None else "", self.stream, text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return 1 if self.stream == "stdout" else 2

    @property
    def closed(self) -> bool:
        return False


def capture_fds(forwarder: EventForwarder) -> None:
    """Route what C code and child processes write to fds 1 and 2 into runner log events."""
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)

    def pump() -> None:
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            while True:
                chunk = pipe.read(65536)
                if not chunk:
                    return
                forwarder.log("", "", chunk.decode("utf-8", "replace"))

    threading.Thread(target=pump, name="redund-fd-output", daemon=True).start()
    sys.stdout = RunnerStream(forwarder, "stdout")  # type: ignore[assignment]
    sys.stderr = RunnerStream(forwarder, "stderr")  # type: ignore[assignment]


def daemon_gone() -> None:
    """The daemon went away: end the run and whatever it started, at once."""
    try:
        os.killpg(0, signal.SIGKILL)
    finally:
        os._exit(EXIT_DAEMON_GONE)
