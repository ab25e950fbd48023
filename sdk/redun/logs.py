"""Per-job capture of what a task writes to stdout and stderr.

While a job's function runs, a :class:`JobOutput` is the *current output* of
that thread (a ``ContextVar``). ``sys.stdout`` and ``sys.stderr`` are wrapped,
once per process, in routers: a write made while a capture is current is
split into lines and handed to the capture's sink (the scheduler's
``post_log``, which turns them into :class:`redun.events.LogLine` events), and
is also echoed to the real stream, so ``redun run`` still shows output live.
Writes made outside any job pass straight through.

Lines are delivered (and echoed) whole, with their newlines, so concurrent
jobs do not split each other's lines; a partial line is delivered when the job
flushes its stream or ends. ``script()`` feeds its subprocess's output through
the same capture.

Not captured: writes that bypass ``sys.stdout``/``sys.stderr`` (the
``.buffer`` object, file descriptors 1 and 2 written by C code or child
processes other than ``script()``'s, logging handlers that kept a reference to
the stream from before the routers were installed), and output of threads a
task starts itself unless they run in a copy of its context
(``contextvars.copy_context().run``).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from redun.errors import SchedulerError

Sink = Callable[[str, str], Any]
"""Receives ``(stream, text)``: ``stream`` is ``"stdout"`` or ``"stderr"``."""

STREAMS: tuple[str, str] = ("stdout", "stderr")

# A partial line longer than this is delivered without waiting for its newline.
MAX_PARTIAL = 64 * 1024
# Characters of one job's output delivered to its sink (events, the store, the
# daemon); the rest is still echoed, but not kept. Bounds what a task printing
# in a loop can make the scheduler, its subscribers and a daemon hold.
MAX_JOB_OUTPUT = 1 << 20
TRUNCATED = "[redun: this job's output passed {limit} characters; the rest is not kept]\n"

_current_output: ContextVar[JobOutput | None] = ContextVar("redun_job_output", default=None)
# Set while a router passes text on, so a router further down the chain (e.g.
# behind rich's live-display proxy) does not capture the same text twice.
_passing_on: ContextVar[bool] = ContextVar("redun_output_passing_on", default=False)


class NoJobOutput(SchedulerError):
    """Raised by ``get_current_output()`` when no job's output is being captured here."""

    def __init__(self, message: str = "no job's output is being captured in this context") -> None:
        super().__init__(message)


