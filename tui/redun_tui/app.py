"""``RedunApp``: the terminal UI of redun, over a daemon or a database.

The app owns the data source and navigation between screens; each screen
loads its own data in thread workers and posts messages back, so the UI
thread never waits on the network or the database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker

from redun.errors import RedunError
from redun_tui.data.model import RunRequest, SearchHit
from redun_tui.data.source import DataSource
from redun_tui.failures import report_failure
from redun_tui.screens.execution import ExecutionScreen
from redun_tui.screens.executions import ExecutionsScreen
from redun_tui.screens.files import FilesScreen
from redun_tui.screens.help import HelpScreen
from redun_tui.screens.job import JobScreen
from redun_tui.screens.lineage import LineageScreen
from redun_tui.screens.search import SearchScreen
from redun_tui.screens.submit import SubmitChoice, SubmitScreen
from redun_tui.screens.tasks import TasksScreen
from redun_tui.screens.values import ValuesScreen
from redun_tui.screens.welcome import WelcomeScreen

#: Threads for workers: each open stream holds one while it lasts.
WORKER_THREADS = 32


class RedunApp(App[None]):
    """The redun terminal UI.

    Args:
        source: where data comes from; None shows the welcome screen (no daemon).
        home: the redun home (for messages and the read-only fallback).
        connect: makes a daemon source (``r`` on the welcome screen tries it again).
        browse: makes a read-only database source (``b`` on the welcome screen).
        reason: why no daemon answered, for the welcome screen.
        database: the database the welcome screen offers to browse, if any.
        clock: the time (tests pass a fixed one).
        working_dir: where the submit form looks for workflow files.
    """

    TITLE = "redun"
    CSS = """
    Screen {
        layers: base overlay;
    }
    """

    BINDINGS = [
        Binding("q", "quit", "Quit", show=True),
        Binding("question_mark", "help", "Help", show=True),
        Binding("escape", "back", "Back", show=True),
        Binding("s", "submit", "Submit", show=False),
        Binding("t", "tasks", "Tasks", show=False),
        Binding("v", "values", "Values", show=False),
        Binding("f", "files", "Files", show=False),
        Binding("ctrl+f", "search", "Search", show=False),
    ]

    def __init__(
        self,
        source: DataSource | None,
        *,
        home: str = "",
        connect: Callable[[], DataSource] | None = None,
        browse: Callable[[], DataSource] | None = None,
        reason: str = "",
        database: str | None = None,
        clock: Callable[[], float] = time.time,
        working_dir: str | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.home = home
        self.connect = connect
        self.browse = browse
        self.reason = reason
        self.database = database
        self.clock = clock
        self.working_dir = working_dir

    # -- lifecycle -------------------------------------------------------------------
    def on_load(self) -> None:
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="redun-tui")
        )

    def on_mount(self) -> None:
        if self.source is None:
            self.push_screen(WelcomeScreen(self.reason, home=self.home, database=self.database))
        else:
            self._show_source()

    def _show_source(self) -> None:
        assert self.source is not None
        self.sub_title = self.source.description
        self.push_screen(ExecutionsScreen())

    def exit(self, *args: Any, **kwargs: Any) -> None:
        # Close the streams first: a worker blocked on one would keep the process alive.
        if self.source is not None:
            self.source.close()
        super().exit(*args, **kwargs)

    def call_soon(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``callback`` on the UI thread, from any thread."""
        if self._thread_id == __import__("threading").get_ident():
            callback(*args, **kwargs)
        else:
            self.call_from_thread(callback, *args, **kwargs)

    # -- navigation ---------------------------------------------------------------------
    def open_execution(self, execution_id: str) -> None:
        self.push_screen(ExecutionScreen(execution_id))

    def open_job(self, job_id: str) -> None:
        self.push_screen(JobScreen(job_id))

    def open_lineage(self, *, value_hash: str = "", file_path: str = "") -> None:
        self.push_screen(LineageScreen(value_hash=value_hash, file_path=file_path))

    def open_hit(self, hit: SearchHit) -> None:
        if hit.kind == "execution":
            self.open_execution(hit.id)
        elif hit.kind == "job":
            self.open_job(hit.id)
        elif hit.kind == "task":
            self.push_screen(TasksScreen(hit.id))
        elif hit.kind in ("value", "file"):
            self.open_lineage(value_hash=hit.id)

    def refresh_lists(self) -> None:
        """Reload the executions screen (after an action that may not send events)."""
        for screen in self.screen_stack:
            if isinstance(screen, ExecutionsScreen):
                screen.load()

    def _connected(self) -> bool:
        if self.source is None:
            self.notify("not connected: start the daemon or browse read-only", severity="warning")
            return False
        return True

    async def action_back(self) -> None:
        if len(self.screen_stack) > 2:
            self.pop_screen()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_tasks(self) -> None:
        if self._connected():
            self.push_screen(TasksScreen())

    def action_values(self) -> None:
        if self._connected():
            self.push_screen(ValuesScreen())

    def action_files(self) -> None:
        if self._connected():
            self.push_screen(FilesScreen())

    def action_search(self) -> None:
        if self._connected():
            self.push_screen(SearchScreen())

    def action_home(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()

    # -- actions on runs --------------------------------------------------------------
    def action_submit(self) -> None:
        if not self._connected():
            return
        initial = None
        screen = self.screen
        if isinstance(screen, ExecutionsScreen):
            initial = screen.request_of_selected()
        elif isinstance(screen, ExecutionScreen) and screen.info is not None:
            initial = screen.info.request
        working_dir = self.working_dir or (initial.working_dir if initial else None)

        def submitted(choice: SubmitChoice | None) -> None:
            if choice is not None:
                self.run_request(choice.request, watch=choice.watch)

        self.push_screen(SubmitScreen(initial, working_dir=working_dir), submitted)

    @work(thread=True, exit_on_error=False, group="actions")
    def run_request(self, request: RunRequest, *, watch: bool = False) -> None:
        """Submit (or watch) ``request``; a submitted run opens on its own screen."""
        assert self.source is not None
        what = "watch" if watch else "run"
        try:
            if watch:
                watch_id = self.source.watch(request)
            else:
                execution_id = self.source.submit(request)
        except RedunError as error:
            self.call_from_thread(
                self.notify, f"cannot {what} {request.command_line()}: {error}",
                severity="error", timeout=10,
            )  # fmt: skip
            return
        if watch:
            self.call_from_thread(
                self.notify, f"watching {request.command_line()} ({watch_id[:8]})"
            )
        else:
            self.call_from_thread(self.notify, f"submitted execution {execution_id[:8]}")
            self.call_from_thread(self.open_execution, execution_id)

    @work(thread=True, exit_on_error=False, group="actions")
    def cancel_execution(self, execution_id: str) -> None:
        assert self.source is not None
        try:
            count = self.source.cancel(execution_id)
        except RedunError as error:
            self.call_from_thread(self.notify, f"cannot cancel: {error}", severity="error")
            return
        self.call_from_thread(self.notify, f"cancelled execution {execution_id[:8]} ({count} jobs)")

    @work(thread=True, exit_on_error=False, group="actions")
    def unwatch(self, watch_id: str) -> None:
        assert self.source is not None
        try:
            self.source.unwatch(watch_id)
        except RedunError as error:
            self.call_from_thread(self.notify, f"cannot unwatch: {error}", severity="error")
            return
        self.call_from_thread(self.refresh_lists)
        self.call_from_thread(self.notify, f"removed watch {watch_id[:8]}")

    # -- without a daemon ------------------------------------------------------------------
    def browse_database(self) -> None:
        """Leave the welcome screen for a read-only browse of the database."""
        if self.browse is not None:
            self._open_source(self.browse, "cannot open the database")

    def retry_connect(self) -> None:
        """Try the daemon again (in a worker: connecting waits on the network)."""
        if self.connect is not None:
            self.notify("connecting to the daemon…", timeout=3)
            self._open_source(self.connect, "cannot connect")

    @work(thread=True, exit_on_error=False, exclusive=True, group="connect")
    def _open_source(self, make: Callable[[], DataSource], failure: str) -> None:
        try:
            source = make()
        except RedunError as error:
            self.call_from_thread(self.notify, f"{failure}: {error}", severity="error", timeout=8)
            return
        self.call_from_thread(self._use_source, source)  # type: ignore[arg-type]  # an async callback

    async def _use_source(self, source: DataSource) -> bool:
        """Show ``source``; False if one was shown meanwhile (two presses of r)."""
        if self.source is not None:
            source.close()
            return False
        self.source = source
        # The app's sub_title stays as it is (the executions screen says where it is
        # connected): every Header watches it, and textual fails on a Header being
        # unmounted when it changes. For the same reason the welcome screen is gone
        # before the next one comes.
        while not isinstance(self.screen, WelcomeScreen) and len(self.screen_stack) > 2:
            await self.pop_screen()
        if isinstance(self.screen, WelcomeScreen):
            await self.pop_screen()
        await self.push_screen(ExecutionsScreen())
        return True

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_failure(self, event)

    # -- command palette --------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if self.source is None:
            return
        yield SystemCommand("Executions", "Back to the list of executions", self.action_home)
        if self.source.live:
            yield SystemCommand(
                "Submit a run", "Pick a workflow file, a task and arguments", self.action_submit
            )
        yield SystemCommand("Tasks", "Recorded tasks, versions and source", self.action_tasks)
        yield SystemCommand("Values", "Recorded values and their lineage", self.action_values)
        yield SystemCommand("Files", "Recorded files and their lineage", self.action_files)
        yield SystemCommand(
            "Search", "Executions, jobs, tasks, values and files", self.action_search
        )
        yield SystemCommand("Help", "The keys of every screen", self.action_help)
        for name, label in (("rerun", "Re-run"), ("cancel", "Cancel"), ("watch", "Watch")):
            action = getattr(screen, f"action_{name}", None)
            if action is not None:
                yield SystemCommand(label, f"{label} this execution", action)
