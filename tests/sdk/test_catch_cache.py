"""catch() is a cached call of its own: a handled failure is not run again, an unhandled
one is not cached, and a change below it re-runs only what changed."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from redun import Scheduler, catch, task
from redun.backends import MemoryBackend, backend_from_config
from redun.scheduler import Job
from redun.task import get_task_registry

redun_namespace = "test_catch_cache"

CALLS: list[str] = []


def log(name: str) -> None:
    globals()["CALLS"].append(name)


@pytest.fixture(params=["memory", "sqlite"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Scheduler]:
    if request.param == "memory":
        backend = MemoryBackend()
        return lambda: Scheduler(backend=backend)
    uri = f"sqlite:///{tmp_path}/redun.db"
    return lambda: Scheduler(backend=backend_from_config({"db_uri": uri}))


def run(make: Callable[[], Scheduler], expr: object, **options: object) -> object:
    CALLS.clear()
    return make().run(expr, **options)


@task
def faulty() -> float:
    log("faulty")
    return 1 / 0


def define_deep(value: int) -> None:
    @task(name="deep")
    def deep() -> int:
        log(f"deep{value}")
        return value

    globals()["deep"] = deep


define_deep(1)


@task
def recover(error: Exception) -> int:
    log("recover")
    return deep()  # noqa: F821 - defined by define_deep


@task
def reraise(error: Exception) -> int:
    log("reraise")
    raise error


def test_a_recovered_failure_is_cached(make) -> None:
    define_deep(1)
    assert run(make, catch(faulty(), ZeroDivisionError, recover)) == 1
    assert CALLS == ["faulty", "recover", "deep1"]
    assert run(make, catch(faulty(), ZeroDivisionError, recover)) == 1
    assert CALLS == []
    # A change deep in the recovery re-runs only that.
    define_deep(2)
    assert run(make, catch(faulty(), ZeroDivisionError, recover)) == 2
    assert CALLS == ["deep2"]
    # Without the cache, everything runs.
    assert run(make, catch(faulty(), ZeroDivisionError, recover), cache=False) == 2
    assert CALLS == ["faulty", "recover", "deep2"]
    define_deep(1)


def test_an_unhandled_failure_is_not_cached(make) -> None:
    for _ in range(2):
        with pytest.raises(ZeroDivisionError):
            run(make, catch(faulty(), ZeroDivisionError, reraise))
        assert CALLS == ["faulty", "reraise"]
    for _ in range(2):
        with pytest.raises(ZeroDivisionError):
            run(make, faulty())
        assert CALLS == ["faulty"]


@task
def safe() -> int:
    log("safe")
    return deep()  # noqa: F821


def test_a_successful_catch_reacts_to_changes_below(make) -> None:
    define_deep(1)
    assert run(make, catch(safe(), ZeroDivisionError, recover)) == 1
    assert CALLS == ["safe", "deep1"]
    assert run(make, catch(safe(), ZeroDivisionError, recover)) == 1
    assert CALLS == []
    define_deep(3)
    assert run(make, catch(safe(), ZeroDivisionError, recover)) == 3
    assert CALLS == ["deep3"]
    define_deep(1)


def test_the_catch_job_is_recorded_under_its_parent(make) -> None:
    scheduler = make()
    scheduler.run(catch(faulty(), ZeroDivisionError, recover))
    names = sorted(job.task.fullname for job in scheduler.jobs())
    # A scheduler task at the top runs under the execution's root job (as in redun).
    assert names == ["redun.catch", "redun.root_task", "test_catch_cache.deep"] + [
        "test_catch_cache.faulty",
        "test_catch_cache.recover",
    ]


def test_a_task_restored_from_the_cache_knows_its_code_changed() -> None:
    define_deep(1)
    old = get_task_registry().require("test_catch_cache.deep")
    data = pickle.dumps(old)
    assert pickle.loads(data) is old and old.is_valid()
    define_deep(5)
    stale = pickle.loads(data)
    assert stale.hash == old.hash and stale.stale and not stale.is_valid()
    # A call through it runs the task as defined now.
    assert Scheduler().run(stale()) == 5
    define_deep(1)


def test_a_job_pickles_as_none() -> None:
    error = ValueError("x")
    error.__redun_job__ = Job(faulty, None, None)  # type: ignore[attr-defined]
    restored = pickle.loads(pickle.dumps(error))
    assert restored.args == ("x",) and restored.__redun_job__ is None
