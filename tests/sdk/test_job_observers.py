"""Job observers: in-process listeners that get each job as it changes state, with no
JobStateChanged built for them, next to subscribers that still get the events."""

from __future__ import annotations

from typing import Any

from redun import Scheduler, task
from redun.cli.progress import ProgressTally
from redun.events import Event, ExecutionFinished, ExecutionStarted, JobStateChanged


@task(namespace="observers")
def leaf(i: int) -> int:
    return i * 2


@task(namespace="observers")
def main(n: int = 3) -> list:
    return [leaf(i) for i in range(n)]


class Listener:
    """Attached with EventBus.attach: job states through job_changed, the rest as events."""

    def __init__(self) -> None:
        self.states: list[tuple[str, str]] = []
        self.events: list[Event] = []

    def job_changed(self, job: Any) -> None:
        self.states.append((job.task.name, job.state.value))

    def __call__(self, event: Event) -> None:
        self.events.append(event)


def test_an_attached_listener_gets_jobs_and_no_job_state_events() -> None:
    scheduler = Scheduler()
    listener = Listener()
    scheduler.events.attach(listener)
    assert scheduler.run(main(3)) == [0, 2, 4]
    assert [type(e) for e in listener.events] == [ExecutionStarted, ExecutionFinished]
    assert listener.states.count(("leaf", "done")) == 3
    assert listener.states[0] == ("main", "pending")
    assert listener.states[-1] == ("main", "done")


def test_subscribers_of_job_states_still_get_events_beside_observers() -> None:
    scheduler = Scheduler()
    listener, seen = Listener(), []
    scheduler.events.attach(listener)
    scheduler.events.subscribe(seen.append)
    scheduler.run(main(2))
    states = [(e.task, e.state) for e in seen if isinstance(e, JobStateChanged)]
    # Both see the same changes, in the same order.
    assert [(task.split(".")[-1], state) for task, state in states] == listener.states
    assert all(e.job is not None for e in seen if isinstance(e, JobStateChanged))


def test_a_subscriber_can_leave_job_states_out() -> None:
    scheduler = Scheduler()
    seen: list[Event] = []
    scheduler.events.subscribe(seen.append, job_states=False)
    scheduler.run(main(2))
    assert [type(e) for e in seen] == [ExecutionStarted, ExecutionFinished]


def test_an_observer_that_raises_does_not_stop_the_run_or_the_others(caplog) -> None:
    scheduler = Scheduler()
    listener = Listener()

    def broken(job: Any) -> None:
        raise RuntimeError("observer bug")

    scheduler.events.observe_jobs(broken)
    scheduler.events.attach(listener)
    assert scheduler.run(main(2)) == [0, 2]
    assert listener.states[-1] == ("main", "done")
    assert "observer bug" in caplog.text


def test_detaching_stops_both_paths() -> None:
    scheduler = Scheduler()
    listener = Listener()
    detach = scheduler.events.attach(listener)
    detach()
    scheduler.run(main(2))
    assert listener.states == [] and listener.events == []


def test_the_progress_tally_counts_from_jobs_as_from_events() -> None:
    scheduler = Scheduler()
    observed, evented = ProgressTally(), ProgressTally()
    scheduler.events.attach(observed)
    scheduler.events.subscribe(evented)
    scheduler.run(main(4))
    assert observed.snapshot() == evented.snapshot()
    assert dict(observed.snapshot())["observers.leaf"]["done"] == 4
