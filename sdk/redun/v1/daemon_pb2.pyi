from redun.v1 import common_pb2 as _common_pb2
from redun.v1 import events_pb2 as _events_pb2
from redun.v1 import provenance_pb2 as _provenance_pb2
from redun.v1 import runs_pb2 as _runs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ServingStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SERVING_STATUS_UNSPECIFIED: _ClassVar[ServingStatus]
    SERVING_STATUS_SERVING: _ClassVar[ServingStatus]
    SERVING_STATUS_STOPPING: _ClassVar[ServingStatus]
SERVING_STATUS_UNSPECIFIED: ServingStatus
SERVING_STATUS_SERVING: ServingStatus
SERVING_STATUS_STOPPING: ServingStatus

class HealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthResponse(_message.Message):
    __slots__ = ("status", "pid", "addresses", "home", "start_unix_ns", "running_executions", "watch_count")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    HOME_FIELD_NUMBER: _ClassVar[int]
    START_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    WATCH_COUNT_FIELD_NUMBER: _ClassVar[int]
    status: ServingStatus
    pid: int
    addresses: _containers.RepeatedScalarFieldContainer[str]
    home: str
    start_unix_ns: int
    running_executions: int
    watch_count: int
    def __init__(self, status: _Optional[_Union[ServingStatus, str]] = ..., pid: _Optional[int] = ..., addresses: _Optional[_Iterable[str]] = ..., home: _Optional[str] = ..., start_unix_ns: _Optional[int] = ..., running_executions: _Optional[int] = ..., watch_count: _Optional[int] = ...) -> None: ...

class VersionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VersionResponse(_message.Message):
    __slots__ = ("redun_version", "api_version", "python_version")
    REDUN_VERSION_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    PYTHON_VERSION_FIELD_NUMBER: _ClassVar[int]
    redun_version: str
    api_version: str
    python_version: str
    def __init__(self, redun_version: _Optional[str] = ..., api_version: _Optional[str] = ..., python_version: _Optional[str] = ...) -> None: ...

class SubmitRequest(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: _runs_pb2.RunSpec
    def __init__(self, spec: _Optional[_Union[_runs_pb2.RunSpec, _Mapping]] = ...) -> None: ...

class SubmitResponse(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class ListExecutionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "statuses", "watch_id", "task")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    WATCH_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    statuses: _containers.RepeatedScalarFieldContainer[_common_pb2.ExecutionStatus]
    watch_id: str
    task: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[_common_pb2.ExecutionStatus, str]]] = ..., watch_id: _Optional[str] = ..., task: _Optional[str] = ...) -> None: ...

