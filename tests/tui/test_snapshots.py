"""SVG snapshots of every screen, from fixed data and a fixed clock (no blinking cursor).

A snapshot that differs fails and leaves the new rendering next to the old as
``snapshots/NAME.new.svg``; after checking it, accept it with
``REDUN_UPDATE_SNAPSHOTS=1 pytest tests/tui/test_snapshots.py``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

from redun_tui.app import RedunApp
from redun_tui.screens import (
    ExecutionScreen,
    FilesScreen,
    HelpScreen,
    JobScreen,
    LineageScreen,
    SearchScreen,
    TasksScreen,
    ValuesScreen,
    WelcomeScreen,
)
from redun_tui.widgets import JobTree

from .conftest import settle, wait_for
from .fakes import EXECUTION, NOW, FakeSource

SNAPSHOTS = Path(__file__).parent / "snapshots"
SIZE = (140, 40)


def compare(name: str, svg: str) -> None:
    path = SNAPSHOTS / f"{name}.svg"
    fresh = SNAPSHOTS / f"{name}.new.svg"
    if os.environ.get("REDUN_UPDATE_SNAPSHOTS") == "1":
        path.write_text(svg)
        fresh.unlink(missing_ok=True)
        return
    if not path.exists():
        fresh.write_text(svg)
        pytest.fail(
            f"no snapshot {path.name}; review {fresh} and accept with REDUN_UPDATE_SNAPSHOTS=1"
        )
    if path.read_text() != svg:
        fresh.write_text(svg)
        pytest.fail(f"{name} looks different: compare {fresh} with {path}")
    fresh.unlink(missing_ok=True)


def snapshot(
    name: str,
    setup: Callable[[RedunApp, object], Awaitable[object]],
    *,
    source: FakeSource | None = None,
    app: RedunApp | None = None,
) -> None:
    async def scenario() -> None:
        nonlocal app
        if app is None:
            app = RedunApp(source or FakeSource(), home="/proj/.redun", clock=lambda: NOW)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: len(app.screen_stack) > 1, what="the first screen")
            await setup(app, pilot)
            for field in app.screen.query(Input):
                field.cursor_blink = False
            await settle(pilot, app)
            compare(name, app.export_screenshot(title=name))

    asyncio.run(scenario())


def test_executions() -> None:
    async def setup(app: RedunApp, pilot: object) -> None:
        await wait_for(pilot, lambda: app.screen.executions, what="executions")

    snapshot("executions", setup)


def test_execution_dag() -> None:
    async def setup(app: RedunApp, pilot: object) -> None:
        app.open_execution(EXECUTION)
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ExecutionScreen) and len(app.screen.board.jobs) == 7,
            what="the DAG",
        )

    snapshot("execution", setup)


def test_execution_filtered() -> None:
    async def setup(app: RedunApp, pilot: object) -> None:
        app.open_execution(EXECUTION)
        await wait_for(
            pilot, lambda: isinstance(app.screen, ExecutionScreen) and app.screen.board.jobs
        )
        await pilot.press("slash", *"state:failed,running")  # type: ignore[attr-defined]
        await pilot.press("tab")  # type: ignore[attr-defined]
        tree = app.screen.query_one(JobTree)
        await wait_for(pilot, lambda: tree.flat and tree.node_count() == 3, what="the filter")

    snapshot("execution_filtered", setup)


def test_job_with_traceback_and_output() -> None:
    source = FakeSource()

    async def setup(app: RedunApp, pilot: object) -> None:
        app.open_job(source.jobs[5].id)
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, JobScreen)
                and app.screen.detail is not None
                and app.screen.query_one("#log").line_count == 2
            ),
            what="the job and its output",
        )

    snapshot("job", setup, source=source)


def test_lineage() -> None:
    async def setup(app: RedunApp, pilot: object) -> None:
        app.open_lineage(value_hash="4" * 40)
        await wait_for(pilot, lambda: isinstance(app.screen, LineageScreen) and app.screen.graph)

    snapshot("lineage", setup)


@pytest.mark.parametrize(
    ("name", "screen"),
    [("tasks", TasksScreen), ("values", ValuesScreen), ("files", FilesScreen)],
)
def test_browse_screens(name: str, screen: type) -> None:
    async def setup(app: RedunApp, pilot: object) -> None:
        app.push_screen(screen())
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, screen)
                and any(table.row_count for table in app.screen.query(DataTable))
            ),
            what=f"the {name}",
        )

    snapshot(name, setup)


def test_search() -> None:
    async def setup(app: RedunApp, pilot: object) -> None:
        app.push_screen(SearchScreen("inc"))
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen) and app.screen.hits)

    snapshot("search", setup)


def test_help() -> None:
    async def setup(app: RedunApp, pilot: object) -> None:
        await pilot.press("question_mark")  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))

    snapshot("help", setup)


def test_welcome_without_daemon() -> None:
    app = RedunApp(
        None,
        home="/proj/.redun",
        reason="no daemon is running for /proj/.redun",
        database="/proj/.redun/redun.db",
        clock=lambda: NOW,
    )

    async def setup(app: RedunApp, pilot: object) -> None:
        await wait_for(pilot, lambda: isinstance(app.screen, WelcomeScreen))

    snapshot("welcome", setup, app=app)
