"""The app keeps going and keeps honest: unexpected errors, slow connects, clocks that move,
events out of call order, and what the job screen says."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from textual.widgets import DataTable, Static

from redun_tui.app import RedunApp
from redun_tui.data.model import ExecutionInfo, RunRequest
from redun_tui.data.source import Subscription
from redun_tui.screens import (
    ExecutionScreen,
    ExecutionsScreen,
    HelpScreen,
    JobScreen,
    WelcomeScreen,
)
from redun_tui.screens.job import reason_text
from redun_tui.widgets import JobTree

from .conftest import settle, wait_for
from .fakes import EXECUTION, NOW, ROOT, FakeSource

SIZE = (140, 40)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def cell(table: DataTable, row: str, column: str) -> str:
    return str(table.get_cell(row, column))


# -- unexpected errors and slow connects (issue 19 item 8) ---------------------------------------
class BrokenSource(FakeSource):
    def executions(self, limit: int = 200) -> list[ExecutionInfo]:
        raise RuntimeError("kaboom in the source")


def test_an_unexpected_error_in_a_worker_is_shown_and_the_app_goes_on() -> None:
    async def scenario() -> None:
        app = RedunApp(BrokenSource(), home="/proj/.redun", clock=lambda: NOW)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(
                pilot,
                lambda: any("kaboom in the source" in str(n.message) for n in app._notifications),
                what="the error shown",
            )
            message = next(str(n.message) for n in app._notifications if "kaboom" in str(n.message))
            assert message.startswith("unexpected error in load: RuntimeError:")
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
            assert app.is_running

    asyncio.run(scenario())


def test_trying_the_daemon_again_never_blocks_the_ui() -> None:
    gate = threading.Event()
    connecting = threading.Event()

    def connect() -> FakeSource:
        connecting.set()
        gate.wait(20)
        return FakeSource()

    async def scenario() -> None:
        app = RedunApp(None, home="/proj/.redun", reason="no daemon", connect=connect)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, WelcomeScreen))
            await pilot.press("r")
            await wait_for(pilot, connecting.is_set, what="the connect to start")
            # The daemon has not answered yet, and the UI still answers keys.
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
            assert not gate.is_set() and app.source is None
            await pilot.pause()  # help fully mounted before it goes (textual's Header needs it)
            await pilot.press("escape")
            gate.set()
            await wait_for(
                pilot, lambda: isinstance(app.screen, ExecutionsScreen), what="connected"
            )
            await settle(pilot, app)  # mounted before the test ends the app

    asyncio.run(scenario())


class ThreadRecordingSource(FakeSource):
    def __init__(self) -> None:
        super().__init__()
        self.made_on: list[int] = []

    def follow_all(self) -> Subscription[dict[str, Any]]:
        self.made_on.append(threading.get_ident())
        return super().follow_all()

    def follow_execution(self, execution_id: str) -> Subscription[dict[str, Any]]:
        self.made_on.append(threading.get_ident())
        return super().follow_execution(execution_id)

    def logs(self, job_id: str, *, follow: bool) -> Any:
        self.made_on.append(threading.get_ident())
        return super().logs(job_id, follow=follow)


def test_streams_are_made_on_the_ui_thread_so_leaving_a_screen_closes_them() -> None:
    source = ThreadRecordingSource()

    async def scenario() -> None:
        app = RedunApp(source, home="/proj/.redun", clock=lambda: NOW)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionsScreen))
            app.open_execution(EXECUTION)
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionScreen))
            app.open_job(source.jobs[1].id)
            await wait_for(pilot, lambda: isinstance(app.screen, JobScreen))
            job_screen = app.screen
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionScreen))
            assert job_screen._subscription is not None and job_screen._subscription.closed
            assert len(source.made_on) == 3
            assert set(source.made_on) == {app._thread_id}

    asyncio.run(scenario())


# -- the clock moves (issue 18 item 10) -----------------------------------------------------------
def test_started_and_took_tick_in_the_list_and_running_durations_in_the_dag() -> None:
    clock = Clock()
    source = FakeSource()

    async def scenario() -> None:
        app = RedunApp(source, home="/proj/.redun", clock=clock)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionsScreen))
            home = app.screen
            await wait_for(pilot, lambda: home.executions, what="executions")
            table = home.query_one("#executions", DataTable)
            assert cell(table, EXECUTION, "started") == "31s ago"
            assert cell(table, EXECUTION, "took") == "31.0s"
            clock.now += 90
            await wait_for(
                pilot,
                lambda: (
                    cell(table, EXECUTION, "started") == "2m ago"
                    and cell(table, EXECUTION, "took") == "2m01s"
                ),
                what="the times to tick",
            )
            assert cell(table, "b" * 32, "took") == "1.0s"  # finished: fixed
            app.open_execution(EXECUTION)
            await wait_for(
                pilot, lambda: isinstance(app.screen, ExecutionScreen) and app.screen.query(JobTree)
            )
            screen = app.screen
            tree = screen.query_one(JobTree)
            await wait_for(pilot, lambda: len(screen.board.jobs) == 7, what="the DAG")
            running = source.jobs[4].id  # started at NOW - 27

            def label() -> str:
                return str(tree._job_nodes[running].label)

            await wait_for(pilot, lambda: "running 1m57s" in label(), what="the running job")
            clock.now += 60
            await wait_for(pilot, lambda: "running 2m57s" in label(), what="its duration to tick")

    asyncio.run(scenario())


def test_a_running_jobs_duration_ticks_on_its_screen() -> None:
    clock = Clock()
    source = FakeSource()

    async def scenario() -> None:
        app = RedunApp(source, home="/proj/.redun", clock=clock)
        async with app.run_test(size=SIZE) as pilot:
            app.open_job(source.jobs[4].id)  # running since NOW - 27
            await wait_for(pilot, lambda: isinstance(app.screen, JobScreen) and app.screen.detail)
            view = app.screen.query_one("#job")

            def took() -> str:
                return str(dict(view.rows)["took"])

            assert took() == "27.0s"
            clock.now += 10
            await wait_for(pilot, lambda: took() == "37.0s", what="the duration to tick")

    asyncio.run(scenario())


# -- the list and the DAG as users read them (issue 18 item 10) -----------------------------------
class GrowingSource(FakeSource):
    """Executions that appear on top as the test adds them."""

    def __init__(self) -> None:
        super().__init__()
        self.extra: list[ExecutionInfo] = []

    def executions(self, limit: int = 200) -> list[ExecutionInfo]:
        return [*reversed(self.extra), *super().executions(limit)]


def test_the_run_column_names_the_file_and_the_selection_follows_new_runs() -> None:
    source = GrowingSource()

    async def scenario() -> None:
        app = RedunApp(source, home="/proj/.redun", clock=lambda: NOW)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionsScreen))
            home = app.screen
            await wait_for(pilot, lambda: home.executions)
            table = home.query_one("#executions", DataTable)
            assert cell(table, EXECUTION, "run") == "flow.py main --n 6"
            assert home._selected(table) == EXECUTION  # the newest
            new = ExecutionInfo(
                id="f" * 32,
                status="running",
                request=RunRequest("other.py", "main", {}, working_dir="/proj"),
                start=NOW - 1,
            )
            source.extra.append(new)
            home.load()
            await wait_for(pilot, lambda: new.id in home.executions)
            assert cell(table, new.id, "run") == "other.py main"
            assert home._selected(table) == new.id  # it was on the newest: it follows
            table.move_cursor(row=2)  # the old failed run, on purpose
            older = ExecutionInfo(
                id="9" * 32,
                status="running",
                request=RunRequest("flow.py", "main", {}, working_dir="/proj"),
                start=NOW,
            )
            source.extra.append(older)
            home.load()
            await wait_for(pilot, lambda: older.id in home.executions)
            assert home._selected(table) == "b" * 32  # chosen elsewhere: it stays

    asyncio.run(scenario())


class ReplaySource(FakeSource):
    """The history of a run in progress as a daemon replays it: jobs in the order
    they last changed (completion order), each with its place in call order."""

    def follow_execution(self, execution_id: str) -> Subscription[dict[str, Any]]:
        def event(job_id: str, parent: str | None, task: str, state: str, order: int) -> dict:
            return {
                "type": "job_state",
                "execution_id": EXECUTION,
                "job_id": job_id,
                "parent_job_id": parent,
                "task": task,
                "state": state,
                "time": NOW - 10 + order,
                "call_order": order,
                "args_summary": "",
            }

        first, second, third = ("1" * 32, "2" * 32, "3" * 32)
        events = [
            event(ROOT, None, "demo.main", "running", 1),
            event(third, ROOT, "demo.slow", "running", 4),
            event("4" * 32, second, "demo.leaf", "done", 5),
            event(second, ROOT, "demo.mid", "done", 3),
            event(first, ROOT, "demo.first", "done", 2),
        ]
        return Subscription([events[:3], events[3:]])


def test_a_dag_opened_mid_run_starts_at_its_root_with_children_in_call_order() -> None:
    async def scenario() -> None:
        app = RedunApp(ReplaySource(), home="/proj/.redun", clock=lambda: NOW)
        async with app.run_test(size=SIZE) as pilot:
            app.open_execution(EXECUTION)
            await wait_for(
                pilot, lambda: isinstance(app.screen, ExecutionScreen) and app.screen.query(JobTree)
            )
            screen = app.screen
            tree = screen.query_one(JobTree)
            await wait_for(pilot, lambda: tree.node_count() == 4, what="the DAG")
            lines = [str(tree.get_node_at_line(i).label) for i in range(tree.last_line + 1)]
            tasks = [line.split("(")[0].split()[-1] for line in lines]
            assert tasks == ["demo.main", "demo.first", "demo.mid", "demo.slow"]
            assert tree.cursor_line == 0 and tree.highlighted_job == ROOT

    asyncio.run(scenario())


def test_why_it_ran_says_each_reason_once() -> None:
    summary = "cache disabled (and no earlier call of main was recorded)"
    text = reason_text([summary, f"- {summary}"], "")
    assert text.plain == summary
    text = reason_text(["ran: its code changed", "- its code changed", "- argument x changed"], "")
    assert text.plain == "ran: its code changed\n- argument x changed"
    assert reason_text([], "first run").plain == "first run"


def test_the_header_line_says_live_for_a_daemon() -> None:
    async def scenario() -> None:
        app = RedunApp(FakeSource(), home="/proj/.redun", clock=lambda: NOW)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionsScreen))
            where = app.screen.query_one("#where", Static)
            await wait_for(pilot, lambda: str(where.content) == "fake daemon · live")

    asyncio.run(scenario())
