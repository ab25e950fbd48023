"""What the two Spark executors share: settings of the scheduler's session, progress watching."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from redun.spark.progress import GroupProgress
from redun.spark.settings import SparkSettings, merge, settings_from_config

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler

logger = logging.getLogger("redun.spark")

SPARK_TYPES = frozenset({"spark", "spark_driver"})
"""Executor types that share the scheduler's SparkSession."""


def session_settings(scheduler: Scheduler | None, name: str, own: SparkSettings) -> SparkSettings:
    """``own`` merged with every other Spark executor section of the scheduler's config.

    One scheduler has one SparkSession: whichever executor starts it, it is
    built from all their settings, and settings that cannot be merged are an
    error before anything starts.
    """
    settings = own
    if scheduler is None:
        return settings
    for section_name, section in sorted(scheduler.config.items()):
        if not section_name.startswith("executors."):
            continue
        other = section_name.split(".", 1)[1]
        if other == name or (section.get("type") or "") not in SPARK_TYPES:
            continue
        settings = merge(settings, settings_from_config(other, dict(section)))
    return settings


class PackageShipper:
    """Builds the code package of a run once and ships it to the Spark executors.

    Args:
        code_root: the directory the package is made from.
        config: the executor's section (``code_includes``, ``code_excludes``).
    """

    def __init__(self, code_root: str, config: dict) -> None:
        self.code_root = code_root
        self.config = config
        self._lock = threading.Lock()
        self._shipped: tuple[str, str] | None = None
        self.digest = ""
        """The content hash of the package shipped last."""

    def ship(self, driver: Any, run_id: str) -> str:
        """The name the package of run ``run_id`` goes by on the executors."""
        with self._lock:
            if self._shipped is not None and self._shipped[0] == run_id:
                return self._shipped[1]
            from redun.executors.remote.package import build_package, package_options

            package = build_package(self.code_root, *package_options(self.config))
            name = driver.add_package(package)
            self._shipped = (run_id, name)
            self.digest = package.digest
            return name

    def forget(self) -> None:
        with self._lock:
            self._shipped = None


def no_retry(error: BaseException) -> BaseException:
    """Mark ``error`` as the task's or the setup's, not worth another attempt."""
    try:
        error.__redun_no_retry__ = True  # type: ignore[attr-defined]
    except Exception:
        pass
    return error


def echo(text: str, stream: str) -> None:
    """Show ``text`` on this process's ``stream`` (``redun run`` at a terminal)."""
    try:
        getattr(sys, stream, sys.stderr).write(text)
    except (OSError, ValueError):
        pass


class Monitor:
    """Polls the progress of the job groups in flight; reports each change.

    Args:
        name: the executor's name (thread name, messages).
        interval: seconds between polls (also the most often a group's line changes).
        read: the progress of some groups (``driver.progress``).
        report: called with ``(group, progress)`` when a group's progress changed.
    """

    def __init__(
        self,
        name: str,
        interval: float,
        read: Callable[[list[str]], dict[str, GroupProgress]],
        report: Callable[[str, GroupProgress], Any],
    ) -> None:
        self.name = name
        self.interval = interval
        self.read = read
        self.report = report
        self._groups: dict[str, GroupProgress | None] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def watch(self, group: str) -> None:
        with self._lock:
            self._groups[group] = None
            if self._thread is None:
                self._stopping = False
                self._thread = threading.Thread(
                    target=self._run, name=f"redun-spark-progress-{self.name}", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def unwatch(self, group: str) -> None:
        with self._lock:
            self._groups.pop(group, None)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            thread, self._thread = self._thread, None
            self._groups.clear()
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            with self._lock:
                if self._stopping:
                    return
                groups = list(self._groups)
            if not groups:
                continue
            try:
                found = self.read(groups)
            except Exception as error:
                logger.debug("executor %s: reading Spark progress failed: %s", self.name, error)
                continue
            changed = []
            with self._lock:
                for group, progress in found.items():
                    if group in self._groups and progress.text and progress != self._groups[group]:
                        self._groups[group] = progress
                        changed.append((group, progress))
            for group, progress in changed:
                try:
                    self.report(group, progress)
                except Exception as error:
                    logger.debug("executor %s: reporting progress failed: %s", self.name, error)
