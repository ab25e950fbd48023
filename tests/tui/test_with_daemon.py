"""The app against real daemons that die, restart and replay: reconnects, call order, and
output read back from the store."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from textual.widgets import Static

from redun_tui.app import RedunApp
from redun_tui.data.db_source import DbSource
from redun_tui.data.grpc_source import GrpcSource
from redun_tui.screens import ExecutionScreen, ExecutionsScreen, JobScreen
from redun_tui.widgets import JobLog, JobTree

from ..e2e.helpers import Daemon, write_workflow
from .conftest import wait_for

SIZE = (160, 48)

NESTED = """
import time

from redun import task


@task
def leaf(i: int) -> int:
    time.sleep(0.02 * (6 - i))
    return i


@task
def slow(seconds: float = 60.0) -> float:
    time.sleep(seconds)
    return seconds


@task
def mid(k: int) -> list:
    return [leaf(i) for i in range(k)]


@task
def main() -> list:
    return [mid(5), slow(60.0), mid(3)]
"""


def _where(app: RedunApp) -> str:
    return str(app.screen.query_one("#where", Static).content)


def test_the_ui_reconnects_after_the_daemon_is_killed_and_restarted(
    fresh_daemon: Daemon, monkeypatch: object
) -> None:
    fresh_daemon.start()
    monkeypatch.chdir(fresh_daemon.project)  # type: ignore[attr-defined]
    old_pid = fresh_daemon.pid()
    home = str(fresh_daemon.home)

    async def scenario() -> None:
        app = RedunApp(GrpcSource(home), home=home)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionsScreen))
            screen = app.screen
            await wait_for(pilot, lambda: _where(app).endswith(f"(pid {old_pid}) · live"))
            os.kill(old_pid, signal.SIGKILL)
            await wait_for(
                pilot, lambda: "· reconnecting" in _where(app), what="the header to say so"
            )
            assert f"pid {old_pid}" in _where(app)  # what it last knew, not "live"
            await asyncio.to_thread(fresh_daemon.start)
            new_pid = fresh_daemon.pid()
            await wait_for(
                pilot,
                lambda: _where(app).endswith(f"(pid {new_pid}) · live"),
                timeout=30,
                what="the new daemon",
            )
            with fresh_daemon.client() as client:
                run = client.submit("flow.py", "greet", args={"name": "again"})
            await wait_for(pilot, lambda: run.id in screen.executions, what="the new run listed")
            await pilot.press("q")

    asyncio.run(scenario())


def test_a_dag_opened_mid_run_lists_children_in_call_order(
    fresh_daemon: Daemon, monkeypatch: object
) -> None:
    write_workflow(fresh_daemon.project, "nested.py", NESTED)
    fresh_daemon.start()
    monkeypatch.chdir(fresh_daemon.project)  # type: ignore[attr-defined]
    home = str(fresh_daemon.home)
    with fresh_daemon.client() as client:
        run = client.submit("nested.py", "main")
        mids_done = 0
        for event in run.events():
            # Mid-run: both mids done, slow still running. A replay sends each job's
            # latest event in the order they happened: slow's 'running' before the
            # mids' 'done', though main called mid(5) first.
            if event["type"] == "job_state" and event["task"] == "mid":
                mids_done += event["state"] == "done"
                if mids_done == 2:
                    break

    async def scenario() -> None:
        app = RedunApp(GrpcSource(home), home=home)
        async with app.run_test(size=SIZE) as pilot:
            app.open_execution(run.id)
            await wait_for(
                pilot, lambda: isinstance(app.screen, ExecutionScreen) and app.screen.query(JobTree)
            )
            tree = app.screen.query_one(JobTree)
            await wait_for(pilot, lambda: tree.node_count() >= 4, what="the DAG")
            lines = [str(tree.get_node_at_line(i).label) for i in range(4)]
            assert [line.split("(")[0].split()[-1] for line in lines] == [
                "main",
                "mid",
                "slow",
                "mid",
            ]
            assert "mid(5)" in lines[1] and "mid(3)" in lines[3]
            assert tree.cursor_line == 0
            app.cancel_execution(run.id)
            await wait_for(pilot, lambda: app.screen.board.done, what="the cancellation")
            await pilot.press("q")

    asyncio.run(scenario())


def test_output_of_a_finished_job_comes_from_the_store(daemon: Daemon, project: Path) -> None:
    with daemon.client() as client:
        run = client.submit("flow.py", "chatty", args={"lines": "3"})
        assert run.result(timeout=30) == 3
        job_id = client.execution(run.id).root_job_id
    expected = ["line 0", "line 1", "line 2"]
    store = DbSource.for_home(str(daemon.home))
    chunks = [chunk.text for batch in store.logs(job_id, follow=False) for chunk in batch]
    assert "".join(chunks).splitlines() == expected

    async def scenario() -> None:
        home = str(daemon.home)
        app = RedunApp(DbSource.for_home(home), home=home)  # read-only: no daemon involved
        async with app.run_test(size=SIZE) as pilot:
            app.open_job(job_id)
            await wait_for(
                pilot, lambda: isinstance(app.screen, JobScreen) and app.screen.query(JobLog)
            )
            log = app.screen.query_one(JobLog)
            await wait_for(pilot, lambda: log.line_count >= 3, what="the recorded output")
            assert [log.lines[i] for i in range(3)] == expected
            await pilot.press("q")

    asyncio.run(scenario())
    result = daemon.redun("log", job_id)
    assert result.returncode == 0, result.stderr
    assert "  Output:\n    line 0\n    line 1\n    line 2\n" in result.stdout


TALKER = """
import time

