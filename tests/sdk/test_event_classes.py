"""The event classes: constructed, compared and shown like plain records."""

from __future__ import annotations

import time

import pytest

from redun.events import (
    ExecutionFinished,
    ExecutionStarted,
    JobStateChanged,
    LogLine,
    WatchTriggered,
    event_to_dict,
)


def test_fields_positional_and_keyword_with_defaults() -> None:
    event = JobStateChanged("ex1", "job1", "mod.task", "running", time=5.0)
    assert (event.execution_id, event.job_id, event.task, event.state) == (
        "ex1",
        "job1",
        "mod.task",
        "running",
    )
    assert (event.parent_job_id, event.executor, event.cached, event.reason, event.job) == (
        None,
        "",
        False,
        "",
        None,
    )
    assert event.time == 5.0
    finished = ExecutionFinished("ex1", status="failed", error="boom")
    assert (finished.status, finished.error, finished.result_repr) == ("failed", "boom", None)
    assert LogLine("ex1", text="hi").stream == "stdout"


def test_time_defaults_to_now_and_lists_are_not_shared() -> None:
    before = time.time()
    first, second = ExecutionStarted("a"), ExecutionStarted("b")
    assert before <= first.time <= time.time()
    first.argv.append("x")
    assert second.argv == []
    assert WatchTriggered("a").changed_paths is not WatchTriggered("a").changed_paths


def test_equality_by_value_and_type() -> None:
    assert LogLine("e", "j", "stderr", "t", time=1.0) == LogLine("e", "j", "stderr", "t", time=1.0)
    assert LogLine("e", "j", "stderr", "t", time=1.0) != LogLine("e", "j", "stderr", "u", time=1.0)
    assert LogLine("e", "j", time=1.0) != LogLine("e", "j", time=2.0)
    assert ExecutionStarted("e", time=1.0) != WatchTriggered("e", time=1.0)
    with pytest.raises(TypeError):
        hash(LogLine("e"))


def test_repr_names_fields_but_not_the_live_job() -> None:
    event = JobStateChanged("e", "j", "t", "done", job=object(), time=1.0)  # type: ignore[arg-type]
    text = repr(event)
    assert text.startswith("JobStateChanged(execution_id='e', time=1.0, job_id='j'")
    assert "job=" not in text.replace("job_id=", "").replace("parent_job_id=", "")


def test_slots_and_plain_data_form() -> None:
    event = LogLine("e", "j", "stdout", "hello", time=2.0)
    with pytest.raises(AttributeError):
        event.other = 1  # type: ignore[attr-defined]
    data = event_to_dict(event)
    assert data["type"] == "log" and data["text"] == "hello" and data["time"] == 2.0
    assert "job" not in event_to_dict(JobStateChanged("e", "j"))


def test_store_records_compare_pickle_and_show() -> None:
    import pickle

    from redun.backends.base import CacheHit, CallRecord, TreeCheck
    from redun.scheduler.cache import Replay

    record = CallRecord("c", "t", "th", "a", "e", "r", ("k",), time=1.0, expr_hash="x")
    assert record.arg_hashes == {} and record.cacheable is True
    assert record.arg_hashes is not CallRecord("c", "t", "th", "a", "e", "r").arg_hashes
    copy = pickle.loads(pickle.dumps(record))
    assert copy == record and copy is not record
    copy.time = 2.0
    assert copy != record
    assert repr(TreeCheck([("t", "h")], [], ["v"])) == (
        "TreeCheck(tasks=[('t', 'h')], shallow=[], checks=['v'])"
    )
    assert CacheHit("c", "r", 1) != Replay("c", 1, "r", "why")
    assert pickle.loads(pickle.dumps(Replay("c", [1], "h", "why"))).expr == [1]
