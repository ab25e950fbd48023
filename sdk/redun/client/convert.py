"""Protobuf messages of the daemon as plain data (the ``redun events --json`` shape)."""

from __future__ import annotations

from typing import Any

from redun.v1 import common_pb2, events_pb2


def enum_name(enum: Any, value: int, prefix: str) -> str:
    """``JOB_STATE_CACHED`` -> ``"cached"``."""
    try:
        return enum.Name(value).removeprefix(prefix).lower()
    except ValueError:
        return "unspecified"


def state_name(value: int) -> str:
    return enum_name(common_pb2.JobState, value, "JOB_STATE_")


def status_name(value: int) -> str:
    return enum_name(common_pb2.ExecutionStatus, value, "EXECUTION_STATUS_")


def stream_name(value: int) -> str:
    name = enum_name(common_pb2.LogStream, value, "LOG_STREAM_")
    return "" if name == "unspecified" else name


def error_text(error: common_pb2.Error) -> str:
    return f"{error.type}: {error.message}" if error.type else error.message


def preview_dict(preview: common_pb2.ValuePreview) -> dict[str, Any]:
    return {
        "type_name": preview.type_name,
        "hash": preview.hash,
        "repr": preview.repr,
        "truncated": preview.repr_truncated,
    }


def event_to_dict(event: events_pb2.Event) -> dict[str, Any]:
    """One event as plain data: ``type``, ``time`` (seconds), ``execution_id``, ``seq``, ...

    ``job_state``: ``job_id``, ``parent_job_id``, ``task``, ``state``, ``executor``,
    ``cached``, ``reason``, ``call_hash``, ``duration``, ``args_summary``, and
    ``error`` (text; with ``error_type`` and ``traceback``) when failed, and
    ``folded`` (how many earlier states of the job it stands for) when this
    client lagged and states were left out, and ``call_order`` (the job's
    place in its execution's creation order: siblings sorted by it are in
    call order).
    ``execution_finished``: ``status``, ``error`` (text) when not done,
    ``result`` (repr) when done, ``duration``, ``job_counts``.
    ``log``: ``job_id``, ``stream``, ``text``. ``execution_started``:
    ``workflow_path``, ``task``, ``args``, ``watch_id``. ``watch_triggered``:
    ``watch_id``, ``changed_paths``, ``superseded_execution_id``.
    """
    kind = event.WhichOneof("payload") or "unknown"
    data: dict[str, Any] = {
        "type": kind,
        "time": event.time_unix_ns / 1e9,
        "execution_id": event.execution_id,
        "seq": event.seq,
    }
    if kind == "job_state":
        job = event.job_state
        data.update(
            job_id=job.job_id,
            parent_job_id=job.parent_job_id or None,
            task=job.task,
            state=state_name(job.state),
            executor=job.executor,
            cached=job.cached,
            reason=job.reason,
            call_hash=job.call_hash,
            duration=job.duration_ns / 1e9,
            args_summary=job.args_summary,
        )
        if job.call_order:
            data["call_order"] = job.call_order
        if job.folded:
            data["folded"] = job.folded
        if job.HasField("error"):
            data.update(
                error=error_text(job.error),
                error_type=job.error.type,
                traceback=job.error.traceback,
            )
    elif kind == "execution_finished":
        finished = event.execution_finished
        data.update(status=status_name(finished.status), duration=finished.duration_ns / 1e9)
        if finished.HasField("error"):
            data.update(
                error=error_text(finished.error),
                error_type=finished.error.type,
                traceback=finished.error.traceback,
            )
        else:
            data["error"] = None
        if finished.HasField("result"):
            data["result"] = finished.result.repr
        counts = finished.job_counts
        data["job_counts"] = {
            name: getattr(counts, name)
            for name in (
                "total",
                "pending",
                "queued",
                "running",
                "cached",
                "done",
                "failed",
                "cancelled",
            )
        }
    elif kind == "log":
        data.update(
            job_id=event.log.job_id, stream=stream_name(event.log.stream), text=event.log.text
        )
    elif kind == "execution_started":
        spec = event.execution_started.spec
        data.update(
            workflow_path=spec.workflow_path,
            task=spec.task,
            args=dict(spec.args),
            argv=list(spec.argv),
            watch_id=event.execution_started.watch_id,
        )
    elif kind == "watch_triggered":
        trigger = event.watch_triggered
        data.update(
            watch_id=trigger.watch_id,
            changed_paths=list(trigger.changed_paths),
            superseded_execution_id=trigger.superseded_execution_id,
        )
    return data
