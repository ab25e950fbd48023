"""`kill -9` of the daemon: runners die with it; a restart lists the past and marks the rest."""

from __future__ import annotations

import os
import signal
import time

import pytest

from redun.client import ExecutionInterrupted

from .helpers import Daemon


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def test_kill_9_and_restart(fresh_daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(fresh_daemon.project)
    fresh_daemon.start()
    with fresh_daemon.client() as client:
        done = client.submit("flow.py", "fanout", args={"n": "50"})
        assert done.result(timeout=60) == sum(range(1, 51))
        hanging = client.submit("flow.py", "hang")
        for event in hanging.events():
            if event["type"] == "log":
                break
    pid = fresh_daemon.pid()
    factories = _children(pid)
    runner_pids = factories + [child for factory in factories for child in _children(factory)]
    assert len(runner_pids) >= 2, "expected the factory and the hanging runner"
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in runner_pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in runner_pids), "the factory and runners outlived the daemon"

    fresh_daemon.start()
    assert fresh_daemon.pid() != pid
    with fresh_daemon.client() as client:
        listed = {execution.id: execution for execution in client.executions()}
        assert done.id in listed and hanging.id in listed
        assert listed[done.id].status == 2  # DONE, read from the database
        assert listed[hanging.id].status == 5  # INTERRUPTED
        assert "daemon stopped" in listed[hanging.id].error.message
        with pytest.raises(ExecutionInterrupted):
            client.result(hanging.id, timeout=5)
        assert client.result(done.id, timeout=5) == sum(range(1, 51))
        events = list(client.events(done.id))
        assert events[0]["type"] == "execution_started" and events[-1]["status"] == "done"
        again = client.submit("flow.py", "fanout", args={"n": "50"})
        assert again.result(timeout=60) == sum(range(1, 51))
        states = [e["state"] for e in again.events() if e["type"] == "job_state"]
        assert states == ["cached"], states  # the whole call tree is reused
    assert not os.listdir(fresh_daemon.home / "redund-inflight")


def test_stop_cancels_runs_in_flight(fresh_daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(fresh_daemon.project)
    fresh_daemon.start()
    with fresh_daemon.client() as client:
        run = client.submit("flow.py", "hang")
        for event in run.events():
            if event["type"] == "log":
                break
    began = time.monotonic()
    result = fresh_daemon.stop()
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - began < 15
    fresh_daemon.start()
    with fresh_daemon.client() as client:
        assert client.execution(run.id).status == 4  # CANCELLED
