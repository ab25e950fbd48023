"""A runner: one run of a workflow, in a process forked from the factory.

It never imports grpc. It receives the run (``("run", spec, execution_id,
home, reject_load_errors)``) on its own socket, loads the workflow (reporting
``rejected`` for a missing file, an unknown task, bad arguments or a workflow
that does not import, or, for watches, turning those into a failed run),
answers ``ready``, runs the scheduler against the home's database, and streams
the scheduler's events to the daemon in batches. At the end it reports the
status, the error or the result, and what the run depended on (the user's
modules it imported and the local files its tasks read or wrote), then exits
with ``os._exit`` so no thread the user left behind can keep it alive.

``cancel`` asks the scheduler to stop (:meth:`redun.scheduler.Scheduler.cancel`,
a message its loop takes between outcomes, never a signal that could land in
a database commit): jobs are recorded as cancelled and the runner exits,
killing the threads still running user code. If the daemon goes away the
runner kills its process group.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from typing import Any

import redun
from redun.backends.base import type_name_of
from redun.config import load_config
from redun.errors import ExecutionCancelled, TaskNotFoundError, UsageError
from redun.events import Event, ExecutionFinished, ExecutionStarted, JobStateChanged, LogLine
from redun.expression import format_arguments
from redun.nested import ATOMS
from redun.scheduler.current import get_current_job
from redun.workflow.args import parse_task_args
from redun.workflow.loader import WorkflowLoadError, find_task, import_workflow
from redund.wire import STARTED_TAG, BlockingChannel, ChannelClosed, JobUpdate, LogChunk

try:  # per-job output capture in the SDK (when present, it emits LogLine events itself)
    from redun.logs import get_current_output
except ImportError:  # pragma: no cover - older SDK
    get_current_output = None  # type: ignore[assignment]

PREVIEW_CHARS = 500
MAX_RESULT_PICKLE = 64 << 20
FLUSH_DELAY = 0.002
MAX_RUN_LOG_CHARS = 4 << 20  # output shipped per run (what the daemon keeps); the rest is dropped
MAX_LOG_ITEM_CHARS = 64 << 10  # consecutive output of one job merges into items this large
MAX_FRAME_ITEMS = 2000
MAX_FRAME_CHARS = 1 << 20
TRUNCATED_LINE = (
    f"[redun: this run's output passed {MAX_RUN_LOG_CHARS >> 20} MiB; the rest is not kept]\n"
)
EXIT_OK, EXIT_DAEMON_GONE = 0, 75
CANCELLED_MESSAGE = "cancelled by a client"

# The runner's own stderr becomes the run's log lines: warnings reach the user there.
log = logging.getLogger("redund.runner")


class LoadRejected(Exception):
    """The run cannot start; ``kind`` is "not_found" or "invalid"."""

    def __init__(self, kind: str, error: tuple[str, str, str]) -> None:
        super().__init__(error[1])
        self.kind = kind
        self.error = error


_ENGINE_DIRS = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep for path in (redun.__file__ or "", __file__)
)


def _is_engine_frame(filename: str) -> bool:
    return (
        os.path.abspath(filename).startswith(_ENGINE_DIRS)
        or filename.startswith("<frozen")
        or os.sep + "concurrent" + os.sep in filename
        or filename.endswith(os.sep + "threading.py")
    )


def format_error(error: BaseException) -> str:
    """The error's traceback with redun's and the runner's own frames removed."""
    remote = getattr(error, "__redun_traceback__", None)
    if remote:
        return str(remote).rstrip()
    frames = traceback.extract_tb(error.__traceback__)
    user = [frame for frame in frames if not _is_engine_frame(frame.filename)]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(user or frames)]
    lines += traceback.format_exception_only(type(error), error)
    job = getattr(error, "__redun_job__", None)
    if job is not None:
        lines.insert(0, f"Task {job.task.fullname} failed (job {job.id[:8]}):\n")
    return "".join(lines).rstrip()


def error_tuple(error: BaseException, *, with_traceback: bool = True) -> tuple[str, str, str]:
    """(type, message, traceback) of an exception, traceback trimmed to user code."""
    text = ""
    if with_traceback:
        try:
            text = format_error(error)
        except Exception:
            text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return (type(error).__name__, describe_error(error), text)


def describe_error(error: BaseException) -> str:
    """The error's message; for a task's SystemExit or KeyboardInterrupt, what the task did."""
    job = getattr(error, "__redun_job__", None)
    if job is not None and isinstance(error, SystemExit):
        return f"task {job.task.fullname} called sys.exit({error.code!r})"
    if job is not None and isinstance(error, KeyboardInterrupt):
        return f"task {job.task.fullname} raised KeyboardInterrupt"
    return str(error)


