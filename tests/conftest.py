"""Shared fixtures."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary working directory (its .redun/ holds config and database)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REDUN_CONFIG", raising=False)
    monkeypatch.delenv("REDUN_DB_URI", raising=False)
    return tmp_path


def redun_cli() -> list[str]:
    """The command that runs the installed `redun` CLI with this interpreter."""
    return [PYTHON, "-m", "redun.cli.main"]


@pytest.fixture
def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("REDUN_CONFIG", None)
    env.pop("REDUN_DB_URI", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@pytest.fixture(scope="session")
def gcs_emulator():
    """gcp-storage-emulator on 127.0.0.1, shared by the session (wipe it per test)."""
    pytest.importorskip("gcp_storage_emulator")
    pytest.importorskip("google.cloud.storage")
    from tests.cloud import GcsEmulator

    emulator = GcsEmulator()
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def moto_server():
    """moto's S3 server on 127.0.0.1, shared by the session (reachable from subprocesses)."""
    pytest.importorskip("moto.server")
    from tests.cloud import MotoS3Server

    server = MotoS3Server()
    server.start()
    yield server
    server.stop()


def wait_for(condition: Callable[[], object], what: str, timeout: float = 30) -> None:
    """Poll ``condition`` until it is true; fail naming ``what`` after ``timeout`` seconds.

    For a state another thread or process reaches: tests wait on conditions,
    never on fixed sleeps.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.01)
