"""`kill -9` of the daemon: runners die with it; a restart lists the past and marks the rest."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from redun.client import ExecutionCancelled, ExecutionInterrupted
from tests.conftest import wait_for

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


def _factory_of(daemon_pid: int) -> int:
    for child in _children(daemon_pid):
        with open(f"/proc/{child}/cmdline", "rb") as handle:
            if b"redund.factory" in handle.read():
                return child
    raise AssertionError("the daemon has no runner factory")


def test_a_run_starts_in_a_runner_forked_before_it_was_submitted(
    fresh_daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fresh_daemon.project)
    fresh_daemon.start()
    factory = _factory_of(fresh_daemon.pid())
    runners: list[int] = []

    def one_spare() -> bool:
        return len([c for c in _children(factory) if c not in runners]) == 1 and not any(
            _alive(r) for r in runners
        )

    with fresh_daemon.client() as client:
        for _ in range(2):  # at start, and again once the previous run's runner ended
            wait_for(one_spare, "a spare runner, and no other")
            (spare,) = _children(factory)
            run = client.submit("flow.py", "hang")
            entry = fresh_daemon.home / "redund-inflight" / f"{run.id}.json"
            runners.append(int(json.loads(entry.read_text())["pid"]))
            assert runners[-1] == spare
            client.cancel(run.id)
            with pytest.raises(ExecutionCancelled):
                run.result(timeout=30)
        wait_for(one_spare, "a spare runner, and no other")
    (spare,) = _children(factory)
    os.kill(fresh_daemon.pid(), signal.SIGKILL)
    wait_for(lambda: not _alive(spare) and not _alive(factory), "the spare to die with its daemon")
