"""The GCP Batch back end: create, list, delete Batch jobs through google-cloud-batch.

One submission is one Batch job (``job_id`` = the submission's name) of one
task group: ``task_count`` = 1 for a lone call, N for an array (each task
finds its element in ``BATCH_TASK_INDEX``). Polling costs one ``list_jobs``
for every job this executor submitted (filtered by its session's label, so
other jobs of the project are not read), a ``get_job`` for each adopted one,
and a paged ``list_tasks`` only for a job whose task counts or state moved
since it was last listed: a 10,000-element array that is still running with
nothing new costs nothing beyond the listing. Cancel deletes the jobs.
Re-attach lists the jobs labelled with this scratch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from redun.errors import ExecutorError, UsageError
from redun.executors.gcp_batch import cloudlog
from redun.executors.gcp_batch.client import default_credentials, make_client, translate
from redun.executors.gcp_batch.monitor import job_is_final, listing_key, needs_tasks, report
from redun.executors.gcp_batch.request import (
    SCRATCH_LABEL,
    SESSION_LABEL,
    TASK_GROUP,
    build_job,
)
from redun.executors.gcp_batch.settings import label_value, parse_settings
from redun.executors.remote.backend import FoundJob, Handle, RemoteBackend, Submission, parse_name
from redun.executors.remote.scratch import is_array_key
from redun.executors.remote.states import Observation, Phase, Report

logger = logging.getLogger("redun.remote.gcp")

PAGE_SIZE = 1000
"""Jobs or tasks asked for per page (the service may send fewer)."""
KEEP_FINISHED = 24 * 3600.0
"""Finished jobs older than this are not re-attached (their results are not read back)."""


@dataclass
class _Known:
    """What this back end remembers of one Batch job between polls."""

    array: bool
    seen: tuple[str, dict[str, int]] | None = None
    """The job's state and task counts at the last poll."""
    elements: dict[int, Observation] = field(default_factory=dict)
    uid: str = ""


