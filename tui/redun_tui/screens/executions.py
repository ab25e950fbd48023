"""``ExecutionsScreen``: recent executions and the watches, live."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Footer, Header, Static

from redun.errors import RedunError
from redun_tui.data.model import ExecutionInfo, RunRequest, WatchInfo
from redun_tui.data.source import Subscription
from redun_tui.format import (
    age,
    counts_text,
    duration,
    execution_duration,
    run_text,
    short_id,
    state_text,
)
from redun_tui.live import EventBuffer
from redun_tui.screens.base import RedunScreen

#: Seconds between redraws of relative times and running durations.
TIME_INTERVAL = 1.0
#: Seconds between attempts to reach the daemon again after its stream broke.


class ExecutionsScreen(RedunScreen):
    """The home screen: executions newest first, then the watches."""

    DEFAULT_CSS = """
    ExecutionsScreen #executions {
        height: 2fr;
        border: round $primary 50%;
    }
    ExecutionsScreen #executions:focus, ExecutionsScreen #watches:focus {
        border: round $primary;
    }
    ExecutionsScreen #watches {
        height: 1fr;
        min-height: 5;
        border: round $secondary 50%;
    }
    ExecutionsScreen #where {
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("enter", "open", "Open", show=True),
        Binding("s", "app.submit", "Submit", show=True),
        Binding("r", "rerun", "Re-run", show=True),
        Binding("c", "cancel", "Cancel", show=True),
        Binding("w", "watch", "Watch", show=True),
        Binding("u", "unwatch", "Unwatch", show=True),
        Binding("g", "refresh", "Refresh", show=False),
    ]

    refresh_interval: reactive[float] = reactive(0.5)
    """Seconds between reloads of the list while events arrive (a bounded rate)."""

    connection: reactive[str] = reactive("")
    """How the data source is doing, after its description: live, read-only, reconnecting."""

    class Loaded(Message):
        """Executions and watches arrived from the data source."""

        def __init__(self, executions: list[ExecutionInfo], watches: list[WatchInfo]) -> None:
            super().__init__()
            self.executions = executions
            self.watches = watches

    def __init__(self) -> None:
        super().__init__()
        self.executions: dict[str, ExecutionInfo] = {}
        self.watches: dict[str, WatchInfo] = {}
        self._buffer = EventBuffer()
        self._subscription: Subscription | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(id="where")
        with Vertical():
            yield DataTable(id="executions", cursor_type="row", zebra_stripes=True)
            yield DataTable(id="watches", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "executions"
        self.connection = "live" if self.source.live else "read-only"
        table = self.query_one("#executions", DataTable)
        table.border_title = "Executions"
        for label, width in (
            ("id", 8), ("status", 13), ("run", 58), ("started", 9), ("took", 8),
            ("jobs", 30), ("watch", 8),
        ):  # fmt: skip
            table.add_column(label, key=label, width=width)
        watches = self.query_one("#watches", DataTable)
        watches.border_title = "Watches"
        for label, width in (
            ("id", 8), ("run", 58), ("last run", 8), ("status", 13), ("triggered", 10),
            ("paths", 6),
        ):  # fmt: skip
            watches.add_column(label, key=label, width=width)
        table.focus()
        self.load()
        if self.source.live:
            self.follow(self._subscribe())
            self.set_interval(self.refresh_interval, self._tick)
        self.set_interval(TIME_INTERVAL, self._draw_times)

    def on_unmount(self) -> None:
        super().on_unmount()
        if self._subscription is not None:
            self._subscription.close()

    def watch_connection(self, state: str) -> None:
        self.query_one("#where", Static).update(f"{self.source.description} · {state}")

    # -- data ------------------------------------------------------------------------
    @work(thread=True, exit_on_error=False, exclusive=True, group="executions-load")
    def load(self) -> None:
        try:
            executions = self.source.executions()
            watches = self.source.watches()
        except RedunError as error:
            self.show_error(error, "cannot list executions")
            return
        self.post_message(self.Loaded(executions, watches))

    def _subscribe(self) -> Subscription:
        """A new stream of every execution's events, owned here on the UI thread."""
        if self._subscription is not None:
            self._subscription.close()
        self._generation = self.source.generation
        self._subscription = self.source.follow_all()
        return self._subscription

    @work(thread=True, exit_on_error=False, exclusive=True, group="executions-follow")
    def follow(self, subscription: Subscription) -> None:
        """Read the stream; when it breaks (the daemon stopped or died), reconnect with
        backoff, saying so, and carry on with the daemon that answers."""
        self.follow_stream(
            subscription,
            self._buffer.put,
            self._resubscribe,
            self._say,
            "lost the event stream",
            ends=False,
        )

    def _resubscribe(self) -> Subscription:
        subscription = self._subscribe()
        self._reconnected()
        return subscription

    def _say(self, state: str) -> None:
        self.connection = state

    def _reconnected(self) -> None:
        self.connection = "live"
        self.notify(f"reconnected: {self.source.description}", timeout=4)
        self.load()

    def _tick(self) -> None:
        if self._buffer:
            self._buffer.drain()
            self.load()

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.executions = {e.id: e for e in message.executions}
        self.watches = {w.id: w for w in message.watches}
        self._draw()

    def _draw(self) -> None:
        now = self.clock()
        table = self.query_one("#executions", DataTable)
        selected = self._selected(table)
        # On the newest run, the selection follows new runs as they arrive on top;
        # elsewhere it stays on the run the user chose.
        if selected is not None and table.cursor_row == 0:
            selected = None
        table.clear()
        for info in self.executions.values():
            table.add_row(
                short_id(info.id),
                state_text(info.status),
                run_text(info.request),
                age(info.start, now),
                duration(execution_duration(info, now)),
                counts_text(info.counts, info.total),
                short_id(info.watch_id) if info.watch_id else "",
                key=info.id,
            )
        table.border_subtitle = f"{len(self.executions)} shown"
        self._restore(table, selected)
        watches = self.query_one("#watches", DataTable)
        selected = self._selected(watches)
        watches.clear()
        for watch in self.watches.values():
            watches.add_row(
                short_id(watch.id),
                run_text(watch.request),
                short_id(watch.last_execution_id),
                state_text(watch.last_status) if watch.last_status else Text(""),
                age(watch.last_trigger, now) if watch.last_trigger else "never",
                str(watch.path_count),
                key=watch.id,
            )
        watches.border_subtitle = f"{len(self.watches)} watch" + (
            "es" if len(self.watches) != 1 else ""
        )
        self._restore(watches, selected)

    def _draw_times(self) -> None:
        """Tick the relative times and the durations of runs still going."""
        now = self.clock()
        table = self.query_one("#executions", DataTable)
        for info in self.executions.values():
            try:
                table.update_cell(info.id, "started", age(info.start, now))
                if info.end is None:
                    table.update_cell(info.id, "took", duration(execution_duration(info, now)))
            except Exception:  # noqa: BLE001 - the row is being redrawn
                continue
        watches = self.query_one("#watches", DataTable)
        for watch in self.watches.values():
            if watch.last_trigger:
                try:
                    watches.update_cell(watch.id, "triggered", age(watch.last_trigger, now))
                except Exception:  # noqa: BLE001 - the row is being redrawn
                    continue

    @staticmethod
    def _selected(table: DataTable) -> str | None:
        if not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - no cursor yet
            return None

    @staticmethod
    def _restore(table: DataTable, key: str | None) -> None:
        row = 0
        if key is not None:
            try:
                row = table.get_row_index(key)
            except Exception:  # noqa: BLE001 - the row went away
                row = 0
        if table.row_count:
            table.move_cursor(row=row, animate=False)

    # -- actions --------------------------------------------------------------------------
    def _current_execution(self) -> ExecutionInfo | None:
        key = self._selected(self.query_one("#executions", DataTable))
        return self.executions.get(key) if key else None

    @on(DataTable.RowSelected, "#executions")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.redun.open_execution(event.row_key.value)

    @on(DataTable.RowSelected, "#watches")
    def _watch_selected(self, event: DataTable.RowSelected) -> None:
        watch = self.watches.get(event.row_key.value or "")
        if watch is not None and watch.last_execution_id:
            self.redun.open_execution(watch.last_execution_id)

    def action_open(self) -> None:
        focused = self.focused
        if isinstance(focused, DataTable):
            focused.action_select_cursor()

    def action_refresh(self) -> None:
        self.load()

    def action_rerun(self) -> None:
        info = self._current_execution()
        if info is not None:
            self.redun.run_request(info.request)

    def action_cancel(self) -> None:
        info = self._current_execution()
        if info is not None:
            self.redun.cancel_execution(info.id)

    def action_watch(self) -> None:
        info = self._current_execution()
        if info is not None:
            self.redun.run_request(info.request, watch=True)

    def action_unwatch(self) -> None:
        key = self._selected(self.query_one("#watches", DataTable))
        if key is None:
            self.notify("select a watch first (tab to the watches table)", severity="warning")
            return
        self.redun.unwatch(key)

    def request_of_selected(self) -> RunRequest | None:
        info = self._current_execution()
        return info.request if info else None
