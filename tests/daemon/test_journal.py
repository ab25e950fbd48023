"""The daemon's in-flight journal and the end of a run in the store: an entry stays
until the database has the run's end, is written whole or not at all, and the
end closes the run's open jobs in the same transaction."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

from redun import Scheduler, task
from redun.backends import schema
from redun.backends.db import DbBackend
from redun.config import Config
from redund.hub import Hub
from redund.model import ErrorInfo, ExecutionRecord, ExecutionStatus, RunSpec
from redund.runs import RunManager
from redund.store import Store

redun_namespace = "test_journal"


@task
def one() -> int:
    return 1


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A SQLite store with the schema (made by a real run)."""
    uri = f"sqlite:///{tmp_path}/redun.db"
    scheduler = Scheduler(config=Config({"backend": {"db_uri": uri}}))
    scheduler.run(one())
    scheduler.backend.close()
    return uri


def manager(uri: str, inflight: Path) -> RunManager:
    store = Store(DbBackend(uri, {"db_uri": uri, "busy_timeout": "0.2"}))
    return RunManager("/tmp/home", None, store, Hub(), str(inflight))  # type: ignore[arg-type]


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Another process holds the database's write lock meanwhile."""
    locker = sqlite3.connect(str(path), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        locker.execute("ROLLBACK")
        locker.close()


def started(runs: RunManager, execution_id: str) -> ExecutionRecord:
    record = ExecutionRecord(execution_id, RunSpec("/w/flow.py", "main"))
    runs.records[execution_id] = record
    runs._journal(record, SimpleNamespace(pid=0))  # type: ignore[arg-type]
    return record


def test_journal_entry_stays_until_the_end_is_recorded(db: str, tmp_path: Path) -> None:
    inflight = tmp_path / "inflight"
    runs = manager(db, inflight)
    record = started(runs, "a" * 32)
    entry = inflight / ("a" * 32 + ".json")
    assert json.loads(entry.read_text())["id"] == "a" * 32
    with locked(tmp_path / "redun.db"):  # recording the end fails
        error = ErrorInfo("ValueError", "bad")
        asyncio.run(runs._finish(record, ExecutionStatus.FAILED, error, None))
    assert entry.exists(), "the journal keeps the run until the database has its end"
    kept = json.loads(entry.read_text())
    assert kept["status"] == "failed" and kept["error"][:2] == ["ValueError", "bad"]
    assert not list(inflight.glob("*.tmp"))
    # The next start records the journaled outcome (not "interrupted"), then drops the entry.
    again = manager(db, inflight)
    assert again.recover() == ["a" * 32]
    found = again.store.get_execution("a" * 32)
    assert found is not None and found.status is ExecutionStatus.FAILED
    assert found.error is not None and found.error.message == "bad"
    assert not entry.exists()


def test_recovery_that_cannot_write_keeps_the_entry(db: str, tmp_path: Path) -> None:
    inflight = tmp_path / "inflight"
    started(manager(db, inflight), "b" * 32)
    with locked(tmp_path / "redun.db"):
        assert manager(db, inflight).recover() == []
    assert (inflight / ("b" * 32 + ".json")).exists(), "kept for the next start"
    runs = manager(db, inflight)
    assert runs.recover() == ["b" * 32]
    found = runs.store.get_execution("b" * 32)
    assert found is not None and found.status is ExecutionStatus.INTERRUPTED


def test_a_write_cut_short_never_replaces_a_whole_entry(db: str, tmp_path: Path) -> None:
    inflight = tmp_path / "inflight"
    started(manager(db, inflight), "c" * 32)
    # What a crash in the middle of rewriting the entry leaves: a partial temporary file.
    partial = inflight / ("c" * 32 + ".json.4242.tmp")
    partial.write_text('{"id": "cccc')
    unreadable = inflight / ("d" * 32 + ".json")
    unreadable.write_text('{"id": "dd')  # e.g. left by an older daemon that wrote in place
    runs = manager(db, inflight)
    assert runs.recover() == ["c" * 32]
    assert not partial.exists()
    assert not unreadable.exists() and (inflight / (unreadable.name + ".unreadable")).exists()
    found = runs.store.get_execution("c" * 32)
    assert found is not None and found.status is ExecutionStatus.INTERRUPTED


def _job_row(job_id: str, execution_id: str, state: str) -> dict:
    return {
        "id": job_id,
        "execution_id": execution_id,
        "task_name": "flow.step",
        "state": state,
        "start_time": 1.0,
    }


@pytest.mark.parametrize(
    ("status", "running_becomes", "message"),
    [
        (ExecutionStatus.FAILED, "failed", "RunnerDied: the runner process was killed"),
        (ExecutionStatus.CANCELLED, "cancelled", "Cancelled: the runner process was killed"),
        (ExecutionStatus.INTERRUPTED, "cancelled", "Interrupted: the runner process was killed"),
    ],
)
def test_the_end_of_a_run_closes_its_open_jobs(
    db: str, status: ExecutionStatus, running_becomes: str, message: str
) -> None:
    store = Store(DbBackend(db))
    with store.backend.engine.begin() as conn:
        for job_id, state in (("r", "running"), ("p", "pending"), ("d", "done")):
            conn.execute(schema.job.insert().values(**_job_row(job_id, "e" * 32, state)))
        conn.execute(schema.job.insert().values(**_job_row("other", "f" * 32, "running")))
    record = ExecutionRecord("e" * 32, RunSpec("/w/flow.py", "main"))
    kind = message.split(":")[0]
    store.finish_execution(record, status, ErrorInfo(kind, "the runner process was killed"))
    jobs = {job.id: job for job in store.list_jobs("e" * 32)}
    assert jobs["r"].state == running_becomes and jobs["p"].state == "cancelled"
    assert jobs["d"].state == "done" and jobs["d"].error is None
    assert jobs["r"].end_time and jobs["r"].error is not None
    assert jobs["r"].error.text() == message
    (other,) = store.list_jobs("f" * 32)
    assert other.state == "running", "another execution's jobs are not touched"


@pytest.mark.parametrize("through_process", [False, True])
def test_a_late_write_of_a_killed_runner_does_not_reopen_closed_jobs(
    db: str, through_process: bool
) -> None:
    # A runner's writer process commits its last batch when the runner dies, which
    # can land after the daemon closed the run's jobs: the closed state stays.
    from redun.backends.bulk import COLUMNS, Batch
    from redun.backends.writer_process import WriterProcess

    store = Store(DbBackend(db))
    with store.backend.engine.begin() as conn:
        conn.execute(schema.job.insert().values(**_job_row("r", "e" * 32, "running")))
    record = ExecutionRecord("e" * 32, RunSpec("/w/flow.py", "main"))
    store.finish_execution(record, ExecutionStatus.FAILED, ErrorInfo("RunnerDied", "killed"))
    late = Batch()
    values = {**_job_row("r", "e" * 32, "running"), "cached": False}
    late.add("redun_job", tuple(values.get(column) for column in COLUMNS["redun_job"]))
    late.add("redun_job", tuple({**values, "id": "n"}.get(c) for c in COLUMNS["redun_job"]))
    if through_process:
        process = WriterProcess("sqlite", {"path": db[len("sqlite:///") :], "busy_ms": 5000})
        try:
            store.backend.write(late, process)
        finally:
            process.close()
    else:
        store.backend.write(late)
    jobs = {job.id: job.state for job in store.list_jobs("e" * 32)}
    assert jobs == {"r": "failed", "n": "running"}, "a new row is written; a closed one stays"


def test_watches_hear_of_a_run_end_before_clients_do(db: str, tmp_path: Path) -> None:
    # A client that acts on execution_finished (deletes an output the run wrote) must
    # act after the watches measured what the run left, or its change passes for the
    # run's own write and the watch never re-runs.
    runs = manager(db, tmp_path / "inflight")
    record = started(runs, "b" * 32)
    client = runs.hub.subscribe(lambda event: True)
    seen_by_client_first: list[bool] = []
    runs.on_finished.append(lambda finished: seen_by_client_first.append(client.pending_count > 0))
    asyncio.run(runs._finish(record, ExecutionStatus.DONE, None, None))
    assert seen_by_client_first == [False]
    assert client.pending_count > 0  # and the client does get it
