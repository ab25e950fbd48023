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


@task(namespace="observers")
def shaky(i: int) -> int:
    if i == 2:
        raise ValueError("two")
    return i


@task(namespace="observers")
def shaky_main(n: int = 4) -> list:
    return [shaky(i) for i in range(n)]


def test_a_summary_counted_at_the_end_agrees_with_one_that_followed_the_run(
    capsys: Any,
) -> None:
    # Without a terminal, `redun run` counts its jobs once at the end instead of
    # following every change: the summary must say the same, failures included.
    from redun.cli.progress import ProgressDisplay

    scheduler = Scheduler()
    followed, counted = ProgressTally(), ProgressTally()
    scheduler.events.attach(followed)
    display = ProgressDisplay(counted, enabled=False, jobs=scheduler.jobs)
    assert not display.follows_jobs
    scheduler.events.subscribe(counted, job_states=False)
    try:
        with display:
            scheduler.run(shaky_main(4))
    except ValueError:
        pass
    assert counted.snapshot() == followed.snapshot()
    counts = dict(counted.snapshot())
    assert counts["observers.shaky"]["failed"] == 1
    assert counted.finished is not None
    assert "jobs:" in capsys.readouterr().err
