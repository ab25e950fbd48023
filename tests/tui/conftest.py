"""Fixtures of the TUI tests: a real daemon in a temporary home, a fixed clock, waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..e2e.helpers import Daemon, write_workflow


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A daemon shared by a test module, with the end-to-end workflow ``flow.py``."""
    project = tmp_path_factory.mktemp("tui")
    write_workflow(project)
    running = Daemon(project)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def fresh_daemon(tmp_path: Path) -> Iterator[Daemon]:
    """A daemon of its own, not started (for tests that kill or restart it)."""
    write_workflow(tmp_path)
    running = Daemon(tmp_path)
    yield running
    running.stop()


async def wait_for(
    pilot: object, predicate: Callable[[], object], *, timeout: float = 15.0, what: str = ""
) -> None:
    """Let the app run until ``predicate()`` holds (the app redraws on its own timers)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


#: Worker groups that last as long as their screen (streams): not waited for.
STREAM_GROUPS = frozenset({"executions-follow", "execution-follow", "job-logs"})


def loaded(app: object) -> bool:
    """Whether every worker that loads data has finished (streams go on)."""
    from textual.worker import WorkerState

    return not any(
        worker.group not in STREAM_GROUPS
        and worker.state in (WorkerState.PENDING, WorkerState.RUNNING)
        for worker in app.workers  # type: ignore[attr-defined]
    )


async def settle(pilot: object, app: object) -> None:
    """Until the data is loaded and every message it caused was handled (no fixed sleep)."""
    await wait_for(pilot, lambda: loaded(app), what="the workers that load data")
    await pilot.wait_for_scheduled_animations()  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]


@pytest.fixture
def project(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(daemon.project)
    return daemon.project


def run(coroutine: object) -> None:
    asyncio.run(coroutine)  # type: ignore[arg-type]
