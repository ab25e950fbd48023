"""The Batch jobs of a configuration's aws_batch executors, as ``redun aws`` sees them.

A :class:`QueueReader` is the executor's own back end (its checked settings,
its session and retrying clients, its listing and describing), opened
without the start-up checks a run makes (listing needs no write access to
the scratch). Jobs are told apart from others in the same queue as the
remote layer names and tags them: the name ``redun-<key>-<token>`` and the
tag ``redun-executor``. A lone job's key is its call's eval hash and its
``redun-run`` tag the execution id, so the store finds the redun job it runs;
an array's elements are in its call list in the scratch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from redun.errors import ExecutorError, UsageError
from redun.executors.aws_batch.backend import AWSBatchBackend
from redun.executors.aws_batch.client import error_code, make_client, make_session, translate
from redun.executors.aws_batch.monitor import ACTIVE_STATES, FINAL_STATES, log_stream
from redun.executors.aws_batch.request import EXECUTOR_TAG
from redun.executors.remote.backend import parse_name
from redun.executors.remote.protocol import decode_calls
from redun.executors.remote.scratch import Scratch, is_array_key

STATUSES = (*ACTIVE_STATES, *FINAL_STATES)
"""Every AWS Batch job status, in the order a job goes through them."""
KILL_REASON = "terminated by the user (redun aws kill-jobs)"


def parse_statuses(text: str | None, default: Iterable[str]) -> list[str]:
    """``SUBMITTED,RUNNING`` as a list (any case); ``default`` when not given."""
    if not text:
        return list(default)
    wanted = [part.strip().upper() for part in text.split(",") if part.strip()]
    unknown = [status for status in wanted if status not in STATUSES]
    if unknown:
        raise UsageError(
            f"unknown AWS Batch job status {', '.join(unknown)}; use {','.join(STATUSES)}"
        )
    return list(dict.fromkeys(wanted))


@dataclass
class BatchJob:
    """One of redun's Batch jobs (a lone job, an array parent or an array child)."""

    executor: str
    detail: Mapping[str, Any]
    """Its ``describe_jobs`` entry."""
    key: str
    """The remote layer's key: the call's eval hash, or ``a-<token>`` for an array."""
    redun_jobs: list[str] = field(default_factory=list)
    """The redun job ids it runs, when the store knows them."""

    @property
    def job_id(self) -> str:
        return str(self.detail.get("jobId", ""))

    @property
    def created(self) -> int:
        return int(self.detail.get("createdAt") or 0)

    @property
    def is_array(self) -> bool:
        return is_array_key(self.key) and ":" not in self.job_id

    @property
    def run(self) -> str:
        """The redun execution that submitted it (its ``redun-run`` tag)."""
        return str((self.detail.get("tags") or {}).get("redun-run", ""))

    @property
    def log_stream(self) -> str:
        return log_stream(self.detail)

    def summary(self) -> dict[str, Any]:
        """What ``list_jobs`` says of it, plus what redun knows."""
        keys = ("jobArn", "jobId", "jobName", "createdAt", "startedAt", "stoppedAt", "status")
        found: dict[str, Any] = {k: self.detail[k] for k in keys if k in self.detail}
        if self.detail.get("statusReason"):
            found["statusReason"] = self.detail["statusReason"]
        exit_code = (self.detail.get("container") or {}).get("exitCode")
        if exit_code is not None:
            found["container"] = {"exitCode": exit_code}
        array = self.detail.get("arrayProperties") or {}
        if array:
            found["arrayProperties"] = {k: array[k] for k in ("size", "index") if k in array}
        tags = self.detail.get("tags") or {}
        found["redunExecutor"] = self.executor
        if tags.get("redun-run"):
            found["redunExecution"] = tags["redun-run"]
        if tags.get("redun-task"):
            found["redunTask"] = tags["redun-task"]
        if self.redun_jobs:
            found["redunJobs"] = list(self.redun_jobs)
        return found


