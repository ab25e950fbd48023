"""A task writing output as fast as it can: daemon and runner stay bounded, health stays quick.

(``bench/daemon_flood.py`` measures the same for the README's figures.)
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

import pytest

from .helpers import Daemon, write_workflow

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from daemon_flood import FLOOD, Sampler  # noqa: E402

LIMIT_MB = 300  # a generous bound: a few times the daemon's resting size
WINDOW = 6.0  # seconds of flooding; unbounded, the runner passed 1.5 GB in that time


@pytest.mark.slow
@pytest.mark.parametrize("task", ["write", "printing"])
def test_a_flooding_task_keeps_daemon_and_runner_bounded(
    fresh_daemon: Daemon, monkeypatch: pytest.MonkeyPatch, task: str
) -> None:
    write_workflow(fresh_daemon.project, "flood.py", FLOOD)
    monkeypatch.chdir(fresh_daemon.project)
    fresh_daemon.start()
    sampler = Sampler(fresh_daemon.home, fresh_daemon.pid())
    with fresh_daemon.client() as client:
        run = client.submit("flood.py", task)
        streamed: list[int] = []

        def follow() -> None:  # a client that keeps up, as the TUI does
            for event in run.events(replay=True):
                if event["type"] == "log":
                    streamed.append(len(event["text"]))

        threads = [
            threading.Thread(target=follow, daemon=True),
            threading.Thread(target=sampler.memory_loop, daemon=True),
            threading.Thread(target=sampler.health_loop, daemon=True),
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + WINDOW
        while time.monotonic() < deadline:
            assert max(sampler.rss["daemon"], default=0) < LIMIT_MB * 1024, sampler.rss
            assert max(sampler.rss["runners"], default=0) < LIMIT_MB * 1024, sampler.rss
            time.sleep(0.2)
        sampler.stop()
        for thread in threads[1:]:
            thread.join()
        assert client.health().running_executions == 1  # it still runs, forever
        run.cancel()
        assert run.status() == "cancelled"
    assert sampler.peak_daemon_kb < LIMIT_MB * 1024
    assert sampler.peak_runner_kb < LIMIT_MB * 1024
    assert not sampler.health_errors
    # README promises < 50 ms; a timed test on a shared machine only checks that
    # health never stalled behind the flood (bench/daemon_flood.py has the figures).
    assert statistics.median(sampler.health_ms) < 100
    assert max(sampler.health_ms) < 1000
    assert 0 < sum(streamed) < 5 << 20  # the output is capped at its source
