"""Executors: the process pool runs tasks importable by module path."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from redun import Scheduler
from redun.config import Config
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