class ListExecutionsResponse(_message.Message):
    __slots__ = ("executions", "next_page_token")
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    executions: _containers.RepeatedCompositeFieldContainer[_runs_pb2.Execution]
    next_page_token: str
    def __init__(self, executions: _Optional[_Iterable[_Union[_runs_pb2.Execution, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetExecutionRequest(_message.Message):
    __slots__ = ("execution_id", "include_jobs")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_JOBS_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    include_jobs: bool
    def __init__(self, execution_id: _Optional[str] = ..., include_jobs: _Optional[bool] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("execution_id", "parent_id", "states", "task", "text", "page_size", "page_token")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    parent_id: str
    states: _containers.RepeatedScalarFieldContainer[_common_pb2.JobState]
    task: str
    text: str
    page_size: int
    page_token: str
    def __init__(self, execution_id: _Optional[str] = ..., parent_id: _Optional[str] = ..., states: _Optional[_Iterable[_Union[_common_pb2.JobState, str]]] = ..., task: _Optional[str] = ..., text: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[_runs_pb2.Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[_runs_pb2.Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ("execution_id", "job_id")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    job_id: str
    def __init__(self, execution_id: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

class CancelResponse(_message.Message):
    __slots__ = ("cancelled_jobs",)
    CANCELLED_JOBS_FIELD_NUMBER: _ClassVar[int]
    cancelled_jobs: int
    def __init__(self, cancelled_jobs: _Optional[int] = ...) -> None: ...

class GetResultRequest(_message.Message):
    __slots__ = ("execution_id", "wait_seconds", "include_pickle")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    WAIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PICKLE_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    wait_seconds: float
    include_pickle: bool
    def __init__(self, execution_id: _Optional[str] = ..., wait_seconds: _Optional[float] = ..., include_pickle: _Optional[bool] = ...) -> None: ...

class GetResultResponse(_message.Message):
    __slots__ = ("status", "result", "pickled", "error")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    PICKLED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.ExecutionStatus
    result: _common_pb2.ValuePreview
    pickled: bytes
    error: _common_pb2.Error
    def __init__(self, status: _Optional[_Union[_common_pb2.ExecutionStatus, str]] = ..., result: _Optional[_Union[_common_pb2.ValuePreview, _Mapping]] = ..., pickled: _Optional[bytes] = ..., error: _Optional[_Union[_common_pb2.Error, _Mapping]] = ...) -> None: ...

class ExplainRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class StreamEventsRequest(_message.Message):
    __slots__ = ("execution_id", "replay", "watch_id", "max_batch", "exclude_logs")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    REPLAY_FIELD_NUMBER: _ClassVar[int]
    WATCH_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_LOGS_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    replay: bool
    watch_id: str
    max_batch: int
    exclude_logs: bool
    def __init__(self, execution_id: _Optional[str] = ..., replay: _Optional[bool] = ..., watch_id: _Optional[str] = ..., max_batch: _Optional[int] = ..., exclude_logs: _Optional[bool] = ...) -> None: ...

class StreamLogsRequest(_message.Message):
    __slots__ = ("job_id", "follow")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    follow: bool
    def __init__(self, job_id: _Optional[str] = ..., follow: _Optional[bool] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: _runs_pb2.RunSpec
    def __init__(self, spec: _Optional[_Union[_runs_pb2.RunSpec, _Mapping]] = ...) -> None: ...

class UnwatchRequest(_message.Message):
    __slots__ = ("watch_id",)
    WATCH_ID_FIELD_NUMBER: _ClassVar[int]
    watch_id: str
    def __init__(self, watch_id: _Optional[str] = ...) -> None: ...

class UnwatchResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListWatchesRequest(_message.Message):
    __slots__ = ("include_paths",)
    INCLUDE_PATHS_FIELD_NUMBER: _ClassVar[int]
    include_paths: bool
    def __init__(self, include_paths: _Optional[bool] = ...) -> None: ...

class ListWatchesResponse(_message.Message):
    __slots__ = ("watches",)
    WATCHES_FIELD_NUMBER: _ClassVar[int]
    watches: _containers.RepeatedCompositeFieldContainer[_runs_pb2.WatchInfo]
    def __init__(self, watches: _Optional[_Iterable[_Union[_runs_pb2.WatchInfo, _Mapping]]] = ...) -> None: ...

class GetLineageRequest(_message.Message):
    __slots__ = ("value_hash", "file_path", "direction", "depth")
    VALUE_HASH_FIELD_NUMBER: _ClassVar[int]
    FILE_PATH_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    value_hash: str
    file_path: str
    direction: _provenance_pb2.LineageDirection
    depth: int
    def __init__(self, value_hash: _Optional[str] = ..., file_path: _Optional[str] = ..., direction: _Optional[_Union[_provenance_pb2.LineageDirection, str]] = ..., depth: _Optional[int] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("query", "namespace", "include_source", "page_size", "page_token")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_SOURCE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    query: str
    namespace: str
    include_source: bool
    page_size: int
    page_token: str
    def __init__(self, query: _Optional[str] = ..., namespace: _Optional[str] = ..., include_source: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("tasks", "next_page_token")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[_provenance_pb2.TaskInfo]
    next_page_token: str
    def __init__(self, tasks: _Optional[_Iterable[_Union[_provenance_pb2.TaskInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ("full_name", "hash")
    FULL_NAME_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    full_name: str
    hash: str
    def __init__(self, full_name: _Optional[str] = ..., hash: _Optional[str] = ...) -> None: ...

class ListValuesRequest(_message.Message):
    __slots__ = ("type_name", "page_size", "page_token")
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    type_name: str
    page_size: int
    page_token: str
    def __init__(self, type_name: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListValuesResponse(_message.Message):
    __slots__ = ("values", "next_page_token")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[_common_pb2.ValuePreview]
    next_page_token: str
    def __init__(self, values: _Optional[_Iterable[_Union[_common_pb2.ValuePreview, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetValueRequest(_message.Message):
    __slots__ = ("hash", "max_repr_chars", "include_pickle")
    HASH_FIELD_NUMBER: _ClassVar[int]
    MAX_REPR_CHARS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PICKLE_FIELD_NUMBER: _ClassVar[int]
    hash: str
    max_repr_chars: int
    include_pickle: bool
    def __init__(self, hash: _Optional[str] = ..., max_repr_chars: _Optional[int] = ..., include_pickle: _Optional[bool] = ...) -> None: ...

class ListFilesRequest(_message.Message):
    __slots__ = ("path_prefix", "page_size", "page_token")
    PATH_PREFIX_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    path_prefix: str
    page_size: int
    page_token: str
    def __init__(self, path_prefix: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListFilesResponse(_message.Message):
    __slots__ = ("files", "next_page_token")
    FILES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[_provenance_pb2.FileInfo]
    next_page_token: str
    def __init__(self, files: _Optional[_Iterable[_Union[_provenance_pb2.FileInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("query", "kinds", "page_size", "page_token")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    query: str
    kinds: _containers.RepeatedScalarFieldContainer[_provenance_pb2.SearchKind]
    page_size: int
    page_token: str
    def __init__(self, query: _Optional[str] = ..., kinds: _Optional[_Iterable[_Union[_provenance_pb2.SearchKind, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits", "next_page_token")
    HITS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[_provenance_pb2.SearchHit]
    next_page_token: str
    def __init__(self, hits: _Optional[_Iterable[_Union[_provenance_pb2.SearchHit, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