def load_error_tuple(path: str, error: BaseException) -> tuple[str, str, str]:
    """The error of a workflow that does not import; a SyntaxError names file and line."""
    cause = error.__cause__ or error
    if isinstance(cause, SyntaxError):
        where = f"{cause.filename or path}, line {cause.lineno}"
        message = f"{cause.msg} ({where})"
        if cause.text:
            message += f": {cause.text.strip()}"
        text = "".join(traceback.format_exception_only(type(cause), cause))
        return (type(cause).__name__, message, text)
    kind, message, text = error_tuple(cause)
    return (kind, f"cannot load workflow {path}: {message}", text)


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
        jobs = self.jobs
        first = job_id not in jobs
        summary = None
        if first and job is not None:
            jobs[job_id] = job
            summary = format_arguments(job.args, job.kwargs, limit=40)
        error = None
        if state == "failed" and job is not None and job.error is not None:
            error = error_tuple(job.error)
        update = JobUpdate(
            when,
            job_id,
            parent_job_id,
            task,
            state,
            executor,
            cached,
            reason,
            (job.call_hash or "") if job is not None else "",
            summary,
            error,
            job.task.hash if first and job is not None else None,
        )
        self._append(update.to_wire())

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
            _daemon_gone()

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


def _capture_fds(forwarder: EventForwarder) -> None:
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


def _daemon_gone() -> None:
    try:
        os.killpg(0, signal.SIGKILL)
    finally:
        os._exit(EXIT_DAEMON_GONE)


class Run:
    """The state shared by the runner's main thread and its control thread."""

    def __init__(self, channel: BlockingChannel, execution_id: str) -> None:
        self.channel = channel
        self.execution_id = execution_id
        self.lock = threading.Lock()
        self.running = False
        self.cancelled = False
        self.scheduler: Any = None
        self.forwarder: EventForwarder | None = None

    def control_loop(self) -> None:
        """Read control messages until the daemon goes away."""
        while True:
            try:
                message = self.channel.recv()
            except (ChannelClosed, OSError):
                _daemon_gone()
                return
            if message[0] == "cancel":
                self.cancel()
            elif message[0] == "cancel_job":
                self.cancel_job(message[1])

    def cancel(self) -> None:
        """Stop the run: a message to the scheduler's loop, never a signal.

        A signal would raise wherever the main thread happens to be, in the
        middle of a database commit included; the scheduler takes the request
        between outcomes instead.
        """
        with self.lock:
            self.cancelled = True
            if self.running and self.scheduler is not None:
                self.scheduler.cancel(CANCELLED_MESSAGE)

    def on_event(self, event: Event) -> None:
        """A scheduler subscriber: a cancel that came before the loop ran is delivered now."""
        if type(event) is ExecutionStarted:
            with self.lock:
                self.running = True
                if self.cancelled:
                    self.scheduler.cancel(CANCELLED_MESSAGE)

    def cancel_job(self, job_id: str) -> None:
        forwarder, scheduler = self.forwarder, self.scheduler
        job = forwarder.jobs.get(job_id) if forwarder is not None else None
        if job is not None and scheduler is not None and job.state.value in ("queued", "running"):
            # A cancellation, not a failure: the scheduler never retries it, and asks
            # the job's executor to stop it (a remote job stops on its platform too).
            scheduler.cancel_job(job, f"job {job_id} was cancelled by a client")


