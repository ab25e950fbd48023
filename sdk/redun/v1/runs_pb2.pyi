from redun.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CacheReasonKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CACHE_REASON_KIND_UNSPECIFIED: _ClassVar[CacheReasonKind]
    CACHE_REASON_KIND_RESULT_REUSED: _ClassVar[CacheReasonKind]
    CACHE_REASON_KIND_NO_PRIOR_CALL: _ClassVar[CacheReasonKind]
    CACHE_REASON_KIND_CODE_CHANGED: _ClassVar[CacheReasonKind]
    CACHE_REASON_KIND_VERSION_CHANGED: _ClassVar[CacheReasonKind]
    CACHE_REASON_KIND_PACKAGE_CHANGED: _ClassVar[CacheReasonKind]
    CACHE_REASON_KIND_ARGUMENT_CHANGED: _ClassVar[CacheReasonKind]
    CACHE_REASON_KIND_FILE_CHANGED: _ClassVar[CacheReasonKind]
    CACHE_REASON_KIND_RESULT_INVALID: _ClassVar[CacheReasonKind]
    CACHE_REASON_KIND_CACHE_DISABLED: _ClassVar[CacheReasonKind]
CACHE_REASON_KIND_UNSPECIFIED: CacheReasonKind
CACHE_REASON_KIND_RESULT_REUSED: CacheReasonKind
CACHE_REASON_KIND_NO_PRIOR_CALL: CacheReasonKind
CACHE_REASON_KIND_CODE_CHANGED: CacheReasonKind
CACHE_REASON_KIND_VERSION_CHANGED: CacheReasonKind
CACHE_REASON_KIND_PACKAGE_CHANGED: CacheReasonKind
CACHE_REASON_KIND_ARGUMENT_CHANGED: CacheReasonKind
CACHE_REASON_KIND_FILE_CHANGED: CacheReasonKind
CACHE_REASON_KIND_RESULT_INVALID: CacheReasonKind
CACHE_REASON_KIND_CACHE_DISABLED: CacheReasonKind

class RunSpec(_message.Message):
    __slots__ = ("workflow_path", "task", "args", "kwargs_json", "options", "working_dir", "no_cache", "dryrun", "argv")
    class ArgsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    WORKFLOW_PATH_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    KWARGS_JSON_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIR_FIELD_NUMBER: _ClassVar[int]
    NO_CACHE_FIELD_NUMBER: _ClassVar[int]
    DRYRUN_FIELD_NUMBER: _ClassVar[int]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    workflow_path: str
    task: str
    args: _containers.ScalarMap[str, str]
    kwargs_json: str
    options: _containers.ScalarMap[str, str]
    working_dir: str
    no_cache: bool
    dryrun: bool
    argv: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, workflow_path: _Optional[str] = ..., task: _Optional[str] = ..., args: _Optional[_Mapping[str, str]] = ..., kwargs_json: _Optional[str] = ..., options: _Optional[_Mapping[str, str]] = ..., working_dir: _Optional[str] = ..., no_cache: _Optional[bool] = ..., dryrun: _Optional[bool] = ..., argv: _Optional[_Iterable[str]] = ...) -> None: ...

