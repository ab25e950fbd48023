from redun.v1 import common_pb2 as _common_pb2
from redun.v1 import runs_pb2 as _runs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Event(_message.Message):
    __slots__ = ("time_unix_ns", "execution_id", "seq", "execution_started", "execution_finished", "job_state", "log", "watch_triggered")
    TIME_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_STARTED_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_FINISHED_FIELD_NUMBER: _ClassVar[int]
    JOB_STATE_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    WATCH_TRIGGERED_FIELD_NUMBER: _ClassVar[int]
    time_unix_ns: int
    execution_id: str
    seq: int
    execution_started: ExecutionStarted
    execution_finished: ExecutionFinished
    job_state: JobStateChanged
    log: LogLine
    watch_triggered: WatchTriggered
    def __init__(self, time_unix_ns: _Optional[int] = ..., execution_id: _Optional[str] = ..., seq: _Optional[int] = ..., execution_started: _Optional[_Union[ExecutionStarted, _Mapping]] = ..., execution_finished: _Optional[_Union[ExecutionFinished, _Mapping]] = ..., job_state: _Optional[_Union[JobStateChanged, _Mapping]] = ..., log: _Optional[_Union[LogLine, _Mapping]] = ..., watch_triggered: _Optional[_Union[WatchTriggered, _Mapping]] = ...) -> None: ...

class EventBatch(_message.Message):
    __slots__ = ("events", "caught_up", "coalesced")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    CAUGHT_UP_FIELD_NUMBER: _ClassVar[int]
    COALESCED_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    caught_up: bool
    coalesced: int
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., caught_up: _Optional[bool] = ..., coalesced: _Optional[int] = ...) -> None: ...

class ExecutionStarted(_message.Message):
    __slots__ = ("spec", "watch_id")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    WATCH_ID_FIELD_NUMBER: _ClassVar[int]
    spec: _runs_pb2.RunSpec
    watch_id: str
    def __init__(self, spec: _Optional[_Union[_runs_pb2.RunSpec, _Mapping]] = ..., watch_id: _Optional[str] = ...) -> None: ...

class ExecutionFinished(_message.Message):
    __slots__ = ("status", "error", "result", "duration_ns", "job_counts")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    DURATION_NS_FIELD_NUMBER: _ClassVar[int]
    JOB_COUNTS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.ExecutionStatus
    error: _common_pb2.Error
    result: _common_pb2.ValuePreview
    duration_ns: int
    job_counts: _common_pb2.JobCounts
    def __init__(self, status: _Optional[_Union[_common_pb2.ExecutionStatus, str]] = ..., error: _Optional[_Union[_common_pb2.Error, _Mapping]] = ..., result: _Optional[_Union[_common_pb2.ValuePreview, _Mapping]] = ..., duration_ns: _Optional[int] = ..., job_counts: _Optional[_Union[_common_pb2.JobCounts, _Mapping]] = ...) -> None: ...

class JobStateChanged(_message.Message):
    __slots__ = ("job_id", "parent_job_id", "task", "state", "executor", "cached", "reason", "call_hash", "duration_ns", "args_summary", "error", "folded", "call_order")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CALL_HASH_FIELD_NUMBER: _ClassVar[int]
    DURATION_NS_FIELD_NUMBER: _ClassVar[int]
    ARGS_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FOLDED_FIELD_NUMBER: _ClassVar[int]
    CALL_ORDER_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    parent_job_id: str
    task: str
    state: _common_pb2.JobState
    executor: str
    cached: bool
    reason: str
    call_hash: str
    duration_ns: int
    args_summary: str
    error: _common_pb2.Error
    folded: int
    call_order: int
    def __init__(self, job_id: _Optional[str] = ..., parent_job_id: _Optional[str] = ..., task: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.JobState, str]] = ..., executor: _Optional[str] = ..., cached: _Optional[bool] = ..., reason: _Optional[str] = ..., call_hash: _Optional[str] = ..., duration_ns: _Optional[int] = ..., args_summary: _Optional[str] = ..., error: _Optional[_Union[_common_pb2.Error, _Mapping]] = ..., folded: _Optional[int] = ..., call_order: _Optional[int] = ...) -> None: ...

class LogLine(_message.Message):
    __slots__ = ("job_id", "stream", "text")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    stream: _common_pb2.LogStream
    text: str
    def __init__(self, job_id: _Optional[str] = ..., stream: _Optional[_Union[_common_pb2.LogStream, str]] = ..., text: _Optional[str] = ...) -> None: ...

class WatchTriggered(_message.Message):
    __slots__ = ("watch_id", "changed_paths", "superseded_execution_id")
    WATCH_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGED_PATHS_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    watch_id: str
    changed_paths: _containers.RepeatedScalarFieldContainer[str]
    superseded_execution_id: str
    def __init__(self, watch_id: _Optional[str] = ..., changed_paths: _Optional[_Iterable[str]] = ..., superseded_execution_id: _Optional[str] = ...) -> None: ...
