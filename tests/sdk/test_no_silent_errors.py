"""Errors that used to vanish: an executor that cannot cancel, a value store that
fails (retried, then surfaced), a watch's file dependencies that cannot be read."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from redun import File, Scheduler, task
from redun.backends.queries import StoreReader
from redun.config import Config
from redun.errors import BackendError, FileError
from redun.events import JobStateChanged
from redun.executors.threads import ThreadExecutor
from redun.file import register_filesystem
from redun.file.local import LocalFileSystem, is_write_mode
from redun.scheduler.job import JobState

redun_namespace = "test_no_silent_errors"

BLOCKER_STARTED = threading.Event()
RELEASE = threading.Event()


class StubbornExecutor(ThreadExecutor):
    """Threads whose cancel fails (as a remote executor's API call can)."""

    def cancel(self, job: Any) -> None:
        raise RuntimeError("the platform refused to cancel")


@task(cache=False)
def blocker() -> int:
    BLOCKER_STARTED.set()
    RELEASE.wait(30)
    return 1


@task(cache=False)
def boom() -> int:
    assert BLOCKER_STARTED.wait(30)
    raise ValueError("boom")


def test_a_failing_cancel_is_logged_and_the_job_still_ends_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    BLOCKER_STARTED.clear()
    RELEASE.clear()
    scheduler = Scheduler(executor=StubbornExecutor("default"))
    states: list[tuple[str, str]] = []
    scheduler.events.subscribe(
        lambda e: states.append((e.task, e.state)) if isinstance(e, JobStateChanged) else None
    )
    try:
        with caplog.at_level(logging.WARNING, logger="redun"):
            with pytest.raises(ValueError, match="boom"):
                scheduler.run([blocker(), boom()])
    finally:
        RELEASE.set()
    job = next(j for j in scheduler.jobs() if j.task.name == "blocker")
    assert job.state is JobState.CANCELLED, "the job is over for this run"
    assert (job.task.fullname, "cancelled") in states
    assert any("could not stop job" in r.getMessage() for r in caplog.records)
    assert any("refused to cancel" in (r.exc_text or "") for r in caplog.records)


# -- the value store ------------------------------------------------------------------


@register_filesystem
class FlakyFileSystem(LocalFileSystem):
    """Local files under ``flaky://``, whose next ``failures`` writes fail."""

    name = "flaky"
    protocols = ()
    failures = 0

    def _local(self, path: str) -> str:
        return path[len("flaky://") :]

    def open(self, path: str, mode: str = "r", encoding: str | None = None, **kwargs: Any) -> Any:
        if is_write_mode(mode) and FlakyFileSystem.failures > 0:
            FlakyFileSystem.failures -= 1
            raise FileError(f"cannot write {path}: the service is unavailable (503)")
        return super().open(self._local(path), mode, encoding, **kwargs)

    def exists(self, path: str) -> bool:
        return super().exists(self._local(path))

    def size(self, path: str) -> int:
        return super().size(self._local(path))

    def remove(self, path: str) -> None:
        super().remove(self._local(path))


@task
def numbers(n: int) -> list:
    return list(range(n))


def flaky_scheduler(tmp_path: Path) -> Scheduler:
    backend = {
        "db_uri": f"sqlite:///{tmp_path}/redun.db",
        "value_store": f"flaky://{tmp_path}/values",
        "inline_max_bytes": "100",
    }
    return Scheduler(config=Config({"backend": backend}))


def test_a_transient_value_store_error_is_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    FlakyFileSystem.failures = 1
    scheduler = flaky_scheduler(tmp_path)
    with caplog.at_level(logging.WARNING, logger="redun"):
        assert scheduler.run(numbers(1000)) == list(range(1000))
    assert FlakyFileSystem.failures == 0
    assert any("retrying" in r.getMessage() for r in caplog.records)
    ran: list[str] = []
    again = flaky_scheduler(tmp_path)
    again.events.subscribe(
        lambda e: ran.append(e.state) if isinstance(e, JobStateChanged) else None
    )
    assert again.run(numbers(1000)) == list(range(1000))
    assert ran == ["pending", "cached"], "the stored value is reused"


def test_a_value_store_that_keeps_failing_is_surfaced(tmp_path: Path) -> None:
    FlakyFileSystem.failures = 100
    scheduler = flaky_scheduler(tmp_path)
    try:
        with pytest.raises(BackendError, match=r"value store flaky://.*could not write.*503"):
            scheduler.run(numbers(1000))
    finally:
        FlakyFileSystem.failures = 0
    # Everything else was recorded: the run, its job and call; only the value is not reusable.
    reader = StoreReader(scheduler.backend)
    (execution,) = reader.executions()
    (job,) = reader.jobs_of_execution(execution.id)
    assert job.state == "done" and reader.call(job.call_hash or "") is not None


# -- a watch's dependencies -----------------------------------------------------------


@task
def produce(path: str) -> File:
    out = File(path)
    out.write("x")
    return out


class StoreDown:
    """A backend whose file query fails (the database went away)."""

    def files_in_calls(self, call_hashes: list[str]) -> set[str]:
        raise BackendError("the database is unreachable")


def test_dependencies_that_cannot_be_read_are_logged_not_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    deps_module = pytest.importorskip("redund.deps")
    path = str(tmp_path / "out.txt")
    scheduler = Scheduler()
    scheduler.run(produce(path))
    scheduler.run(produce(path))  # cached: its files come from the store
    with caplog.at_level(logging.WARNING, logger="redund"):
        deps = deps_module.collect_dependencies(
            set(), {"workflow_path": __file__}, scheduler.jobs(), StoreDown()
        )
    assert deps["files"] == [path], "what the run itself saw is kept"
    assert any("cannot read the files of 1 cached call" in r.getMessage() for r in caplog.records)
