"""A failed call is recorded like any call, its result an ErrorValue (as in redun),
and is never taken from the cache. Each store is a SQLite file or a fresh database on
the local PostgreSQL server (skipped when no server answers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from redun import Scheduler, task
from redun.config import Config
from redun.scheduler import ErrorValue
from tests.sdk.test_postgres_store import pg_url  # noqa: F401  (a fixture)

redun_namespace = "test_failed_calls"

BROKEN = {"faulty": True}


class Unpicklable(ValueError):
    def __init__(self) -> None:
        super().__init__(lambda: "cannot be pickled")


@task
def faulty(x: int) -> int:
    if BROKEN["faulty"]:
        raise ValueError(f"BOOM {x}")
    return x * 10


@task
def inc(x: int) -> int:
    return x + 1


@task
def both(x: int) -> list:
    y = inc(x)
    return [y, faulty(y)]  # faulty starts once inc is done: both are in the record


@task
def unpicklable() -> None:
    raise Unpicklable()


@pytest.fixture(params=["sqlite", "postgres"])
def scheduler(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Scheduler]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'redun.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    backend = {"db_uri": url, "value_store": str(tmp_path / "values")}
    scheduler = Scheduler(config=Config({"backend": backend}))
    yield scheduler
    scheduler.backend.close()  # before the PostgreSQL database is dropped


@pytest.fixture(autouse=True)
def _broken() -> None:
    BROKEN["faulty"] = True


def test_a_failed_call_is_recorded_with_its_error(scheduler: Scheduler) -> None:
    from redun.backends.db import Execution, Job

    with pytest.raises(ValueError, match="BOOM 2"):
        scheduler.run(both(1))
    session = scheduler.backend.session
    root = session.query(Execution).one().job
    assert root.status == "FAILED"
    # The parent failed with its child's error; both calls are in the record.
    assert isinstance(root.call_node.value.value_parsed, ErrorValue)
    assert root.call_node.value.value_parsed.error.args == ("BOOM 2",)
    children = {job.task.name: job for job in root.child_jobs}
    assert children["inc"].call_node.value.value_parsed == 2
    error_value = children["faulty"].call_node.value.value_parsed
    assert isinstance(error_value.error, ValueError)
    assert "raise ValueError" in error_value.traceback
    assert children["faulty"].call_node.arguments[0].value.value_parsed == 2
    assert session.query(Job).filter(Job.call_hash.is_(None)).count() == 0


def test_a_failure_is_never_a_cache_hit(scheduler: Scheduler) -> None:
    with pytest.raises(ValueError):
        scheduler.run(both(2))
    BROKEN["faulty"] = False  # fixed without a code change the hash would see
    assert scheduler.run(both(2)) == [3, 30]
    states = {job.task.name: job.state.value for job in scheduler.jobs()}
    assert states == {"both": "done", "inc": "cached", "faulty": "done"}


def test_an_error_that_cannot_be_pickled_is_recorded_as_its_text(scheduler: Scheduler) -> None:
    from redun.backends.db import Job

    with pytest.raises(Unpicklable):
        scheduler.run(unpicklable())
    job = scheduler.backend.session.query(Job).one()
    error = job.call_node.value.value_parsed.error
    assert type(error) is Exception
    assert str(error).startswith("Unpicklable: ")
