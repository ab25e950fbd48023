"""Read-side queries over a :class:`~redun.backends.db.DbBackend`, returning plain records.

:class:`StoreReader` answers what ``redun log``, lineage and ``redun explain``
ask: executions, an execution's jobs, a job, call nodes with their arguments,
values and files, who produced or consumed a value, and ids by prefix; and
what a browser asks (the daemon's ListTasks, ListValues, ListFiles and Search):
tasks with their usage, values and files page by page, and text matches. Every
query is batched (``IN`` over chunks), none is issued per row.

The records are in :mod:`~redun.backends.queries.records`; the reader is put
together from one mixin per area: runs (executions and jobs), calls, values
and files, tasks, ids (:mod:`~redun.backends.queries.search` also holds the
text matching every area's ``*_matching`` query shares), and filtered listings
across kinds (:mod:`~redun.backends.queries.listing`, for ``redun log``'s filters).
"""

from redun.backends.queries.listing import RecordFilter
from redun.backends.queries.reader import StoreReader
from redun.backends.queries.records import (
    CallRecordInfo,
    ExecutionRecord,
    FileRecord,
    JobRecord,
    TaskRecord,
    TaskUsage,
    ValueRecord,
    ValueUse,
)
from redun.backends.queries.search import like_pattern

__all__ = [
    "CallRecordInfo",
    "ExecutionRecord",
    "FileRecord",
    "JobRecord",
    "RecordFilter",
    "StoreReader",
    "TaskRecord",
    "TaskUsage",
    "ValueRecord",
    "ValueUse",
    "like_pattern",
]