class GCPBatchBackend(RemoteBackend):
    """Runs submissions as GCP Batch jobs. See :mod:`redun.executors.gcp_batch`."""

    live_logs = False
    live_logs_complete = False  # Cloud Logging ingests late: the outcome fills the gaps
    max_array_size = 10_000
    poll_interval = 10.0
    lost_after = 120.0

    def __init__(self, name: str, config: dict) -> None:
        super().__init__(name, config)
        self.section = f"[executors.{name}]"
        self.settings = parse_settings(name, config)
        if not self.settings.scratch.startswith("gs://"):
            raise UsageError(
                f"{self.section} gcs_scratch = {self.settings.scratch!r}: Batch jobs reach the "
                "scratch over the network; set gcs_scratch = gs://BUCKET/PREFIX"
            )
        root = self.settings.scratch.rstrip("/")
        self.scratch_label = hashlib.sha256(root.encode()).hexdigest()[:16]
        self.session = os.urandom(8).hex()
        self.calls: Counter[str] = Counter()
        """API calls made, by method (pages counted one by one): a benchmark's figure."""
        self._client: Any = None
        self._channel: Any = None
        self._known: dict[Handle, _Known] = {}
        self._mine: set[Handle] = set()
        self._lock = threading.Lock()
        self._tail: cloudlog.LogTail | None = None
        self._log_channel: Any = None

    # -- configuration ------------------------------------------------------------------
    def start(self) -> None:
        self.stop()  # a start that failed (say, on the bucket) is tried again at the next batch
        settings = self.settings
        # Decided here, not at construction: finding google-cloud-logging imports google.
        self.live_logs = settings.live_logs == "true" or (
            settings.live_logs == "auto"
            and cloudlog.available()
            and (not settings.endpoint or bool(settings.logging_endpoint))
        )
        needs_credentials = not settings.endpoint or (
            self.live_logs and not settings.logging_endpoint
        )
        credentials = default_credentials(self.section) if needs_credentials else None
        self._client, self._channel = make_client(settings, credentials)
        if self.live_logs:
            if not cloudlog.available():
                raise UsageError(
                    f"{self.section} live_logs = true needs google-cloud-logging: "
                    "pip install google-cloud-logging (or set live_logs = false)"
                )
            client, self._log_channel = cloudlog.make_logging_client(
                settings.logging_endpoint, credentials
            )
            self._tail = cloudlog.LogTail(
                client,
                settings.project,
                interval=settings.log_interval,
                per_minute=settings.log_reads_per_minute,
            )
        self._check_scratch()

    def _check_scratch(self) -> None:
        """The scratch's bucket exists and these credentials may read it."""
        from redun.file.filesystem import get_filesystem
        from redun.file.objectstore import ObjectStoreFileSystem

        root = self.settings.scratch
        fs = get_filesystem(root)
        if not isinstance(fs, ObjectStoreFileSystem):
            return
        bucket, _ = fs.split_url(root)
        try:
            found = fs._bucket_exists(bucket)
        except Exception as exc:
            problem = fs.store_error("read", root, exc)
            raise UsageError(
                f"{self.section} gcs_scratch = {root}: {problem}; set gcs_scratch to a bucket "
                "these credentials can read and write"
            ) from exc
        if not found:
            raise UsageError(
                f"{self.section} gcs_scratch = {root}: the bucket {bucket!r} does not exist; "
                "create it (gcloud storage buckets create gs://BUCKET) or set gcs_scratch to "
                "one that does"
            )

    def stop(self) -> None:
        for channel in (self._channel, self._log_channel):
            if channel is not None:
                channel.close()
        self._client = self._channel = self._log_channel = self._tail = None

    # -- hooks ----------------------------------------------------------------------------
    def submit(self, submission: Submission) -> Handle:
        batch_v1 = _batch()
        job = build_job(
            submission,
            self.settings,
            extra_labels={
                SCRATCH_LABEL: self.scratch_label,
                SESSION_LABEL: self.session,
                "redun_executor": label_value(self.name),
            },
        )
        request = batch_v1.CreateJobRequest(
            parent=self.settings.parent, job_id=submission.name, job=job
        )
        created = self._call("create_job", f"creating Batch job {submission.name}", request=request)
        handle = str(created.name)
        with self._lock:
            self._known[handle] = _Known(array=submission.is_array, uid=str(created.uid))
            self._mine.add(handle)
        return handle

    def poll(self, handles: list[Handle]) -> dict[Handle, Report]:
        jobs: dict[str, Any] = {}
        if any(handle in self._mine for handle in handles):
            jobs = {str(job.name): job for job in self._list_jobs(SESSION_LABEL, self.session)}
        reports: dict[Handle, Report] = {}
        for handle in handles:
            job = jobs.get(str(handle))
            if job is None:
                job = self._get_job(str(handle))
                if job is None:
                    continue  # unknown to Batch (yet, or any more)
            reports[handle] = self._report(handle, job)
        return reports

    def cancel(self, handles: list[Handle]) -> None:
        problems: list[str] = []
        for handle in handles:
            try:
                self._call("delete_job", f"deleting Batch job {handle}", name=str(handle))
            except ExecutorError as error:
                if _is_not_found(error.__cause__):
                    continue
                problems.append(str(error))
        if problems:
            raise ExecutorError("; ".join(problems))

    def find_jobs(self) -> Iterable[FoundJob]:
        found: list[FoundJob] = []
        now = time.time()
        for job in self._list_jobs(SCRATCH_LABEL, self.scratch_label):
            name = str(job.name).rsplit("/", 1)[-1]
            parsed = parse_name(name)
            if parsed is None:
                continue
            if job_is_final(job) and now - _seconds(job.update_time) > KEEP_FINISHED:
                continue  # Batch keeps jobs 60 days; results that old are not worth a read
            array = is_array_key(parsed[0])
            found.append(FoundJob(str(job.name), name, report(job, None, array=array)))
        return found

    def read_logs(self, handle: Handle, index: int | None, *, final: bool) -> list[tuple[str, str]]:
        known = self._known.get(handle)
        tail = self._tail
        if known is None or tail is None or not known.uid:
            return []
        try:
            return tail.take(known.uid, index or 0, final=final)
        except Exception as exc:
            raise translate(exc, f"reading the log of {handle}") from exc

    def forget(self, handle: Handle) -> None:
        with self._lock:
            known = self._known.pop(handle, None)
            self._mine.discard(handle)
        if known is not None and self._tail is not None:
            self._tail.forget(known.uid)

    # -- reading Batch ------------------------------------------------------------------------
    def _report(self, handle: Handle, job: Any) -> Report:
        known = self._known.get(handle)
        if known is None:
            parsed = parse_name(str(job.name).rsplit("/", 1)[-1])
            known = _Known(array=bool(parsed and is_array_key(parsed[0])), uid=str(job.uid))
            with self._lock:
                self._known[handle] = known
        tasks = None
        if needs_tasks(job, known.seen, array=known.array):
            tasks = self._list_tasks(str(handle))
        known.seen = listing_key(job)
        made = report(job, tasks, array=known.array)
        if known.array:
            if tasks is not None:
                known.elements = dict(made.elements)
            elements = {
                index: self._with_log_hint(observed, job)
                for index, observed in known.elements.items()
            }
            return Report(made.phase, made.reason, elements)
        observed = self._with_log_hint(Observation(made.phase, made.reason), job)
        return Report(observed.phase, observed.reason)

    def _with_log_hint(self, observed: Observation, job: Any) -> Observation:
        """Without tails, a running task's note says where its live output is."""
        if self.live_logs or observed.phase is not Phase.RUNNING or observed.reason:
            return observed
        return Observation(Phase.RUNNING, self.logs_hint(str(job.uid)))

    def logs_hint(self, uid: str) -> str:
        """Where a job's live output can be read while it runs."""
        return (
            "running; its live output is in Cloud Logging: gcloud logging read "
            f'\'logName="projects/{self.settings.project}/logs/batch_task_logs" AND '
            f'labels.job_uid="{uid}"\' --project {self.settings.project} '
            "(all of it comes back here when the call ends)"
        )

    def _list_jobs(self, label: str, value: str) -> list[Any]:
        batch_v1 = _batch()
        request = batch_v1.ListJobsRequest(
            parent=self.settings.parent,
            filter=f'labels.{label}="{value}"',
            page_size=PAGE_SIZE,
        )
        pager = self._call("list_jobs", "listing Batch jobs", request=request, paged=False)
        return list(self._pages(pager, "jobs", "listing Batch jobs"))

    def _get_job(self, name: str) -> Any | None:
        try:
            return self._call("get_job", f"reading Batch job {name}", name=name)
        except ExecutorError as error:
            if _is_not_found(error.__cause__):
                return None
            raise

    def _list_tasks(self, job_name: str) -> list[Any]:
        batch_v1 = _batch()
        request = batch_v1.ListTasksRequest(
            parent=f"{job_name}/taskGroups/{TASK_GROUP}", page_size=PAGE_SIZE
        )
        doing = f"listing the tasks of {job_name}"
        pager = self._call("list_tasks", doing, request=request, paged=False)
        return list(self._pages(pager, "tasks", doing))

    def _pages(self, pager: Any, attribute: str, doing: str) -> Iterable[Any]:
        """Every item of a pager; each page after the first is one more API call."""
        first = True
        iterator = iter(pager.pages)
        while True:
            try:
                page = next(iterator)
            except StopIteration:
                return
            except Exception as exc:
                raise translate(exc, doing) from exc
            if not first:
                self.calls[pager_method(attribute)] += 1
            first = False
            yield from getattr(page, attribute)

    def _call(self, method: str, doing: str, *, paged: bool = False, **kwargs: Any) -> Any:
        client = self._client
        if client is None:
            raise ExecutorError(f"executor {self.name!r}: its Batch client is not started")
        self.calls[method] += 1
        try:
            return getattr(client, method)(**kwargs)
        except Exception as exc:
            raise translate(exc, doing) from exc


def pager_method(attribute: str) -> str:
    return "list_jobs" if attribute == "jobs" else "list_tasks"


def _seconds(stamp: Any) -> float:
    """A proto-plus timestamp (a datetime, or None when unset) in seconds since the epoch."""
    return stamp.timestamp() if stamp is not None else 0.0


def _is_not_found(error: BaseException | None) -> bool:
    return error is not None and type(error).__name__ == "NotFound"


def _batch() -> Any:
    from google.cloud import batch_v1

    return batch_v1
