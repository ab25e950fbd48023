"""A fake ``google.cloud.batch.v1.BatchService`` on 127.0.0.1 that runs tasks as local processes.

The real ``BatchServiceClient`` talks to it over an insecure gRPC channel
(the executor's ``endpoint = HOST:PORT``). Its generic handlers decode and
encode the package's own message classes (``CreateJobRequest.deserialize``,
``Job.serialize``...), so a request the real service would not parse fails
here too. It serves CreateJob, GetJob, ListJobs (``labels.K="V"`` filters
joined by AND, paged), GetTask, ListTasks (paged) and DeleteJob (a done
long-running ``Operation``).

Each task runs its container's command as a subprocess in a fresh directory
(entrypoint ``redun``: ``python -m redun`` of this interpreter stands in for
the image), with ``BATCH_TASK_INDEX``, ``BATCH_TASK_COUNT`` and the job's
environment, at most ``slots`` at once across jobs, like a cluster of that
many VMs. States move QUEUED -> SCHEDULED -> RUNNING -> SUCCEEDED/FAILED for
jobs and PENDING -> ASSIGNED -> RUNNING -> SUCCEEDED/FAILED for tasks;
``max_retry_count`` and lifecycle policies are honoured, as is
``max_run_duration`` (exit code 50005). ``preempt()`` kills a running task as
a spot reclaim does (exit code 50001). Deleting a job kills its processes.

It also serves ``google.logging.v2.LoggingServiceV2/ListLogEntries`` (for the
executor's ``logging_endpoint``): every line a task prints becomes an entry of
``batch_task_logs`` labelled with ``job_uid`` and ``task_id`` (stderr with
severity ERROR), visible ``log_lag`` seconds after it was printed, as Cloud
Logging's ingestion delay; filters ``logName=``, ``labels.job_uid=`` and
``timestamp>=`` joined by AND.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import grpc
from google.cloud import batch_v1
from google.cloud.logging_v2.types import ListLogEntriesRequest, ListLogEntriesResponse, LogEntry
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, empty_pb2, timestamp_pb2

SERVICE = "google.cloud.batch.v1.BatchService"
PREEMPTED = 50001
TIMED_OUT = 50005
_FILTER = re.compile(r'^labels\.([a-z0-9_-]+)\s*=\s*"([^"]*)"$')

JobState = batch_v1.JobStatus.State
TaskState = batch_v1.TaskStatus.State


def _now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


@dataclass
class FakeTask:
    index: int
    state: Any = TaskState.PENDING
    events: list[Any] = field(default_factory=list)
    process: subprocess.Popen | None = None
    workdir: str = ""
    started: float = 0.0
    failures: int = 0
    not_before: float = 0.0
    exit_code: int | None = None
    preempt: bool = False
    offsets: dict[str, int] = field(default_factory=dict)


@dataclass
class FakeJob:
    name: str
    job_id: str
    uid: str
    message: Any  # the batch_v1.Job as created
    tasks: list[FakeTask]
    state: Any = JobState.QUEUED
    events: list[Any] = field(default_factory=list)
    created: float = field(default_factory=time.time)
    deleting: bool = False


class FakeBatch:
    """The fake service, with a thread that moves states and runs tasks.

    Args:
        python: the interpreter standing in for the image.
        slots: tasks running at once, over all jobs.
        page_cap: the most jobs or tasks on one page (whatever a request asks).
        logs: where each task's stdout and stderr go (stands for Cloud Logging).
    """

    def __init__(
        self, *, python: str = sys.executable, slots: int = 2, page_cap: int = 100, logs: str = ""
    ) -> None:
        self.python = python
        self.slots = slots
        self.page_cap = page_cap
        self.logs = logs or tempfile.mkdtemp(prefix="fake-batch-logs-")
        self.calls: Counter[str] = Counter()
        self.created: list[str] = []  # job ids, in order
        self.deleted: list[str] = []
        self.paused = False  # True: jobs stay QUEUED
        self.retry_delay = 0.5  # seconds a retried task waits, PENDING, for a new VM
        self.env: dict[str, str] = {}  # added to every task's environment
        self.log_lag = 0.0  # seconds before a printed line can be listed
        self.entries: list[tuple[datetime, float, Any]] = []  # (timestamp, visible at, entry)
        self.jobs: dict[str, FakeJob] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-batch", daemon=True)
        self.server = grpc.server(ThreadPoolExecutor(max_workers=8))
        self.server.add_generic_rpc_handlers((self._handlers(), self.logging_handler))
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"127.0.0.1:{port}"

    # -- life ---------------------------------------------------------------------------
    def start(self) -> FakeBatch:
        self.server.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.stop(grace=None)
        self._stop.set()
        self._thread.join(timeout=10)
        with self._lock:
            for job in self.jobs.values():
                for task in job.tasks:
                    self._discard(task)
        shutil.rmtree(self.logs, ignore_errors=True)

    def reset(self) -> None:
        with self._lock:
            for job in self.jobs.values():
                for task in job.tasks:
                    self._discard(task)
            self.jobs.clear()
            self.calls.clear()
            self.created.clear()
            self.deleted.clear()
            self.paused = False
            self.retry_delay = 0.5
            self.env.clear()
            self.log_lag = 0.0
            self.entries.clear()

    # -- what tests ask ---------------------------------------------------------------------
    def job(self, job_id: str) -> FakeJob:
        with self._lock:
            for job in self.jobs.values():
                if job.job_id == job_id:
                    return job
        raise KeyError(job_id)

    def running_pids(self) -> list[int]:
        with self._lock:
            return [
                task.process.pid
                for job in self.jobs.values()
                for task in job.tasks
                if task.process is not None and task.process.poll() is None
            ]

    def preempt(self, job_id: str, index: int = 0) -> None:
        """Reclaim the VM of a running task (exit code 50001, as a spot preemption)."""
        with self._lock:
            task = self.job(job_id).tasks[index]
            assert task.state == TaskState.RUNNING, f"task {index} of {job_id} is not running"
            task.preempt = True
            self._kill(task)

    def task_log(self, job_id: str, index: int = 0) -> str:
        """What task ``index`` printed (stdout, then stderr)."""
        job = self.job(job_id)
        text = ""
        for suffix in ("out", "err"):
            try:
                with open(self._log_path(job, index, suffix), encoding="utf-8") as infile:
                    text += infile.read()
            except FileNotFoundError:
                pass
        return text

    # -- gRPC ------------------------------------------------------------------------------
    def _handlers(self) -> grpc.GenericRpcHandler:
        def unary(
            method: str, fn: Callable, request_type: Any, serialize: Callable
        ) -> grpc.RpcMethodHandler:
            def handle(request: Any, context: grpc.ServicerContext) -> Any:
                self.calls[method] += 1
                with self._lock:
                    return fn(request, context)

            return grpc.unary_unary_rpc_method_handler(
                handle, request_deserializer=request_type.deserialize, response_serializer=serialize
            )

        self.logging_handler = grpc.method_handlers_generic_handler(
            "google.logging.v2.LoggingServiceV2",
            {
                "ListLogEntries": unary(
                    "ListLogEntries",
                    self._list_log_entries,
                    ListLogEntriesRequest,
                    ListLogEntriesResponse.serialize,
                )
            },
        )
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "CreateJob": unary(
                    "CreateJob", self._create, batch_v1.CreateJobRequest, batch_v1.Job.serialize
                ),
                "GetJob": unary(
                    "GetJob", self._get_job, batch_v1.GetJobRequest, batch_v1.Job.serialize
                ),
                "ListJobs": unary(
                    "ListJobs",
                    self._list_jobs,
                    batch_v1.ListJobsRequest,
                    batch_v1.ListJobsResponse.serialize,
                ),
                "GetTask": unary(
                    "GetTask", self._get_task, batch_v1.GetTaskRequest, batch_v1.Task.serialize
                ),
                "ListTasks": unary(
                    "ListTasks",
                    self._list_tasks,
                    batch_v1.ListTasksRequest,
                    batch_v1.ListTasksResponse.serialize,
                ),
                "DeleteJob": unary(
                    "DeleteJob",
                    self._delete,
                    batch_v1.DeleteJobRequest,
                    operations_pb2.Operation.SerializeToString,
                ),
            },
        )

    def _create(self, request: Any, context: grpc.ServicerContext) -> Any:
        job_id = request.job_id
        if not re.match(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", job_id):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"job_id {job_id!r} is not valid")
        for key, value in request.job.labels.items():
            if not re.match(r"^[a-z][a-z0-9_-]{0,62}$", key) or not re.match(
                r"^[a-z0-9_-]{0,63}$", value
            ):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"label {key}={value!r}")
        name = f"{request.parent}/jobs/{job_id}"
        if name in self.jobs:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, f"job {name} already exists")
        groups = list(request.job.task_groups)
        if len(groups) != 1 or not groups[0].task_spec.runnables:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "one task group with a runnable")
        count = int(groups[0].task_count or 1)
        uid = f"{job_id[:40]}-{os.urandom(4).hex()}"
        job = FakeJob(name, job_id, uid, request.job, [FakeTask(i) for i in range(count)])
        self._job_event(job, JobState.QUEUED, "Job state is set from STATE_UNSPECIFIED to QUEUED")
        self.jobs[name] = job
        self.created.append(job_id)
        return self._job_message(job)

    def _get_job(self, request: Any, context: grpc.ServicerContext) -> Any:
        job = self.jobs.get(request.name)
        if job is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Job {request.name} not found")
        return self._job_message(job)

    def _list_jobs(self, request: Any, context: grpc.ServicerContext) -> Any:
        wanted: list[tuple[str, str]] = []
        if request.filter.strip():
            for clause in re.split(r"\s+AND\s+", request.filter.strip()):
                match = _FILTER.match(clause.strip())
                if match is None:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad filter {clause!r}")
                wanted.append((match.group(1), match.group(2)))
        prefix = f"{request.parent}/jobs/"
        jobs = [
            job
            for name, job in sorted(self.jobs.items())
            if name.startswith(prefix)
            and all(job.message.labels.get(key) == value for key, value in wanted)
        ]
        page, token = self._page(jobs, request.page_size, request.page_token, context)
        return batch_v1.ListJobsResponse(
            jobs=[self._job_message(job) for job in page], next_page_token=token
        )

    def _get_task(self, request: Any, context: grpc.ServicerContext) -> Any:
        job_name, _, rest = request.name.partition("/taskGroups/")
        job = self.jobs.get(job_name)
        index = rest.rsplit("/", 1)[-1]
        if job is None or not index.isdigit() or int(index) >= len(job.tasks):
            context.abort(grpc.StatusCode.NOT_FOUND, f"Task {request.name} not found")
        return self._task_message(job, job.tasks[int(index)])

    def _list_tasks(self, request: Any, context: grpc.ServicerContext) -> Any:
        job_name, _, group = request.parent.partition("/taskGroups/")
        job = self.jobs.get(job_name)
        if job is None or group != "group0":
            context.abort(grpc.StatusCode.NOT_FOUND, f"TaskGroup {request.parent} not found")
        page, token = self._page(job.tasks, request.page_size, request.page_token, context)
        return batch_v1.ListTasksResponse(
            tasks=[self._task_message(job, task) for task in page], next_page_token=token
        )

    def _delete(self, request: Any, context: grpc.ServicerContext) -> Any:
        job = self.jobs.get(request.name)
        if job is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Job {request.name} not found")
        job.deleting = True
        self._job_event(job, JobState.DELETION_IN_PROGRESS, "Job is being deleted")
        for task in job.tasks:
            self._discard(task)
        self.deleted.append(job.job_id)
        response = any_pb2.Any()
        response.Pack(empty_pb2.Empty())
        return operations_pb2.Operation(
            name=f"{request.name}/operations/delete", done=True, response=response
        )

    def _list_log_entries(self, request: Any, context: grpc.ServicerContext) -> Any:
        wanted_log, wanted_uid, since = "", "", None
        for clause in re.split(r"\s+AND\s+", request.filter.strip()):
            match = re.match(r'^(logName|labels\.job_uid|timestamp)\s*(=|>=)\s*"([^"]*)"$', clause)
            if match is None:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad filter {clause!r}")
            key, value = match.group(1), match.group(3)
            if key == "logName":
                wanted_log = value
            elif key == "labels.job_uid":
                wanted_uid = value
            else:
                since = _parse_time(value)
        now = time.monotonic()
        entries = [
            entry
            for stamp, visible, entry in self.entries
            if visible <= now
            and (not wanted_log or entry.log_name == wanted_log)
            and (not wanted_uid or entry.labels.get("job_uid") == wanted_uid)
            and (since is None or stamp >= since)
        ]
        if request.order_by.strip().lower() not in ("", "timestamp asc"):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"order_by {request.order_by!r}")
        page, token = self._page(entries, request.page_size, request.page_token, context)
        return ListLogEntriesResponse(entries=page, next_page_token=token)

    def _page(
        self, items: list[Any], size: int, token: str, context: grpc.ServicerContext
    ) -> tuple[list[Any], str]:
        size = min(int(size or self.page_cap), self.page_cap)
        try:
            start = int(token or 0)
        except ValueError:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad page_token {token!r}")
        end = start + size
        return items[start:end], (str(end) if end < len(items) else "")

    # -- messages --------------------------------------------------------------------------
    def _job_message(self, job: FakeJob) -> Any:
        message = batch_v1.Job.deserialize(batch_v1.Job.serialize(job.message))
        message.name = job.name
        message.uid = job.uid
        message.create_time = datetime.fromtimestamp(job.created, timezone.utc)
        message.update_time = job.events[-1].event_time if job.events else message.create_time
        counts = Counter(task.state.name for task in job.tasks)
        message.status = batch_v1.JobStatus(
            state=job.state,
            status_events=job.events,
            task_groups={"group0": batch_v1.JobStatus.TaskGroupStatus(counts=dict(counts))},
        )
        return message

    def _task_message(self, job: FakeJob, task: FakeTask) -> Any:
        return batch_v1.Task(
            name=f"{job.name}/taskGroups/group0/tasks/{task.index}",
            status=batch_v1.TaskStatus(state=task.state, status_events=task.events),
        )

    def _job_event(self, job: FakeJob, state: Any, text: str) -> None:
        job.state = state
        job.events.append(
            batch_v1.StatusEvent(type_="STATUS_CHANGED", description=text, event_time=_now())
        )

    def _task_event(
        self, task: FakeTask, state: Any, text: str, exit_code: int | None = None
    ) -> None:
        previous = task.state
        task.state = state
        event = batch_v1.StatusEvent(
            type_="STATUS_CHANGED",
            description=f"Task state is updated from {previous.name} to {state.name}"
            + (f" {text}" if text else ""),
            event_time=_now(),
            task_state=state,
        )
        if exit_code is not None:
            event.task_execution = batch_v1.TaskExecution(exit_code=exit_code)
        task.events.append(event)

    # -- the cluster -----------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(0.02):
            with self._lock:
                self._step()

    def _step(self) -> None:
        free = self.slots - sum(
            1 for job in self.jobs.values() for task in job.tasks if task.process is not None
        )
        for name, job in list(self.jobs.items()):
            if job.deleting:
                del self.jobs[name]  # gone one step after DeleteJob
                continue
            if self.paused or job.state in (JobState.SUCCEEDED, JobState.FAILED):
                continue
            if job.state == JobState.QUEUED:
                self._job_event(
                    job, JobState.SCHEDULED, "Job state is set from QUEUED to SCHEDULED"
                )
                continue
            spec = list(job.message.task_groups)[0].task_spec
            for task in job.tasks:
                if task.process is not None:
                    self._watch(job, task, spec)
                elif task.state == TaskState.ASSIGNED and free > 0:
                    self._launch(job, task, spec)
                    free -= 1
                elif (
                    task.state == TaskState.PENDING
                    and free > 0
                    and time.monotonic() >= task.not_before
                ):
                    self._task_event(task, TaskState.ASSIGNED, "on zones/fake-a/instances/fake-vm")
            if job.state == JobState.SCHEDULED and any(
                task.state != TaskState.PENDING for task in job.tasks
            ):
                self._job_event(job, JobState.RUNNING, "Job state is set from SCHEDULED to RUNNING")
            if all(task.state in (TaskState.SUCCEEDED, TaskState.FAILED) for task in job.tasks):
                failed = sum(task.state == TaskState.FAILED for task in job.tasks)
                if failed:
                    self._job_event(
                        job,
                        JobState.FAILED,
                        f"Job state is set from RUNNING to FAILED for job {job.name}: "
                        f"{failed} task(s) failed",
                    )
                else:
                    self._job_event(
                        job, JobState.SUCCEEDED, "Job state is set from RUNNING to SUCCEEDED"
                    )

    def _launch(self, job: FakeJob, task: FakeTask, spec: Any) -> None:
        container = spec.runnables[0].container
        command = list(container.commands)
        if container.entrypoint == "redun":
            command = [self.python, "-m", "redun", *command]
        elif container.entrypoint:
            command = [container.entrypoint, *command]
        env = dict(os.environ)
        env.update(self.env)
        env.update(dict(spec.environment.variables))
        env.update(
            BATCH_TASK_INDEX=str(task.index),
            BATCH_TASK_COUNT=str(len(job.tasks)),
            BATCH_JOB_UID=job.uid,
        )
        task.workdir = tempfile.mkdtemp(prefix=f"fake-batch-{task.index}-")
        os.makedirs(os.path.join(self.logs, job.uid), exist_ok=True)
        with (
            open(self._log_path(job, task.index, "out"), "ab") as out,
            open(self._log_path(job, task.index, "err"), "ab") as err,
        ):
            task.process = subprocess.Popen(
                command,
                cwd=task.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        task.started = time.monotonic()
        task.preempt = False
        self._task_event(task, TaskState.RUNNING, "")

    def _watch(self, job: FakeJob, task: FakeTask, spec: Any) -> None:
        process = task.process
        assert process is not None
        limit = spec.max_run_duration.total_seconds() if "max_run_duration" in spec else 0
        code = process.poll()
        self._collect_logs(job, task, final=code is not None)
        if code is None:
            if limit and time.monotonic() - task.started > limit:
                self._kill(task)
                task.exit_code = TIMED_OUT
            return
        if task.preempt:
            code = PREEMPTED
        elif task.exit_code == TIMED_OUT:
            code = TIMED_OUT
        elif code < 0:
            code = 128 - code  # a signal, as a container's shell reports it
        task.process = None
        task.exit_code = None
        shutil.rmtree(task.workdir, ignore_errors=True)
        if code == 0:
            self._task_event(task, TaskState.SUCCEEDED, "", 0)
            return
        why = {
            PREEMPTED: " due to Spot VM preemption",
            TIMED_OUT: " due to the task exceeding its max run duration",
        }.get(code, "")
        self._task_event(
            task,
            TaskState.FAILED,
            f"on zones/fake-a/instances/fake-vm{why} with exit code {code}.",
            code,
        )
        task.failures += 1
        if task.failures <= int(spec.max_retry_count) and _retried(spec, code):
            self._task_event(task, TaskState.PENDING, "for retry")
            task.not_before = time.monotonic() + self.retry_delay

    def _log_path(self, job: FakeJob, index: int, suffix: str) -> str:
        return os.path.join(self.logs, job.uid, f"{index}.{suffix}")

    def _collect_logs(self, job: FakeJob, task: FakeTask, *, final: bool) -> None:
        """New whole lines of a task's output become log entries (all of it when it ended)."""
        for suffix, severity in (("out", 200), ("err", 500)):
            path = self._log_path(job, task.index, suffix)
            offset = task.offsets.get(suffix, 0)
            try:
                with open(path, "rb") as infile:
                    infile.seek(offset)
                    data = infile.read()
            except FileNotFoundError:
                continue
            cut = len(data) if final else data.rfind(b"\n") + 1
            task.offsets[suffix] = offset + cut
            for line in data[:cut].decode("utf-8", "replace").splitlines():
                stamp = datetime.now(timezone.utc)
                if self.entries and stamp <= self.entries[-1][0]:
                    stamp = self.entries[-1][0] + timedelta(microseconds=1)
                entry = LogEntry(
                    log_name=f"{job.name.split('/locations/')[0]}/logs/batch_task_logs",
                    text_payload=line,
                    severity=severity,
                    timestamp=stamp,
                    insert_id=f"{job.uid}-{task.index}-{suffix}-{len(self.entries)}",
                    labels={
                        "job_uid": job.uid,
                        "task_id": f"task/{job.uid}-group0-{task.index}/{task.failures}/0",
                    },
                )
                self.entries.append((stamp, time.monotonic() + self.log_lag, entry))

    def _kill(self, task: FakeTask) -> None:
        if task.process is not None and task.process.poll() is None:
            try:
                os.killpg(task.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            task.process.wait()

    def _discard(self, task: FakeTask) -> None:
        """Kill a task for good (its job is deleted, or the fake stops) and remove its directory."""
        self._kill(task)
        if task.workdir:
            shutil.rmtree(task.workdir, ignore_errors=True)


def _parse_time(text: str) -> datetime:
    """An RFC 3339 time (nanoseconds cut to microseconds)."""
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    fraction = (match.group(2) or "0")[:6].ljust(6, "0")
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.fromisoformat(f"{match.group(1)}.{fraction}{zone}")


def _retried(spec: Any, code: int) -> bool:
    """Whether Batch runs a task again after exit ``code`` (its lifecycle policy, else yes)."""
    for policy in spec.lifecycle_policies:
        listed = code in list(policy.action_condition.exit_codes)
        if policy.action == batch_v1.LifecyclePolicy.Action.RETRY_TASK:
            return listed
        if policy.action == batch_v1.LifecyclePolicy.Action.FAIL_TASK:
            return not listed
    return True
