"""What the screens show, as plain records: the same for the daemon and the database.

Both data sources (:mod:`redun_tui.data.grpc_source`, :mod:`redun_tui.data.db_source`)
translate into these, so no screen knows where its data came from. Times are
seconds since the epoch (``None``: not known); states and statuses are the
lower-case names of ``redun events --json`` (``pending``, ``running``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Job states, in the order the screens list them.
JOB_STATES = ("pending", "queued", "running", "cached", "done", "failed", "cancelled")
#: States a job does not leave.
TERMINAL_STATES = frozenset({"cached", "done", "failed", "cancelled"})
#: Execution statuses that are final.
FINAL_STATUSES = frozenset({"done", "failed", "cancelled", "interrupted"})


@dataclass
class RunRequest:
    """What to run: a workflow file, a task and its arguments (a submit, watch or re-run)."""

    workflow_path: str
    task: str
    args: dict[str, str] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)
    working_dir: str = ""
    no_cache: bool = False

    def command_line(self) -> str:
        """``flow.py main --n 3`` (for titles and confirmations)."""
        parts = [self.workflow_path, self.task]
        for name, value in self.args.items():
            parts += [f"--{name}", value]
        return " ".join(parts + list(self.argv))


@dataclass
class ValuePreview:
    """A short stand-in for a value."""

    hash: str = ""
    type_name: str = ""
    repr: str = ""
    truncated: bool = False
    size: int = 0
    file_path: str = ""


@dataclass
class ExecutionInfo:
    """One execution, without its jobs."""

    id: str
    status: str
    request: RunRequest
    start: float | None = None
    end: float | None = None
    root_job_id: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    result: ValuePreview | None = None
    error: str = ""
    traceback: str = ""
    watch_id: str = ""

    @property
    def task(self) -> str:
        return self.request.task


@dataclass
class JobInfo:
    """One job: a node of an execution's DAG."""

    id: str
    execution_id: str
    task: str
    state: str
    parent_id: str = ""
    executor: str = ""
    cached: bool = False
    reason: str = ""
    args_summary: str = ""
    call_hash: str = ""
    task_hash: str = ""
    start: float | None = None
    end: float | None = None
    duration: float | None = None
    error: str = ""
    traceback: str = ""
    call_order: int = 0
    """Its place in the execution's creation order (0: unknown); siblings sort by it."""

    @property
    def reevaluated(self) -> bool:
        """From the cache, but the expression it returned was evaluated again (below it,
        only the calls that changed ran)."""
        from redun.scheduler.replay import REPLAY_REASON_PREFIX

        return self.cached and self.reason.startswith(REPLAY_REASON_PREFIX)

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> JobInfo:
        """A job from a ``job_state`` event (see ``redun.client.convert.event_to_dict``)."""
        state = event["state"]
        duration = event.get("duration") or None
        time = event.get("time") or None
        return cls(
            id=event["job_id"],
            execution_id=event.get("execution_id", ""),
            task=event.get("task", ""),
            state=state,
            parent_id=event.get("parent_job_id") or "",
            executor=event.get("executor", ""),
            cached=bool(event.get("cached")),
            reason=event.get("reason", ""),
            args_summary=event.get("args_summary", ""),
            call_hash=event.get("call_hash", ""),
            start=time if state == "running" else None,
            end=time if state in TERMINAL_STATES else None,
            duration=duration,
            error=event.get("error") or "",
            traceback=event.get("traceback") or "",
            call_order=event.get("call_order") or 0,
        )


@dataclass
class JobDetail:
    """A job with what the job screen shows beyond the tree."""

    job: JobInfo
    args: list[tuple[str, ValuePreview]] = field(default_factory=list)
    result: ValuePreview | None = None
    explanation: list[str] = field(default_factory=list)
    # The job's tags (task tags=, an executor's job_tags), once recorded.
    tags: dict[str, Any] = field(default_factory=dict)


@dataclass
class WatchInfo:
    """A reactive watch."""

    id: str
    request: RunRequest
    created: float | None = None
    last_execution_id: str = ""
    last_status: str = ""
    last_trigger: float | None = None
    path_count: int = 0


@dataclass
class LogChunk:
    """A piece of a job's captured output."""

    text: str
    stream: str = "stdout"


@dataclass
class LineageNode:
    """A value, a file or a call in a lineage graph."""

    id: str
    kind: str  # "value", "file" or "call"
    label: str
    value: ValuePreview | None = None
    task: str = ""
    job_id: str = ""
    truncated: bool = False


@dataclass
class LineageEdge:
    """An edge pointing the way data flowed: value -> call (argument), call -> value (result)."""

    source_id: str
    target_id: str
    kind: str  # "argument", "result" or "child_call"
    name: str = ""


@dataclass
class LineageGraph:
    """The lineage around one value or file."""

    root_id: str
    nodes: dict[str, LineageNode] = field(default_factory=dict)
    edges: list[LineageEdge] = field(default_factory=list)

    def upstream(self, node_id: str) -> list[tuple[LineageEdge, LineageNode]]:
        """What flowed into ``node_id``: a value's producing call, a call's arguments."""
        return [
            (edge, self.nodes[edge.source_id])
            for edge in self.edges
            if edge.target_id == node_id and edge.source_id in self.nodes
        ]

    def downstream(self, node_id: str) -> list[tuple[LineageEdge, LineageNode]]:
        """What ``node_id`` flowed into: a value's consumers, a call's result."""
        return [
            (edge, self.nodes[edge.target_id])
            for edge in self.edges
            if edge.source_id == node_id and edge.target_id in self.nodes
        ]


@dataclass
class TaskVersion:
    """One recorded version of a task's code."""

    hash: str
    version: str = ""
    source: str = ""
    call_count: int = 0
    last_used: float | None = None


@dataclass
class TaskInfo:
    """A task with its versions, newest first."""

    full_name: str
    versions: list[TaskVersion] = field(default_factory=list)


@dataclass
class FileInfo:
    """A recorded File or Dir value."""

    path: str
    value_hash: str
    file_hash: str = ""
    size: int = 0
    is_dir: bool = False


@dataclass
class SearchHit:
    """One search result: ``kind`` is execution, job, task, value or file."""

    kind: str
    id: str
    title: str
    snippet: str = ""
