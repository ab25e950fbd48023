"""Protobuf <-> domain: the only module that builds or reads ``redun.v1`` messages.

The servicer calls these; nothing else in the daemon touches protobuf.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redun.v1 import common_pb2, events_pb2, provenance_pb2, runs_pb2
from redund.errors import InvalidRequest
from redund.model import (
    ErrorInfo,
    Event,
    ExecutionFinishedData,
    ExecutionRecord,
    ExecutionStartedData,
    ExecutionStatus,
    JobCounts,
    JobRecord,
    JobStateData,
    LogData,
    RunSpec,
    ValuePreview,
    WatchTriggeredData,
)

if TYPE_CHECKING:
    from redund.browse import FileEntry, Task, ValueEntry
    from redund.search import SearchHit

_STATUS_TO_PB = {
    ExecutionStatus.RUNNING: common_pb2.EXECUTION_STATUS_RUNNING,
    ExecutionStatus.DONE: common_pb2.EXECUTION_STATUS_DONE,
    ExecutionStatus.FAILED: common_pb2.EXECUTION_STATUS_FAILED,
    ExecutionStatus.CANCELLED: common_pb2.EXECUTION_STATUS_CANCELLED,
    ExecutionStatus.INTERRUPTED: common_pb2.EXECUTION_STATUS_INTERRUPTED,
}
_STATUS_FROM_PB = {value: key for key, value in _STATUS_TO_PB.items()}
_STATE_TO_PB = {
    "pending": common_pb2.JOB_STATE_PENDING,
    "queued": common_pb2.JOB_STATE_QUEUED,
    "running": common_pb2.JOB_STATE_RUNNING,
    "cached": common_pb2.JOB_STATE_CACHED,
    "done": common_pb2.JOB_STATE_DONE,
    "failed": common_pb2.JOB_STATE_FAILED,
    "cancelled": common_pb2.JOB_STATE_CANCELLED,
}
_STATE_FROM_PB = {value: key for key, value in _STATE_TO_PB.items()}
_SEARCH_KIND_TO_PB = {
    "execution": provenance_pb2.SEARCH_KIND_EXECUTION,
    "job": provenance_pb2.SEARCH_KIND_JOB,
    "task": provenance_pb2.SEARCH_KIND_TASK,
    "value": provenance_pb2.SEARCH_KIND_VALUE,
    "file": provenance_pb2.SEARCH_KIND_FILE,
}
_SEARCH_KIND_FROM_PB: dict[int, str] = {value: key for key, value in _SEARCH_KIND_TO_PB.items()}
_STREAM_TO_PB = {"stdout": common_pb2.LOG_STREAM_STDOUT, "stderr": common_pb2.LOG_STREAM_STDERR}


def ns(seconds: float) -> int:
    return int(seconds * 1e9) if seconds else 0


# -- requests -> domain ------------------------------------------------------------


def spec_from_pb(message: runs_pb2.RunSpec) -> RunSpec:
    return RunSpec(
        workflow_path=message.workflow_path,
        task=message.task,
        args=dict(message.args),
        argv=list(message.argv),
        kwargs_json=message.kwargs_json,
        options=dict(message.options),
        working_dir=message.working_dir,
        no_cache=message.no_cache,
        dryrun=message.dryrun,
    )


def statuses_from_pb(values: list[int]) -> list[str]:
    result = []
    for value in values:
        if value == common_pb2.EXECUTION_STATUS_UNSPECIFIED:
            continue
        status = _STATUS_FROM_PB.get(value)
        if status is None:
            raise InvalidRequest(f"unknown execution status {value}")
        result.append(status.value)
    return result


def states_from_pb(values: list[int]) -> list[str]:
    result = []
    for value in values:
        state = _STATE_FROM_PB.get(value)
        if state is None:
            raise InvalidRequest(f"unknown job state {value}")
        result.append(state)
    return result


def search_kinds_from_pb(values: list[int]) -> list[str]:
    """Kind names to search; empty (or holding UNSPECIFIED) for every kind."""
    unspecified = provenance_pb2.SEARCH_KIND_UNSPECIFIED
    for value in values:
        if value != unspecified and value not in _SEARCH_KIND_FROM_PB:
            raise InvalidRequest(f"unknown search kind {value}")
    if unspecified in values:
        return []
    return [_SEARCH_KIND_FROM_PB[value] for value in values]


# -- domain -> responses --------------------------------------------------------------


def spec_to_pb(spec: RunSpec) -> runs_pb2.RunSpec:
    return runs_pb2.RunSpec(
        workflow_path=spec.workflow_path,
        task=spec.task,
        args=spec.args,
        argv=spec.argv,
        kwargs_json=spec.kwargs_json,
        options=spec.options,
        working_dir=spec.working_dir,
        no_cache=spec.no_cache,
        dryrun=spec.dryrun,
    )


def status_to_pb(status: ExecutionStatus) -> int:
    return _STATUS_TO_PB[status]


def error_to_pb(error: ErrorInfo | None) -> common_pb2.Error | None:
    if error is None:
        return None
    return common_pb2.Error(type=error.type, message=error.message, traceback=error.traceback)


def preview_to_pb(preview: ValuePreview | None) -> common_pb2.ValuePreview | None:
    return None if preview is None else _preview_pb(preview)


def previews_to_pb(previews: list[ValuePreview]) -> list[common_pb2.ValuePreview]:
    return [_preview_pb(preview) for preview in previews]


def _preview_pb(preview: ValuePreview) -> common_pb2.ValuePreview:
    return common_pb2.ValuePreview(
        type_name=preview.type_name,
        hash=preview.hash,
        repr=preview.repr,
        repr_truncated=preview.truncated,
        size=preview.size,
        file_path=preview.file_path,
    )


def counts_to_pb(counts: JobCounts) -> common_pb2.JobCounts:
    return common_pb2.JobCounts(
        total=counts.total,
        pending=counts.pending,
        running=counts.running,
        cached=counts.cached,
        done=counts.done,
        failed=counts.failed,
        cancelled=counts.cancelled,
        queued=counts.queued,
    )


def job_to_pb(job: JobRecord) -> runs_pb2.Job:
    return runs_pb2.Job(
        id=job.id,
        execution_id=job.execution_id,
        parent_id=job.parent_id,
        child_count=job.child_count,
        task=job.task,
        task_hash=job.task_hash,
        call_hash=job.call_hash,
        state=_STATE_TO_PB.get(job.state, common_pb2.JOB_STATE_UNSPECIFIED),
        create_unix_ns=ns(job.create_time),
        start_unix_ns=ns(job.start_time) if job.state != "cached" else 0,
        end_unix_ns=ns(job.end_time),
        executor=job.executor,
        cached=job.cached,
        reason=job.reason,
        args_summary=job.args_summary,
        result=preview_to_pb(job.result),
        error=error_to_pb(job.error),
    )


def execution_to_pb(
    record: ExecutionRecord, jobs: list[JobRecord] | None = None
) -> runs_pb2.Execution:
    return runs_pb2.Execution(
        id=record.id,
        status=_STATUS_TO_PB[record.status],
        spec=spec_to_pb(record.spec),
        watch_id=record.watch_id,
        start_unix_ns=ns(record.start_time),
        end_unix_ns=ns(record.end_time),
        root_job_id=record.root_job_id,
        job_counts=counts_to_pb(record.counts),
        result=preview_to_pb(record.result),
        error=error_to_pb(record.error),
        jobs=[job_to_pb(job) for job in jobs or ()],
    )


def job_state_to_pb(data: JobStateData) -> events_pb2.JobStateChanged:
    return events_pb2.JobStateChanged(
        job_id=data.job_id,
        parent_job_id=data.parent_job_id,
        task=data.task,
        state=_STATE_TO_PB.get(data.state, common_pb2.JOB_STATE_UNSPECIFIED),
        executor=data.executor,
        cached=data.cached,
        reason=data.reason,
        call_hash=data.call_hash,
        duration_ns=ns(data.duration),
        args_summary=data.args_summary,
        error=error_to_pb(data.error),
        call_order=data.call_order,
    )


def log_to_pb(data: LogData) -> events_pb2.LogLine:
    return events_pb2.LogLine(
        job_id=data.job_id,
        stream=_STREAM_TO_PB.get(data.stream, common_pb2.LOG_STREAM_UNSPECIFIED),
        text=data.text,
    )


def event_to_pb(event: Event) -> events_pb2.Event:
    """The protobuf form of ``event``, built once and shared by every stream."""
    wire = event.wire
    if wire is not None:
        return wire
    message = events_pb2.Event(
        time_unix_ns=ns(event.time), execution_id=event.execution_id, seq=event.seq
    )
    data = event.data
    cls = type(data)
    if cls is JobStateData:
        message.job_state.CopyFrom(job_state_to_pb(data))  # type: ignore[arg-type]
        message.job_state.folded = event.folded
    elif cls is LogData:
        message.log.CopyFrom(log_to_pb(data))  # type: ignore[arg-type]
    elif cls is ExecutionStartedData:
        message.execution_started.CopyFrom(
            events_pb2.ExecutionStarted(spec=spec_to_pb(data.spec), watch_id=data.watch_id)  # type: ignore[union-attr]
        )
    elif cls is ExecutionFinishedData:
        message.execution_finished.CopyFrom(
            events_pb2.ExecutionFinished(
                status=_STATUS_TO_PB[data.status],  # type: ignore[union-attr]
                error=error_to_pb(data.error),  # type: ignore[union-attr]
                result=preview_to_pb(data.result),  # type: ignore[union-attr]
                duration_ns=ns(data.duration),  # type: ignore[union-attr]
                job_counts=counts_to_pb(data.counts),  # type: ignore[union-attr]
            )
        )
    elif cls is WatchTriggeredData:
        message.watch_triggered.CopyFrom(
            events_pb2.WatchTriggered(
                watch_id=data.watch_id,  # type: ignore[union-attr]
                changed_paths=list(data.changed_paths),  # type: ignore[union-attr]
                superseded_execution_id=data.superseded_execution_id,  # type: ignore[union-attr]
            )
        )
    event.wire = message
    return message


_NODE_KINDS = {"value": 1, "file": 2, "call": 3}
_EDGE_KINDS = {"argument": 1, "result": 2, "child_call": 3}


def lineage_to_pb(graph: Any) -> Any:
    """A :class:`redund.lineage.LineageGraph` as ``redun.v1.LineageGraph``."""
    return provenance_pb2.LineageGraph(
        root_id=graph.root_id,
        nodes=[
            provenance_pb2.LineageNode(
                id=node.id,
                kind=_NODE_KINDS[node.kind],
                label=node.label,
                value=preview_to_pb(node.value),
                task=node.task,
                job_id=node.job_id,
                truncated=node.truncated,
            )
            for node in graph.nodes
        ],
        edges=[
            provenance_pb2.LineageEdge(
                source_id=edge.source_id,
                target_id=edge.target_id,
                kind=_EDGE_KINDS[edge.kind],
                name=edge.name,
            )
            for edge in graph.edges
        ],
    )


def watch_to_pb(watch: Any, *, include_paths: bool) -> runs_pb2.WatchInfo:
    """A :class:`redund.watches.Watch` as ``redun.v1.WatchInfo``."""
    status = ExecutionStatus(watch.last_status) if watch.last_status else None
    return runs_pb2.WatchInfo(
        id=watch.id,
        spec=spec_to_pb(watch.spec),
        create_unix_ns=ns(watch.create_time),
        last_execution_id=watch.last_execution_id,
        last_status=_STATUS_TO_PB[status] if status is not None else 0,
        last_trigger_unix_ns=ns(watch.last_trigger_time),
        watched_path_count=len(watch.paths),
        watched_paths=watch.paths if include_paths else [],
    )


def task_to_pb(task: Task) -> provenance_pb2.TaskInfo:
    """A :class:`redund.browse.Task` as ``redun.v1.TaskInfo``."""
    return provenance_pb2.TaskInfo(
        full_name=task.full_name,
        namespace=task.namespace,
        name=task.name,
        versions=[
            provenance_pb2.TaskVersion(
                hash=version.hash,
                version=version.version,
                source=version.source,
                first_seen_unix_ns=ns(version.first_seen),
                last_used_unix_ns=ns(version.last_used),
                call_count=version.call_count,
            )
            for version in task.versions
        ],
    )


def file_to_pb(entry: FileEntry) -> provenance_pb2.FileInfo:
    """A :class:`redund.browse.FileEntry` as ``redun.v1.FileInfo``."""
    return provenance_pb2.FileInfo(
        path=entry.path,
        value_hash=entry.value_hash,
        file_hash=entry.file_hash,
        size=entry.size,
        is_dir=entry.is_dir,
        current=entry.current,
    )


def value_to_pb(entry: ValueEntry) -> provenance_pb2.ValueInfo:
    """A :class:`redund.browse.ValueEntry` as ``redun.v1.ValueInfo``."""
    return provenance_pb2.ValueInfo(
        preview=preview_to_pb(entry.preview),
        repr=entry.repr,
        repr_truncated=entry.repr_truncated,
        pickled=entry.pickled,
        file=file_to_pb(entry.file) if entry.file is not None else None,
    )


def hit_to_pb(hit: SearchHit) -> provenance_pb2.SearchHit:
    """A :class:`redund.search.SearchHit` as ``redun.v1.SearchHit``."""
    return provenance_pb2.SearchHit(
        kind=_SEARCH_KIND_TO_PB[hit.kind],
        id=hit.id,
        title=hit.title,
        snippet=hit.snippet,
        time_unix_ns=ns(hit.time),
    )
