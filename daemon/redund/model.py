"""The daemon's domain objects: what runs, what ran, and what happened.

Plain data, no grpc: :mod:`redund.convert` turns them into protobuf messages.
Times are float seconds since the epoch, as in :mod:`redun.events`.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any


class ExecutionStatus(str, enum.Enum):
    """Where an execution is in its life (the lower-case JSON spelling)."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def is_final(self) -> bool:
        return self is not ExecutionStatus.RUNNING


JOB_STATES = ("pending", "queued", "running", "cached", "done", "failed", "cancelled")
TERMINAL_JOB_STATES = frozenset({"cached", "done", "failed", "cancelled"})


@dataclass(slots=True)
class RunSpec:
    """What to run (see ``RunSpec`` in runs.proto). Paths are absolute once validated."""

    workflow_path: str
    task: str
    args: dict[str, str] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)
    kwargs_json: str = ""
    options: dict[str, str] = field(default_factory=dict)
    working_dir: str = ""
    no_cache: bool = False
    dryrun: bool = False

    def task_argv(self) -> list[str]:
        """The task's arguments as one command line: ``args`` first, then ``argv``."""
        line: list[str] = []
        for name, value in self.args.items():
            line += [f"--{name}", value]
        return line + list(self.argv)

    def exec_argv(self) -> list[str]:
        """The command line recorded with the execution (what ``redun run`` would take)."""
        flags = ["--no-cache"] if self.no_cache else []
        flags += ["--dryrun"] if self.dryrun else []
        return ["redun", "run", *flags, self.workflow_path, self.task, *self.task_argv()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "workflow_path": self.workflow_path,
            "task": self.task,
            "args": dict(self.args),
            "argv": list(self.argv),
            "kwargs_json": self.kwargs_json,
            "options": dict(self.options),
            "working_dir": self.working_dir,
            "no_cache": self.no_cache,
            "dryrun": self.dryrun,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        return cls(**{key: data[key] for key in cls.__slots__ if key in data})  # type: ignore[attr-defined]


@dataclass(slots=True, frozen=True)
class ErrorInfo:
    """An error as a client shows it."""

    type: str
    message: str
    traceback: str = ""

    def text(self) -> str:
        return f"{self.type}: {self.message}" if self.type else self.message

    def to_tuple(self) -> tuple[str, str, str]:
        return (self.type, self.message, self.traceback)

    @classmethod
    def from_tuple(cls, data: Any) -> ErrorInfo | None:
        return None if not data else cls(str(data[0]), str(data[1]), str(data[2]))


@dataclass(slots=True, frozen=True)
class ValuePreview:
    """A short stand-in for a value."""

    type_name: str = ""
    hash: str = ""
    repr: str = ""
    truncated: bool = False
    size: int = 0
    file_path: str = ""

    def to_tuple(self) -> tuple:
        return (self.type_name, self.hash, self.repr, self.truncated, self.size, self.file_path)

    @classmethod
    def from_tuple(cls, data: Any) -> ValuePreview | None:
        return None if not data else cls(*data)


class JobRecord:
    """What the daemon knows about one job (its latest state)."""

    __slots__ = (
        "id",
        "execution_id",
        "parent_id",
        "task",
        "state",
        "executor",
        "cached",
        "reason",
        "call_hash",
        "task_hash",
        "args_summary",
        "error",
        "create_time",
        "start_time",
        "end_time",
        "child_count",
        "result",
        "event",
        "call_order",
    )

    def __init__(self, job_id: str, execution_id: str, parent_id: str, task: str) -> None:
        self.id = job_id
        self.execution_id = execution_id
        self.parent_id = parent_id
        self.task = task
        self.state = "pending"
        self.executor = ""
        self.cached = False
        self.reason = ""
        self.call_hash = ""
        self.task_hash = ""
        self.args_summary = ""
        self.error: ErrorInfo | None = None
        self.create_time = 0.0
        self.start_time = 0.0
        self.end_time = 0.0
        self.child_count = 0
        self.result: ValuePreview | None = None
        self.event: Event | None = None  # the latest event about this job
        self.call_order = 0  # its place in the execution's creation order, from 1

    @property
    def duration(self) -> float:
        if self.end_time and self.start_time and self.state != "cached":
            return max(0.0, self.end_time - self.start_time)
        return 0.0


@dataclass(slots=True)
class JobCounts:
    """Jobs by state."""

    total: int = 0
    pending: int = 0
    queued: int = 0
    running: int = 0
    cached: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0

    def move(self, old: str | None, new: str) -> None:
        if old is None:
            self.total += 1
        else:
            setattr(self, old, getattr(self, old) - 1)
        setattr(self, new, getattr(self, new) + 1)


# -- events -------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class ExecutionStartedData:
    spec: RunSpec
    watch_id: str = ""


@dataclass(slots=True, frozen=True)
class ExecutionFinishedData:
    status: ExecutionStatus
    error: ErrorInfo | None
    result: ValuePreview | None
    duration: float
    counts: JobCounts


@dataclass(slots=True, frozen=True)
class JobStateData:
    """A snapshot of a job at one event (every field set, see events.proto)."""

    job_id: str
    parent_job_id: str
    task: str
    state: str
    executor: str
    cached: bool
    reason: str
    call_hash: str
    duration: float
    args_summary: str
    error: ErrorInfo | None
    call_order: int = 0

    @classmethod
    def of(cls, job: JobRecord) -> JobStateData:
        return cls(
            job.id,
            job.parent_id,
            job.task,
            job.state,
            job.executor,
            job.cached,
            job.reason,
            job.call_hash,
            job.duration,
            job.args_summary,
            job.error,
            job.call_order,
        )


@dataclass(slots=True, frozen=True)
class LogData:
    job_id: str
    stream: str
    text: str


@dataclass(slots=True, frozen=True)
class WatchTriggeredData:
    watch_id: str
    changed_paths: tuple[str, ...]
    superseded_execution_id: str = ""


EventData = (
    ExecutionStartedData | ExecutionFinishedData | JobStateData | LogData | WatchTriggeredData
)

_TYPE_NAMES: dict[type, str] = {
    ExecutionStartedData: "execution_started",
    ExecutionFinishedData: "execution_finished",
    JobStateData: "job_state",
    LogData: "log",
    WatchTriggeredData: "watch_triggered",
}


class Event:
    """One thing that happened, numbered within its execution.

    ``wire`` caches the protobuf form so that fifty clients share one conversion.
    ``folded`` counts the earlier states of the job this event stands for in a
    lagging client's stream (see :mod:`redund.hub`); 0 for everyone else.
    """

    __slots__ = ("execution_id", "seq", "time", "data", "wire", "folded")

    def __init__(self, execution_id: str, seq: int, time_: float, data: EventData) -> None:
        self.execution_id = execution_id
        self.seq = seq
        self.time = time_
        self.data = data
        self.wire: Any = None
        self.folded = 0

    def with_folded(self, folded: int) -> Event:
        """This event for one client, standing for ``folded`` earlier states it will not see."""
        copy = Event(self.execution_id, self.seq, self.time, self.data)
        copy.folded = folded
        return copy

    @property
    def type(self) -> str:
        return _TYPE_NAMES[type(self.data)]

    def __repr__(self) -> str:
        return f"Event({self.type}, {self.execution_id[:8]}#{self.seq})"


def now() -> float:
    return time.time()


class ExecutionRecord:
    """One execution as the daemon knows it: live (with its jobs) or read from the database."""

    __slots__ = (
        "id",
        "spec",
        "watch_id",
        "status",
        "start_time",
        "end_time",
        "root_job_id",
        "counts",
        "result",
        "pickled",
        "error",
        "jobs",
        "logs",
        "log_chars",
        "seq",
        "started_event",
        "finished_event",
        "dependencies",
    )

    def __init__(self, execution_id: str, spec: RunSpec, *, watch_id: str = "") -> None:
        self.id = execution_id
        self.spec = spec
        self.watch_id = watch_id
        self.status = ExecutionStatus.RUNNING
        self.start_time = time.time()
        self.end_time = 0.0
        self.root_job_id = ""
        self.counts = JobCounts()
        self.result: ValuePreview | None = None
        self.pickled = b""
        self.error: ErrorInfo | None = None
        self.jobs: dict[str, JobRecord] = {}
        self.logs: list[Event] = []
        self.log_chars = 0
        self.seq = 0
        self.started_event: Event | None = None
        self.finished_event: Event | None = None
        self.dependencies: dict[str, list[str]] = {}

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    @property
    def duration(self) -> float:
        end = self.end_time or time.time()
        return max(0.0, end - self.start_time)