class Execution(_message.Message):
    __slots__ = ("id", "status", "spec", "watch_id", "start_unix_ns", "end_unix_ns", "root_job_id", "job_counts", "result", "error", "jobs")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    WATCH_ID_FIELD_NUMBER: _ClassVar[int]
    START_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    END_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    ROOT_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_COUNTS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: _common_pb2.ExecutionStatus
    spec: RunSpec
    watch_id: str
    start_unix_ns: int
    end_unix_ns: int
    root_job_id: str
    job_counts: _common_pb2.JobCounts
    result: _common_pb2.ValuePreview
    error: _common_pb2.Error
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    def __init__(self, id: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.ExecutionStatus, str]] = ..., spec: _Optional[_Union[RunSpec, _Mapping]] = ..., watch_id: _Optional[str] = ..., start_unix_ns: _Optional[int] = ..., end_unix_ns: _Optional[int] = ..., root_job_id: _Optional[str] = ..., job_counts: _Optional[_Union[_common_pb2.JobCounts, _Mapping]] = ..., result: _Optional[_Union[_common_pb2.ValuePreview, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.Error, _Mapping]] = ..., jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "execution_id", "parent_id", "child_count", "task", "task_hash", "call_hash", "state", "create_unix_ns", "start_unix_ns", "end_unix_ns", "executor", "cached", "reason", "args_summary", "args", "result", "error")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHILD_COUNT_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    TASK_HASH_FIELD_NUMBER: _ClassVar[int]
    CALL_HASH_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    START_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    END_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ARGS_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: str
    execution_id: str
    parent_id: str
    child_count: int
    task: str
    task_hash: str
    call_hash: str
    state: _common_pb2.JobState
    create_unix_ns: int
    start_unix_ns: int
    end_unix_ns: int
    executor: str
    cached: bool
    reason: str
    args_summary: str
    args: _containers.RepeatedCompositeFieldContainer[_common_pb2.Argument]
    result: _common_pb2.ValuePreview
    error: _common_pb2.Error
    def __init__(self, id: _Optional[str] = ..., execution_id: _Optional[str] = ..., parent_id: _Optional[str] = ..., child_count: _Optional[int] = ..., task: _Optional[str] = ..., task_hash: _Optional[str] = ..., call_hash: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.JobState, str]] = ..., create_unix_ns: _Optional[int] = ..., start_unix_ns: _Optional[int] = ..., end_unix_ns: _Optional[int] = ..., executor: _Optional[str] = ..., cached: _Optional[bool] = ..., reason: _Optional[str] = ..., args_summary: _Optional[str] = ..., args: _Optional[_Iterable[_Union[_common_pb2.Argument, _Mapping]]] = ..., result: _Optional[_Union[_common_pb2.ValuePreview, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.Error, _Mapping]] = ...) -> None: ...

class CacheReason(_message.Message):
    __slots__ = ("kind", "subject", "old_hash", "new_hash", "detail")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    OLD_HASH_FIELD_NUMBER: _ClassVar[int]
    NEW_HASH_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    kind: CacheReasonKind
    subject: str
    old_hash: str
    new_hash: str
    detail: str
    def __init__(self, kind: _Optional[_Union[CacheReasonKind, str]] = ..., subject: _Optional[str] = ..., old_hash: _Optional[str] = ..., new_hash: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class Explanation(_message.Message):
    __slots__ = ("job_id", "cached", "summary", "reasons", "previous_job_id", "previous_call_hash")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_CALL_HASH_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    cached: bool
    summary: str
    reasons: _containers.RepeatedCompositeFieldContainer[CacheReason]
    previous_job_id: str
    previous_call_hash: str
    def __init__(self, job_id: _Optional[str] = ..., cached: _Optional[bool] = ..., summary: _Optional[str] = ..., reasons: _Optional[_Iterable[_Union[CacheReason, _Mapping]]] = ..., previous_job_id: _Optional[str] = ..., previous_call_hash: _Optional[str] = ...) -> None: ...

class WatchInfo(_message.Message):
    __slots__ = ("id", "spec", "create_unix_ns", "last_execution_id", "last_status", "last_trigger_unix_ns", "watched_path_count", "watched_paths")
    ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    CREATE_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    LAST_EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_STATUS_FIELD_NUMBER: _ClassVar[int]
    LAST_TRIGGER_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    WATCHED_PATH_COUNT_FIELD_NUMBER: _ClassVar[int]
    WATCHED_PATHS_FIELD_NUMBER: _ClassVar[int]
    id: str
    spec: RunSpec
    create_unix_ns: int
    last_execution_id: str
    last_status: _common_pb2.ExecutionStatus
    last_trigger_unix_ns: int
    watched_path_count: int
    watched_paths: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., spec: _Optional[_Union[RunSpec, _Mapping]] = ..., create_unix_ns: _Optional[int] = ..., last_execution_id: _Optional[str] = ..., last_status: _Optional[_Union[_common_pb2.ExecutionStatus, str]] = ..., last_trigger_unix_ns: _Optional[int] = ..., watched_path_count: _Optional[int] = ..., watched_paths: _Optional[_Iterable[str]] = ...) -> None: ...