from redun import task


@task
def talk() -> int:
    print("said before the daemon died", flush=True)
    time.sleep(60)
    return 1


@task
def main() -> int:
    return talk()
"""


def test_an_open_dag_and_job_follow_the_restarted_daemon(
    fresh_daemon: Daemon, monkeypatch: object
) -> None:
    write_workflow(fresh_daemon.project, "talker.py", TALKER)
    fresh_daemon.start()
    monkeypatch.chdir(fresh_daemon.project)  # type: ignore[attr-defined]
    old_pid = fresh_daemon.pid()
    home = str(fresh_daemon.home)
    with fresh_daemon.client() as client:
        run = client.submit("talker.py", "main")
        talk_id = ""
        for event in run.events():
            if event["type"] == "job_state" and event["task"] == "talk":
                if event["state"] == "running":
                    talk_id = event["job_id"]
                    break
    assert talk_id

    async def scenario() -> None:
        app = RedunApp(GrpcSource(home), home=home)
        async with app.run_test(size=SIZE) as pilot:
            app.open_execution(run.id)
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionScreen))
            dag = app.screen
            await wait_for(pilot, lambda: talk_id in dag.board.jobs, what="the DAG")
            app.open_job(talk_id)
            await wait_for(pilot, lambda: isinstance(app.screen, JobScreen))
            job = app.screen
            # Both screens stay mounted (the job's over the DAG); both lose their streams.
            os.kill(old_pid, signal.SIGKILL)
            await wait_for(
                pilot,
                lambda: "reconnecting" in job.connection and "reconnecting" in dag.connection,
                what="both screens to say they are reconnecting",
            )
            assert "reconnecting" in str(job.sub_title)  # the screen on top shows it
            generation = app.source.generation
            await asyncio.to_thread(fresh_daemon.start)
            await wait_for(
                pilot,
                lambda: not job.connection and not dag.connection,
                timeout=30,
                what="both screens back on the new daemon",
            )
            # One reconnection served both screens.
            assert app.source.generation == generation + 1
            assert app.source.pid == fresh_daemon.pid() != old_pid
            # The DAG follows the run again: the new daemon closed it as interrupted,
            # so its stream ends, and no job is left running (closed as the store has them).
            await wait_for(pilot, lambda: dag.board.done, timeout=30, what="the run's end")
            assert dag.board.status == "interrupted"
            assert dag.board.jobs[talk_id].state == "cancelled"
            assert not dag.board.running()
            await pilot.press("q")
            await pilot.press("q")

    asyncio.run(scenario())


PROCESS_TALKER = """
import os
import time

from redun import task


@task(executor="processes")
def talk(flag: str) -> int:
    print("said in a worker process", flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(flag) and time.monotonic() < deadline:
        time.sleep(0.05)
    print("heard back")
    return 1


@task
def main(flag: str) -> int:
    return talk(flag)
"""


def test_a_process_job_shows_its_output_while_it_runs(
    fresh_daemon: Daemon, monkeypatch: object
) -> None:
    # The job only ends once its first line is on screen: with output shipped only
    # with results, this would wait out the job's 60 s and the test's timeout.
    write_workflow(fresh_daemon.project, "procs.py", PROCESS_TALKER)
    fresh_daemon.start()
    monkeypatch.chdir(fresh_daemon.project)  # type: ignore[attr-defined]
    home = str(fresh_daemon.home)
    flag = fresh_daemon.project / "flag"
    with fresh_daemon.client() as client:
        run = client.submit("procs.py", "main", args={"flag": str(flag)})
        talk_id = ""
        for event in run.events():
            if event["type"] == "job_state" and event["task"] == "talk":
                talk_id = event["job_id"]
                break
    assert talk_id

    async def scenario() -> None:
        app = RedunApp(GrpcSource(home), home=home)
        async with app.run_test(size=SIZE) as pilot:
            app.open_job(talk_id)
            await wait_for(
                pilot, lambda: isinstance(app.screen, JobScreen) and app.screen.query(JobLog)
            )
            log = app.screen.query_one(JobLog)
            await wait_for(pilot, lambda: log.line_count >= 1, timeout=30, what="the live line")
            assert not flag.exists()  # the job is still running
            assert log.lines[0] == "said in a worker process"
            flag.touch()
            await wait_for(pilot, lambda: log.line_count >= 2, timeout=30, what="the last line")
            # Each line once: the worker's echo did not come back as the runner's output.
            assert [log.lines[i] for i in range(log.line_count)] == [
                "said in a worker process",
                "heard back",
            ]
            await pilot.press("q")

    asyncio.run(scenario())
    with fresh_daemon.client() as client:
        deadline = time.monotonic() + 30
        while not client.execution(run.id).result.repr and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.execution(run.id).result.repr == "1"
