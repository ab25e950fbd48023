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

``cancel`` interrupts the scheduler (as Ctrl-C does ``redun run``): jobs are
recorded as cancelled and the runner exits, killing the threads still running
user code. If the daemon goes away the runner kills its process group.
"""

from __future__ import annotations

import collections
import json
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
from redun.cli.args import parse_task_args
from redun.cli.loader import WorkflowLoadError, find_task, import_workflow
from redun.config import load_config
from redun.errors import RedunError, TaskNotFoundError, UsageError
from redun.events import Event, ExecutionFinished, ExecutionStarted, JobStateChanged, LogLine
from redun.expression import format_arguments
from redun.scheduler.core import get_current_job
from redund.wire import BlockingChannel, ChannelClosed

try:  # per-job output capture in the SDK (when present, it emits LogLine events itself)
    from redun.logs import get_current_output
except ImportError:  # pragma: no cover - older SDK
    get_current_output = None  # type: ignore[assignment]

PREVIEW_CHARS = 500
MAX_RESULT_PICKLE = 64 << 20
FLUSH_DELAY = 0.002
EXIT_OK, EXIT_DAEMON_GONE = 0, 75


class JobCancelled(RedunError):
    """The job was cancelled by a client."""


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
    return (type(error).__name__, str(error), text)


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
    """A scheduler subscriber that ships events to the daemon in batches.

    The scheduler thread only appends a tuple to a deque; a sender thread
    drains it every couple of milliseconds into one frame.
    """

    def __init__(self, channel: BlockingChannel) -> None:
        self.channel = channel
        self.queue: collections.deque[tuple] = collections.deque()
        self.jobs: dict[str, Any] = {}
        self.finished: ExecutionFinished | None = None
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._send_loop, name="redund-forward", daemon=True)
        self._thread.start()

    def __call__(self, event: Event) -> None:
        cls = type(event)
        if cls is JobStateChanged:
            job = event.job  # type: ignore[attr-defined]
            jobs = self.jobs
            first = event.job_id not in jobs  # type: ignore[attr-defined]
            summary = None
            if first and job is not None:
                jobs[job.id] = job
                summary = format_arguments(job.args, job.kwargs, limit=40)
            error = None
            if event.state == "failed" and job is not None and job.error is not None:  # type: ignore[attr-defined]
                error = error_tuple(job.error)
            self.queue.append(
                (
                    "J",
                    event.time,
                    event.job_id,  # type: ignore[attr-defined]
                    event.parent_job_id or "",  # type: ignore[attr-defined]
                    event.task,  # type: ignore[attr-defined]
                    event.state,  # type: ignore[attr-defined]
                    event.executor,  # type: ignore[attr-defined]
                    event.cached,  # type: ignore[attr-defined]
                    event.reason or "",  # type: ignore[attr-defined]
                    (job.call_hash or "") if job is not None else "",
                    summary,
                    error,
                    job.task.hash if first and job is not None else None,
                )
            )
        elif cls is LogLine:
            self.log(event.job_id, event.stream, event.text, event.time)  # type: ignore[attr-defined]
            return
        elif cls is ExecutionStarted:
            self.queue.append(("S", event.time))
        elif cls is ExecutionFinished:
            self.finished = event  # type: ignore[assignment]
            return
        if len(self.queue) == 1:
            self._wake.set()

    def log(self, job_id: str, stream: str, text: str, when: float | None = None) -> None:
        self.queue.append(("L", when or time.time(), job_id, stream, text))
        if len(self.queue) == 1:
            self._wake.set()

    def _drain(self) -> None:
        queue = self.queue
        count = len(queue)
        if not count:
            return
        items = [queue.popleft() for _ in range(count)]
        self.channel.send(("events", items))

    def _send_loop(self) -> None:
        try:
            while not self._stop:
                self._wake.wait(0.05)
                self._wake.clear()
                if len(self.queue) < 256:
                    time.sleep(FLUSH_DELAY)
                self._drain()
        except OSError:
            _daemon_gone()

    def close(self) -> None:
        """Stop the sender and send what is left."""
        self._stop = True
        self._wake.set()
        self._thread.join()
        self._drain()


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
                with self.lock:
                    self.cancelled = True
                    if self.running:
                        os.kill(os.getpid(), signal.SIGINT)
            elif message[0] == "cancel_job":
                self.cancel_job(message[1])

    def cancel_job(self, job_id: str) -> None:
        forwarder, scheduler = self.forwarder, self.scheduler
        job = forwarder.jobs.get(job_id) if forwarder is not None else None
        if job is not None and scheduler is not None and job.state.value in ("queued", "running"):
            executor = scheduler.executors.get(job.executor_name)
            if executor is not None:
                executor.cancel(job)  # a remote job stops on its platform too
            error = JobCancelled(f"job {job_id} was cancelled by a client")
            error.__redun_no_retry__ = True  # type: ignore[attr-defined]
            scheduler.reject_job(job, error)


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
    try:
        kwargs = parse_task_args(task, argv)
    except UsageError as error:
        message = str(error).replace("redun run FILE", "redun submit FILE")
        raise LoadRejected("invalid", ("UsageError", message, "")) from error
    extra = json.loads(spec["kwargs_json"]) if spec.get("kwargs_json") else {}
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

    config = load_config(home)
    section = dict(config.get("executors.default") or {"type": "threads"})
    if options.get("executor"):
        section["type"] = options["executor"]
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
    from redun.value import Value

    found: list[str] = []
    stack = [value]
    while stack and budget > 0:
        budget -= 1
        item = stack.pop()
        if isinstance(item, Value):
            try:
                found.extend(item.iter_files())
                found.extend(_object_urls(item))
            except Exception:
                continue
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
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
            if value is None or type(value) in (int, float, str, bool):
                continue
            for path in _value_files(value, budget=1000):
                path = _abspath(path)
                files.add(path)
                if value is job.result:
                    results.add(path)
                elif job.parent_job is None:
                    given.add(path)
    # A cached job stands for its whole recorded call tree: its files count too.
    cached = [job.call_hash for job in jobs if job.cached and job.call_hash]
    if cached and backend is not None:
        files.update(_abspath(path) for path in backend.files_in_calls(cached))
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
    try:
        if spec.get("working_dir"):
            os.chdir(spec["working_dir"])
        task, kwargs = load(spec)
    except LoadRejected as rejected:
        if reject_load_errors:
            forwarder.close()
            channel.send(("rejected", rejected.kind, rejected.error))
            return EXIT_OK
        forwarder.close()
        channel.send(("ready",))
        channel.send(("finished", "failed", rejected.error, None, b"", _deps(before, spec, [])))
        return EXIT_OK
    except BaseException as error:  # anything else while loading: a failed start
        forwarder.close()
        channel.send(("rejected", "invalid", load_error_tuple(spec["workflow_path"], error)))
        return EXIT_OK
    # A JVM does not survive the factory's fork: Spark sessions of runs live in a warm
    # Spark host per daemon home, which outlives each run (not the factory).
    from redun.spark.host import keep_warm_in

    keep_warm_in(os.path.join(home, "spark"), os.getppid())
    scheduler = make_scheduler(home, spec.get("options", {}))
    scheduler.events.subscribe(forwarder)
    run.scheduler, run.forwarder = scheduler, forwarder
    threading.Thread(target=run.control_loop, name="redund-control", daemon=True).start()
    channel.send(("ready",))
    status, failure, result, pickled = "done", None, None, b""
    context = (
        json.loads(spec["options"]["context"]) if spec.get("options", {}).get("context") else None
    )
    try:
        with run.lock:
            run.running = not run.cancelled
        if not run.running:
            raise KeyboardInterrupt
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
        root = scheduler.execution.job if scheduler.execution is not None else None
        result, pickled = preview_of(value, root.result_hash if root is not None else None)
    except KeyboardInterrupt:
        status, failure = "cancelled", ("Cancelled", "cancelled by a client", "")
    except BaseException as caught:
        from redun.scheduler import DryRunResult

        if isinstance(caught, DryRunResult):
            result = ("dryrun", "", str(caught), False, 0, "")
        else:
            status, failure = "failed", error_tuple(caught)
    try:
        deps = _deps(before, spec, scheduler.jobs(), scheduler.backend)
        forwarder.close()
        channel.send(("finished", status, failure, result, pickled, deps))
    except KeyboardInterrupt:  # a cancel that arrived as the run ended
        pass
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
        return {"modules": [spec["workflow_path"]], "files": []}


def _exec_argv(spec: dict[str, Any]) -> list[str]:
    from redund.model import RunSpec

    return RunSpec.from_dict(spec).exec_argv()
