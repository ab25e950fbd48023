"""The warm Spark host's process life and wire, without a JVM (no session is started)."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from redun.spark import SparkSetupError
from redun.spark.host import HostedDriver, driver_for, keep_warm_in
from redun.spark.settings import settings_from_config


def _wait(condition: Callable[[], Any], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie child of this test still answers kill(0): reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


@pytest.fixture
def owner() -> Iterator[subprocess.Popen]:
    """A process standing in for the daemon's runner factory."""
    process = subprocess.Popen(["sleep", "120"])
    yield process
    process.kill()
    process.wait()


def test_the_host_serves_and_ends_with_its_owner(tmp_path: Path, owner) -> None:
    directory = tmp_path / "spark"
    driver = HostedDriver(str(directory), owner.pid)
    driver._ensure_host()
    hello = driver.request("hello")
    assert hello["owner_pid"] == owner.pid
    host = hello["pid"]
    mode = stat.S_IMODE(os.stat(directory / "host.sock").st_mode)
    assert mode == 0o600
    driver._ensure_host()  # running for this owner: nothing new starts
    assert driver.request("hello")["pid"] == host
    assert driver.request("has_package", "0" * 64) is None
    assert driver.progress(["redun-nothing"])["redun-nothing"].text == ""

    # Setup errors come back as themselves, one line, before any JVM starts.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = settings_from_config("spark", {"master": f"spark://127.0.0.1:{port}"})
    from redun.spark.preflight import find_java

    expected = "cannot reach the Spark master" if find_java() else "Spark needs Java"
    with pytest.raises(SparkSetupError, match=expected):
        driver.acquire(object(), settings)

    owner.kill()
    owner.wait()
    _wait(lambda: _gone(host), "the host to exit with its owner")


def test_a_new_owner_replaces_the_host_of_an_old_one(tmp_path: Path, owner) -> None:
    directory = str(tmp_path / "spark")
    first = HostedDriver(directory, os.getpid())
    first._ensure_host()
    old = first.request("hello")["pid"]
    second = HostedDriver(directory, owner.pid)
    second._ensure_host()
    new = second.request("hello")
    assert new["owner_pid"] == owner.pid and new["pid"] != old
    _wait(lambda: _gone(old), "the old host to stop")
    second.request("stop")
    _wait(lambda: _gone(new["pid"]), "the new host to stop")


def test_runs_under_a_daemon_use_the_host_unless_told_not_to(tmp_path: Path) -> None:
    import redun.spark.host as host_module

    saved = host_module._warm
    try:
        keep_warm_in(str(tmp_path), 1)
        warm = driver_for(settings_from_config("s", {}))
        assert isinstance(warm, HostedDriver) and warm.directory == str(tmp_path)
        cold = driver_for(settings_from_config("s", {"keep_warm": "false"}))
        assert not isinstance(cold, HostedDriver)
    finally:
        host_module._warm = saved
