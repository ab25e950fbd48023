"""`async def` tasks, and `await` on task calls and expressions inside them."""

from __future__ import annotations

import asyncio

import pytest

from redun import Scheduler, catch, task
from redun.backends import MemoryBackend
from redun.config import Config
from redun.errors import ExpressionError, SchedulerError

redun_namespace = "test_async"

CALLS: list[str] = []


@task(cache=False)
async def add_async(x: int, y: int) -> int:
    await asyncio.sleep(0)
    return x + y


@task
def mult(x: int, y: int) -> int:
    CALLS.append("mult")
    return x * y


@task
def sync_caller() -> int:
    return add_async(add_async(1, 2), add_async(3, 4))


@task(cache=False)
async def awaiting() -> int:
    three = await add_async(1, 2)
    twelve = await mult(3, 4)
    two = await (add_async(0, 1) + 1)
    return add_async(three, twelve) + two


@task(cache=False)
async def boom() -> int:
    raise ValueError("BOOM")


@task
def recover(error: Exception) -> str:
    return f"recovered: {error}"


@task(cache=False)
async def try_await() -> str:
    try:
        await boom()
    except ValueError as error:
        return f"caught {error}"
    return "not raised"


@task
async def cached_parent(x: int) -> int:
    CALLS.append("parent")
    return await mult(x, 10) + 1


@task
def child(i: int) -> int:
    return i * 2


@task(cache=False)
async def many_waiters(i: int) -> int:
    # Each awaits a thread task: with 2 worker threads and 40 of these, an async job that
    # held a thread while awaiting would deadlock the run.
    return await child(i)


@task(executor="process")
async def in_process() -> int:
    return 1


def test_async_tasks_run_and_are_marked() -> None:
    assert add_async.is_async() and not mult.is_async()
    scheduler = Scheduler()
    assert scheduler.run(add_async(1, 2)) == 3
    assert scheduler.run(sync_caller()) == 10


def test_await_task_calls_and_expressions() -> None:
    assert Scheduler().run(awaiting()) == 17


def test_errors_of_async_tasks_reject_their_jobs() -> None:
    scheduler = Scheduler()
    with pytest.raises(ValueError, match="BOOM"):
        scheduler.run(boom())
    assert scheduler.run(catch(boom(), ValueError, recover)) == "recovered: BOOM"
    assert scheduler.run(try_await()) == "caught BOOM"


def test_awaited_calls_are_children_and_cached() -> None:
    CALLS.clear()
    scheduler = Scheduler(backend=MemoryBackend())
    assert scheduler.run(cached_parent(2)) == 21
    (parent,) = [job for job in scheduler.jobs() if job.task.name == "cached_parent"]
    assert [job.task.name for job in parent.child_jobs] == ["mult"]
    assert CALLS == ["parent", "mult"]
    assert scheduler.run(cached_parent(2)) == 21
    assert CALLS == ["parent", "mult"]


def test_async_jobs_do_not_hold_worker_threads() -> None:
    config = Config({"executors.default": {"type": "threads", "max_workers": "2"}})
    scheduler = Scheduler(config=config)
    try:
        assert scheduler.run([many_waiters(i) for i in range(40)]) == [i * 2 for i in range(40)]
    finally:
        scheduler.stop()


def test_executors_without_async_support_refuse_async_tasks() -> None:
    scheduler = Scheduler()
    try:
        with pytest.raises(SchedulerError, match="does not run async tasks"):
            scheduler.run(in_process())
    finally:
        scheduler.stop()


def test_awaiting_outside_a_task_is_a_clear_error() -> None:
    async def outside() -> int:
        return await mult(1, 2)

    with pytest.raises(ExpressionError, match="only inside an `async def` task"):
        asyncio.run(outside())
