"""Provenance switches: prov=False and no_prov() subtrees are not recorded."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from redun import Scheduler, task
from redun.backends import MemoryBackend, backend_from_config
from redun.functools import no_prov

redun_namespace = "test_provenance"

CALLS: list[str] = []


def log(name: str) -> None:
    globals()["CALLS"].append(name)


@task
def add(a: int, b: int) -> int:
    log("add")
    return a + b


@task
def inner(x: int) -> int:
    log("inner")
    return add(add(x, 1), add(2, 3))


@task
def main_unrecorded(x: int) -> int:
    log("main")
    return add(1, inner.options(prov=False)(x))


@task
def main_no_prov(x: int) -> int:
    log("main")
    return add(1, no_prov(inner(x)))


class Store:
    """A SQLite store, and what it holds."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.uri = f"sqlite:///{path}"

    def scheduler(self) -> Scheduler:
        return Scheduler(backend=backend_from_config({"db_uri": self.uri}))

    def count(self, table: str) -> int:
        with sqlite3.connect(self.path) as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def tasks_of_jobs(self) -> list[str]:
        with sqlite3.connect(self.path) as conn:
            return sorted(row[0] for row in conn.execute("SELECT task_name FROM redun_job"))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "redun.db")


def run(scheduler: Scheduler, expr: object) -> object:
    CALLS.clear()
    return scheduler.run(expr)


def test_a_prov_false_subtree_is_not_recorded(store: Store) -> None:
    assert run(store.scheduler(), main_unrecorded(10)) == 17
    assert CALLS == ["main", "inner", "add", "add", "add", "add"]
    # main and add(1, 16) only: inner and the three calls below it are not recorded.
    assert store.count("redun_call_node") == 2
    assert store.tasks_of_jobs() == ["test_provenance.add", "test_provenance.main_unrecorded"]
    # A prov=False call is never taken from the cache, so it runs again (and its
    # parent's recorded expression is re-evaluated to reach it); nothing new is recorded.
    assert run(store.scheduler(), main_unrecorded(10)) == 17
    assert CALLS == ["inner", "add", "add", "add"]
    assert store.count("redun_call_node") == 2


def test_no_prov_records_one_cached_unit(store: Store) -> None:
    assert run(store.scheduler(), main_no_prov(10)) == 17
    assert CALLS == ["main", "inner", "add", "add", "add", "add"]
    assert store.tasks_of_jobs() == [
        "redun.no_prov",
        "test_provenance.add",
        "test_provenance.main_no_prov",
    ]
    # The no_prov call answers for its whole unrecorded subtree: the workflow is one
    # cached call again (the shallow no_prov call counts on its own result).
    scheduler = store.scheduler()
    assert run(scheduler, main_no_prov(10)) == 17
    assert CALLS == []
    assert [job.task.name for job in scheduler.jobs()] == ["main_no_prov"]


def redefine_inner(offset: int) -> None:
    """A new version of `inner`, as an edit would make."""

    @task(name="inner")
    def inner(x: int) -> int:
        log("inner")
        return add(add(x, offset), add(2, 3))

    globals()["inner"] = inner


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_no_prov_runs_again_once_a_task_in_its_expression_changed(store: Store, kind: str) -> None:
    # Nothing below no_prov is recorded, but the expression it was given is (quoted, as
    # its argument): a task in it whose code changed makes that argument stale, as in
    # redun, where the changed task hash changes the no_prov call itself.
    backend = MemoryBackend() if kind == "memory" else None

    def scheduler() -> Scheduler:
        return Scheduler(backend=backend) if backend is not None else store.scheduler()

    try:
        redefine_inner(1)
        assert run(scheduler(), main_no_prov(10)) == 17
        assert run(scheduler(), main_no_prov(10)) == 17 and CALLS == []
        redefine_inner(100)
        assert run(scheduler(), main_no_prov(10)) == 116
        assert "inner" in CALLS and "main" not in CALLS
        assert run(scheduler(), main_no_prov(10)) == 116 and CALLS == []
    finally:
        redefine_inner(1)


def test_prov_false_in_memory_too() -> None:
    backend = MemoryBackend()
    scheduler = Scheduler(backend=backend)
    assert run(scheduler, main_unrecorded(3)) == 10
    assert sorted(record.task_name for record in backend.calls.values()) == [
        "test_provenance.add",
        "test_provenance.main_unrecorded",
    ]
    # The jobs still ran, and their events were emitted (progress, the daemon).
    names = sorted(job.task.name for job in scheduler.jobs())
    assert names.count("add") == 4 and "inner" in names
    assert all(not job.prov for job in scheduler.jobs() if job.task.name == "inner")
