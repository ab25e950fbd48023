"""Run control between daemon and runner: cancel as a message, a follower that never hangs,
and every event for a client that keeps up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from redun.client import ExecutionCancelled, ExecutionFailed

from .helpers import Daemon, write_workflow

CONTROL = """
import gc
import signal
import threading
import time

from redun import task

# A workflow may ignore SIGINT for its own reasons (a library doing it at
# import). Cancelling must not depend on signals.
signal.signal(signal.SIGINT, signal.SIG_IGN)


@task
def stuck(seconds: float = 3600.0) -> float:
    print("stuck", flush=True)
    time.sleep(seconds)
    return seconds


@task
def tiny(i: int) -> int:
    return i


@task
def many(n: int = 40) -> list:
    return [tiny(i) for i in range(n)]


@task
def garble() -> int:
    # Plays a runner that sends a malformed frame (a bug on either side).
    channel = next(o for o in gc.get_objects() if type(o).__name__ == "BlockingChannel")
    channel.send(("events", [("J", "not", "a", "job", "update")]))
    time.sleep(3600)
    return 0
"""


@pytest.fixture
def control(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(daemon.project)
    return write_workflow(daemon.project, "control.py", CONTROL)


def test_cancel_is_a_message_to_the_scheduler_not_a_signal(daemon: Daemon, control: Path) -> None:
    with daemon.client() as client:
        run = client.submit("control.py", "stuck")
        for event in run.events():
            if event["type"] == "log" and "stuck" in event["text"]:
                break
        began = time.monotonic()
        run.cancel()
        with pytest.raises(ExecutionCancelled) as caught:
            run.result(timeout=30)
        # The runner stopped its scheduler itself (no kill after a grace period)...
        assert str(caught.value).endswith("cancelled by a client")
        assert "runner" not in str(caught.value)
        assert time.monotonic() - began < 2.5
    # ... so the store has the run and its job closed as cancelled by the runner.
    log = daemon.redun("log", run.id[:8], "--format", "json")
    assert log.returncode == 0, log.stderr
    assert '"cancelled"' in log.stdout


def test_a_malformed_frame_fails_the_run_instead_of_leaving_it_running(
    daemon: Daemon, control: Path
) -> None:
    with daemon.client() as client:
        run = client.submit("control.py", "garble")
        with pytest.raises(ExecutionFailed, match="internal error in the daemon"):
            run.result(timeout=30)
        assert run.status() == "failed"
        assert client.submit("flow.py", "greet").result(timeout=30) == "Hello, world!"


def test_a_client_that_keeps_up_sees_every_state_of_every_job(
    daemon: Daemon, control: Path
) -> None:
    with daemon.client() as client:
        run = client.submit("control.py", "many", args={"n": "40"}, no_cache=True)
        events = list(run.events(replay=True))
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), "no gaps for a client that keeps up"
    states: dict[str, list[str]] = {}
    for event in events:
        if event["type"] == "job_state":
            states.setdefault(event["job_id"], []).append(event["state"])
            assert "folded" not in event
    assert len(states) == 41
    assert all(s == ["pending", "running", "done"] for s in states.values()), states
