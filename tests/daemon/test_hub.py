"""The fan-out: per-client coalescing, bounded memory, order by sequence number."""

from __future__ import annotations

import asyncio

from redund.hub import Hub
from redund.model import Event, JobStateData, LogData


def job_event(seq: int, job: str, state: str, execution: str = "e1") -> Event:
    data = JobStateData(job, "", "t", state, "default", False, "", "", 0.0, "", None)
    return Event(execution, seq, float(seq), data)


def log_event(seq: int, text: str) -> Event:
    return Event("e1", seq, float(seq), LogData("j", "stdout", text))


def test_a_fast_client_gets_every_event_in_order() -> None:
    hub = Hub()
    sub = hub.subscribe(lambda event: True)
    received = []
    for seq, state in enumerate(("pending", "running", "done"), start=1):
        hub.publish([job_event(seq, "j1", state)])
        received += sub.take(100)
    assert [e.data.state for e in received] == ["pending", "running", "done"]
    assert sub.coalesced == 0


def test_a_client_that_keeps_up_gets_every_state_published_at_once() -> None:
    # The runner sends a fast job's pending, running and done in one frame:
    # a client reading promptly must still see all three, with no gaps in seq.
    hub = Hub()
    sub = hub.subscribe(lambda event: True)
    hub.publish([job_event(1, "j1", "pending"), job_event(2, "j1", "running")])
    hub.publish([job_event(3, "j1", "done")])
    events = sub.take(100)
    assert [e.data.state for e in events] == ["pending", "running", "done"]
    assert [e.seq for e in events] == [1, 2, 3]
    assert [e.folded for e in events] == [0, 0, 0] and sub.take_coalesced() == 0


def test_a_lagging_client_gets_each_jobs_latest_state() -> None:
    hub = Hub()
    sub = hub.subscribe(lambda event: True, fold_after=100)
    seq = 0
    for state in ("pending", "running", "done"):
        for job in range(1000):
            seq += 1
            hub.publish([job_event(seq, f"j{job}", state)])
    assert sub.pending_count == 1000  # bounded by the jobs, not the events
    events = sub.take(10_000)
    assert {e.data.state for e in events} == {"done"}
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    # Each event says how many of its job's states this client did not see.
    assert sum(e.folded for e in events) == 2000
    assert {e.folded for e in events[-900:]} == {2}
    assert sub.take_coalesced() == 2000 and sub.coalesced == 0


def test_folding_starts_only_under_back_pressure_and_stops_when_the_client_catches_up() -> None:
    hub = Hub()
    sub = hub.subscribe(lambda event: True, fold_after=3)
    hub.publish([job_event(i, f"j{i}", "pending") for i in range(1, 4)])
    hub.publish([job_event(4, "j1", "running")])  # 3 waiting: folds j1's pending
    assert [(e.data.job_id, e.data.state, e.folded) for e in sub.take(10)] == [
        ("j2", "pending", 0),
        ("j3", "pending", 0),
        ("j1", "running", 1),
    ]
    hub.publish([job_event(5, "j1", "done"), job_event(6, "j2", "done")])
    assert [e.folded for e in sub.take(10)] == [0, 0]


def test_a_partial_take_forgets_the_states_it_took() -> None:
    hub = Hub()
    sub = hub.subscribe(lambda event: True, fold_after=1)
    hub.publish([job_event(1, "a", "pending"), job_event(2, "b", "pending")])
    # fold_after=1: b's first state waited behind a's, nothing of b's to fold yet
    assert [e.data.job_id for e in sub.take(1)] == ["a"]
    hub.publish([job_event(3, "a", "running")])  # a's pending was taken: nothing to fold
    events = sub.take(10)
    assert [(e.data.job_id, e.folded) for e in events] == [("b", 0), ("a", 0)]


def test_log_characters_are_bounded_too() -> None:
    hub = Hub()
    sub = hub.subscribe(lambda event: True, max_log_chars=100)
    hub.publish([log_event(i, "x" * 40) for i in range(1, 5)])
    assert sub.pending_count == 2 and sub.coalesced == 2


def test_logs_beyond_the_cap_are_dropped_and_counted() -> None:
    hub = Hub()
    sub = hub.subscribe(lambda event: True, max_logs=10)
    hub.publish([log_event(i, f"line {i}\n") for i in range(1, 26)])
    assert sub.pending_count == 10 and sub.coalesced == 15
    assert len(sub.take(4)) == 4
    hub.publish([log_event(30, "more\n")])
    assert sub.pending_count == 7


def test_filters_and_unsubscribe() -> None:
    hub = Hub()
    mine = hub.subscribe(lambda event: event.execution_id == "e2")
    everything = hub.subscribe(lambda event: True)
    hub.publish([job_event(1, "a", "pending", "e1"), job_event(1, "b", "pending", "e2")])
    assert [e.execution_id for e in mine.take(10)] == ["e2"]
    hub.unsubscribe(everything)
    hub.publish([job_event(2, "b", "done", "e2")])
    assert everything.pending_count == 2 and len(hub) == 1


def test_wait_wakes_on_publish_and_close() -> None:
    async def scenario() -> list[int]:
        hub = Hub()
        sub = hub.subscribe(lambda event: True)
        got: list[int] = []

        async def reader() -> None:
            while not sub.closed:
                await sub.wait()
                got.extend(e.seq for e in sub.take(100))

        task = asyncio.create_task(reader())
        await asyncio.sleep(0)  # the reader now waits
        hub.publish([job_event(1, "a", "pending")])

        async def woken() -> None:
            while not got:
                await asyncio.sleep(0)

        await asyncio.wait_for(woken(), 5)  # the publish woke the reader
        hub.close_all()
        await asyncio.wait_for(task, 1)
        return got

    assert asyncio.run(scenario()) == [1]
