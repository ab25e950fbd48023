"""``type = alias``: an executor name that stands for another, as in insitro/redun."""

from __future__ import annotations

import threading

import pytest

from redun import AliasExecutor, Scheduler, task
from redun.config import Config
from redun.errors import ExecutorError, ExecutorNotConfigured, UsageError
from redun.executors.base import Executor
from redun.executors.local import LocalExecutor

redun_namespace = "test_alias_executor"


@task(executor="batch")
def where(x: int) -> str:
    return f"{x} on {threading.current_thread().name}"


def _scheduler(**sections: dict) -> Scheduler:
    return Scheduler(config=Config({f"executors.{k}": v for k, v in sections.items()}))


def test_an_alias_runs_its_jobs_on_the_target() -> None:
    scheduler = _scheduler(batch={"type": "alias", "target": "default"})
    results = scheduler.run([where(1), where(2)])
    assert all(" on " in text for text in results)
    assert scheduler.executors["batch"] is scheduler.executors["default"]
    assert isinstance(scheduler.executors["batch"], LocalExecutor)
    jobs = [job for job in scheduler.jobs() if job.task.name == "where"]
    assert {job.executor_name for job in jobs} == {"batch"}  # shown under the task's name
    rows = scheduler.backend.query("SELECT DISTINCT executor FROM redun_job WHERE task_name = :t",
                                   t="test_alias_executor.where")  # fmt: skip
    assert [tuple(row) for row in rows] == [("batch",)]


def test_an_alias_s_target_is_stopped_once() -> None:
    stops: list[str] = []

    class Counting(LocalExecutor):
        def stop(self) -> None:
            stops.append(self.name)
            super().stop()

    scheduler = _scheduler(batch={"type": "alias", "target": "default"})
    scheduler.add_executor(Counting("default", scheduler))
    scheduler.run(where(3))
    scheduler.stop()
    assert stops == ["default"]


def test_aliases_chain_and_bad_ones_are_named() -> None:
    chained = _scheduler(
        batch={"type": "alias", "target": "middle"},
        middle={"type": "alias", "target": "processes"},
    )
    assert chained.get_executor("batch") is chained.get_executor("processes")
    with pytest.raises(ExecutorNotConfigured, match="alias of 'nowhere', which is not configured"):
        _scheduler(batch={"type": "alias", "target": "nowhere"}).run(where(1))
    with pytest.raises(ExecutorNotConfigured, match="circle: batch -> other -> batch"):
        _scheduler(
            batch={"type": "alias", "target": "other"}, other={"type": "alias", "target": "batch"}
        ).get_executor("batch")
    with pytest.raises(UsageError, match=r"\[executors.batch\] type = alias needs target"):
        _scheduler(batch={"type": "alias"}).get_executor("batch")


def test_executors_by_name_start_on_first_use() -> None:
    scheduler = Scheduler()
    assert "default" not in scheduler.executors
    assert isinstance(scheduler.executors["default"], LocalExecutor)  # as redun has it
    with pytest.raises(KeyError):
        scheduler.executors["not_configured"]


def test_alias_executor_used_directly() -> None:
    submitted: list[object] = []

    class Recording(Executor):
        def submit(self, job: object) -> None:  # type: ignore[override]
            submitted.append(job)

    scheduler = Scheduler()
    target = Recording("rec", scheduler)
    scheduler.add_executor(target)
    AliasExecutor("batch", scheduler, {"target": "rec"}).submit(None)  # type: ignore[arg-type]
    AliasExecutor("batch", scheduler, target=target).submit(None)  # type: ignore[arg-type]
    assert submitted == [None, None]
    with pytest.raises(ExecutorError, match="Could not find executor `missing`"):
        AliasExecutor("batch", scheduler, {"target": "missing"}).submit(None)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="Exactly one of `target` or `config`"):
        AliasExecutor("batch", scheduler, {"target": "rec"}, target=target)
