"""What runners report becomes records and events; the database fills in the past."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redun import Scheduler, task
from redun.client.convert import event_to_dict
from redun.config import Config
from redund import convert, views
from redund.hub import Hub
from redund.model import ErrorInfo, ExecutionRecord, ExecutionStatus, RunSpec
from redund.runs import RunManager
from redund.store import Store, spec_from_argv

redun_namespace = "test_views"


@task
def leaf(x: int) -> int:
    return x * 2


@task
def root(n: int) -> list:
    return [leaf(i) for i in range(n)]


def _job(when: float, job_id: str, parent: str, task_name: str, state: str, error=None):  # type: ignore[no-untyped-def]
    summary = "x=1" if state == "pending" else None
    return (
        "J",
        when,
        job_id,
        parent,
        task_name,
        state,
        "default",
        state == "cached",
        "",
        "",
        summary,
        error,
        None,
    )


def test_runner_reports_become_records_and_events() -> None:
    hub = Hub()
    runs = RunManager("/tmp/home", None, Store(None), hub, "/tmp/none")  # type: ignore[arg-type]
    record = ExecutionRecord("e1", RunSpec("/w/flow.py", "main"))
    items = [
        _job(1.0, "r", "", "main", "pending"),
        _job(1.1, "r", "", "main", "running"),
        _job(1.2, "a", "r", "leaf", "pending"),
        _job(1.3, "a", "r", "leaf", "cached"),
        _job(1.4, "b", "r", "leaf", "pending"),
        _job(1.5, "b", "r", "leaf", "running"),
        ("L", 1.55, "b", "stdout", "hi\n"),
        _job(1.6, "b", "r", "leaf", "failed", ("ValueError", "bad", "Traceback...")),
    ]
    events = runs._apply_events(record, items)
    assert [e.seq for e in events] == list(range(1, 9))
    assert record.root_job_id == "r" and record.jobs["r"].child_count == 2
    counts = record.counts
    assert (counts.total, counts.running, counts.cached, counts.failed) == (3, 1, 1, 1)
    assert record.jobs["b"].error == ErrorInfo("ValueError", "bad", "Traceback...")
    assert record.jobs["b"].duration == pytest.approx(0.1)
    assert record.jobs["a"].args_summary == "x=1"
    replay = views.replay_live(record, include_logs=True)
    assert [e.seq for e in replay] == [2, 4, 7, 8]  # latest state of each job, and the log
    as_json = [event_to_dict(convert.event_to_pb(e)) for e in replay]
    assert as_json[-1]["type"] == "job_state" and as_json[-1]["state"] == "failed"
    assert as_json[-1]["error"] == "ValueError: bad" and as_json[-1]["task"] == "leaf"
    assert as_json[2] == {
        "type": "log",
        "time": 1.55,
        "execution_id": "e1",
        "seq": 7,
        "job_id": "b",
        "stream": "stdout",
        "text": "hi\n",
    }
    assert views.job_logs(record, "b")[0].text == "hi\n"


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Store, str]:
    uri = f"sqlite:///{tmp_path}/redun.db"
    scheduler = Scheduler(config=Config({"backend": {"db_uri": uri}}))
    assert scheduler.run(root(3), exec_argv=["redun", "run", "flow.py", "root", "--n", "3"]) == [
        0,
        2,
        4,
    ]
    execution_id = scheduler.execution.id  # type: ignore[union-attr]
    scheduler.stop()
    from redun.backends.db import DbBackend

    return Store(DbBackend(uri)), execution_id


def test_store_reads_past_executions(recorded: tuple[Store, str]) -> None:
    store, execution_id = recorded
    [record] = store.list_executions(limit=10)
    assert record.id == execution_id and record.status is ExecutionStatus.DONE
    assert record.spec.task == "root" and record.spec.argv == ["--n", "3"]
    assert record.counts.total == 4 and record.counts.done == 4
    detail = store.get_execution(execution_id)
    assert detail is not None and detail.root_job_id
    jobs = store.list_jobs(execution_id)
    assert len(jobs) == 4
    assert len(store.list_jobs(execution_id, parent_id=detail.root_job_id)) == 3
    assert [j.id for j in store.list_jobs(execution_id, parent_id="")] == [detail.root_job_id]
    preview, pickled = store.execution_result(execution_id)
    assert preview is not None and preview.repr == "[0, 2, 4]"
    import pickle

    assert pickle.loads(pickled) == [0, 2, 4]
    history = views.synthesize(detail, jobs)
    assert history[0].type == "execution_started" and history[-1].type == "execution_finished"


def test_finishing_never_overwrites_a_recorded_end(recorded: tuple[Store, str]) -> None:
    store, execution_id = recorded
    record = ExecutionRecord(execution_id, RunSpec("/w/flow.py", "root"))
    store.finish_execution(record, ExecutionStatus.INTERRUPTED, ErrorInfo("Interrupted", "x"))
    assert store.get_execution(execution_id).status is ExecutionStatus.DONE  # type: ignore[union-attr]
    lost = ExecutionRecord("f" * 32, RunSpec("/w/flow.py", "root", argv=["--n", "2"]))
    store.mark_interrupted(lost.id, lost.spec, 5.0, "the daemon died")
    found = store.get_execution(lost.id)
    assert found is not None and found.status is ExecutionStatus.INTERRUPTED
    assert found.error is not None and found.error.message == "the daemon died"
    assert found.spec.argv == ["--n", "2"]


def test_spec_from_recorded_command_lines() -> None:
    spec = spec_from_argv(
        ["redun", "-c", ".redun", "run", "--no-cache", "f.py", "main", "--n", "3"], "/p"
    )
    assert (spec.workflow_path, spec.task, spec.argv, spec.no_cache) == (
        "/p/f.py",
        "main",
        ["--n", "3"],
        True,
    )
    spec = spec_from_argv(json.loads('["redun", "run", "--context", "a=1", "f.py", "t"]'), "/p")
    assert (spec.task, spec.argv) == ("t", [])
