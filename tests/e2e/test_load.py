"""Many clients streaming one big run: everyone keeps up or is coalesced; nobody hurts anyone."""

from __future__ import annotations

import threading
import time

import pytest

from redun.client import Client
from redun.client.convert import state_name

from .helpers import Daemon


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _stream(
    home: str, execution_id: str, out: dict, *, slow: bool = False, stop_after: int = 0
) -> None:
    final: dict[str, str] = {}
    coalesced = batches = 0
    finished = None
    with Client(home=home) as client:
        for batch in client.event_batches(execution_id, replay=True):
            batches += 1
            coalesced += batch.coalesced
            for event in batch.events:
                kind = event.WhichOneof("payload")
                if kind == "job_state":
                    final[event.job_state.job_id] = state_name(event.job_state.state)
                elif kind == "execution_finished":
                    finished = event.execution_finished.status
            if stop_after and batches >= stop_after:
                break  # a client that goes away mid-stream
            if slow:
                time.sleep(0.2)
    out.update(final=final, coalesced=coalesced, finished=finished, batches=batches)


def _load(daemon: Daemon, monkeypatch: pytest.MonkeyPatch, *, clients: int, n: int) -> None:
    monkeypatch.chdir(daemon.project)
    pid = daemon.pid()
    with daemon.client() as client:
        run = client.submit("flow.py", "fanout", args={"n": str(n)}, no_cache=True)
        results: list[dict] = [{} for _ in range(clients)]
        threads = [
            threading.Thread(
                target=_stream,
                args=(str(daemon.home), run.id, results[i]),
                kwargs={"slow": i == 0, "stop_after": 2 if i == 1 else 0},
            )
            for i in range(clients)
        ]
        for thread in threads:
            thread.start()
        peak = 0
        while any(thread.is_alive() for thread in threads):
            peak = max(peak, _rss_kb(pid))
            time.sleep(0.05)
        for thread in threads:
            thread.join()
        assert run.result(timeout=120) == n * (n + 1) // 2
        assert client.health().pid == pid
    for index, result in enumerate(results):
        if index == 1:
            assert result["batches"] == 2
            continue
        assert result["finished"] == 2, f"client {index} did not see the run finish"
        assert len(result["final"]) == n + 2, f"client {index} missed jobs"
        assert set(result["final"].values()) == {"done"}
    assert peak < 600_000, f"daemon RSS peaked at {peak} kB"


def test_fifty_clients_stream_a_run(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    _load(daemon, monkeypatch, clients=50, n=2000)


@pytest.mark.slow
def test_fifty_clients_stream_a_10000_job_run(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(daemon, monkeypatch, clients=50, n=10_000)
