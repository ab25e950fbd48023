"""The runner's event forwarder: output capped at the source, bounded frames, no state lost."""

from __future__ import annotations

import socket
import threading

from redun.events import JobStateChanged
from redund import forwarding
from redund.wire import JOB_TAG, LOG_TAG, BlockingChannel, ChannelClosed, JobUpdate, LogChunk


class Receiver:
    """The daemon's end: collects frames in a thread."""

    def __init__(self, sock: socket.socket) -> None:
        self.channel = BlockingChannel(sock)
        self.frames: list[list[tuple]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                message = self.channel.recv()
            except (ChannelClosed, OSError):
                return
            assert message[0] == "events"
            self.frames.append(message[1])

    def items(self) -> list[tuple]:
        return [item for frame in self.frames for item in frame]


def _pair() -> tuple[forwarding.EventForwarder, Receiver, socket.socket]:
    ours, theirs = socket.socketpair()
    receiver = Receiver(theirs)
    return forwarding.EventForwarder(BlockingChannel(ours)), receiver, ours


def test_output_is_capped_per_run_and_frames_stay_small() -> None:
    forwarder, receiver, sock = _pair()
    chunk = "y" * 10_000
    for _ in range(3_000):  # 30 MB written; the run keeps MAX_RUN_LOG_CHARS
        forwarder.log("job1", "stdout", chunk)
    forwarder.close()
    sock.close()
    receiver.thread.join(10)
    chunks = [LogChunk.from_wire(item) for item in receiver.items() if item[0] == LOG_TAG]
    text = "".join(c.text for c in chunks)
    assert len(text) <= forwarding.MAX_RUN_LOG_CHARS + len(forwarding.TRUNCATED_LINE) + 1
    assert text.endswith(forwarding.TRUNCATED_LINE)
    assert forwarder.dropped_chars >= 30_000_000 - forwarding.MAX_RUN_LOG_CHARS
    # Consecutive output of one job travels in few, large items, in bounded frames.
    assert len(chunks) <= 2 * forwarding.MAX_RUN_LOG_CHARS // forwarding.MAX_LOG_ITEM_CHARS
    for frame in receiver.frames:
        assert len(frame) <= forwarding.MAX_FRAME_ITEMS
        size = sum(len(item[4]) for item in frame if item[0] == LOG_TAG)
        assert size <= forwarding.MAX_FRAME_CHARS + forwarding.MAX_LOG_ITEM_CHARS


def test_job_states_are_never_dropped_and_keep_their_order() -> None:
    forwarder, receiver, sock = _pair()
    for i in range(5_000):
        for state in ("pending", "running", "done"):
            forwarder(JobStateChanged("e", job_id=f"j{i}", task="t", state=state))
        forwarder.log(f"j{i}", "stdout", "x" * 2_000)
    forwarder.close()
    sock.close()
    receiver.thread.join(10)
    updates = [JobUpdate.from_wire(item) for item in receiver.items() if item[0] == JOB_TAG]
    assert len(updates) == 15_000
    assert [u.state for u in updates[:3]] == ["pending", "running", "done"]
    assert all(len(frame) <= forwarding.MAX_FRAME_ITEMS for frame in receiver.frames)


def test_a_job_observed_directly_travels_as_its_event_would() -> None:
    from redun import Scheduler, task

    @task(namespace="forwarder_test")
    def double(i: int) -> int:
        return 2 * i

    @task(namespace="forwarder_test")
    def pair() -> list:
        return [double(1), double(2)]

    observed, observed_receiver, observed_sock = _pair()
    evented, evented_receiver, evented_sock = _pair()
    scheduler = Scheduler()
    scheduler.events.attach(observed)  # through job_changed: no JobStateChanged built
    scheduler.events.subscribe(evented)  # through the events
    assert scheduler.run(pair()) == [2, 4]
    for forwarder, sock, receiver in (
        (observed, observed_sock, observed_receiver),
        (evented, evented_sock, evented_receiver),
    ):
        forwarder.close()
        sock.close()
        receiver.thread.join(10)

    def updates(receiver: Receiver) -> list[tuple]:
        found = [JobUpdate.from_wire(item) for item in receiver.items() if item[0] == JOB_TAG]
        # All but the time: the two paths read the clock at different moments.
        return [(u.job_id, u.parent_id, u.task, u.state, u.executor, u.cached, u.reason,
                 u.call_hash, u.args_summary, u.error, u.task_hash) for u in found]  # fmt: skip

    got = updates(observed_receiver)
    assert got == updates(evented_receiver)
    # Every field where the record puts it (the forwarder builds the wire tuple itself).
    jobs = {job.id: job for job in scheduler.jobs()}
    for update in (JobUpdate.from_wire(i) for i in observed_receiver.items() if i[0] == JOB_TAG):
        job = jobs[update.job_id]
        first = update.args_summary is not None
        assert (update.task, update.executor, update.cached) == (
            job.task.fullname,
            job.executor_name,
            False,
        )
        assert update.parent_id == (job.parent_job.id if job.parent_job else "")
        assert update.task_hash == (job.task.hash if first else None)
        assert update.call_hash == (job.call_hash if update.state == "done" else "")
        assert update.error is None and isinstance(update.time, float)
    assert [u[3] for u in got if u[2].endswith("pair")] == ["pending", "running", "done"]
    assert {u[1] for u in got if u[2].endswith("double")} == {got[0][0]}  # parent: pair's job
