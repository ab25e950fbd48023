"""Live output of Batch tasks, tailed from Cloud Logging (with google-cloud-logging installed).

Batch writes what a task prints to the log ``batch_task_logs`` of the
project, one entry per line, labelled with the job's uid (``job_uid``) and
the task (``task_id``: ``task/<job uid>-group0-<index>/<attempt>/0``);
stderr lines have severity ERROR. One ``list_log_entries`` call (paged) per
job fetches the new lines of all its tasks, at most every ``log_interval``
seconds and at most ``log_reads_per_minute`` calls a minute (Cloud
Logging's read quota is small), and hands them out per task.

Lines are ingested late, so a tail may miss the last ones when a task ends:
the back end says so (``live_logs_complete = False``) and the remote layer
posts the rest from the call's outcome.
"""

from __future__ import annotations

import importlib.util
import re
import threading
import time
from collections import deque
from typing import Any

_TASK_ID = re.compile(r"-group\d+-(\d+)(?:/|$)")
LOG_ID = "batch_task_logs"
ERROR_SEVERITY = 500  # google.logging.type.LogSeverity.ERROR


def available() -> bool:
    """True if google-cloud-logging can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("google.cloud.logging_v2") is not None
    except (ImportError, ValueError):
        return False


def entry_line(entry: Any) -> tuple[int, str, str] | None:
    """``(task index, stream, text)`` of one Batch log entry, or None if it is not a task's line."""
    match = _TASK_ID.search(str(entry.labels.get("task_id", "")))
    if match is None:
        return None
    severity = int(entry.severity)
    stream = "stderr" if severity >= ERROR_SEVERITY else "stdout"
    text = str(entry.text_payload)
    if not text and "json_payload" in entry:
        text = str(entry.json_payload.get("message", ""))
    return int(match.group(1)), stream, text if text.endswith("\n") else text + "\n"


def make_logging_client(endpoint: str, credentials: Any) -> tuple[Any, Any]:
    """``(client, channel)`` of Cloud Logging: an emulator's insecure channel, or credentials."""
    from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client

    if endpoint:
        import grpc
        from google.cloud.logging_v2.services.logging_service_v2.transports import (
            LoggingServiceV2GrpcTransport,
        )

        channel = grpc.insecure_channel(endpoint)
        return LoggingServiceV2Client(transport=LoggingServiceV2GrpcTransport(channel=channel)), (
            channel
        )
    return LoggingServiceV2Client(credentials=credentials), None


class _Cursor:
    """Where a job's tail stands: the last timestamp read, and the entries read at it."""

    def __init__(self) -> None:
        self.since = ""
        self.at_since: set[str] = set()
        self.fetched = 0.0
        self.lines: dict[int, list[tuple[str, str]]] = {}


class LogTail:
    """New output lines per Batch task, fetched per job.

    Args:
        client: a ``LoggingServiceV2Client``.
        project: the project the jobs log to.
        interval: the least seconds between two reads of one job (a final read may come sooner).
        per_minute: the most reads a minute, over all jobs.
    """

    def __init__(self, client: Any, project: str, *, interval: float, per_minute: int) -> None:
        self.client = client
        self.project = project
        self.interval = interval
        self.per_minute = max(1, per_minute)
        self.calls = 0
        self._cursors: dict[str, _Cursor] = {}
        self._reads: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def take(self, uid: str, index: int, *, final: bool) -> list[tuple[str, str]]:
        """The lines of task ``index`` of job ``uid`` not handed out yet (reading if due)."""
        with self._lock:
            cursor = self._cursors.setdefault(uid, _Cursor())
            now = time.monotonic()
            due = now - cursor.fetched >= (min(1.0, self.interval) if final else self.interval)
            if due and self._allowed(now):
                cursor.fetched = now
                try:
                    self._fetch(uid, cursor)
                except Exception as error:
                    if type(error).__name__ in ("ResourceExhausted", "TooManyRequests"):
                        self._paused_until = now + 60.0  # over the read quota: back off
                    raise
            return _merged(cursor.lines.pop(index, []))

    def forget(self, uid: str) -> None:
        with self._lock:
            self._cursors.pop(uid, None)

    def _allowed(self, now: float) -> bool:
        if now < self._paused_until:
            return False
        while self._reads and now - self._reads[0] > 60.0:
            self._reads.popleft()
        if len(self._reads) >= self.per_minute:
            return False
        self._reads.append(now)
        return True

    def _fetch(self, uid: str, cursor: _Cursor) -> None:
        from google.cloud.logging_v2.types import ListLogEntriesRequest

        query = f'logName="projects/{self.project}/logs/{LOG_ID}" AND labels.job_uid="{uid}"'
        if cursor.since:
            query += f' AND timestamp>="{cursor.since}"'
        request = ListLogEntriesRequest(
            resource_names=[f"projects/{self.project}"],
            filter=query,
            order_by="timestamp asc",
            page_size=1000,
        )
        self.calls += 1
        pager = self.client.list_log_entries(request=request)
        first = True
        for page in pager.pages:
            if not first:
                self.calls += 1
            first = False
            for entry in page.entries:
                stamp = _rfc3339(entry.timestamp)
                if stamp == cursor.since and entry.insert_id in cursor.at_since:
                    continue  # read by the last fetch (its query includes its last timestamp)
                if stamp != cursor.since:
                    cursor.since, cursor.at_since = stamp, set()
                cursor.at_since.add(str(entry.insert_id))
                line = entry_line(entry)
                if line is not None:
                    index, stream, text = line
                    cursor.lines.setdefault(index, []).append((stream, text))


def _merged(lines: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Consecutive lines of one stream as one chunk."""
    chunks: list[tuple[str, str]] = []
    for stream, text in lines:
        if chunks and chunks[-1][0] == stream:
            chunks[-1] = (stream, chunks[-1][1] + text)
        else:
            chunks.append((stream, text))
    return chunks


def _rfc3339(stamp: Any) -> str:
    if stamp is None:
        return ""
    rfc = getattr(stamp, "rfc3339", None)
    return rfc() if callable(rfc) else stamp.isoformat()
