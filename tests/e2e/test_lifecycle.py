"""`redund start/status/stop`: one daemon per home, its files, stale leftovers, the socket's mode."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from .helpers import Daemon, redund


def test_start_status_stop(fresh_daemon: Daemon) -> None:
    began = time.monotonic()
    started = fresh_daemon.start()
    elapsed = time.monotonic() - began
    home = fresh_daemon.home
    assert "started" in started.stdout and str(home) in started.stdout
    assert elapsed < 10, f"redund start took {elapsed:.2f} s"
    for name in ("redund.pid", "redund.log", "redund.sock", "redund.json"):
        assert (home / name).exists(), name

    again = redund("start", "--home", str(home), env=fresh_daemon.env)
    assert again.returncode == 0
    assert "already running" in again.stdout

    status = redund("status", "--home", str(home), env=fresh_daemon.env)
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"pid:            {fresh_daemon.pid()}" in status.stdout
    assert "uptime" in status.stdout and "runs in flight: 0" in status.stdout

    stopped = fresh_daemon.stop()
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    status = redund("status", "--home", str(home), env=fresh_daemon.env)
    assert status.returncode == 1 and "not running" in status.stdout
    assert not (home / "redund.sock").exists() and not (home / "redund.pid").exists()


def test_socket_is_private(daemon: Daemon) -> None:
    mode = stat.S_IMODE(os.stat(daemon.home / "redund.sock").st_mode)
    assert mode == 0o600, oct(mode)


def test_home_from_environment(fresh_daemon: Daemon) -> None:
    env = dict(fresh_daemon.env, REDUN_HOME=str(fresh_daemon.home))
    result = redund("start", env=env)
    assert result.returncode == 0, result.stderr
    assert str(fresh_daemon.home) in result.stdout
    assert redund("status", env=env).returncode == 0


def test_stale_pid_and_socket_are_cleaned_up(fresh_daemon: Daemon) -> None:
    home = fresh_daemon.home
    home.mkdir(parents=True)
    (home / "redund.pid").write_text("999999\n")
    (home / "redund.sock").write_text("not a socket")
    assert redund("status", "--home", str(home), env=fresh_daemon.env).returncode == 1
    fresh_daemon.start()
    assert fresh_daemon.pid() != 999999
    assert stat.S_ISSOCK(os.stat(home / "redund.sock").st_mode)


def test_stop_when_not_running_is_fine(tmp_path: Path) -> None:
    result = redund("stop", "--home", str(tmp_path / ".redun"))
    assert result.returncode == 0 and "not running" in result.stdout


def test_foreground_refuses_second_daemon(fresh_daemon: Daemon) -> None:
    fresh_daemon.start()
    result = redund("start", "--foreground", "--home", str(fresh_daemon.home), env=fresh_daemon.env)
    assert result.returncode == 0 and "already running" in result.stdout
