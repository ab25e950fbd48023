"""``FilterBar``: ``task:NAME state:STATE text`` to narrow a job list."""

from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

from redun_tui.live import JobFilter


class FilterBar(Input):
    """An input that posts :class:`FilterBar.FilterChanged` with the parsed filter as it is typed."""

    DEFAULT_CSS = """
    FilterBar {
        width: 1fr;
        border: round $accent 40%;
    }
    FilterBar:focus {
        border: round $accent;
    }
    """

    BINDINGS = [Binding("escape", "leave", "Leave filter", show=True)]

    class FilterChanged(Message):
        """The filter changed."""

        def __init__(self, job_filter: JobFilter) -> None:
            super().__init__()
            self.job_filter = job_filter

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            placeholder="filter: task:NAME state:failed,running free text  (/ to focus)",
            id=id,
        )

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.FilterChanged(JobFilter.parse(event.value)))

    def action_leave(self) -> None:
        if self.value:
            self.value = ""
        else:
            self.screen.focus_next()
