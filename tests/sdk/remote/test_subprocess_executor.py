"""The subprocess executor in a scheduler: real launchers, real entrypoint processes."""

from __future__ import annotations

import os
import signal
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from redun import Scheduler
from redun.config import Config
from redun.events import JobStateChanged, LogLine
from redun.executors.remote.errors import InfrastructureError, RemoteTaskError
from redun.workflow.loader import find_task, import_workflow

from .helpers import FLOW, launcher_pids, remote_section, wait_until


class Run:
    """A scheduler with a ``remote`` subprocess executor, and what its events said."""

    def __init__(self, tmp_path: Path, **extra: str) -> None:
        self.tmp_path = tmp_path
        code = tmp_path / "code"
        code.mkdir(exist_ok=True)
        (code / "subflow.py").write_text(FLOW)
        self.module = import_workflow(str(code / "subflow.py"))
        config = Config({"executors.remote": remote_section(tmp_path, **extra)})
        self.scheduler = Scheduler(config=config)
        self.states: dict[str, list[str]] = {}
        self.tasks: dict[str, str] = {}
        self.logs: list[tuple[str, str, str]] = []
        self.scheduler.events.subscribe(self._record)

    def _record(self, event) -> None:
        if isinstance(event, JobStateChanged):
            self.states.setdefault(event.job_id, []).append(event.state)
            self.tasks[event.job_id] = event.task
        elif isinstance(event, LogLine):
            self.logs.append((event.job_id, event.stream, event.text))

    def task(self, name: str):
        return find_task(self.module, name, "subflow")

    def run(self, name: str, *args, **options):
        task = self.task(name)
        if options:
            task = task.options(**options)
        return self.scheduler.run(task(*args))

    @property
    def executor(self):
        return self.scheduler.executors["remote"]

    def output(self) -> str:
        return "".join(text for _, _, text in self.logs)


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    started = Run(tmp_path)
    yield started
    started.scheduler.stop()


def test_a_single_job_runs_in_a_fresh_process_and_is_queued_first(run: Run) -> None:
    value, pid, cwd = run.run("square", 7)
    assert value == 49 and pid != os.getpid()
    assert not cwd.startswith(str(run.tmp_path / "code"))  # a temporary directory of its own
    [job_states] = run.states.values()
    assert job_states == ["pending", "queued", "running", "done"]
    assert "squaring 7\n" in run.output()  # its output is the job's log
    assert run.executor.submissions == 1


def test_a_fan_out_is_one_array_and_options_make_groups(run: Run) -> None:
    assert run.run("two_groups", 3) == [0, 1, 4, 10000, 10201, 10404]
    assert run.executor.submissions == 2  # one array per (task, options)
    assert run.run("fan", 12) == [i * i for i in range(12)]
    assert run.executor.submissions == 3  # 0..2 were cached; 3..11 are one array


def test_a_failing_task_brings_its_traceback_and_output(run: Run) -> None:
    with pytest.raises(ValueError, match="cannot take 3") as caught:
        run.run("fail", 3)
    text = caught.value.__redun_traceback__
    assert "Task failed remotely: job" in text and "(task subflow.fail)" in text
    assert 'raise ValueError(f"cannot take {x}")' in text
    assert "failing 3 soon" in text  # the output's tail goes with the error
    assert "failing 3 soon\n" in run.output()
    assert run.executor.submissions == 1  # the task's own failure is never retried


def test_a_failing_task_is_not_retried_even_with_retries(run: Run) -> None:
    with pytest.raises(ValueError):
        run.run("fail", 4, retries=2)
    assert run.executor.submissions == 1


def test_an_argument_that_cannot_be_unpickled_there_fails_clearly(run: Run) -> None:
    ghost = types.ModuleType("ghost_of_the_scheduler")
    exec("class Ghost:\n    pass\n", ghost.__dict__)
    sys.modules["ghost_of_the_scheduler"] = ghost
    try:
        with pytest.raises(RemoteTaskError) as caught:
            run.run("kind_of", ghost.Ghost())
    finally:
        del sys.modules["ghost_of_the_scheduler"]
    message = str(caught.value)
    assert "cannot unpickle the arguments of job" in message
    assert "(task subflow.kind_of)" in message and "ghost_of_the_scheduler" in message
    assert run.run("kind_of", 3) == "int"


def test_the_code_package_is_uploaded_once(tmp_path: Path) -> None:
    first = Run(tmp_path)
    try:
        first.run("square", 2)
    finally:
        first.scheduler.stop()
    [package] = (tmp_path / "scratch" / "code").iterdir()
    before = package.stat()
    second = Run(tmp_path)
    try:
        second.scheduler.run(second.task("square")(3))
    finally:
        second.scheduler.stop()
    after = package.stat()
    assert [p.name for p in (tmp_path / "scratch" / "code").iterdir()] == [package.name]
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    (tmp_path / "code" / "helper.py").write_text("X = 1\n")  # new code: a new package
    third = Run(tmp_path)
    try:
        third.run("square", 4)
    finally:
        third.scheduler.stop()
    assert len(list((tmp_path / "scratch" / "code").iterdir())) == 2


def _lose_launcher_while_running(run: Run, retries: int):
    flag, marker = run.tmp_path / "flag", run.tmp_path / "marker"
    state_dir = run.tmp_path / "scratch" / "subprocess"
    outcome: dict = {}

    def go() -> None:
        try:
            outcome["value"] = run.run("wait_for", str(flag), str(marker), retries=retries)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    wait_until(lambda: marker.exists() and marker.read_text().count("\n") == 1, what="first run")
    [launcher] = launcher_pids(state_dir)
    os.killpg(launcher, signal.SIGKILL)  # the host is gone
    flag.write_text("go")
    thread.join(timeout=60)
    assert not thread.is_alive()
    return outcome, marker.read_text().count("\n")


def test_a_lost_job_is_retried_up_to_retries(run: Run) -> None:
    outcome, runs = _lose_launcher_while_running(run, retries=1)
    assert outcome.get("value") == "released", outcome
    assert runs == 2 and run.executor.submissions == 2
    assert "lost by its platform" in run.output() and "retrying" in run.output()


def test_a_lost_job_fails_as_infrastructure_without_retries(run: Run) -> None:
    outcome, runs = _lose_launcher_while_running(run, retries=0)
    error = outcome.get("error")
    assert isinstance(error, InfrastructureError), outcome
    assert "launcher process is gone" in str(error)
    assert runs == 1 and run.executor.submissions == 1


@pytest.mark.slow
def test_a_fan_out_of_500_is_one_array_submission(tmp_path: Path) -> None:
    big = Run(tmp_path, max_concurrency="4")
    try:
        assert big.run("fan", 500) == [i * i for i in range(500)]
        assert big.executor.submissions == 1
    finally:
        big.scheduler.stop()
