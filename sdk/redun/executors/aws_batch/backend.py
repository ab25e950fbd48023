"""The AWS Batch back end: submit, describe, terminate and list Batch jobs through boto3.

One submission is one Batch job: a plain job for a lone call, an array job
of N children for N calls (each child finds its element in
``AWS_BATCH_JOB_ARRAY_INDEX``). Polling costs one ``describe_jobs`` per 100
jobs in flight (lone jobs and array parents), plus, for an array whose
children moved since the last poll (its ``statusSummary`` changed), one per
100 of its children not yet finished; an array still running with nothing
new costs nothing beyond its parent. Cancel terminates the jobs (an array
parent's children with it). Re-attach lists the queue's jobs by status.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from redun.errors import ExecutorError, UsageError
from redun.executors.aws_batch.client import error_code, make_client, make_session, translate
from redun.executors.aws_batch.logs import LogTail
from redun.executors.aws_batch.monitor import (
    ACTIVE_STATES,
    FINAL_STATES,
    log_stream,
    observe,
    parent_phase,
    summary_key,
)
from redun.executors.aws_batch.request import definition_spec, submit_request, task_image
from redun.executors.aws_batch.settings import parse_settings
from redun.executors.remote.backend import FoundJob, Handle, RemoteBackend, Submission, parse_name
from redun.executors.remote.scratch import is_array_key
from redun.executors.remote.states import Observation, Phase, Report

logger = logging.getLogger("redun.remote.aws")

CHUNK = 100
"""describe_jobs takes at most 100 job ids."""
RESCAN = 60.0
"""Seconds after which an array's unfinished children are described even if nothing moved."""
KEEP_FINISHED = 24 * 3600.0
"""Finished jobs older than this are not re-attached (their results are not read back)."""
CANCEL_REASON = "terminated by redun: the run was cancelled"


@dataclass
class _Known:
    """What this back end remembers of one Batch job between polls."""

    array: bool
    summary: tuple[tuple[str, int], ...] | None = None
    described: float = 0.0
    children: dict[int, Mapping[str, Any]] = field(default_factory=dict)
    """The last description of each child (or, for a lone job, of the job at index 0)."""
    runnable_since: dict[int, float] = field(default_factory=dict)
    streams: dict[int, str] = field(default_factory=dict)


