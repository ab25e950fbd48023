"""`kill -9` of a runner and of the daemon: the store never keeps a finished run's
jobs running (`redun log` shows them closed, with why)."""

from __future__ import annotations

import json
import os
import signal

import pytest

from redun.client import ExecutionFailed, ExecutionInterrupted
from redund.store import Store
from tests.conftest import wait_for

from .helpers import Daemon


def stored_states(store: Store, execution_id: str) -> list[str]:
    return [job.state for job in store.list_jobs(execution_id)]


def start_hanging_run(daemon: Daemon) -> tuple[str, int, Store]:
    """A run whose one job is recorded as running; returns its id, runner pid and the store."""
    daemon.start()
    with daemon.client() as client:
        run = client.submit("flow.py", "hang")
    store = Store.for_home(str(daemon.home))
    # The recorder writes a running job's row once it has run for a second.
    wait_for(lambda: stored_states(store, run.id) == ["running"], "the running job row")
    entry = daemon.home / "redund-inflight" / f"{run.id}.json"
    runner_pid = int(json.loads(entry.read_text())["pid"])
    return run.id, runner_pid, store


def test_kill_9_of_a_runner_closes_its_jobs(
    fresh_daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fresh_daemon.project)
    execution_id, runner_pid, store = start_hanging_run(fresh_daemon)
    os.kill(runner_pid, signal.SIGKILL)
    with fresh_daemon.client() as client, pytest.raises(ExecutionFailed, match="SIGKILL"):
        client.result(execution_id, timeout=60)
    # The daemon answers from memory first, then records the end in the database.
    wait_for(lambda: stored_states(store, execution_id) != ["running"], "the end in the store")
    (job,) = store.list_jobs(execution_id)
    assert job.state == "failed" and job.end_time
    assert job.error is not None and job.error.type == "RunnerDied"
    # The journal entry goes once that commit returns: just after the store shows it.
    inflight = fresh_daemon.home / "redund-inflight"
    wait_for(lambda: not os.listdir(inflight), "the journal entry to go", timeout=10)
    log = fresh_daemon.redun("log", execution_id, "--format", "json")
    assert log.returncode == 0, log.stderr
    assert [j["state"] for j in json.loads(log.stdout)["jobs"]] == ["failed"]


def test_kill_9_of_the_daemon_closes_the_interrupted_runs_jobs(
    fresh_daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fresh_daemon.project)
    execution_id, runner_pid, store = start_hanging_run(fresh_daemon)
    os.kill(fresh_daemon.pid(), signal.SIGKILL)
    wait_for(lambda: not _alive(runner_pid), "the runner to die with its daemon")
    assert stored_states(store, execution_id) == ["running"]  # what the crash left
    fresh_daemon.start()  # recovers the journal before it serves
    (job,) = store.list_jobs(execution_id)
    assert job.state == "cancelled" and job.end_time
    assert job.error is not None and job.error.type == "Interrupted"
    assert "daemon stopped" in job.error.message
    with fresh_daemon.client() as client, pytest.raises(ExecutionInterrupted):
        client.result(execution_id, timeout=10)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
