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


async def wait_for(
    pilot: object, predicate: Callable[[], object], *, timeout: float = 15.0, what: str = ""
) -> None:
    """Let the app run until ``predicate()`` holds (the app redraws on its own timers)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


@pytest.fixture
def project(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(daemon.project)
    return daemon.project


def run(coroutine: object) -> None:
    asyncio.run(coroutine)  # type: ignore[arg-type]
