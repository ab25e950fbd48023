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


@pytest.fixture(scope="session", autouse=True)
def _code_cache(tmp_path_factory: pytest.TempPathFactory):
    """The code-hash cache of the whole session (and its subprocesses) in a temporary
    directory, not the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REDUN_CODE_CACHE", str(tmp_path_factory.mktemp("codehash-cache")))
        yield


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


@pytest.fixture(scope="session")
def moto_batch_server(moto_server):
    """moto's server with its Batch job runner replaced by local processes (tests/moto_batch.py)."""
    pytest.importorskip(
        "moto.batch", reason="moto's Batch needs the dev extras: pip install 'moto[server,batch]'"
    )
    from tests.moto_batch import BatchHarness

    harness = BatchHarness(moto_server.url).install()
    yield harness
    harness.kill_all()
    harness.uninstall()


@pytest.fixture
def moto_batch(moto_batch_server, monkeypatch, tmp_path):
    """A fresh moto (queue, scratch bucket), AWS env pointing at it; job processes killed after."""
    import boto3

    from redun.file.filesystem import get_filesystem
    from tests.cloud import apply_env, aws_env
    from tests.sdk.aws_batch.helpers import BUCKET

    moto_batch_server.reset()
    apply_env(monkeypatch, aws_env(tmp_path, moto_batch_server.url))
    get_filesystem(proto="s3").reset_client()
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    yield moto_batch_server
    moto_batch_server.kill_all()
    get_filesystem(proto="s3").reset_client()


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


@pytest.fixture(scope="session")
def fake_batch_server():
    """A fake GCP BatchService on 127.0.0.1 (see tests/fake_batch.py), shared by the session."""
    pytest.importorskip("google.cloud.batch_v1")
    pytest.importorskip("google.cloud.logging_v2")
    from tests.fake_batch import FakeBatch

    fake = FakeBatch().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_batch(fake_batch_server):
    """The fake BatchService with no jobs, counts cleared; every task process killed after."""
    fake_batch_server.reset()
    yield fake_batch_server
    fake_batch_server.reset()


@pytest.fixture
def gcs_scratch(gcs_emulator, monkeypatch):
    """The GCS emulator, wiped, with the GCP Batch tests' scratch bucket; env points at it."""
    from google.cloud import storage

    from redun.file.filesystem import get_filesystem
    from tests.cloud import apply_env, gcs_env
    from tests.sdk.gcp.helpers import BUCKET

    gcs_emulator.wipe()
    apply_env(monkeypatch, gcs_env(gcs_emulator.url))
    get_filesystem(proto="gs").reset_client()
    storage.Client().create_bucket(BUCKET)
    yield gcs_emulator
    get_filesystem(proto="gs").reset_client()


_exit_status: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


def pytest_unconfigure(config: pytest.Config) -> None:
    """A test that leaves a non-daemon thread running (a run it started and never
    released) would keep the interpreter from exiting, and CI would wait out its whole
    time limit on a suite that has finished. Give such threads a moment, then name them
    and their stacks and exit with the suite's status (failed if it had passed)."""
    import threading
    import traceback

    def stragglers() -> list[threading.Thread]:
        current = threading.current_thread()
        return [
            thread
            for thread in threading.enumerate()
            if thread is not current and not thread.daemon and thread.is_alive()
        ]

    deadline = time.monotonic() + 20
    while stragglers() and time.monotonic() < deadline:
        time.sleep(0.1)
    left = stragglers()
    if not left:
        return
    frames = sys._current_frames()
    out = sys.__stderr__ or sys.stderr
    out.write(f"\n{len(left)} non-daemon thread(s) still running after the tests:\n")
    for thread in left:
        out.write(f"--- {thread.name}\n")
        frame = frames.get(thread.ident or 0)
        if frame is not None:
            out.write("".join(traceback.format_stack(frame)))
    out.flush()
    status = _exit_status[-1] if _exit_status else 1
    os._exit(status or 1)
