"""Output is stamped with its execution where it is written: a thread that outlives
its run cannot have its lines taken for the next run's."""

from __future__ import annotations

import contextvars
import sys
import threading

from redun import Scheduler, task
from redun.events import Event, LogLine

redun_namespace = "test_run_output"

GO = threading.Event()
PRINTED = threading.Event()


@task(cache=False)
def leaves_a_thread() -> int:
    context = contextvars.copy_context()

    def late() -> None:
        GO.wait(30)
        print("late line")
        sys.stdout.flush()
        PRINTED.set()

    threading.Thread(target=context.run, args=(late,), daemon=True).start()
    return 1


@task(cache=False)
def releases_it() -> int:
    GO.set()
    assert PRINTED.wait(30)
    return 2


@task(cache=False)
def quiet() -> int:
    return 3


class Logs:
    def __init__(self, scheduler: Scheduler) -> None:
        self.lines: list[LogLine] = []
        scheduler.events.subscribe(self)

    def __call__(self, event: Event) -> None:
        if isinstance(event, LogLine) and "late line" in event.text:
            self.lines.append(event)


def _reset() -> None:
    GO.clear()
    PRINTED.clear()


def test_late_output_during_the_next_run_keeps_its_execution() -> None:
    _reset()
    scheduler = Scheduler()
    logs = Logs(scheduler)
    assert scheduler.run(leaves_a_thread()) == 1
    first = scheduler.execution
    first_job = next(job for job in scheduler.jobs() if job.task.name == "leaves_a_thread")
    assert scheduler.run(releases_it()) == 2
    second = scheduler.execution
    assert first is not None and second is not None and first.id != second.id
    (line,) = logs.lines
    assert line.execution_id == first.id, "the line belongs to the run that wrote it"
    assert line.job_id == first_job.id


def test_output_posted_between_runs_is_drained_with_its_execution() -> None:
    _reset()
    scheduler = Scheduler()
    logs = Logs(scheduler)
    assert scheduler.run(leaves_a_thread()) == 1
    first = scheduler.execution
    GO.set()
    assert PRINTED.wait(30)
    assert scheduler.run(quiet()) == 3
    assert first is not None
    (line,) = logs.lines
    assert line.execution_id == first.id
    assert line.time <= scheduler.execution.start_time  # type: ignore[union-attr]
