"""The data-source layer: the daemon (gRPC) or a database (read-only), behind one interface."""

from __future__ import annotations

from redun_tui.data.model import (
    ExecutionInfo,
    FileInfo,
    JobDetail,
    JobInfo,
    LineageGraph,
    LogChunk,
    RunRequest,
    SearchHit,
    TaskInfo,
    ValuePreview,
    WatchInfo,
)
from redun_tui.data.source import DataSource, Subscription

__all__ = [
    "DataSource",
    "ExecutionInfo",
    "FileInfo",
    "JobDetail",
    "JobInfo",
    "LineageGraph",
    "LogChunk",
    "RunRequest",
    "SearchHit",
    "Subscription",
    "TaskInfo",
    "ValuePreview",
    "WatchInfo",
]
