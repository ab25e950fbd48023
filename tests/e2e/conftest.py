"""End-to-end fixtures: real daemons in temporary homes, real workflow files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import Daemon, write_workflow


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon shared by a test module (starting one costs about half a second)."""
    project = tmp_path_factory.mktemp("proj")
    write_workflow(project)
    running = Daemon(project)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def fresh_daemon(tmp_path: Path) -> Iterator[Daemon]:
    """A daemon of its own (for tests that stop, kill or restart it)."""
    write_workflow(tmp_path)
    running = Daemon(tmp_path)
    yield running
    running.stop()
