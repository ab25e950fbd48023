"""``ExecutionScreen``: one execution's DAG, live, with counts and a filter."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Footer, Header

from redun.errors import RedunError
from redun_tui.data.model import ExecutionInfo
from redun_tui.data.source import Subscription
from redun_tui.format import counts_text, duration, execution_duration, request_text, state_text
from redun_tui.live import EventBuffer, JobBoard, JobFilter
from redun_tui.screens.base import FollowingScreen
from redun_tui.widgets.counts_table import CountsTable
from redun_tui.widgets.detail_view import DetailView
from redun_tui.widgets.filter_bar import FilterBar
from redun_tui.widgets.job_tree import JobTree

#: Seconds between redraws of running durations.
TICK_INTERVAL = 1.0


class ExecutionScreen(FollowingScreen):
    """The jobs of one execution as a tree, updated from its event stream.

    Events are buffered by the stream worker and applied every
    :attr:`redraw_interval` seconds, so the screen redraws at a bounded rate
    however fast a large run emits.
    """

    DEFAULT_CSS = """
    ExecutionScreen #summary {
        height: auto;
    }
    """

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", show=True),
        Binding("r", "rerun", "Re-run", show=True),
        Binding("c", "cancel", "Cancel", show=True),
        Binding("w", "watch", "Watch", show=True),
        Binding("l", "lineage", "Lineage", show=True),
    ]

    redraw_interval: reactive[float] = reactive(0.1)
    """Seconds between redraws while events arrive (at most 10 redraws a second)."""

    job_filter: reactive[JobFilter] = reactive(JobFilter)
    """The filter typed in the filter bar; empty shows the DAG."""

    class InfoLoaded(Message):
        """The execution's record arrived."""

        def __init__(self, info: ExecutionInfo) -> None:
            super().__init__()
            self.info = info

    class StreamEnded(Message):
        """The event stream ended (the execution finished, or the snapshot was read)."""

    def __init__(self, execution_id: str) -> None:
        super().__init__()
        self.execution_id = execution_id
        self.info: ExecutionInfo | None = None
        self.board = JobBoard()
        self.buffer = EventBuffer()
        self.redraws = 0
        self._subscription: Subscription | None = None
        self._filter_dirty = False

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield DetailView(id="summary")
        yield FilterBar(id="filter")
        yield CountsTable(id="counts")
        yield JobTree(self.board, clock=self.clock, id="jobs")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.heading()
        self.query_one("#summary", DetailView).border_title = "Execution"
        self.query_one("#counts", CountsTable).border_title = "Jobs by task and state"
        tree = self.query_one("#jobs", JobTree)
        tree.border_title = "DAG"
        tree.focus()
        self.load_info()
        # Made here, on the UI thread (it connects only when iterated), so that
        # on_unmount always finds it to close.
        self._generation = self.source.generation
        self._subscription = self.source.follow_execution(self.execution_id)
        self.follow(self._subscription)
        self.set_interval(self.redraw_interval, self.flush)
        self.set_interval(TICK_INTERVAL, self._tick)

    def on_unmount(self) -> None:
        super().on_unmount()
        if self._subscription is not None:
            self._subscription.close()

    # -- data ----------------------------------------------------------------------
    @work(thread=True, exit_on_error=False, exclusive=True, group="execution-info")
    def load_info(self) -> None:
        try:
            info = self.source.execution(self.execution_id)
        except RedunError as error:
            self.show_error(error, f"cannot load execution {self.execution_id[:8]}")
            return
        self.post_message(self.InfoLoaded(info))

    @work(thread=True, exit_on_error=False, exclusive=True, group="execution-follow")
    def follow(self, subscription: Subscription) -> None:
        """Read the execution's events; after a daemon restart, follow the execution
        again from its start (the board takes a replay of what it already shows)."""
        if self.follow_stream(
            subscription, self.buffer.put, self._resubscribe, self.say, "lost the event stream"
        ):
            self.post_message(self.StreamEnded())

    def heading(self) -> str:
        return f"execution {self.execution_id[:8]}"

    def _resubscribe(self) -> Subscription:
        """A new stream of the execution, owned here on the UI thread."""
        if self._subscription is not None:
            self._subscription.close()
        self.connection = ""
        self.show_title()
        self._generation = self.source.generation
        self._subscription = self.source.follow_execution(self.execution_id)
        self.load_info()
        return self._subscription

    def flush(self) -> None:
        """Apply what the stream brought since the last redraw."""
        if self.buffer:
            job_events, others = self.buffer.drain()
            changes = self.board.apply(job_events, others)
            if changes:
                self.redraws += 1
                tree = self.query_one("#jobs", JobTree)
                if self.job_filter:
                    self._filter_dirty = True
                elif changes.reordered:
                    tree.rebuild()  # a replay brought jobs out of call order: redraw in order
                else:
                    tree.update_jobs(changes.added, changes.updated)
                self.query_one("#counts", CountsTable).counts = self.board.task_counts()
                if changes.finished:
                    self.load_info()
                self._draw_summary()
        if self._filter_dirty:
            self._filter_dirty = False
            tree = self.query_one("#jobs", JobTree)
            if self.job_filter:
                tree.show_matches(self.job_filter.select(self.board))
            else:
                tree.rebuild()

    def _tick(self) -> None:
        """Durations of running jobs and of the run go on while no event arrives."""
        if self.board.done and self.info is not None and self.info.end is not None:
            return
        self.query_one("#jobs", JobTree).tick()
        self._draw_summary()

    @on(InfoLoaded)
    def _info_loaded(self, message: InfoLoaded) -> None:
        self.info = message.info
        self._draw_summary()

    @on(StreamEnded)
    def _stream_ended(self) -> None:
        self.flush()
        self._draw_summary()

    def _draw_summary(self) -> None:
        info = self.info
        if info is None:
            return
        now = self.clock()
        status = self.board.status if self.board.finished else info.status
        rows: list[tuple[str, Text | str]] = [
            ("id", info.id),
            ("status", state_text(status)),
            ("run", f"{info.request.workflow_path} {request_text(info.task, info.request.args, info.request.argv)}"),
            ("took", duration(execution_duration(info, now))),
            ("jobs", counts_text(self.board.state_counts(), len(self.board.jobs))),
        ]  # fmt: skip
        if info.watch_id:
            rows.append(("watch", info.watch_id))
        if info.result is not None:
            rows.append(("result", info.result.repr))
        if info.error:
            rows.append(("error", Text(info.error, style="red")))
        self.query_one("#summary", DetailView).rows = rows

    # -- interaction ---------------------------------------------------------------------
    @on(FilterBar.FilterChanged)
    def _filter_changed(self, message: FilterBar.FilterChanged) -> None:
        self.job_filter = message.job_filter

    def watch_job_filter(self) -> None:
        self._filter_dirty = True

    @on(JobTree.JobChosen)
    def _job_chosen(self, message: JobTree.JobChosen) -> None:
        self.redun.open_job(message.job_id)

    def action_focus_filter(self) -> None:
        self.query_one("#filter", FilterBar).focus()

    def action_rerun(self) -> None:
        if self.info is None:
            self.notify("the execution's record is still loading: try again in a moment")
        else:
            self.redun.run_request(self.info.request)

    def action_watch(self) -> None:
        if self.info is None:
            self.notify("the execution's record is still loading: try again in a moment")
        else:
            self.redun.run_request(self.info.request, watch=True)

    def action_cancel(self) -> None:
        self.redun.cancel_execution(self.execution_id)

    def action_lineage(self) -> None:
        if self.info is not None and self.info.result is not None and self.info.result.hash:
            self.redun.open_lineage(value_hash=self.info.result.hash)
        else:
            self.notify("this execution has no recorded result yet", severity="warning")
