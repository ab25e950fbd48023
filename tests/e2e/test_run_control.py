"""Run control between daemon and runner: cancel as a message, a follower that never hangs,
and every event for a client that keeps up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from redun.client import ExecutionCancelled, ExecutionFailed
from redun.client.convert import event_to_dict

from .helpers import Daemon, write_workflow

CONTROL = """
import gc
import os
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
def many(n: int = 40, gate: str = "") -> list:
    # With a gate, the calls below are made only once that file exists.
    while gate and not os.path.exists(gate):
        time.sleep(0.01)
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
    # The stream replays what happened before the client came (job states coalesced:
    # a job's latest only), then every event live. The run's 40 calls are made only
    # after the client has caught up, however loaded the machine: each must be seen
    # in every state, with no event missing.
    gate = daemon.project / "gate"
    with daemon.client() as client:
        run = client.submit(
            "control.py", "many", args={"n": "40", "gate": str(gate)}, no_cache=True
        )
        batches = client.event_batches(run.id, replay=True)
        replayed = []
        for batch in batches:
            replayed += [event_to_dict(event) for event in batch.events]
            if batch.caught_up:
                break
        gate.touch()
        live = [event_to_dict(event) for batch in batches for event in batch.events]
    seqs = [e["seq"] for e in replayed + live]
    assert seqs == sorted(set(seqs)), "no event twice, in order"
    first_live = max(e["seq"] for e in replayed) + 1
    assert [e["seq"] for e in live] == list(range(first_live, first_live + len(live))), (
        "no gaps for a client that keeps up"
    )
    assert live[-1]["type"] == "execution_finished"
    states: dict[str, list[str]] = {}
    for event in live:
        if event["type"] == "job_state":
            states.setdefault(event["job_id"], []).append(event["state"])
            assert "folded" not in event
    assert len(states) == 41  # the 40 calls and the root (whose start may be replayed)
    full = ["pending", "running", "done"]
    assert all(full[-len(s) :] == s for s in states.values()), states
    assert sum(s == full for s in states.values()) >= 40, states
