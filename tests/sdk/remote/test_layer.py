"""The shared layer with a back end written here: how a new back end plugs in.

``ThreadBackend`` runs each element by calling the real entrypoint in a
thread of this process (its code package unpacked in a temporary directory),
and reports platform states as a cloud would. Tests bend it the way real
platforms misbehave: polls that fail, jobs that are lost before they start.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from redun import Scheduler, task
from redun.cli.cmd_oneshot import add_arguments
from redun.config import Config
from redun.errors import ExecutorError
from redun.executors.remote import (
    InfrastructureError,
    Observation,
    Phase,
    RemoteBackend,
    RemoteExecutor,
    Report,
    Submission,
)
from redun.executors.remote.entrypoint import main as oneshot
from redun.scheduler.job import Job


class ThreadBackend(RemoteBackend):
    """Runs elements in threads through the real entrypoint; at most one poll per call."""

    poll_interval = 0.05
    lost_after = 0.5

    def __init__(self, name: str, config: dict) -> None:
        super().__init__(name, config)
        self.jobs: dict[str, dict[int, int | None]] = {}
        self.submitted: list[Submission] = []
        self.cancelled: list[str] = []
        self.release = threading.Event()
        self.release.set()

    def submit(self, submission: Submission) -> str:
        self.submitted.append(submission)
        size = submission.size or 1
        self.jobs[submission.name] = dict.fromkeys(range(size))
        for index in range(size):
            threading.Thread(target=self._run, args=(submission, index), daemon=True).start()
        return submission.name

    def _run(self, submission: Submission, index: int) -> None:
        self.release.wait()
        parser = argparse.ArgumentParser()
        add_arguments(parser)
        with tempfile.TemporaryDirectory() as code_dir:
            argv = [*submission.command[2:], "--code-dir", code_dir]
            if submission.is_array:
                argv += ["--array-index", str(index)]
            self.jobs[submission.name][index] = oneshot(parser.parse_args(argv))

    def poll(self, handles: list) -> dict:
        reports = {}
        for handle in handles:
            codes = self.jobs.get(handle)
            if codes is None:
                continue
            elements = {
                index: Observation(Phase.SUCCEEDED if code == 0 else Phase.FAILED)
                for index, code in codes.items()
                if code is not None
            }
            done = len(elements) == len(codes)
            phase = Phase.SUCCEEDED if done else Phase.RUNNING
            reports[handle] = Report(phase, elements=elements)
        return reports

    def cancel(self, handles: list) -> None:
        self.cancelled.extend(handles)


class ThreadExecutor(RemoteExecutor):
    backend_class: type[ThreadBackend] = ThreadBackend

    def make_backend(self) -> RemoteBackend:
        return self.backend_class(self.name, self.config)


@task(executor="inline", namespace="layer")
def triple(x: int) -> int:
    print(f"tripling {x}")
    return 3 * x


@task(namespace="layer")
def fan(n: int) -> list:
    return [triple(i) for i in range(n)]


def make(tmp_path: Path, backend_class: type[ThreadBackend] = ThreadBackend, **extra: str):
    config = Config({"executors.inline": {"scratch": str(tmp_path / "s")}})
    scheduler = Scheduler(config=config)
    executor = type("Custom", (ThreadExecutor,), {"backend_class": backend_class})(
        "inline",
        scheduler,
        {"scratch": str(tmp_path / "s"), "code_root": str(tmp_path), **extra},
    )
    scheduler.add_executor(executor)
    return scheduler, executor


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Scheduler, ThreadExecutor]]:
    scheduler, executor = make(tmp_path)
    yield scheduler, executor
    scheduler.stop()


def test_a_back_end_of_a_few_hooks_runs_arrays(setup) -> None:
    scheduler, executor = setup
    assert scheduler.run(fan(5)) == [0, 3, 6, 9, 12]
    [submission] = executor.backend.submitted
    assert submission.size == 5 and submission.key.startswith("a-")
    assert submission.name.startswith("redun-a-") and len(submission.name) <= 63
    assert submission.labels["redun-task"] == "layer.triple"
    assert submission.command[:2] == ["redun", "oneshot"]
    assert scheduler.run(triple(100)) == 300  # a lone call: a plain job
    assert executor.backend.submitted[-1].size is None


def test_without_a_code_package_jobs_import_tasks_from_their_environment(tmp_path) -> None:
    (tmp_path / "some_module.py").write_text("X = 1\n")
    scheduler, executor = make(tmp_path, code_package="false")
    try:
        assert scheduler.run(triple(4)) == 12  # its module is importable where it runs
    finally:
        scheduler.stop()
    [submission] = executor.backend.submitted
    assert "--code" not in submission.command
    assert not (tmp_path / "s" / "code").exists()  # nothing packed, nothing uploaded


class FailingPolls(ThreadBackend):
    def poll(self, handles: list) -> dict:
        raise ConnectionError("the platform's API is down")


def test_jobs_fail_when_the_platform_cannot_be_polled(tmp_path: Path) -> None:
    scheduler, executor = make(tmp_path, FailingPolls)
    try:
        with pytest.raises(ExecutorError, match="could not poll its platform.*API is down"):
            scheduler.run(triple(1))
        assert executor.backend.cancelled  # and it tried to stop them
    finally:
        scheduler.stop()


class LosesFirstAttempt(ThreadBackend):
    """A call's first submission never starts: the platform forgets it (a lost host)."""

    def submit(self, submission: Submission) -> str:
        if all(earlier.key != submission.key for earlier in self.submitted):
            self.submitted.append(submission)
            return "lost-" + submission.name
        return super().submit(submission)


def test_a_job_the_platform_forgets_is_lost_then_retried(tmp_path: Path) -> None:
    scheduler, executor = make(tmp_path, LosesFirstAttempt)
    try:
        assert scheduler.run(triple.options(retries=1)(7)) == 21
        assert len(executor.backend.submitted) == 2
        with pytest.raises(InfrastructureError, match="lost by its platform"):
            scheduler.run(triple.options(retries=0)(8))
    finally:
        scheduler.stop()


def test_cancelling_every_element_cancels_the_platform_job(setup) -> None:
    scheduler, executor = setup
    executor.backend.release.clear()  # nothing runs until released
    jobs = []
    for i in range(3):
        expr = triple(i)
        job = Job(triple, expr, None)
        job.call_args, job.eval_hash, job.options = (i,), f"{i:040d}", triple.options_view
        jobs.append(job)
    try:
        executor.submit_batch(jobs)
        deadline = time.monotonic() + 30
        while not executor.backend.submitted and time.monotonic() < deadline:
            time.sleep(0.01)
        executor.cancel_batch(jobs[:2])
        assert executor.backend.cancelled == []  # one element is still wanted
        executor.cancel_batch(jobs[2:])
        # (now, or as soon as the submission the cancel raced with is registered)
        name = executor.backend.submitted[0].name
        while executor.backend.cancelled != [name] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert executor.backend.cancelled == [name]
    finally:
        executor.backend.release.set()
