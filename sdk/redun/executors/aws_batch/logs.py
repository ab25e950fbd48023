"""Live output of Batch jobs, tailed from CloudWatch Logs.

AWS Batch's ``awslogs`` driver writes what a container prints (stdout and
stderr as one stream) to the log group ``/aws/batch/job``, one stream per
job or array child, named in ``describe_jobs``' ``container.logStreamName``.
A tail reads each stream forward from its last token with
``get_log_events``, at most every ``interval`` seconds per stream (a final
read may come sooner) and at most ``per_minute`` reads over all streams
(CloudWatch's read quota is shared with everything else in the account).
A log group or stream that does not exist (yet, or at all) is no error: the
tail is empty, and the call's outcome carries its output.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from redun.executors.aws_batch.client import error_code

PAGES_PER_READ = 20
"""At most this many pages (of up to 10,000 events) per read of one stream."""
FULL_PAGE = 1000
"""A page with fewer events than this was the last one (CloudWatch cuts pages at 1 MB)."""


@dataclass
class _Cursor:
    token: str | None = None
    fetched: float = float("-inf")


class LogTail:
    """New output lines per CloudWatch stream.

    Args:
        client: a boto3 ``logs`` client.
        group: the log group of the jobs.
        interval: the least seconds between two reads of one stream.
        per_minute: the most reads a minute, over all streams.
    """

    def __init__(self, client: Any, group: str, *, interval: float, per_minute: int) -> None:
        self.client = client
        self.group = group
        self.interval = interval
        self.per_minute = max(1, per_minute)
        self.calls = 0
        self._cursors: dict[str, _Cursor] = {}
        self._reads: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self, stream: str, *, final: bool) -> str:
        """The text written to ``stream`` since the last call ("" if none, or not due)."""
        with self._lock:
            cursor = self._cursors.setdefault(stream, _Cursor())
            now = time.monotonic()
            wait = min(1.0, self.interval) if final else self.interval
            if now - cursor.fetched < wait or not self._allowed(now):
                return ""
            cursor.fetched = now
            return self._fetch(stream, cursor)

    def forget(self, stream: str) -> None:
        with self._lock:
            self._cursors.pop(stream, None)

    def _allowed(self, now: float) -> bool:
        while self._reads and now - self._reads[0] > 60.0:
            self._reads.popleft()
        if len(self._reads) >= self.per_minute:
            return False
        self._reads.append(now)
        return True

    def _fetch(self, stream: str, cursor: _Cursor) -> str:
        lines: list[str] = []
        for _ in range(PAGES_PER_READ):
            kwargs: dict[str, Any] = {
                "logGroupName": self.group,
                "logStreamName": stream,
                "startFromHead": True,
            }
            if cursor.token:
                kwargs["nextToken"] = cursor.token
            self.calls += 1
            try:
                page = self.client.get_log_events(**kwargs)
            except Exception as error:
                if error_code(error) == "ResourceNotFoundException":
                    break  # no group or stream (yet): nothing to show
                raise
            events = page.get("events") or []
            for event in events:
                message = str(event.get("message", ""))
                lines.append(message if message.endswith("\n") else message + "\n")
            token = page.get("nextForwardToken")
            if token:
                cursor.token = token
            if len(events) < FULL_PAGE:
                break  # the rest is for the next read
        return "".join(lines)
