"""An execution has one root job, as in insitro/redun: a run of anything but one task
call with values for arguments is evaluated under a ``redun.root_task`` job."""

from __future__ import annotations

import threading

import pytest

from redun import Scheduler, task
from redun.backends.db import Execution
from redun.scheduler import DryRunResult

redun_namespace = "test_root_job"


@task
def inc(x: int) -> int:
    return x + 1


@task
def get_offset() -> int:
    return 10


@task
def add(a: int, b: int, offset: int = get_offset()) -> int:  # noqa: B008 (a lazy default)
    return a + b + offset


@task
def plain_add(a: int, b: int) -> int:
    return a + b


def tree(scheduler: Scheduler) -> tuple[str, list[str]]:
    """The latest execution's root task and its children's tasks, from the record."""
    session = scheduler.backend.session
    execution = session.query(Execution).order_by(Execution.updated_time.desc()).first()
    return execution.job.task.name, [child.task.name for child in execution.job.child_jobs]


def test_a_list_runs_under_one_root_job() -> None:
    scheduler = Scheduler()
    assert scheduler.run([inc(1), inc(2)]) == [2, 3]
    assert tree(scheduler) == ("root_task", ["inc", "inc"])
    # Each run evaluates it again, its calls from the cache; the root is never looked up.
    assert scheduler.run([inc(1), inc(2)]) == [2, 3]
    states = sorted((job.task.name, job.state.value) for job in scheduler.jobs())
    assert states == [("inc", "cached"), ("inc", "cached"), ("root_task", "done")]


def test_a_call_with_values_is_its_own_root() -> None:
    scheduler = Scheduler()
    assert scheduler.run(plain_add(1, 2)) == 3
    assert tree(scheduler) == ("plain_add", [])


def test_calls_in_arguments_and_defaults_are_siblings_under_the_root() -> None:
    scheduler = Scheduler()
    assert scheduler.run(add(1, 2)) == 13  # offset=get_offset() is an expression
    assert tree(scheduler) == ("root_task", ["get_offset", "add"])
    assert scheduler.run(plain_add(inc(1), 2)) == 4
    assert tree(scheduler) == ("root_task", ["inc", "plain_add"])


def test_a_value_without_calls_makes_no_job() -> None:
    scheduler = Scheduler()
    value = {"a": [1, 2]}
    assert scheduler.run(value) is value
    assert scheduler.jobs() == []


def test_a_dry_run_looks_through_the_root() -> None:
    scheduler = Scheduler()
    scheduler.run(inc(1))
    with pytest.raises(DryRunResult) as info:
        scheduler.run(plain_add(inc(1), inc(5)), dryrun=True)
    assert [job.task.name for job in info.value.jobs] == ["inc"]  # inc(5); inc(1) is cached


def test_a_result_the_engine_cannot_hash_still_comes_back() -> None:
    lock = threading.Lock()

    @task
    def echo(x: int) -> int:
        return x

    result = Scheduler().run([echo(1), lock])
    assert result[0] == 1 and result[1] is lock
