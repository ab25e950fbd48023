"""The records :class:`~redun.backends.queries.StoreReader` returns, and the rows they come from."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "CALL_COLS",
    "EXEC_COLS",
    "JOB_COLS",
    "CallRecordInfo",
    "ExecutionRecord",
    "FileRecord",
    "JobRecord",
    "TaskRecord",
    "TaskUsage",
    "ValueRecord",
    "ValueUse",
    "execution_from_row",
    "job_from_row",
    "task_from_row",
]


class _Record:
    """Plain data read from the store; ``to_dict()`` for JSON output."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


class _Timed(_Record):
    start_time: float | None
    end_time: float | None

    @property
    def duration(self) -> float | None:
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time


@dataclass
class ExecutionRecord(_Timed):
    """One run of the scheduler."""

    id: str
    root_job_id: str | None
    argv: list[str]
    expr: str | None
    start_time: float | None
    end_time: float | None
    status: str
    error: str | None
    user: str | None
    host: str | None
    pid: int | None
    cwd: str | None
    tags: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobRecord(_Timed):
    """One job: a task call in an execution (its call node is ``call_hash``)."""

    id: str
    execution_id: str
    parent_id: str | None
    task_name: str
    task_hash: str | None
    eval_hash: str | None
    call_hash: str | None
    state: str
    cached: bool
    reason: str | None
    executor: str | None
    start_time: float | None
    end_time: float | None
    error: str | None
    traceback: str | None
    arg_hashes: dict[str, str] | None = None
    # Filled in where a job is shown on its own (redun log JOB).
    tags: dict[str, Any] = field(default_factory=dict)


@dataclass
class CallRecordInfo(_Record):
    """A call node: what a task computed from which arguments."""

    call_hash: str
    task_hash: str
    task_name: str
    args_hash: str
    eval_hash: str
    result_hash: str
    time: float | None
    arguments: dict[str, str] = field(default_factory=dict)


@dataclass
class FileRecord(_Record):
    """A File (or Dir) as recorded inside a value."""

    value_hash: str
    path: str
    file_hash: str | None
    size: int | None
    kind: str | None


@dataclass
class ValueRecord(_Record):
    """A recorded value: its type, size, where it is kept, and a short repr."""

    hash: str
    type_name: str | None
    location: str | None
    size: int | None
    preview: str | None
    file: FileRecord | None = None


@dataclass
class TaskRecord(_Record):
    """A task version: its source and the code parts its hash covers."""

    hash: str
    fullname: str
    namespace: str | None
    name: str | None
    version: str | None
    source: str | None
    code_parts: dict[str, str]


@dataclass
class TaskUsage:
    """How a task version was used: its calls, and the jobs that ran or reused them."""

    task_hash: str
    call_count: int = 0
    first_seen: float | None = None
    last_used: float | None = None


@dataclass
class ValueUse:
    """The latest job that made or took a value (directly, or inside a container)."""

    time: float | None
    cwd: str | None


EXEC_COLS = (
    'id, root_job_id, argv, expr, start_time, end_time, status, error, "user", host, pid, cwd'
)
JOB_COLS = (
    "id, execution_id, parent_id, task_name, task_hash, eval_hash, call_hash, state, "
    "cached, reason, executor, start_time, end_time, error, traceback, arg_hashes"
)
CALL_COLS = "call_hash, task_hash, task_name, args_hash, eval_hash, result_hash, time"


def execution_from_row(row: Any) -> ExecutionRecord:
    try:
        argv = json.loads(row[2] or "[]")
    except ValueError:
        argv = []
    return ExecutionRecord(
        row[0], row[1], argv, row[3], row[4], row[5], row[6] or "running", row[7],
        row[8], row[9], row[10], row[11],
    )  # fmt: skip


def job_from_row(row: Any) -> JobRecord:
    arg_hashes = None
    if row[15]:
        try:
            arg_hashes = json.loads(row[15])
        except ValueError:
            arg_hashes = None
    return JobRecord(
        row[0], row[1], row[2], row[3] or "", row[4], row[5], row[6], row[7] or "pending",
        bool(row[8]), row[9], row[10], row[11], row[12], row[13], row[14], arg_hashes,
    )  # fmt: skip


def task_from_row(row: Any) -> TaskRecord:
    try:
        parts = json.loads(row[6] or "{}")
    except ValueError:
        parts = {}
    return TaskRecord(row[0], row[1], row[2], row[3], row[4], row[5], parts)