class JobOutput:
    """The captured output of one job: whole lines go to ``sink`` as they complete.

    Use as a context manager around the job's function; leaving it delivers
    any partial lines. Thread-safe: a job's output may come from several
    threads (e.g. a script's stdout and stderr readers). At most ``limit``
    characters reach the sink, then one line saying the rest is not kept;
    echoing goes on regardless.

    Args:
        sink: called with ``(stream, text)`` for each batch of whole lines.
        job_id: the job's id, for messages.
        task_name: the job's task, for messages (see :func:`get_current_task_name`).
        limit: characters delivered to the sink (default :data:`MAX_JOB_OUTPUT`).
    """

    __slots__ = (
        "sink",
        "job_id",
        "task_name",
        "limit",
        "dropped",
        "_room",
        "_stdout",
        "_stderr",
        "_lock",
        "_token",
    )

    def __init__(
        self, sink: Sink, *, job_id: str = "", task_name: str = "", limit: int = MAX_JOB_OUTPUT
    ) -> None:
        self.sink = sink
        self.job_id = job_id
        self.task_name = task_name
        self.limit = limit
        self.dropped = 0  # characters not delivered (past the limit)
        self._room = limit
        self._stdout = ""
        self._stderr = ""
        self._lock = threading.Lock()
        self._token: Any = None

    def __enter__(self) -> JobOutput:
        install_routers()
        self._token = _current_output.set(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _current_output.reset(self._token)
        self._token = None
        self.close()

    def write(self, stream: str, text: str, *, echo: bool = True) -> None:
        """Add ``text`` written to ``stream``; deliver the lines it completes.

        Args:
            stream: ``"stdout"`` or ``"stderr"``.
            text: what was written.
            echo: also show the completed lines on the real stream.
        """
        if not text:
            return
        with self._lock:
            pending = (self._stdout if stream == "stdout" else self._stderr) + text
            if "\n" in text:
                cut = pending.rfind("\n") + 1
                ready, pending = pending[:cut], pending[cut:]
            elif len(pending) > MAX_PARTIAL:
                ready, pending = pending, ""
            else:
                ready = ""
            if stream == "stdout":
                self._stdout = pending
            else:
                self._stderr = pending
            if ready:
                self._deliver(stream, ready)
                if echo:
                    _echo(stream, ready)

    def _deliver(self, stream: str, text: str) -> None:
        """Hand ``text`` to the sink within the limit (called with the lock held)."""
        room = self._room
        if len(text) <= room:
            self._room = room - len(text)
            self.sink(stream, text)
            return
        self.dropped += len(text) - max(room, 0)
        if room < 0:
            return  # past the limit, and already said so
        kept = text[:room]
        if kept and not kept.endswith("\n"):
            kept += "\n"
        self._room = -1
        self.sink(stream, kept + TRUNCATED.format(limit=self.limit))

    def flush(self, stream: str | None = None) -> None:
        """Deliver (and echo) the partial line of ``stream`` (of both streams if None)."""
        self._deliver_partial((stream,) if stream else STREAMS, "")

    def close(self) -> None:
        """Deliver what is left (partial lines).

        The job is over, so on the real stream its last line is ended, lest
        the next job's output continue it.
        """
        self._deliver_partial(STREAMS, "\n")

    def _deliver_partial(self, streams: tuple[str, ...], echo_end: str) -> None:
        with self._lock:
            for name in streams:
                pending = self._stdout if name == "stdout" else self._stderr
                if pending:
                    if name == "stdout":
                        self._stdout = ""
                    else:
                        self._stderr = ""
                    self._deliver(name, pending)
                    _echo(name, pending + echo_end)

    def __repr__(self) -> str:
        return f"JobOutput(job_id={self.job_id[:8]}, task={self.task_name})"


def get_current_output(required: bool = True) -> JobOutput | None:
    """Return the capture of the job running in this context.

    Raises:
        NoJobOutput: none is current and ``required`` is True.
    """
    output = _current_output.get()
    if output is None and required:
        raise NoJobOutput()
    return output


def get_current_task_name() -> str | None:
    """Return the name of the task whose job runs in this context, if any."""
    output = _current_output.get()
    return output.task_name or None if output is not None else None


class StreamRouter:
    """Stands in for ``sys.stdout`` or ``sys.stderr``: captures job output, passes all on.

    Every attribute other than ``write``, ``writelines`` and ``flush`` is the
    wrapped stream's (``encoding``, ``fileno``, ``isatty``, ``buffer``...).
    """

    def __init__(self, name: str, target: Any) -> None:
        self._redun_stream = name
        self._redun_target = target

    def write(self, text: str) -> int:
        output = _current_output.get()
        if output is not None and isinstance(text, str) and not _passing_on.get():
            # Echoed by the capture, a whole line at a time.
            output.write(self._redun_stream, text)
            return len(text)
        target = self._redun_target
        if target is None:
            return len(text)
        return target.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        output = _current_output.get()
        if output is not None and not _passing_on.get():
            output.flush(self._redun_stream)
        target = self._redun_target
        if target is not None:
            target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._redun_target, name)

    def __repr__(self) -> str:
        return f"<redun router for {self._redun_target!r}>"


def _echo(stream: str, text: str) -> None:
    """Show captured ``text`` on the real ``stream`` (what the router wraps)."""
    current = getattr(sys, stream, None)
    target = current._redun_target if type(current) is StreamRouter else current
    if target is None:
        return
    token = _passing_on.set(True)
    try:
        target.write(text)
    except (OSError, ValueError):
        pass  # a closed terminal must not fail the job; the sink has the text
    finally:
        _passing_on.reset(token)


_install_lock = threading.Lock()


def install_routers() -> None:
    """Wrap ``sys.stdout`` and ``sys.stderr`` in routers, unless they already are.

    Idempotent and cheap when installed; re-wraps a stream that someone else
    replaced since (a test harness, a live display).
    """
    if type(sys.stdout) is StreamRouter and type(sys.stderr) is StreamRouter:
        return
    with _install_lock:
        for name in STREAMS:
            current = getattr(sys, name)
            if type(current) is not StreamRouter:
                setattr(sys, name, StreamRouter(name, current))


def list_sink(lines: list[tuple[str, str]]) -> Sink:
    """A sink appending ``(stream, text)`` to ``lines`` (for shipping logs back later)."""

    def sink(stream: str, text: str) -> None:
        lines.append((stream, text))

    return sink
