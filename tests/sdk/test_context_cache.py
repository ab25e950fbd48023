"""A context change re-runs the calls that read a changed value, and only those (as redun).

The context is not part of a call's cache key: what ``get_context`` read under a
call is recorded with it and checked when the call is taken from the cache. Each
test runs on the in-memory store and on SQLite (a new Scheduler per run, as
separate processes would have); one checks a database recorded before the reads
were (schema 0005).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from redun import Scheduler, get_context, task
from redun.backends import MemoryBackend, backend_from_config
from tests.sdk.test_postgres_store import pg_url  # noqa: F401  (a fixture)

redun_namespace = "test_context_cache"

RAN: list[str] = []


def ran(name: str) -> None:
    globals()["RAN"].append(name)


@task
def tool(value: int, param: int = get_context("tool.param", 0)) -> str:
    ran("tool")
    return f"{value}:{param}"


@task
def process(values: list) -> list:
    ran("process")
    return [tool(value) for value in values]


@task
def steady(x: int) -> int:
    ran("steady")
    return x * 10


@task
def main(size: int = 3) -> dict:
    ran("main")
    return {"values": process(list(range(size))), "steady": steady(size)}


@task
def returns_a_read(x: int) -> object:
    ran("returns_a_read")
    return labelled_value(x, get_context("label", "none"))


@task
def labelled_value(x: int, label: str) -> str:
    ran("labelled_value")
    return f"{x}/{label}"


@task
def overridden(x: int) -> list:
    ran("overridden")
    # The same call of process, under two overrides: its calls of tool read them.
    return [
        process.update_context({"tool": {"param": 1}})([x]),
        process.update_context({"tool": {"param": 2}})([x]),
    ]


@pytest.fixture(params=["memory", "sqlite"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Scheduler]:
    if request.param == "memory":
        backend = MemoryBackend()
        return lambda: Scheduler(backend=backend)
    uri = f"sqlite:///{tmp_path}/redun.db"
    return lambda: Scheduler(backend=backend_from_config({"db_uri": uri}))


def run(make: Callable[[], Scheduler], expr: object, context: dict | None = None) -> object:
    RAN.clear()
    scheduler = make()
    try:
        return scheduler.run(expr, context=context)
    finally:
        scheduler.stop()


def test_a_context_change_reruns_only_the_calls_that_read_it(make) -> None:
    first = run(make, main(), {"tool": {"param": 1}})
    assert first == {"values": ["0:1", "1:1", "2:1"], "steady": 30}
    assert sorted(RAN) == ["main", "process", "steady", "tool", "tool", "tool"]
    assert run(make, main(), {"tool": {"param": 1}}) == first and RAN == []
    changed = run(make, main(), {"tool": {"param": 10}})
    assert changed == {"values": ["0:10", "1:10", "2:10"], "steady": 30}
    assert RAN == ["tool", "tool", "tool"]  # main and process re-evaluate, steady is a hit
    # Back to the first context: every call of it is still in the cache.
    assert run(make, main(), {"tool": {"param": 1}}) == first and RAN == []
    # A context value nobody reads changes nothing.
    assert run(make, main(), {"tool": {"param": 1}, "other": 5}) == first and RAN == []
    # A variable that was absent and is now set is a change; a default stands for it.
    assert run(make, main(), {}) == {"values": ["0:0", "1:0", "2:0"], "steady": 30}
    assert RAN == ["tool", "tool", "tool"]


def test_a_read_in_a_returned_expression_reevaluates_the_call_that_made_it(make) -> None:
    assert run(make, returns_a_read(1), {"label": "a"}) == "1/a"
    assert RAN == ["returns_a_read", "labelled_value"]
    assert run(make, returns_a_read(1), {"label": "a"}) == "1/a" and RAN == []
    assert run(make, returns_a_read(1), {"label": "b"}) == "1/b"
    assert RAN == ["labelled_value"]  # the expression is evaluated again, not the task


def test_calls_under_different_overrides_stay_apart(make) -> None:
    assert run(make, overridden(4), {}) == [["4:1"], ["4:2"]]
    assert sorted(RAN) == ["overridden", "process", "process", "tool", "tool"]
    assert run(make, overridden(4), {}) == [["4:1"], ["4:2"]] and RAN == []
    # Overrides merge over the run's context: a change of it re-evaluates what they cover.
    assert run(make, overridden(4), {"tool": {"extra": 1}}) == [["4:1"], ["4:2"]]
    assert run(make, overridden(4), {"tool": {"extra": 1}}) == [["4:1"], ["4:2"]]
    assert RAN == []


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/redun.db"
    else:
        yield request.getfixturevalue("pg_url")  # skips, saying why, without a server


def test_calls_recorded_before_reads_were_count_only_for_an_empty_context(
    store_url: str,
) -> None:
    uri = store_url

    def make() -> Scheduler:
        return Scheduler(backend=backend_from_config({"db_uri": uri}))

    first = run(make, main(), {})
    assert first == {"values": ["0:0", "1:0", "2:0"], "steady": 30}
    # As migration 0006 leaves calls recorded before it: reads not known.
    engine = sa.create_engine(uri)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE redun_call_node SET context_reads = NULL")
        conn.exec_driver_sql("DELETE FROM redun_tree_check")
    engine.dispose()
    assert run(make, main(), {}) == first and RAN == []  # their keys held an empty context
    assert run(make, main(), {"tool": {"param": 3}})["values"] == ["0:3", "1:3", "2:3"]
    assert sorted(RAN) == ["steady", "tool", "tool", "tool"]  # steady: not known, runs once
    # Recording a call again fills in what it read: nothing runs again after that.
    assert run(make, main(), {"tool": {"param": 3}})["values"] == ["0:3", "1:3", "2:3"]
    assert RAN == []
    assert run(make, main(), {}) == first and RAN == []


def test_the_row_by_row_writer_fills_in_reads_left_null_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    # The writer for databases other than SQLite and PostgreSQL (a savepoint per row).
    from redun.backends import bulk

    uri = f"sqlite:///{tmp_path}/redun.db"
    backend_from_config({"db_uri": uri}).load()
    columns = bulk.COLUMNS["redun_call_node"]

    def row(reads: str | None, time: float) -> tuple:
        values = {name: None for name in columns}
        values.update(
            call_hash="c" * 40, task_hash="t" * 40, task_name="t", args_hash="a" * 40,
            eval_hash="e" * 40, result_hash="r" * 40, time=time, context_reads=reads,
        )  # fmt: skip
        return tuple(values[name] for name in columns)

    engine = sa.create_engine(uri)
    read = "SELECT context_reads, time FROM redun_call_node"
    with engine.begin() as conn:
        bulk._generic_insert(conn, "redun_call_node", [row(None, 1.0)])
        bulk._generic_insert(conn, "redun_call_node", [row('{"p":"h"}', 2.0)])
        assert conn.exec_driver_sql(read).fetchall() == [('{"p":"h"}', 1.0)]
        bulk._generic_insert(conn, "redun_call_node", [row("", 3.0)])
        assert conn.exec_driver_sql(read).fetchall() == [('{"p":"h"}', 1.0)]
    engine.dispose()
