"""A Spark job in the TUI, against a real daemon and its Spark host: slow (local-mode Spark).

What a user sees of a batch of `spark` calls while it runs (the job group, the
Spark UI, the stages' progress), then its output once it ends, and that `c`
on the execution screen stops the Spark tasks themselves.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from redun.v1 import common_pb2
from redun_tui.app import RedunApp
from redun_tui.data.grpc_source import GrpcSource
from redun_tui.screens import ExecutionScreen, JobScreen
from redun_tui.widgets import JobLog

from ..e2e.helpers import Daemon, write_workflow
from .conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SIZE = (160, 48)

FLOW = """
import os
import time

from redun import task

redun_namespace = "tui_spark"


@task(executor="spark")
def crunch(i: int, flag: str, pids: str) -> int:
    with open(os.path.join(pids, str(os.getpid())), "w") as out:
        out.write(str(i))
    while not os.path.exists(flag):
        time.sleep(0.05)
    print(f"crunched {i}")
    return i * 10


@task
def main(flag: str, pids: str, n: int = 2) -> list:
    return [crunch(i, flag, pids) for i in range(n)]
"""

CONFIG = """
[backend]
db_uri = sqlite:///${config_dir}/redun.db

[executors.spark]
type = spark
master = local[2]
progress_interval = 0.2
"""


@pytest.fixture
def spark_daemon(tmp_path: Path) -> Iterator[Daemon]:
    pytest.importorskip("pyspark")
    from redun.spark.preflight import find_java

    if find_java() is None:
        pytest.skip("no Java on this machine: .ci/run installs default-jre-headless")
    write_workflow(tmp_path, "sparkflow.py", FLOW)
    (tmp_path / ".redun").mkdir(exist_ok=True)
    (tmp_path / ".redun" / "redun.ini").write_text(CONFIG)
    daemon = Daemon(tmp_path)
    daemon.env["PYSPARK_PYTHON"] = sys.executable
    daemon.start()
    yield daemon
    daemon.stop()


@dataclass
class FanOut:
    """The submitted fan-out: its calls wait for ``flag`` and leave a file per worker
    pid in ``pids``; ``job_id`` is its first call's."""

    execution_id: str
    job_id: str
    flag: Path
    pids: Path


def _submit(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> FanOut:
    """Submit the fan-out from the project's directory; return once a call exists."""
    monkeypatch.chdir(daemon.project)
    flag, pids = daemon.project / "flag", daemon.project / "pids"
    pids.mkdir()
    with daemon.client() as client:
        run = client.submit("sparkflow.py", "main", args={"flag": str(flag), "pids": str(pids)})
        for event in run.events():
            if event["type"] == "job_state" and event["task"].endswith("crunch"):
                return FanOut(run.id, event["job_id"], flag, pids)
    raise AssertionError("the run ended before a crunch job was made")


def _lines(log: JobLog) -> list[str]:
    return [str(log.lines[i]) for i in range(log.line_count)]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_spark_batch_shows_its_group_progress_and_output_in_the_job_screen(
    spark_daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = spark_daemon
    home = str(daemon.home)
    run = _submit(daemon, monkeypatch)
    execution_id, flag = run.execution_id, run.flag

    async def scenario() -> None:
        app = RedunApp(GrpcSource(home), home=home)
        async with app.run_test(size=SIZE) as pilot:
            app.open_job(run.job_id)
            await wait_for(
                pilot, lambda: isinstance(app.screen, JobScreen) and app.screen.query(JobLog)
            )
            log = app.screen.query_one(JobLog)
            # While the calls run (they wait for the flag): the batch and its progress.
            await wait_for(
                pilot,
                lambda: any("tasks done" in line for line in _lines(log)),
                timeout=180,
                what="the Spark progress line",
            )
            assert not flag.exists()
            [header] = [line for line in _lines(log) if "as one Spark job" in line]
            assert "2 call(s) as one Spark job, job group redun-" in header
            assert "Spark UI http://" in header
            assert any("0/2 tasks done" in line for line in _lines(log)), _lines(log)
            flag.touch()
            await wait_for(
                pilot,
                lambda: any(line.startswith("crunched ") for line in _lines(log)),
                timeout=120,
                what="the call's own output",
            )
            await pilot.press("q")

    asyncio.run(scenario())
    with daemon.client() as client:
        deadline = time.monotonic() + 60
        while client.execution(execution_id).status != common_pb2.EXECUTION_STATUS_DONE:
            assert time.monotonic() < deadline, client.execution(execution_id)
            time.sleep(0.1)
        assert client.execution(execution_id).result.repr == "[0, 10]"


def test_cancel_on_the_execution_screen_stops_the_spark_tasks(
    spark_daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = spark_daemon
    home = str(daemon.home)
    run = _submit(daemon, monkeypatch)
    execution_id, flag, pids = run.execution_id, run.flag, run.pids
    deadline = time.monotonic() + 300
    while len(list(pids.iterdir())) < 2:  # both calls run on Spark's Python workers
        assert time.monotonic() < deadline, "the calls did not start on Spark"
        time.sleep(0.1)
    workers = [int(path.name) for path in pids.iterdir()]

    async def scenario() -> None:
        app = RedunApp(GrpcSource(home), home=home)
        async with app.run_test(size=SIZE) as pilot:
            app.open_execution(execution_id)
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionScreen))
            screen = app.screen
            await wait_for(
                pilot,
                lambda: screen.board.state_counts().get("running") == 3,
                timeout=60,
                what="main and both calls running in the DAG",
            )
            await pilot.press("c")
            await wait_for(pilot, lambda: screen.board.done, timeout=60, what="the cancellation")
            assert screen.board.status == "cancelled"
            await wait_for(
                pilot,
                lambda: all(_gone(pid) for pid in workers),
                timeout=120,
                what="the Spark tasks to be killed",
            )
            await pilot.press("q")

    asyncio.run(scenario())
    assert not flag.exists()  # nothing let the calls end on their own
    with daemon.client() as client:
        deadline = time.monotonic() + 60
        while client.execution(execution_id).status == common_pb2.EXECUTION_STATUS_RUNNING:
            assert time.monotonic() < deadline, client.execution(execution_id)
            time.sleep(0.1)
        status = client.execution(execution_id).status
        assert status == common_pb2.EXECUTION_STATUS_CANCELLED, status
