"""``Scheduler.extend_run``: a new call evaluated under a job already recorded.

As in insitro/redun, the call's jobs join the recorded job's execution, the new
call a child of that job; the caller gets the call's value (or its error, not
raised) with the new job's id and call hash, to stitch its own job tree.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from redun import Scheduler, get_context, task
from redun.config import Config

redun_namespace = "test_extend_run"


@task
def inc(x: int) -> int:
    return x + 1


@task
def boom(x: int) -> int:
    raise ValueError(f"boom {x}")


@task
def scaled(x: int, factor: int = get_context("factor", 1)) -> int:
    return x * factor


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'redun.db'}"


def _scheduler(db: str) -> Scheduler:
    return Scheduler(config=Config({"backend": {"db_uri": db}}))


def _jobs(scheduler: Scheduler) -> dict[str, tuple]:
    rows = scheduler.backend.query(
        "SELECT id, execution_id, parent_id, task_name, state, call_hash FROM redun_job"
    )
    return {row[0]: tuple(row[1:]) for row in rows}


def _executions(scheduler: Scheduler) -> list[tuple]:
    return [
        tuple(row)
        for row in scheduler.backend.query(
            "SELECT id, root_job_id, status, end_time FROM redun_execution"
        )
    ]


def _parent(scheduler: Scheduler) -> tuple[str, str]:
    """Run inc(1) and return (its job id, its execution id)."""
    assert scheduler.run(inc(1)) == 2
    [(job_id, (execution_id, *_))] = _jobs(scheduler).items()
    return job_id, execution_id


def test_extend_run_records_the_call_under_the_parent(db: str) -> None:
    scheduler = _scheduler(db)
    parent_id, execution_id = _parent(scheduler)
    executions = _executions(scheduler)

    outcome = scheduler.extend_run(inc(10), parent_job_id=parent_id)

    assert outcome["result"] == 11
    jobs = _jobs(scheduler)
    assert jobs[outcome["job_id"]] == (
        execution_id,
        parent_id,
        "test_extend_run.inc",
        "done",
        outcome["call_hash"],
    )
    # The execution is not recorded again: same root job, status and end.
    assert _executions(scheduler) == executions
    # The call is in the cache like any other: a new run takes it from there.
    fresh = _scheduler(db)
    assert fresh.run(inc(10)) == 11
    assert {state for (_, _, name, state, _) in _jobs(fresh).values() if name.endswith("inc")} >= {
        "cached"
    }


def test_extend_run_returns_the_error_and_its_recorded_call(db: str) -> None:
    scheduler = _scheduler(db)
    parent_id, execution_id = _parent(scheduler)

    outcome = scheduler.extend_run(boom(3), parent_job_id=parent_id)

    assert isinstance(outcome["error"], ValueError)
    assert str(outcome["error"]) == "boom 3"
    assert "result" not in outcome
    row = _jobs(scheduler)[outcome["job_id"]]
    assert row[:4] == (execution_id, parent_id, "test_extend_run.boom", "failed")
    assert outcome["call_hash"] and outcome["call_hash"] == row[4]


def test_extend_run_of_several_calls_has_one_root_job(db: str) -> None:
    scheduler = _scheduler(db)
    parent_id, execution_id = _parent(scheduler)

    outcome = scheduler.extend_run([inc(1), inc(20)], parent_job_id=parent_id)

    assert outcome["result"] == [2, 21]
    jobs = _jobs(scheduler)
    root = jobs[outcome["job_id"]]
    assert root[:3] == (execution_id, parent_id, "redun.root_task")
    children = sorted(
        (name, state)
        for (_, parent, name, state, _) in jobs.values()
        if parent == outcome["job_id"]
    )
    # inc(1) ran in the first run: cached here.
    assert children == [("test_extend_run.inc", "cached"), ("test_extend_run.inc", "done")]


def test_extend_run_dryrun(db: str) -> None:
    scheduler = _scheduler(db)
    parent_id, _ = _parent(scheduler)

    outcome = scheduler.extend_run(inc(5), parent_job_id=parent_id, dryrun=True)
    assert outcome["dryrun"] is True and "result" not in outcome
    assert outcome["call_hash"] is None

    assert scheduler.extend_run(inc(5), parent_job_id=parent_id)["result"] == 6
    outcome = scheduler.extend_run(inc(5), parent_job_id=parent_id, dryrun=True)
    assert outcome == {
        "result": 6,
        "job_id": outcome["job_id"],
        "call_hash": outcome["call_hash"],
    }
    assert outcome["call_hash"]


def test_extend_run_context(db: str) -> None:
    scheduler = _scheduler(db)
    parent_id, _ = _parent(scheduler)
    outcome = scheduler.extend_run(scaled(4), parent_job_id=parent_id, context={"factor": 3})
    assert outcome["result"] == 12


def test_extend_run_unknown_parent(db: str) -> None:
    scheduler = _scheduler(db)
    _parent(scheduler)
    with pytest.raises(ValueError, match="unknown parent_job_id 'nope'"):
        scheduler.extend_run(inc(1), parent_job_id="nope")
    # The scheduler is usable afterwards.
    assert scheduler.run(inc(2)) == 3


def test_extended_job_shows_in_redun_log(db: str, tmp_path: Path) -> None:
    scheduler = _scheduler(db)
    parent_id, execution_id = _parent(scheduler)
    outcome = scheduler.extend_run(inc(41), parent_job_id=parent_id)
    scheduler.backend.close()

    shown = subprocess.run(
        [sys.executable, "-m", "redun", "--db", db, "log", execution_id],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert outcome["job_id"][:8] in shown
    assert "test_extend_run.inc(x=41) -> 42" in shown