class QueueReader(AWSBatchBackend):
    """An aws_batch executor's back end, for reading and terminating its jobs."""

    def __init__(self, name: str, config: dict) -> None:
        super().__init__(name, config)
        self.region = ""
        self._logs: Any = None
        self._call_lists: dict[str, list[str]] = {}

    def connect(self) -> None:
        """Open the clients (boto3 imported now): a UsageError names what is missing."""
        session = make_session(self.settings, self.section)
        self.region = str(session.region_name)
        self._batch = make_client(session, "batch", self.settings)
        self._logs = make_client(session, "logs", self.settings)

    @property
    def place(self) -> tuple[str, str]:
        """(region, queue): executors with the same place share their jobs' listing."""
        return self.region, self.settings.queue

    def list_ours(self, statuses: Iterable[str]) -> list[Mapping[str, Any]]:
        """Described jobs of the queue in ``statuses`` named by redun (array children not)."""
        ids: list[str] = []
        for status in statuses:
            for summary in self._list_jobs(status):
                job_id, name = str(summary.get("jobId", "")), str(summary.get("jobName", ""))
                if parse_name(name) is not None and ":" not in job_id:
                    ids.append(job_id)
        described = self._describe(list(dict.fromkeys(ids)))
        return [described[job_id] for job_id in dict.fromkeys(ids) if job_id in described]

    def describe(self, job_ids: list[str]) -> dict[str, Mapping[str, Any]]:
        return self._describe(job_ids)

    def children(self, parent: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """An array parent's children, described, by index."""
        size = int((parent.get("arrayProperties") or {}).get("size") or 0)
        parent_id = str(parent.get("jobId", ""))
        ids = [f"{parent_id}:{index}" for index in range(size)]
        described = self._describe(ids)
        return [described[job_id] for job_id in ids if job_id in described]

    def terminate(self, job_id: str, reason: str = KILL_REASON) -> bool:
        """Terminate one job; False if Batch no longer knows it."""
        try:
            self._call(
                "terminate_job", f"terminating Batch job {job_id}", jobId=job_id, reason=reason
            )
        except ExecutorError as error:
            if error_code(error.__cause__) in ("ClientException", "JobNotFound"):
                return False
            raise
        return True

    def call_ids(self, key: str) -> list[str]:
        """The call ids (eval hashes) of an array's elements, by index, from its call list."""
        found = self._call_lists.get(key)
        if found is None:
            scratch = Scratch(self.settings.scratch)
            url = scratch.calls_url(key)
            try:
                data = scratch.read(url)
                found = list(decode_calls(data, url)["call_ids"]) if data else []
            except Exception:  # a missing or unreadable list only hides the mapping
                found = []
            self._call_lists[key] = found
        return found

    def log_events(self, stream: str) -> Iterator[Mapping[str, Any]]:
        """Every event of a job's CloudWatch stream, oldest first (none if it does not exist)."""
        group = self.settings.log_group
        kwargs: dict[str, Any] = {
            "logGroupName": group,
            "logStreamName": stream,
            "startFromHead": True,
        }
        while True:
            self.calls["get_log_events"] += 1
            try:
                page = self._logs.get_log_events(**kwargs)
            except Exception as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    return
                raise translate(exc, f"reading log stream {stream} of {group}") from exc
            yield from page.get("events") or ()
            token = page.get("nextForwardToken")
            if not token or token == kwargs.get("nextToken") or not page.get("events"):
                return
            kwargs["nextToken"] = token


def readers(executors: Mapping[str, Mapping[str, Any]]) -> list[QueueReader]:
    """A connected reader per ``type = aws_batch`` executor section (by name)."""
    found = [
        QueueReader(name, dict(section))
        for name, section in sorted(executors.items())
        if str(section.get("type", "")).strip() == "aws_batch"
    ]
    for reader in found:
        reader.connect()
    return found


def our_jobs(readers: list[QueueReader], statuses: Iterable[str]) -> dict[str, list[BatchJob]]:
    """Each executor's jobs in ``statuses``, newest first.

    Each queue is listed once however many executors use it; a job goes to
    the executor its ``redun-executor`` tag names (untagged: the first one of
    that queue). Jobs another configuration's executor submitted to the same
    queue (a tag naming none of these) are left out.
    """
    statuses = list(statuses)
    places: dict[tuple[str, str], list[QueueReader]] = {}
    for reader in readers:
        places.setdefault(reader.place, []).append(reader)
    found: dict[str, list[BatchJob]] = {reader.name: [] for reader in readers}
    for group in places.values():
        names = [reader.name for reader in group]
        for detail in group[0].list_ours(statuses):
            tagged = str((detail.get("tags") or {}).get(EXECUTOR_TAG, ""))
            if tagged and tagged not in names:
                continue
            parsed = parse_name(str(detail.get("jobName", "")))
            key = parsed[0] if parsed else ""
            found[tagged or names[0]].append(BatchJob(tagged or names[0], detail, key))
    for jobs in found.values():
        jobs.sort(key=lambda job: job.created, reverse=True)
    return found
