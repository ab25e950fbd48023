"""The ``spark_driver`` executor: a task that is a Spark program runs in the driver.

Each job runs on a thread of this executor (``max_workers`` at a time) with
the scheduler's SparkSession available through
``redun.spark.get_spark_session()``; its Spark actions run in a job group of
its own (``redun-<job id>``), so its progress shows in the job's log and
cancelling the job cancels them. It is an ordinary job otherwise: its
arguments and result (``Dir``/``File`` datasets on local, S3 or GCS paths)
are hashed, cached and re-run when they change.

Python code of the task itself cannot be interrupted (as on the thread
executor): a cancel stops its Spark jobs, and the task's next action fails.
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from redun.executors.base import Executor
from redun.executors.remote.protocol import task_location
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

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler
    from redun.scheduler.job import Job


class SparkDriverExecutor(Executor):
    """Runs Spark programs as tasks (``[executors.NAME] type = spark_driver``).

    Configuration: the ``spark`` executor's session keys (``master``,
    ``conf``, ``python``, ``app_name``, ``keep_warm``, ``progress_interval``),
    ``code_root`` / ``code_includes`` / ``code_excludes`` (the code package
    shipped so the task's own functions import on the executors) and
    ``max_workers`` (driver tasks at once, default 4).
    """

    reports_start = True

    def __init__(self, name: str, scheduler: Scheduler | None = None, config: Any = None) -> None:
        config = dict(config or {})
        workers = config.pop("max_workers", None)
        super().__init__(name, scheduler, config)
        self.own_settings = settings_from_config(name, self.config)
        require_pyspark(f"[executors.{name}]")
        self.max_workers = int(workers or 4)
        self.echo = str(self.config.get("echo") or "").strip().lower() in ("1", "true", "yes")
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._driver: Any = None
        self._monitor: Monitor | None = None
        self._groups: dict[str, Job] = {}
        self._cancelled: set[str] = set()
        self.code_root = os.path.abspath(self.config.get("code_root") or os.getcwd())
        self._packages = PackageShipper(self.code_root, self.config)

    def _ensure_driver(self) -> Any:
        with self._lock:
            if self._driver is not None:
                return self._driver
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

    @property
    def package_digest(self) -> str:
        """The content hash of this run's code package (where a Spark host finds it)."""
        return self._packages.digest

    def location(self, job: Job) -> tuple[str, str]:
        """The module of ``job``'s task and its file in the code package."""
        module = sys.modules.get(job.task.func.__module__)
        return task_location(
            job.task.load_module, getattr(module, "__file__", None), self.code_root
        )

    def submit(self, job: Job) -> None:
        self.submit_batch([job])

    def submit_batch(self, jobs: list[Job]) -> None:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.max_workers, thread_name_prefix=f"redun-spark-driver-{self.name}"
                )
            pool = self._pool
        for job in jobs:
            pool.submit(self._run, job)

    def _run(self, job: Job) -> None:
        scheduler = self.scheduler
        run_id = job.execution.id if job.execution is not None else ""
        try:
            driver = self._ensure_driver()
            # The task's own functions in Spark closures must import on the executors.
            self._packages.ship(driver, run_id)
        except Exception as error:
            scheduler.reject_job(job, no_retry(error))
            return
        group = f"redun-{job.id}"
        with self._lock:
            if job.id in self._cancelled:
                self._cancelled.discard(job.id)
                return
            self._groups[group] = job
            monitor = self._monitor
        url = driver.ui_url
        self._log(
            job,
            f"[spark] Spark job group {group}" + (f"; Spark UI {url}" if url else "") + "\n",
        )
        if monitor is not None:
            monitor.watch(group)
        try:
            driver.run_task(self, job, group, f"redun {job.task.fullname} (job {job.id[:8]})")
        finally:
            if monitor is not None:
                monitor.unwatch(group)
            with self._lock:
                self._groups.pop(group, None)

    def cancel(self, job: Job) -> None:
        self.cancel_batch([job])

    def cancel_batch(self, jobs: list[Job]) -> None:
        """Cancel the Spark jobs of these tasks (their Python code runs on to its next action)."""
        with self._lock:
            driver = self._driver
            groups = []
            for job in jobs:
                group = f"redun-{job.id}"
                if group in self._groups:
                    groups.append(group)
                else:
                    self._cancelled.add(job.id)
        for group in groups:
            try:
                driver.cancel_group(group)
            except Exception as error:
                self.scheduler.logger.warning(
                    "executor %s: cancelling Spark job group %s failed: %s", self.name, group, error
                )

    def stop(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            driver, self._driver = self._driver, None
            monitor, self._monitor = self._monitor, None
            groups = list(self._groups)
            self._cancelled.clear()
        self._packages.forget()
        if monitor is not None:
            monitor.stop()
        if driver is not None:
            for group in groups:
                try:
                    driver.cancel_group(group)
                except Exception:
                    pass
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        if driver is not None:
            driver.release(self)

    def _progress(self, group: str, progress: GroupProgress) -> None:
        with self._lock:
            job = self._groups.get(group)
        if job is not None:
            self._log(job, f"[spark] {progress.text}\n")

    def _log(self, job: Job, text: str) -> None:
        self.scheduler.post_log(job, "stderr", text)
        if self.echo:
            echo(text, "stderr")
