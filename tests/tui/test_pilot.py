"""The app driven with Pilot against a real daemon running real workflows."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import DataTable, Input, Select

from redun_tui.app import RedunApp
from redun_tui.data.db_source import DbSource
from redun_tui.data.grpc_source import GrpcSource
from redun_tui.screens import (
    ExecutionScreen,
    ExecutionsScreen,
    JobScreen,
    LineageScreen,
    SearchScreen,
    SubmitScreen,
    TasksScreen,
    WelcomeScreen,
)
from redun_tui.widgets import JobLog, JobTree

from ..e2e.helpers import Daemon
from .conftest import wait_for

SIZE = (160, 48)


def app_for(daemon: Daemon) -> RedunApp:
    home = str(daemon.home)
    return RedunApp(
        GrpcSource(home),
        home=home,
        browse=lambda: DbSource.for_home(home),
        working_dir=str(daemon.project),
    )


def rows_text(view: object) -> str:
    return "\n".join(f"{label} {value}" for label, value in view.rows)  # type: ignore[attr-defined]


def tree_text(screen: ExecutionScreen) -> str:
    tree = screen.query_one(JobTree)
    return "\n".join(str(tree.get_node_at_line(i).label) for i in range(tree.last_line + 1))


def test_live_execution_job_output_and_back(daemon: Daemon, project: Path) -> None:
    async def scenario() -> None:
        app = app_for(daemon)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionsScreen))
            home = app.screen
            with daemon.client() as client:
                run = client.submit("flow.py", "chatty", args={"lines": "12"})
            # the list updates as the run's events arrive
            await wait_for(pilot, lambda: run.id in home.executions, what="the new execution")
            table = home.query_one("#executions", DataTable)
            assert table.get_row_index(run.id) == 0
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionScreen))
            screen = app.screen
            await wait_for(pilot, lambda: screen.board.done, what="execution_finished")
            await wait_for(
                pilot,
                lambda: "e2e.chatty(lines=12)  done" in tree_text(screen),
                what="the finished job drawn",
            )
            assert screen.board.status == "done"
            summary = rows_text(screen.query_one("#summary"))
            assert "chatty --lines 12" in summary and "12" in summary
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, JobScreen))
            log = app.screen.query_one(JobLog)
            await wait_for(pilot, lambda: log.line_count >= 12, what="the job's output")
            assert [log.lines[i] for i in (0, 11)] == ["line 0", "line 11"]
            await wait_for(pilot, lambda: app.screen.detail and app.screen.detail.result)
            assert app.screen.detail.result.repr == "12"
            await pilot.press("escape", "escape")
            assert app.screen is home
            await pilot.press("q")
        assert app.return_code == 0

    asyncio.run(scenario())


def test_fanout_counts_filter_and_lineage(daemon: Daemon, project: Path) -> None:
    async def scenario() -> None:
        app = app_for(daemon)
        async with app.run_test(size=SIZE) as pilot:
            with daemon.client() as client:
                run = client.submit("flow.py", "fanout", args={"n": "300"})
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionsScreen))
            app.open_execution(run.id)
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionScreen))
            screen = app.screen
            await wait_for(pilot, lambda: screen.board.done, timeout=30, what="the fan-out")
            await wait_for(
                pilot,
                lambda: sum(screen.query_one("#counts").counts.get("e2e.inc", {}).values()) == 300,
                what="the counts drawn",
            )
            counts = screen.query_one("#counts").counts
            assert sum(counts["e2e.inc"].values()) == 300
            assert set(counts["e2e.inc"]) <= {"done", "cached"}
            tree = screen.query_one(JobTree)
            # lazy: a page of the root's children plus a "more" line, not 302 nodes
            assert tree.node_count() == 1 + 200
            assert "101 more" in tree_text(screen)  # 300 inc jobs and total
            await pilot.press("slash", *"task:total")
            await wait_for(pilot, lambda: tree.flat and tree.node_count() == 1, what="the filter")
            assert "e2e.total" in tree_text(screen)
            await pilot.press("escape", "escape")  # clear the filter, leave the bar
            await wait_for(pilot, lambda: not tree.flat, what="the DAG again")
            await pilot.press("l")
            await wait_for(
                pilot, lambda: isinstance(app.screen, LineageScreen) and app.screen.graph
            )
            graph = app.screen.graph
            assert graph.nodes[graph.root_id].label == str(sum(range(1, 301)))
            assert {n.task for _, n in graph.upstream(graph.root_id)} >= {"e2e.total"}
            await pilot.press("q")

    asyncio.run(scenario())


def test_failed_job_shows_traceback(daemon: Daemon, project: Path) -> None:
    async def scenario() -> None:
        with daemon.client() as client:
            run = client.submit("flow.py", "boom", args={"x": "7"})
            run.wait(timeout=30)
            root = client.execution(run.id).root_job_id
        app = app_for(daemon)
        async with app.run_test(size=SIZE) as pilot:
            app.open_job(root)
            await wait_for(pilot, lambda: isinstance(app.screen, JobScreen) and app.screen.detail)
            screen = app.screen
            assert screen.detail.job.state == "failed"
            traceback = str(screen.query_one("#traceback").content)
            assert "ValueError: boom 7" in traceback
            await pilot.press("q")

    asyncio.run(scenario())


def test_submit_form_runs_a_task(daemon: Daemon, project: Path) -> None:
    async def scenario() -> None:
        app = app_for(daemon)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionsScreen))
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, SubmitScreen))
            form = app.screen
            form.query_one("#file", Input).value = "flow.py"
            await wait_for(
                pilot,
                lambda: form.workflow_path == "flow.py" and "greet" in form.signatures,
                what="tasks of flow.py",
            )
            form.query_one("#task", Select).value = "greet"
            form.query_one("#args", Input).value = "--name pilot"
            await wait_for(
                pilot,
                lambda: "--name STR='world'" in str(form.query_one("#hint").content),
                what="the task's hint",
            )
            await pilot.click("#submit")
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionScreen), what="the run")
            screen = app.screen
            await wait_for(pilot, lambda: screen.board.done and screen.info is not None)
            await wait_for(pilot, lambda: screen.info.result is not None)
            assert screen.info.result.repr == "'Hello, pilot!'"
            await pilot.press("q")

    asyncio.run(scenario())


def test_cancel_rerun_and_watch(daemon: Daemon, project: Path) -> None:
    async def scenario() -> None:
        with daemon.client() as client:
            run = client.submit("flow.py", "hang", args={"seconds": "60"})
        app = app_for(daemon)
        async with app.run_test(size=SIZE) as pilot:
            app.open_execution(run.id)
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionScreen))
            screen = app.screen
            await wait_for(pilot, lambda: screen.board.state_counts().get("running"))
            await pilot.press("c")
            await wait_for(pilot, lambda: screen.board.done, what="the cancellation")
            assert screen.board.status == "cancelled"
            await pilot.press("escape")
            home = app.screen
            assert isinstance(home, ExecutionsScreen)
            # watch the run that is selected (the newest: the cancelled one) ...
            with daemon.client() as client:
                greet = client.submit("flow.py", "greet", args={"name": "w"})
                greet.wait(timeout=30)
            await wait_for(pilot, lambda: greet.id in home.executions)
            home.query_one("#executions", DataTable).move_cursor(row=0)
            await pilot.press("r")  # re-run: opens the new execution
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionScreen))
            rerun = app.screen
            await wait_for(pilot, lambda: rerun.info is not None and rerun.board.done)
            assert rerun.execution_id != greet.id
            assert rerun.info.request.args == {"name": "w"}
            await pilot.press("escape", "w")
            await wait_for(pilot, lambda: home.watches, what="the watch")
            watch_id = next(iter(home.watches))
            home.query_one("#watches", DataTable).focus()
            await pilot.press("u")
            await wait_for(pilot, lambda: watch_id not in home.watches, what="unwatch")
            await pilot.press("q")

    asyncio.run(scenario())


def test_browse_tasks_and_search_through_the_daemon(daemon: Daemon, project: Path) -> None:
    async def scenario() -> None:
        with daemon.client() as client:
            client.submit("flow.py", "greet", args={"name": "search"}).wait(timeout=30)
        app = app_for(daemon)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionsScreen))
            await pilot.press("t")
            await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen) and app.screen.tasks)
            assert "e2e.greet" in app.screen.tasks
            await pilot.press("escape", "ctrl+f", *"greet")
            await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen) and app.screen.hits)
            kinds = {hit.kind for hit in app.screen.hits.values()}
            assert "task" in kinds
            await pilot.press("q")

    asyncio.run(scenario())


def test_no_daemon_offers_a_read_only_browse(daemon: Daemon, project: Path) -> None:
    async def scenario() -> None:
        with daemon.client() as client:
            run = client.submit("flow.py", "fanout", args={"n": "3"})
            run.wait(timeout=30)
        home = str(daemon.home)
        app = RedunApp(
            None,
            home=home,
            reason="no daemon",
            database=str(daemon.home / "redun.db"),
            browse=lambda: DbSource.for_home(home),
        )
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, WelcomeScreen))
            await pilot.press("b")
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionsScreen))
            screen = app.screen
            await wait_for(pilot, lambda: run.id in screen.executions)
            assert not app.source.live
            app.open_execution(run.id)
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionScreen))
            await wait_for(pilot, lambda: app.screen.board.done)
            assert len(app.screen.board.jobs) == 5
            await wait_for(pilot, lambda: app.screen.info is not None, what="the record")
            await pilot.press("r")  # re-run needs the daemon: refused with a message
            await wait_for(
                pilot,
                lambda: any("read-only" in str(n.message) for n in app._notifications),
                what="the refusal",
            )
            await pilot.press("q")

    asyncio.run(scenario())
