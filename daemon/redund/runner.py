"""A runner: one run of a workflow, in a process forked from the factory.

It never imports grpc. It receives the run (``("run", spec, execution_id,
home, reject_load_errors, track_dependencies)``) on its own socket, loads the
workflow (reporting ``rejected`` for a missing file, an unknown task, bad
arguments or a workflow that does not import, or, for watches, turning those
into a failed run), answers ``ready``, runs the scheduler against the home's
database, and streams the scheduler's events to the daemon in batches. At the
end it reports the status, the error or the result, and for a watch's run what
it depended on (the user's modules it imported and the local files its tasks
read or wrote), then exits with ``os._exit`` so no thread the user left behind
can keep it alive.

``cancel`` asks the scheduler to stop (:meth:`redun.scheduler.Scheduler.cancel`,
a message its loop takes between outcomes, never a signal that could land in
a database commit): jobs are recorded as cancelled and the runner exits,
killing the threads still running user code. If the daemon goes away the
runner kills its process group.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import sys
import threading
from typing import Any

from redun.backends.base import type_name_of
from redun.config import load_config
from redun.errors import ExecutionCancelled, TaskNotFoundError, UsageError
from redun.events import Event, ExecutionStarted
from redun.workflow.args import parse_task_args
from redun.workflow.loader import WorkflowLoadError, find_task, import_workflow
from redund.deps import collect_dependencies, value_files
from redund.failures import error_tuple, load_error_tuple
from redund.forwarding import EXIT_DAEMON_GONE, EventForwarder, capture_fds, daemon_gone
from redund.wire import BlockingChannel, ChannelClosed

PREVIEW_CHARS = 500
DRYRUN_CHARS = 4000  # a dry run's answer: which jobs would run, and why
MAX_RESULT_PICKLE = 64 << 20
EXIT_OK = 0
CANCELLED_MESSAGE = "cancelled by a client"

# The runner's own stderr becomes the run's log lines: warnings reach the user there.
log = logging.getLogger("redund.runner")


class LoadRejected(Exception):
    """The run cannot start; ``kind`` is "not_found" or "invalid"."""

    def __init__(self, kind: str, error: tuple[str, str, str]) -> None:
        super().__init__(error[1])
        self.kind = kind
        self.error = error


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
                daemon_gone()
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
    files = value_files(value)
    if files and type(value).__name__ in ("File", "Dir"):
        path = files[0]
    return (type_name_of(value), value_hash or "", text, truncated, size, path), pickled


def main(sock: Any, run_id: str) -> int:
    """Run one workflow; returns the exit code (the caller ``os._exit``s)."""
    before = set(sys.modules)
    channel = BlockingChannel(sock)
    try:
        message = channel.recv()
    except (ChannelClosed, OSError):
        return EXIT_DAEMON_GONE
    _, spec, execution_id, home, reject_load_errors, track_dependencies = message
    forwarder = EventForwarder(channel)
    capture_fds(forwarder)
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
        deps = collect_dependencies(before, spec, []) if track_dependencies else {}
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
            # What would run and why (the scheduler's explanation, past its header).
            text = str(caught)
            explained = caught.report.partition("\n")[2]
            if explained:
                text += ":\n" + explained
            truncated = len(text) > DRYRUN_CHARS
            if truncated:
                text = text[: DRYRUN_CHARS - 3] + "..."
            result = ("dryrun", "", text, truncated, 0, "")
        else:
            # A task's KeyboardInterrupt or SystemExit is that task failing: only
            # a client's cancel (above) makes a run "cancelled".
            status, failure = "failed", error_tuple(caught)
    try:
        deps = (
            collect_dependencies(before, spec, scheduler.jobs(), scheduler.backend)
            if track_dependencies
            else {}
        )
        forwarder.close()
        channel.send(("finished", status, failure, result, pickled, deps, recorded))
    finally:
        try:
            scheduler.stop()
        except Exception:
            pass
    return EXIT_OK


def _exec_argv(spec: dict[str, Any]) -> list[str]:
    from redund.model import RunSpec

    return RunSpec.from_dict(spec).exec_argv()
