"""``subrun``: a sub-scheduler's jobs recorded under the job that started it.

As in insitro/redun, by default (``new_execution=False``) they join the caller's
execution, so ``redun log`` shows one tree; ``new_execution=True`` records them
as an execution of their own.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from redun import Scheduler, task
from redun.config import Config
from redun.scheduler import subrun

redun_namespace = "test_subrun"


@task
def square(x: int) -> int:
    return x * x


@task
def explode(x: int) -> int:
    raise ValueError(f"no square for {x}")


@task
def main(new_execution: bool = False) -> object:
    return subrun([square(2), square(3)], executor="default", new_execution=new_execution)


@task
def failing() -> object:
    return subrun(explode(7), executor="default")


def _scheduler(tmp_path: Path) -> Scheduler:
    return Scheduler(config=Config({"backend": {"db_uri": f"sqlite:///{tmp_path / 'redun.db'}"}}))


def _jobs(scheduler: Scheduler) -> dict[str, tuple]:
    rows = scheduler.backend.query("SELECT id, execution_id, parent_id, task_name FROM redun_job")
    return {row[0]: tuple(row[1:]) for row in rows}


def _ancestors(jobs: dict[str, tuple], job_id: str) -> list[str]:
    names = []
    parent = jobs[job_id][1]
    while parent is not None:
        names.append(jobs[parent][2])
        parent = jobs[parent][1]
    return names


def test_subrun_jobs_join_the_callers_execution(tmp_path: Path) -> None:
    scheduler = _scheduler(tmp_path)
    assert scheduler.run(main()) == [4, 9]
    jobs = _jobs(scheduler)
    [execution] = {execution for (execution, _, _) in jobs.values()}
    squares = [job_id for job_id, row in jobs.items() if row[2] == "test_subrun.square"]
    assert len(squares) == 2
    for job_id in squares:
        assert _ancestors(jobs, job_id) == [
            "redun.root_task",
            "redun.subrun_root_task",
            "test_subrun.main",
        ]
    assert len(scheduler.backend.query("SELECT id FROM redun_execution")) == 1

    shown = subprocess.run(
        [sys.executable, "-m", "redun", "--db", f"sqlite:///{tmp_path / 'redun.db'}", "log",
         execution],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    assert "test_subrun.square(x=3) -> 9" in shown


def test_subrun_new_execution_records_an_execution_of_its_own(tmp_path: Path) -> None:
    scheduler = _scheduler(tmp_path)
    assert scheduler.run(main(True)) == [4, 9]
    jobs = _jobs(scheduler)
    assert len({execution for (execution, _, _) in jobs.values()}) == 2
    assert len(scheduler.backend.query("SELECT id FROM redun_execution")) == 2
    squares = [job_id for job_id, row in jobs.items() if row[2] == "test_subrun.square"]
    assert _ancestors(jobs, squares[0]) == ["redun.root_task"]


def test_subrun_into_another_store_records_an_execution_there(tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"

    @task
    def elsewhere() -> object:
        return subrun(square(5), executor="default", config={"backend": {"db_uri": other}})

    scheduler = _scheduler(tmp_path)
    assert scheduler.run(elsewhere()) == 25
    # The caller's execution is not in that store: the sub-run made one of its own there.
    there = Scheduler(config=Config({"backend": {"db_uri": other}}))
    [(execution_id, root_job_id)] = there.backend.query(
        "SELECT id, root_job_id FROM redun_execution"
    )
    rows = there.backend.query("SELECT id, execution_id, parent_id, task_name FROM redun_job")
    assert [tuple(row[1:]) for row in rows] == [(execution_id, None, "test_subrun.square")]
    assert rows[0][0] == root_job_id


def test_subrun_error_reaches_the_caller(tmp_path: Path) -> None:
    scheduler = _scheduler(tmp_path)
    with pytest.raises(ValueError, match="no square for 7"):
        scheduler.run(failing())
    jobs = _jobs(scheduler)
    states = dict(
        scheduler.backend.query("SELECT task_name, state FROM redun_job WHERE state = 'failed'")
    )
    assert states.get("test_subrun.explode") == "failed"
    [explode_id] = [job_id for job_id, row in jobs.items() if row[2] == "test_subrun.explode"]
    assert _ancestors(jobs, explode_id)[:2] == ["redun.subrun_root_task", "test_subrun.failing"]
