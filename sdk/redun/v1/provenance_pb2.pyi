from redun.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LineageDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LINEAGE_DIRECTION_UNSPECIFIED: _ClassVar[LineageDirection]
    LINEAGE_DIRECTION_UPSTREAM: _ClassVar[LineageDirection]
    LINEAGE_DIRECTION_DOWNSTREAM: _ClassVar[LineageDirection]
    LINEAGE_DIRECTION_BOTH: _ClassVar[LineageDirection]

class LineageNodeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LINEAGE_NODE_KIND_UNSPECIFIED: _ClassVar[LineageNodeKind]
    LINEAGE_NODE_KIND_VALUE: _ClassVar[LineageNodeKind]
    LINEAGE_NODE_KIND_FILE: _ClassVar[LineageNodeKind]
    LINEAGE_NODE_KIND_CALL: _ClassVar[LineageNodeKind]

class LineageEdgeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LINEAGE_EDGE_KIND_UNSPECIFIED: _ClassVar[LineageEdgeKind]
    LINEAGE_EDGE_KIND_ARGUMENT: _ClassVar[LineageEdgeKind]
    LINEAGE_EDGE_KIND_RESULT: _ClassVar[LineageEdgeKind]
    LINEAGE_EDGE_KIND_CHILD_CALL: _ClassVar[LineageEdgeKind]

class SearchKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEARCH_KIND_UNSPECIFIED: _ClassVar[SearchKind]
    SEARCH_KIND_EXECUTION: _ClassVar[SearchKind]
    SEARCH_KIND_JOB: _ClassVar[SearchKind]
    SEARCH_KIND_TASK: _ClassVar[SearchKind]
    SEARCH_KIND_VALUE: _ClassVar[SearchKind]
    SEARCH_KIND_FILE: _ClassVar[SearchKind]
LINEAGE_DIRECTION_UNSPECIFIED: LineageDirection
LINEAGE_DIRECTION_UPSTREAM: LineageDirection
LINEAGE_DIRECTION_DOWNSTREAM: LineageDirection
LINEAGE_DIRECTION_BOTH: LineageDirection
LINEAGE_NODE_KIND_UNSPECIFIED: LineageNodeKind
LINEAGE_NODE_KIND_VALUE: LineageNodeKind
LINEAGE_NODE_KIND_FILE: LineageNodeKind
LINEAGE_NODE_KIND_CALL: LineageNodeKind
LINEAGE_EDGE_KIND_UNSPECIFIED: LineageEdgeKind
LINEAGE_EDGE_KIND_ARGUMENT: LineageEdgeKind
LINEAGE_EDGE_KIND_RESULT: LineageEdgeKind
LINEAGE_EDGE_KIND_CHILD_CALL: LineageEdgeKind
SEARCH_KIND_UNSPECIFIED: SearchKind
SEARCH_KIND_EXECUTION: SearchKind
SEARCH_KIND_JOB: SearchKind
SEARCH_KIND_TASK: SearchKind
SEARCH_KIND_VALUE: SearchKind
SEARCH_KIND_FILE: SearchKind

class TaskInfo(_message.Message):
    __slots__ = ("full_name", "namespace", "name", "versions")
    FULL_NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    full_name: str
    namespace: str
    name: str
    versions: _containers.RepeatedCompositeFieldContainer[TaskVersion]
    def __init__(self, full_name: _Optional[str] = ..., namespace: _Optional[str] = ..., name: _Optional[str] = ..., versions: _Optional[_Iterable[_Union[TaskVersion, _Mapping]]] = ...) -> None: ...

class TaskVersion(_message.Message):
    __slots__ = ("hash", "version", "source", "first_seen_unix_ns", "last_used_unix_ns", "call_count")
    HASH_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    CALL_COUNT_FIELD_NUMBER: _ClassVar[int]
    hash: str
    version: str
    source: str
    first_seen_unix_ns: int
    last_used_unix_ns: int
    call_count: int
    def __init__(self, hash: _Optional[str] = ..., version: _Optional[str] = ..., source: _Optional[str] = ..., first_seen_unix_ns: _Optional[int] = ..., last_used_unix_ns: _Optional[int] = ..., call_count: _Optional[int] = ...) -> None: ...

class ValueInfo(_message.Message):
    __slots__ = ("preview", "repr", "repr_truncated", "pickled", "file")
    PREVIEW_FIELD_NUMBER: _ClassVar[int]
    REPR_FIELD_NUMBER: _ClassVar[int]
    REPR_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    PICKLED_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    preview: _common_pb2.ValuePreview
    repr: str
    repr_truncated: bool
    pickled: bytes
    file: FileInfo
    def __init__(self, preview: _Optional[_Union[_common_pb2.ValuePreview, _Mapping]] = ..., repr: _Optional[str] = ..., repr_truncated: _Optional[bool] = ..., pickled: _Optional[bytes] = ..., file: _Optional[_Union[FileInfo, _Mapping]] = ...) -> None: ...

class FileInfo(_message.Message):
    __slots__ = ("path", "value_hash", "file_hash", "size", "mtime_unix_ns", "is_dir", "current")
    PATH_FIELD_NUMBER: _ClassVar[int]
    VALUE_HASH_FIELD_NUMBER: _ClassVar[int]
    FILE_HASH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MTIME_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    IS_DIR_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    path: str
    value_hash: str
    file_hash: str
    size: int
    mtime_unix_ns: int
    is_dir: bool
    current: bool
    def __init__(self, path: _Optional[str] = ..., value_hash: _Optional[str] = ..., file_hash: _Optional[str] = ..., size: _Optional[int] = ..., mtime_unix_ns: _Optional[int] = ..., is_dir: _Optional[bool] = ..., current: _Optional[bool] = ...) -> None: ...

class LineageNode(_message.Message):
    __slots__ = ("id", "kind", "label", "value", "task", "job_id", "truncated")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: LineageNodeKind
    label: str
    value: _common_pb2.ValuePreview
    task: str
    job_id: str
    truncated: bool
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[LineageNodeKind, str]] = ..., label: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.ValuePreview, _Mapping]] = ..., task: _Optional[str] = ..., job_id: _Optional[str] = ..., truncated: _Optional[bool] = ...) -> None: ...

class LineageEdge(_message.Message):
    __slots__ = ("source_id", "target_id", "kind", "name")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    target_id: str
    kind: LineageEdgeKind
    name: str
    def __init__(self, source_id: _Optional[str] = ..., target_id: _Optional[str] = ..., kind: _Optional[_Union[LineageEdgeKind, str]] = ..., name: _Optional[str] = ...) -> None: ...

class LineageGraph(_message.Message):
    __slots__ = ("root_id", "nodes", "edges")
    ROOT_ID_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    root_id: str
    nodes: _containers.RepeatedCompositeFieldContainer[LineageNode]
    edges: _containers.RepeatedCompositeFieldContainer[LineageEdge]
    def __init__(self, root_id: _Optional[str] = ..., nodes: _Optional[_Iterable[_Union[LineageNode, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[LineageEdge, _Mapping]]] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("kind", "id", "title", "snippet", "time_unix_ns")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SNIPPET_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    kind: SearchKind
    id: str
    title: str
    snippet: str
    time_unix_ns: int
    def __init__(self, kind: _Optional[_Union[SearchKind, str]] = ..., id: _Optional[str] = ..., title: _Optional[str] = ..., snippet: _Optional[str] = ..., time_unix_ns: _Optional[int] = ...) -> None: ...
