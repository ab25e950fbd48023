"""The ``spark`` executor: a batch of calls runs as one Spark job.

The scheduler hands the executor every ready job at once. Each batch
becomes one Spark job in a job group of its own: the calls (compact: the
remote layer's task headers once, then each call's ids and pickled
arguments) are parallelized over ``partitions`` partitions, each partition
runs its calls on a Python worker (:mod:`redun.spark.worker`, with the
remote layer's pieces of ``run_call``), and the outcomes are collected back
to the driver, where each call's value or error (with its traceback and
output) is handed to the scheduler, which caches them one by one like any
job's.

No scratch store: the calls travel in the job's closure data and each
partition's outcomes come back with its Spark task's end (an accumulator,
see :mod:`redun.spark.worker`), so they pass through the driver's memory
(``spark.driver.maxResultSize`` applies) and the scheduler records a
partition's calls while the others still run. The user's code reaches the
executors as the remote layer's code package, zipped and given to
``SparkContext.addPyFile`` (built once per run, shipped once per content).
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redun.errors import ExecutorError
from redun.executors.base import Executor
from redun.executors.remote.protocol import (
    job_label,
    outcome_value,
    pickle_arguments,
    task_header,
    task_location,
    unpickle_value,
)
from redun.executors.spark.common import (
    Monitor,
    PackageShipper,
    echo,
    no_retry,
    session_settings,
)
from redun.spark.preflight import require_pyspark
from redun.spark.progress import GroupProgress
from redun.spark.settings import settings_from_config
from redun.spark.worker import Call

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler
    from redun.scheduler.job import Job


#: A batch of more calls than this keeps every progress line in its first call's
#: log only; the other calls get a line at each tenth of the Spark tasks done. (Each
#: of 10,000 calls holding every line stored the same lines 10,000 times: 17 MB of
#: job output for a 40-second batch, and more for every minute a batch runs.)
PROGRESS_IN_EVERY_LOG = 100


@dataclass
class Batch:
    """The calls of one Spark job group still wanted by the scheduler (each leaves
    ``jobs`` when its partition's outcomes arrive, or when it is cancelled).

    ``lead``: the call whose log gets every progress line (a large batch's first
    call; its log goes on getting them once it ended, ``lead_done``); ``tenths``:
    the tenths of the tasks done last shown in every call's log.
    """

    group: str
    jobs: dict[str, Job]
    lead: Job | None = None
    tenths: int = -1
    lead_done: bool = False
    started: bool = False
    cancelled: bool = False
    ended: bool = False


def _bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    return str(value).strip().lower() in ("1", "true", "yes", "on")


class SparkExecutor(Executor):
    """Runs each batch of calls as one Spark job (``[executors.NAME] type = spark``).

    Configuration: ``master``, ``conf``, ``partitions`` (per batch; default
    the session's default parallelism), ``python`` (the executors'
    interpreter), ``app_name``, ``keep_warm``, ``progress_interval``,
    ``code_root`` / ``code_includes`` / ``code_excludes`` (the code package),
    ``echo``.

    Raises:
        UsageError: a bad key or value in the section; pyspark not installed.
    """

    reports_start = True

    def __init__(self, name: str, scheduler: Scheduler | None = None, config: Any = None) -> None:
        super().__init__(name, scheduler, config)
        self.own_settings = settings_from_config(name, self.config)
        require_pyspark(f"[executors.{name}]")
        self.code_root = os.path.abspath(self.config.get("code_root") or os.getcwd())
        self.echo = _bool(self.config.get("echo"), sys.stdout.isatty())
        self.submissions = 0
        """Spark jobs submitted by this executor (one per batch)."""
        self._lock = threading.Lock()
        self._batches: dict[str, Batch] = {}
        self._where: dict[str, str] = {}
        self._driver: Any = None
        self._packages = PackageShipper(self.code_root, self.config)
        self._locations: dict[str, tuple[str, str]] = {}
        self._threads: set[threading.Thread] = set()
        self._monitor: Monitor | None = None

    # -- the session ---------------------------------------------------------------
    def _ensure_driver(self) -> Any:
        with self._lock:
            driver = self._driver
        if driver is not None:
            return driver
        from redun.spark.host import driver_for

        settings = session_settings(self._scheduler, self.name, self.own_settings)
        driver = driver_for(settings)
        driver.acquire(self, settings)
        with self._lock:
            self._driver = driver
            self._monitor = Monitor(
                self.name, self.own_settings.progress_interval, driver.progress, self._progress
            )
        return driver

    # -- the scheduler's side --------------------------------------------------------
    def submit(self, job: Job) -> None:
        self.submit_batch([job])

    def submit_batch(self, jobs: list[Job]) -> None:
        if not jobs:
            return
        thread = threading.Thread(
            target=self._run_batch, args=(jobs,), name=f"redun-spark-{self.name}", daemon=True
        )
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def cancel(self, job: Job) -> None:
        self.cancel_batch([job])

    def cancel_batch(self, jobs: list[Job]) -> None:
        """Drop these jobs; a Spark job group none of whose calls is wanted is cancelled."""
        groups: list[str] = []
        with self._lock:
            for job in jobs:
                group = self._where.pop(job.id, None)
                batch = self._batches.get(group) if group else None
                if batch is None:
                    continue
                batch.jobs.pop(job.id, None)
                if not batch.jobs and not batch.cancelled:
                    batch.cancelled = True
                    groups.append(batch.group)
            driver = self._driver
        for group in groups:
            try:
                driver.cancel_group(group)
            except Exception as error:
                self.scheduler.logger.warning(
                    "executor %s: cancelling Spark job group %s failed: %s", self.name, group, error
                )

    def stop(self) -> None:
        """Cancel the job groups still running and release the SparkSession."""
        with self._lock:
            batches = list(self._batches.values())
            # A group cancelled already (its calls were cancelled) is not cancelled again:
            # Spark would warn that it finds no active job for it.
            running = [batch for batch in batches if not batch.cancelled]
            self._where.clear()
            for batch in batches:
                batch.jobs.clear()
                batch.cancelled = True
            driver, self._driver = self._driver, None
            monitor, self._monitor = self._monitor, None
        self._packages.forget()
        if monitor is not None:
            monitor.stop()
        if driver is None:
            return
        for batch in running:
            if not batch.ended:
                try:
                    driver.cancel_group(batch.group)
                except Exception:
                    pass
        driver.release(self)

    # -- one batch -----------------------------------------------------------------------
    def _location(self, job: Job) -> tuple[str, str]:
        task = job.task
        found = self._locations.get(task.fullname)
        if found is None:
            module = sys.modules.get(task.func.__module__)
            found = task_location(
                task.load_module, getattr(module, "__file__", None), self.code_root
            )
            self._locations[task.fullname] = found
        return found

    def _run_batch(self, jobs: list[Job]) -> None:
        try:
            self._run_batch_now(jobs)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _run_batch_now(self, jobs: list[Job]) -> None:
        scheduler = self.scheduler
        first = jobs[0]
        run_id = first.execution.id if first.execution is not None else ""
        try:
            driver = self._ensure_driver()
            package = self._packages.ship(driver, run_id)
        except Exception as error:
            for job in jobs:
                scheduler.reject_job(job, no_retry(error))
            return
        token = os.urandom(6).hex()
        group = f"redun-{run_id[:8]}-{token}" if run_id else f"redun-{token}"
        headers: list[dict[str, Any]] = []
        header_of: dict[int, int] = {}  # id(task) -> its header's index
        tasks: list[Any] = []  # keeps the tasks (and so their ids) alive meanwhile
        calls: list[Call] = []
        wanted: list[Job] = []
        for job in jobs:
            task = job.task
            try:
                index = header_of.get(id(task))
                if index is None:
                    module, path = self._location(job)
                    headers.append(task_header(task, module=module, path=path, token=token))
                    tasks.append(task)
                    index = header_of[id(task)] = len(headers) - 1
                calls.append((index, job.id, pickle_arguments(job)))
            except Exception as error:
                scheduler.reject_job(job, no_retry(error))
                continue
            wanted.append(job)
        if not wanted:
            return
        partitions = self.own_settings.partitions or driver.default_parallelism
        partitions = max(1, min(partitions, len(calls)))
        lead = wanted[0] if len(wanted) > PROGRESS_IN_EVERY_LOG else None
        batch = Batch(group, {job.id: job for job in wanted}, lead)
        with self._lock:
            if self._driver is None:  # stopped meanwhile
                return
            self._batches[group] = batch
            for job in wanted:
                self._where[job.id] = group
            monitor = self._monitor
        for job in wanted:
            scheduler.job_queued(job)
        url = driver.ui_url
        what = f"{len(wanted)} call(s)" if len(wanted) > 1 else "1 call"
        line = (
            f"[spark] {what} as one Spark job, job group {group}, {partitions} partition(s)"
            + (f"; Spark UI {url}" if url else "")
            + (f"; progress in job {lead.id[:8]}'s log, here by tenths" if lead else "")
            + "\n"
        )
        self._announce(wanted, line)
        if monitor is not None:
            monitor.watch(group)
        self.submissions += 1
        description = f"redun {first.task.fullname}: {what}"

        def deliver(start: int, outcomes: list[Any]) -> None:
            self._deliver(batch, wanted[start : start + len(outcomes)], outcomes)

        try:
            driver.run_batch(group, description, package, headers, calls, partitions, deliver)
        except Exception as error:
            self._batch_failed(batch, error)
        else:
            with self._lock:  # run_batch saw every partition delivered
                self._batches.pop(group, None)
        finally:
            batch.ended = True
            if monitor is not None:
                monitor.unwatch(group)

    def _batch_failed(self, batch: Batch, error: BaseException) -> None:
        with self._lock:
            self._batches.pop(batch.group, None)
            left = [job for job in batch.jobs.values()]
            for job in left:
                self._where.pop(job.id, None)
            if batch.cancelled:
                return
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        for job in left:
            # The Spark job itself failed (executors lost, cancelled from the Spark UI):
            # the platform's failure, retried up to the task's retries.
            failure = ExecutorError(
                f"executor {self.name!r}: Spark job group {batch.group} failed: {text[:500]}"
            )
            failure.__cause__ = error
            self.scheduler.reject_job(job, failure)

    def _deliver(self, batch: Batch, jobs: list[Job], outcomes: list[Any]) -> None:
        """The outcomes of one partition's calls (``jobs``), as its Spark task ended."""
        scheduler = self.scheduler
        with self._lock:
            live = {}
            for job in jobs:
                if batch.jobs.pop(job.id, None) is not None:  # else cancelled meanwhile
                    live[job.id] = job
                    self._where.pop(job.id, None)
            if batch.lead is not None and batch.lead.id in live:
                batch.lead_done = True
        for job, outcome in zip(jobs, outcomes):
            if job.id not in live:
                continue  # cancelled meanwhile
            quiet = type(outcome) is bytes  # returned quietly: its pickled value alone
            if not quiet:
                for stream, text in outcome.get("output") or ():
                    self._log(job, stream, text)
            try:
                label = job_label(job.id, job.task.fullname)
                if quiet:
                    ok, value = True, unpickle_value(outcome, label)
                else:
                    ok, value = outcome_value(outcome, label)
            except Exception as problem:
                scheduler.reject_job(job, no_retry(problem))
                continue
            if ok:
                scheduler.done_job(job, value)
            else:
                scheduler.reject_job(job, value)

    def _progress(self, group: str, progress: GroupProgress) -> None:
        with self._lock:
            batch = self._batches.get(group)
            if batch is None or batch.ended:
                return
            jobs = list(batch.jobs.values())
            first_start = progress.started and not batch.started
            if first_start:
                batch.started = True
            readers = jobs
            if batch.lead is not None:
                total = progress.tasks_total
                tenths = progress.tasks_done * 10 // total if total else 0
                if tenths > batch.tenths:
                    batch.tenths = tenths
                    if batch.lead_done:  # it ended first, and still tells the whole story
                        readers = [batch.lead, *jobs]
                else:
                    lead_live = batch.lead_done or batch.lead.id in batch.jobs
                    readers = [batch.lead] if lead_live else []
        scheduler = self.scheduler
        if first_start:
            for job in jobs:
                scheduler.job_started(job)
        self._announce(readers, f"[spark] {progress.text}\n")

    def _announce(self, jobs: list[Job], line: str) -> None:
        """One line in the log of each job of a batch (shown once, with ``echo``)."""
        post = self.scheduler.post_log
        for job in jobs:
            post(job, "stderr", line)
        if self.echo:
            echo(line, "stderr")

    def _log(self, job: Job, stream: str, text: str) -> None:
        self.scheduler.post_log(job, stream, text)
        if self.echo:
            echo(text, stream)
