"""Quick jobs that are a run's only work run on the scheduler's thread.

A chain of small steps pays two thread hand-offs per step when every step goes
to a worker; a step of a task already seen to be quick, with nothing else of
the run out, runs where the scheduler is instead. A task not yet seen, a slow
one, a batch of several jobs, and executors configured with ``inline = false``
still go to the workers.
"""

from __future__ import annotations

import threading
import time

import pytest

from redun import Scheduler, task
from redun.config import Config
from redun.events import JobStateChanged, LogLine
from redun.scheduler.job import JobState

redun_namespace = "test_inline_jobs"

THREADS: list[int] = []


@task(cache=False)
def step(x: int) -> int:
    THREADS.append(threading.get_ident())
    print(f"step {x}")
    return x + 1


@task(cache=False)
def slow_step(x: int) -> int:
    THREADS.append(threading.get_ident())
    time.sleep(0.005)
    return x + 1


@task(cache=False)
def chain(n: int, slow: bool = False) -> int:
    x = 0
    for _ in range(n):
        x = slow_step(x) if slow else step(x)
    return x


@task(cache=False)
def fan(n: int) -> list:
    return [step(i) for i in range(n)]


@pytest.fixture(autouse=True)
def _clear() -> None:
    THREADS.clear()


def test_a_chain_of_quick_steps_runs_on_the_schedulers_thread_after_the_first() -> None:
    scheduler = Scheduler()
    events: list = []
    scheduler.events.subscribe(events.append)
    assert scheduler.run(chain(6)) == 6
    here = threading.get_ident()
    # The first step is of a task never seen: a worker runs it, and its time is noted.
    assert THREADS[0] != here
    assert THREADS[1:] == [here] * 5
    # An inline job is a job like any other: it runs, ends done, and its output is its log.
    states = {}
    for event in events:
        if isinstance(event, JobStateChanged) and event.task == "test_inline_jobs.step":
            states.setdefault(event.job_id, []).append(event.state)
    assert len(states) == 6
    assert all(seen[-2:] == ["running", "done"] for seen in states.values())
    logs = sorted(e.text for e in events if isinstance(e, LogLine))
    assert logs == [f"step {i}\n" for i in range(6)]


def test_a_slow_task_always_goes_to_a_worker() -> None:
    scheduler = Scheduler()
    assert scheduler.run(chain(4, slow=True)) == 4
    assert threading.get_ident() not in THREADS
    assert len(THREADS) == 4


def test_several_jobs_at_once_go_to_the_workers() -> None:
    scheduler = Scheduler()
    scheduler.run(chain(3))  # step is known to be quick now
    THREADS.clear()
    assert scheduler.run(fan(8)) == list(range(1, 9))
    assert len(THREADS) == 8
    assert threading.get_ident() not in THREADS


def test_inline_false_keeps_every_job_on_the_workers() -> None:
    scheduler = Scheduler(config=Config({"executors.default": {"inline": "false"}}))
    assert scheduler.run(chain(5)) == 5
    assert len(THREADS) == 5
    assert threading.get_ident() not in THREADS


def test_a_single_worker_keeps_every_job_on_its_thread() -> None:
    # With max_workers = 1 every job runs on that one thread, which code holding
    # thread-bound objects relies on; inline = true asks for inline runs anyway.
    scheduler = Scheduler(config=Config({"executors.default": {"max_workers": "1"}}))
    assert scheduler.run(chain(5)) == 5
    assert len(set(THREADS)) == 1
    assert threading.get_ident() not in THREADS
    THREADS.clear()
    config = {"executors.default": {"max_workers": "1", "inline": "true"}}
    scheduler = Scheduler(config=Config(config))
    assert scheduler.run(chain(5)) == 5
    assert THREADS[1:] == [threading.get_ident()] * 4


def test_an_inline_jobs_error_fails_it_as_on_a_worker() -> None:
    @task(cache=False)
    def fragile(x: int) -> int:
        THREADS.append(threading.get_ident())
        if x == 2:
            raise ValueError("two is too many")
        return x + 1

    @task(cache=False)
    def fragile_chain() -> int:
        return fragile(fragile(fragile(0)))

    scheduler = Scheduler()
    with pytest.raises(ValueError, match="two is too many"):
        scheduler.run(fragile_chain())
    assert THREADS[-1] == threading.get_ident()  # the failing call ran inline
    failed = [job for job in scheduler.jobs() if job.state is JobState.FAILED]
    assert sorted(job.task.name for job in failed) == ["fragile", "fragile_chain"]


def test_ctrl_c_inside_an_inline_job_cancels_the_run() -> None:
    calls = []

    @task(cache=False)
    def interrupted(x: int) -> int:
        calls.append(threading.get_ident())
        if len(calls) == 2:
            # What Ctrl-C does to the main thread while this job runs on it.
            raise KeyboardInterrupt
        return x + 1

    @task(cache=False)
    def pair() -> int:
        return interrupted(interrupted(0))

    scheduler = Scheduler()
    with pytest.raises(KeyboardInterrupt):
        scheduler.run(pair())
    assert calls[-1] == threading.get_ident()
    assert not scheduler.is_running
    # The run ended cancelled, not with a job failed by the interrupt.
    job = [j for j in scheduler.jobs() if j.task.name == "interrupted" and j.attempt == 0][-1]
    assert job.state is JobState.CANCELLED


def test_a_bad_inline_value_is_named() -> None:
    from redun.config import check_config
    from redun.errors import ConfigError, UsageError
    from redun.executors.threads import ThreadExecutor

    with pytest.raises(UsageError, match=r"\[executors.pool\] inline = 'sometimes' is not true"):
        ThreadExecutor("pool", config={"inline": "sometimes"})
    config = Config({"executors.default": {"type": "threads", "inline": "sometimes"}})
    with pytest.raises(ConfigError, match=r"\[executors.default\] inline = 'sometimes'"):
        check_config(config, "redun.ini")
    for text, expected in [("Off", False), ("yes", True), ("", True)]:
        assert ThreadExecutor("pool", config={"inline": text}).inline is expected
