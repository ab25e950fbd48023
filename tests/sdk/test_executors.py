"""Executors: the process pool runs tasks importable by module path."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from redun import Scheduler
from redun.config import Config
from redun.errors import ExecutorError, UsageError
from redun.workflow.loader import find_task, import_workflow

FLOW = textwrap.dedent(
    """
    import os
    from redun import task

    redun_namespace = "procs"


    @task(executor="processes")
    def where(x: int) -> tuple:
        return (x * 2, os.getpid())


    @task(executor="processes")
    def explode(x: int) -> int:
        raise KeyError(f"no key {x}")


    @task(executor="processes")
    def die(x: int) -> int:
        os._exit(3)


    @task
    def main(n: int) -> list:
        return [where(i) for i in range(n)]
    """
)


def test_process_executor_runs_in_other_processes(tmp_path: Path) -> None:
    path = tmp_path / "procflow.py"
    path.write_text(FLOW)
    module = import_workflow(str(path))
    main = find_task(module, "main", str(path))
    config = Config({"executors.processes": {"type": "processes", "max_workers": "2"}})
    scheduler = Scheduler(config=config)
    try:
        results = scheduler.run(main(20))
        assert [value for value, _ in results] == [2 * i for i in range(20)]
        pids = {pid for _, pid in results}
        assert os.getpid() not in pids
        explode = find_task(module, "explode", str(path))
        try:
            scheduler.run(explode(3))
        except KeyError as error:
            assert "no key 3" in str(error)
        else:
            raise AssertionError("expected KeyError from the worker")
    finally:
        scheduler.stop()


WAITING_FLOW = textwrap.dedent(
    """
    import os
    import time
    from redun import task

    redun_namespace = "procs_waiting"


    @task(executor="processes")
    def meet(i: int, where: str, count: int) -> tuple:
        # Returns only once `count` jobs have started: they must all run at once.
        with open(os.path.join(where, str(i)), "w") as out:
            out.write(str(os.getpid()))
        deadline = time.monotonic() + 60
        while len(os.listdir(where)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return (len(os.listdir(where)) >= count, os.getpid())


    @task
    def main(where: str, count: int) -> list:
        return [meet(i, where, count) for i in range(count)]
    """
)


def test_the_process_pool_grows_past_the_cpus_for_jobs_that_wait(tmp_path: Path) -> None:
    # As in redun, up to 20 processes by default: jobs that sleep or wait on I/O all
    # run at once, even on a machine with fewer CPUs (the pool starts one per CPU).
    path = tmp_path / "waitflow.py"
    path.write_text(WAITING_FLOW)
    module = import_workflow(str(path))
    main = find_task(module, "main", str(path))
    count = min(20, (os.cpu_count() or 2) + 2)
    where = tmp_path / "met"
    where.mkdir()
    scheduler = Scheduler(config=Config({"backend": {"db_uri": "memory"}}))
    try:
        results = scheduler.run(main(str(where), count))
    finally:
        scheduler.stop()
    assert all(met for met, _ in results), "the jobs did not all run at once"
    assert len({pid for _, pid in results}) == count


def test_a_worker_that_dies_fails_its_job_and_the_next_jobs_get_a_new_pool(
    tmp_path: Path,
) -> None:
    path = tmp_path / "procflow.py"
    path.write_text(FLOW)
    module = import_workflow(str(path))
    scheduler = Scheduler(config=Config({"backend": {"db_uri": "memory"}}))
    try:
        with pytest.raises(ExecutorError, match="a worker process died while it ran procs.die"):
            scheduler.run(find_task(module, "die", str(path))(1))
        results = scheduler.run(find_task(module, "main", str(path))(6))
        assert [value for value, _ in results] == [2 * i for i in range(6)]
    finally:
        scheduler.stop()


def test_a_process_pool_of_no_workers_is_refused_by_name() -> None:
    config = Config({"executors.cpu": {"type": "processes", "max_workers": "0"}})
    scheduler = Scheduler(config=config)
    with pytest.raises(UsageError, match=r"\[executors.cpu\] max_workers must be at least 1"):
        scheduler.get_executor("cpu")