def load(spec: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The task and its keyword arguments; LoadRejected says why not."""
    path = spec["workflow_path"]
    try:
        module = import_workflow(path)
    except WorkflowLoadError as error:
        raise LoadRejected("invalid", load_error_tuple(path, error)) from error
    except UsageError as error:
        raise LoadRejected("not_found", ("UsageError", str(error), "")) from error
    try:
        task = find_task(module, spec["task"], path)
    except TaskNotFoundError as error:
        raise LoadRejected("not_found", ("TaskNotFoundError", str(error), "")) from error
    argv: list[str] = []
    for name, value in spec.get("args", {}).items():
        argv += [f"--{name}", value]
    argv += list(spec.get("argv", []))
    extra = json.loads(spec["kwargs_json"]) if spec.get("kwargs_json") else {}
    try:
        kwargs = parse_task_args(task, argv, given=extra)
    except UsageError as error:
        message = str(error).replace("redun run FILE", "redun submit FILE")
        raise LoadRejected("invalid", ("UsageError", message, "")) from error
    both = sorted(set(extra) & set(kwargs))
    if both:
        raise LoadRejected(
            "invalid",
            ("UsageError", f"argument(s) {', '.join(both)} given both in args and kwargs", ""),
        )
    kwargs.update(extra)
    return task, kwargs


def make_scheduler(home: str, options: dict[str, str]) -> Any:
    from redun.scheduler import Scheduler

    config = load_config(home, check_types=True)
    section = dict(config.get("executors.default") or {"type": "threads"})
    if options.get("executor"):
        section["type"] = options["executor"]
        if "." in section["type"]:  # a class of the user's own: it must import (UsageError)
            from redun.executors.base import get_executor_class

            get_executor_class(section["type"])
    if options.get("max_workers"):
        section["max_workers"] = options["max_workers"]
    config["executors.default"] = section
    return Scheduler(config=config)


def preview_of(value: Any, value_hash: str | None) -> tuple[tuple, bytes]:
    """(ValuePreview tuple, pickle or b"") of a run's result."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    truncated = len(text) > PREVIEW_CHARS
    if truncated:
        text = text[: PREVIEW_CHARS - 3] + "..."
    try:
        pickled = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        pickled = b""
    size = len(pickled)
    if size > MAX_RESULT_PICKLE:
        pickled = b""
    path = ""
    files = _value_files(value)
    if files and type(value).__name__ in ("File", "Dir"):
        path = files[0]
    return (type_name_of(value), value_hash or "", text, truncated, size, path), pickled


def _value_files(value: Any, budget: int = 10_000) -> list[str]:
    from redun.nested import ValueWalk

    found: list[str] = []
    for item in ValueWalk(value, budget):
        try:
            found.extend(item.iter_files())
            found.extend(_object_urls(item))
        except Exception:
            log.warning(
                "cannot list the local files of a %s value; a watch will not follow them",
                type(item).__name__,
                exc_info=True,
            )
    return found


def _object_urls(value: Any) -> list[str]:
    """The ``s3://``/``gs://`` URL a File or Dir names (a Dir's ends in ``/``): the
    daemon polls them, as it watches local files."""
    from redun.file import Dir, File, Staging

    if isinstance(value, Staging):
        value = value.remote
    if not isinstance(value, (File, Dir)) or not _is_object_url(value.path):
        return []
    return [value.path.rstrip("/") + "/" if isinstance(value, Dir) else value.path]


def _is_object_url(path: str) -> bool:
    return path.partition("://")[0].lower() in ("s3", "gs") and "://" in path


def _abspath(path: str) -> str:
    return path if _is_object_url(path) else os.path.abspath(path)


def _holds_no_files(value: Any) -> bool:
    """True for a plain value, or a tuple, list or dict of them (most arguments and
    results): nothing to walk for files."""
    cls = type(value)
    if cls in ATOMS:
        return True
    if cls is tuple or cls is list:
        return all(type(item) in ATOMS for item in value)
    if cls is dict:
        return all(type(k) in ATOMS and type(v) in ATOMS for k, v in value.items())
    return False


def dependencies(
    before: set[str], workflow_path: str, jobs: list[Any], backend: Any = None
) -> dict[str, list[str]]:
    """What the run depended on: the user's modules it imported and the files of File values
    (local paths, and the URLs of objects in S3 or GCS).

    ``outputs`` are the files among them that jobs returned (and the root job
    was not given): the daemon's watch ignores its own run writing them.
    """
    excluded = {
        os.path.realpath(p)
        for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
    }
    for name in ("redun", "redund"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            excluded.add(os.path.dirname(os.path.realpath(str(module.__file__))))
    modules = {os.path.realpath(workflow_path)}
    for name, module in list(sys.modules.items()):
        if name in before or module is None:
            continue
        filename = getattr(module, "__file__", None)
        if not filename or not filename.endswith(".py"):
            continue
        real = os.path.realpath(filename)
        if any(real.startswith(prefix + os.sep) for prefix in excluded):
            continue
        if "site-packages" in real or "dist-packages" in real:
            continue
        modules.add(real)
    files: set[str] = set()
    results: set[str] = set()  # files some job returned: written by the run, mostly
    given: set[str] = set()  # files passed to the root job: the run's inputs
    for job in jobs:
        for value in (job.args, job.kwargs, job.result):
            if _holds_no_files(value):
                continue
            for path in _value_files(value, budget=1000):
                path = _abspath(path)
                files.add(path)
                if value is job.result:
                    results.add(path)
                elif job.parent_job is None:
                    given.add(path)
    # A cached job stands for its whole recorded call tree: its files count too. Not
    # a replayed one: the calls below it are jobs of this run, counted above.
    cached = [job.call_hash for job in jobs if job.cached and job.call_hash and not job.replayed]
    if cached and backend is not None:
        try:
            files.update(_abspath(path) for path in backend.files_in_calls(cached))
        except Exception:
            log.warning(
                "cannot read the files of %d cached call(s) from the store; a watch will not "
                "follow them until a run records them again",
                len(cached),
                exc_info=True,
            )
    return {
        "modules": sorted(modules),
        "files": sorted(files),
        "outputs": sorted(results - given),
    }


def main(sock: Any, run_id: str) -> int:
    """Run one workflow; returns the exit code (the caller ``os._exit``s)."""
    before = set(sys.modules)
    channel = BlockingChannel(sock)
    try:
        message = channel.recv()
    except (ChannelClosed, OSError):
        return EXIT_DAEMON_GONE
    _, spec, execution_id, home, reject_load_errors = message
    forwarder = EventForwarder(channel)
    _capture_fds(forwarder)
    run = Run(channel, execution_id)
    # A JVM does not survive the factory's fork: Spark sessions of runs live in a warm
    # Spark host per daemon home, which outlives each run (not the factory).
    from redun.spark.host import keep_warm_in

    keep_warm_in(os.path.join(home, "spark"), os.getppid())
    try:
        if spec.get("working_dir"):
            os.chdir(spec["working_dir"])
        task, kwargs = load(spec)
        try:
            scheduler = make_scheduler(home, spec.get("options", {}))
        except UsageError as error:  # a bad redun.ini: it names the file, option and value
            raise LoadRejected("invalid", (type(error).__name__, str(error), "")) from error
    except LoadRejected as rejected:
        if reject_load_errors:
            forwarder.close()
            channel.send(("rejected", rejected.kind, rejected.error))
            return EXIT_OK
        forwarder.close()
        channel.send(("ready",))
        deps = _deps(before, spec, [])
        channel.send(("finished", "failed", rejected.error, None, b"", deps, False))
        return EXIT_OK
    except BaseException as error:  # anything else while loading: a failed start
        forwarder.close()
        channel.send(("rejected", "invalid", load_error_tuple(spec["workflow_path"], error)))
        return EXIT_OK
    scheduler.events.attach(forwarder)
    run.scheduler, run.forwarder = scheduler, forwarder
    threading.Thread(target=run.control_loop, name="redund-control", daemon=True).start()
    channel.send(("ready",))
    status, failure, result, pickled = "done", None, None, b""
    recorded = False  # whether the scheduler committed the execution's end itself
    context = (
        json.loads(spec["options"]["context"]) if spec.get("options", {}).get("context") else None
    )
    scheduler.events.subscribe(run.on_event, job_states=False)
    try:
        with run.lock:
            if run.cancelled:
                raise ExecutionCancelled(CANCELLED_MESSAGE)
        try:
            value = scheduler.run(
                task(**kwargs),
                exec_argv=_exec_argv(spec),
                execution_id=execution_id,
                cache=not spec.get("no_cache"),
                dryrun=bool(spec.get("dryrun")),
                context=context,
            )
        finally:
            with run.lock:
                run.running = False
        # It returned: its recorder committed the end (a dry run records nothing).
        recorded = not spec.get("dryrun")
        root = scheduler.execution.job if scheduler.execution is not None else None
        result, pickled = preview_of(value, root.result_hash if root is not None else None)
    except ExecutionCancelled:
        status, failure = "cancelled", ("Cancelled", CANCELLED_MESSAGE, "")
    except BaseException as caught:
        from redun.scheduler import DryRunResult

        if isinstance(caught, DryRunResult):
            result = ("dryrun", "", str(caught), False, 0, "")
        else:
            # A task's KeyboardInterrupt or SystemExit is that task failing: only
            # a client's cancel (above) makes a run "cancelled".
            status, failure = "failed", error_tuple(caught)
    try:
        deps = _deps(before, spec, scheduler.jobs(), scheduler.backend)
        forwarder.close()
        channel.send(("finished", status, failure, result, pickled, deps, recorded))
    finally:
        try:
            scheduler.stop()
        except Exception:
            pass
    return EXIT_OK


def _deps(
    before: set[str], spec: dict[str, Any], jobs: list[Any], backend: Any = None
) -> dict[str, list[str]]:
    try:
        return dependencies(before, spec["workflow_path"], jobs, backend)
    except Exception:
        log.warning(
            "cannot collect what the run depended on; a watch follows only %s until the next run",
            spec["workflow_path"],
            exc_info=True,
        )
        return {"modules": [spec["workflow_path"]], "files": []}


def _exec_argv(spec: dict[str, Any]) -> list[str]:
    from redund.model import RunSpec

    return RunSpec.from_dict(spec).exec_argv()