class AWSBatchBackend(RemoteBackend):
    """Runs submissions as AWS Batch jobs. See :mod:`redun.executors.aws_batch`."""

    live_logs = True
    live_logs_complete = False  # CloudWatch may lag: the outcome fills the gaps
    log_streams_merged = True  # awslogs carries stdout and stderr as one stream
    max_array_size = 10_000
    poll_interval = 5.0
    lost_after = 120.0

    def __init__(self, name: str, config: dict) -> None:
        super().__init__(name, config)
        self.section = f"[executors.{name}]"
        self.settings = parse_settings(name, config)
        self.live_logs = self.settings.live_logs
        self.calls: Counter[str] = Counter()
        """API calls made, by method (pages counted one by one): a benchmark's figure."""
        self._batch: Any = None
        self._tail: LogTail | None = None
        self._known: dict[Handle, _Known] = {}
        self._definitions: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- configuration ------------------------------------------------------------------
    def start(self) -> None:
        settings = self.settings
        session = make_session(settings, self.section)
        self._batch = make_client(session, "batch", settings)
        if settings.live_logs:
            self._tail = LogTail(
                make_client(session, "logs", settings),
                settings.log_group,
                interval=settings.log_interval,
                per_minute=settings.log_reads_per_minute,
            )
        self._check_queue()
        self._check_scratch()

    def _check_queue(self) -> None:
        queue = self.settings.queue
        found = self._call(
            "describe_job_queues", f"reading job queue {queue!r}", jobQueues=[queue]
        ).get("jobQueues")
        if not found:
            raise UsageError(
                f"{self.section} queue = {queue}: AWS Batch has no such job queue in this "
                "region; set queue to one listed by 'aws batch describe-job-queues' (or set region)"
            )

    def _check_scratch(self) -> None:
        """The scratch's bucket exists, and these credentials may read and write it."""
        from redun.file import File
        from redun.file.filesystem import get_filesystem
        from redun.file.objectstore import ObjectStoreFileSystem

        root = self.settings.scratch.rstrip("/")
        fs = get_filesystem(root)
        if not isinstance(fs, ObjectStoreFileSystem):
            return
        bucket, _ = fs.split_url(root)
        advice = "set s3_scratch to a bucket these credentials can read and write"
        try:
            found = fs._bucket_exists(bucket)
        except Exception as exc:
            problem = fs.store_error("read", root, exc)
            raise UsageError(f"{self.section} s3_scratch = {root}: {problem}; {advice}") from exc
        if not found:
            raise UsageError(
                f"{self.section} s3_scratch = {root}: the bucket {bucket!r} does not exist; "
                "create it (aws s3 mb s3://BUCKET) or set s3_scratch to one that does"
            )
        probe = File(f"{root}/.redun-write-check-{os.urandom(4).hex()}")
        try:
            probe.write(b"redun", mode="wb")
            probe.remove()
        except Exception as exc:
            problem = fs.store_error("write", probe.path, exc)
            raise UsageError(f"{self.section} s3_scratch = {root}: {problem}; {advice}") from exc

    def stop(self) -> None:
        self._batch = None
        self._tail = None

    # -- hooks ----------------------------------------------------------------------------
    def submit(self, submission: Submission) -> Handle:
        definition = self._definition(task_image(submission.options, self.settings))
        request = submit_request(submission, self.settings, definition, executor=self.name)
        answer = self._call("submit_job", f"submitting Batch job {submission.name}", **request)
        handle = str(answer["jobId"])
        with self._lock:
            self._known[handle] = _Known(array=submission.is_array)
        return handle

    def poll(self, handles: list[Handle]) -> dict[Handle, Report]:
        now = time.monotonic()
        described = self._describe([str(handle) for handle in handles])
        reports: dict[Handle, Report] = {}
        rescan: list[tuple[Handle, _Known, str]] = []
        for handle in handles:
            job = described.get(str(handle))
            if job is None:
                continue  # unknown to Batch (yet, or any more)
            known = self._remember(handle, job)
            if not known.array:
                self._note_child(known, 0, job, now)
                observed = self._observe(known, 0, now)
                reports[handle] = Report(observed.phase, observed.reason)
                continue
            key = summary_key(job)
            if key != known.summary or now - known.described >= RESCAN:
                known.summary, known.described = key, now
                rescan.append((handle, known, str(handle)))
        if rescan:
            wanted: dict[str, tuple[_Known, int]] = {}
            for _handle, known, job_id in rescan:
                size = int((described[job_id].get("arrayProperties") or {}).get("size") or 0)
                for index in range(size):
                    child = known.children.get(index)
                    if child is None or child.get("status") not in FINAL_STATES:
                        wanted[f"{job_id}:{index}"] = (known, index)
            for child_id, child in self._describe(list(wanted)).items():
                known, index = wanted[child_id]
                self._note_child(known, index, child, now)
        for handle in handles:
            job = described.get(str(handle))
            tracked = self._known.get(handle)
            if job is None or tracked is None or not tracked.array:
                continue
            elements = {index: self._observe(tracked, index, now) for index in tracked.children}
            reports[handle] = Report(parent_phase(job), "", elements)
        return reports

    def cancel(self, handles: list[Handle]) -> None:
        problems: list[str] = []
        for handle in handles:
            try:
                self._call(
                    "terminate_job",
                    f"terminating Batch job {handle}",
                    jobId=str(handle),
                    reason=CANCEL_REASON,
                )
            except ExecutorError as error:
                if error_code(error.__cause__) in ("ClientException", "JobNotFound"):
                    continue  # gone already
                problems.append(str(error))
        if problems:
            raise ExecutorError("; ".join(problems))

    def cancel_elements(self, handle: Handle, indexes: list[int]) -> None:
        # An array's child is a job of its own ("<arrayJobId>:<index>"): it can be
        # terminated while its siblings run on.
        self.cancel([f"{handle}:{index}" for index in indexes])

    def find_jobs(self) -> Iterable[FoundJob]:
        found: list[FoundJob] = []
        now_ms = time.time() * 1000
        for status in (*ACTIVE_STATES, "SUCCEEDED"):
            for summary in self._list_jobs(status):
                job_id, name = str(summary.get("jobId", "")), str(summary.get("jobName", ""))
                parsed = parse_name(name)
                if parsed is None or ":" in job_id:
                    continue  # not redun's, or an array's child
                stopped = summary.get("stoppedAt")
                if status == "SUCCEEDED" and stopped and now_ms - stopped > KEEP_FINISHED * 1000:
                    continue
                array = is_array_key(parsed[0])
                if array:
                    phase = {"SUCCEEDED": Phase.SUCCEEDED, "RUNNING": Phase.RUNNING}.get(
                        status, Phase.QUEUED
                    )
                    report = Report(phase)
                else:
                    observed = observe(summary)
                    report = Report(observed.phase, observed.reason)
                found.append(FoundJob(job_id, name, report))
        return found

    def read_logs(self, handle: Handle, index: int | None, *, final: bool) -> list[tuple[str, str]]:
        known = self._known.get(handle)
        tail = self._tail
        if known is None or tail is None:
            return []
        stream = known.streams.get(index or 0)
        if not stream:
            return []
        try:
            text = tail.take(stream, final=final)
        except Exception as exc:
            raise translate(exc, f"reading the log of Batch job {handle}") from exc
        if final:
            tail.forget(stream)
        return [("stdout", text)] if text else []

    def forget(self, handle: Handle) -> None:
        with self._lock:
            known = self._known.pop(handle, None)
        tail = self._tail
        if known is not None and tail is not None:
            for stream in known.streams.values():
                tail.forget(stream)

    # -- reading Batch ------------------------------------------------------------------------
    def _remember(self, handle: Handle, job: Mapping[str, Any]) -> _Known:
        known = self._known.get(handle)
        if known is None:  # adopted from an earlier scheduler
            parsed = parse_name(str(job.get("jobName", "")))
            array = bool(parsed and is_array_key(parsed[0])) or "arrayProperties" in job
            known = _Known(array=array)
            with self._lock:
                self._known[handle] = known
        return known

    def _note_child(self, known: _Known, index: int, job: Mapping[str, Any], now: float) -> None:
        known.children[index] = job
        if job.get("status") == "RUNNABLE":
            known.runnable_since.setdefault(index, now)
        else:
            known.runnable_since.pop(index, None)
        stream = log_stream(job)
        if stream:
            known.streams[index] = stream

    def _observe(self, known: _Known, index: int, now: float) -> Observation:
        since = known.runnable_since.get(index)
        return observe(
            known.children[index],
            runnable_for=None if since is None else now - since,
            warn_after=self.settings.runnable_warning,
        )

    def _describe(self, job_ids: list[str]) -> dict[str, Mapping[str, Any]]:
        described: dict[str, Mapping[str, Any]] = {}
        for start in range(0, len(job_ids), CHUNK):
            chunk = job_ids[start : start + CHUNK]
            answer = self._call("describe_jobs", "describing Batch jobs", jobs=chunk)
            for job in answer.get("jobs") or ():
                described[str(job.get("jobId"))] = job
        return described

    def _list_jobs(self, status: str) -> Iterable[Mapping[str, Any]]:
        kwargs: dict[str, Any] = {"jobQueue": self.settings.queue, "jobStatus": status}
        while True:
            page = self._call("list_jobs", f"listing {status} Batch jobs", **kwargs)
            yield from page.get("jobSummaryList") or ()
            token = page.get("nextToken")
            if not token:
                return
            kwargs["nextToken"] = token

    def _definition(self, image: str) -> str:
        """The job definition for ``image``: the executor's own, one found, or one registered."""
        named = self.settings.job_def_name
        if named:
            return named
        spec = definition_spec(self.settings, image)
        name = spec["jobDefinitionName"]
        found = self._definitions.get(name)
        if found is not None:
            return found
        answer = self._call(
            "describe_job_definitions",
            f"looking up job definition {name}",
            jobDefinitionName=name,
            status="ACTIVE",
        )
        active = [
            d for d in answer.get("jobDefinitions") or () if d.get("status", "ACTIVE") == "ACTIVE"
        ]
        if active:
            arn = str(max(active, key=lambda d: int(d.get("revision", 0)))["jobDefinitionArn"])
        else:
            registered = self._call(
                "register_job_definition",
                f"registering job definition {name}",
                **spec,
                tags={"redun-executor": self.name},
            )
            arn = str(registered["jobDefinitionArn"])
        self._definitions[name] = arn
        return arn

    def _call(self, method: str, doing: str, **kwargs: Any) -> Any:
        client = self._batch
        if client is None:
            raise ExecutorError(f"executor {self.name!r}: its Batch client is not started")
        self.calls[method] += 1
        try:
            return getattr(client, method)(**kwargs)
        except Exception as exc:
            raise translate(exc, doing) from exc
