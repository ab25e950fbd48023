"""``JobLog``: a job's captured output, appended as it streams."""

from __future__ import annotations

from textual.binding import Binding
from textual.reactive import reactive
from textual.widgets import Log

from redun_tui.data.model import LogChunk


class JobLog(Log):
    """Output lines of one job; ``follow`` keeps the newest line in view."""

    DEFAULT_CSS = """
    JobLog {
        height: 1fr;
        min-height: 6;
        border: round $secondary 50%;
    }
    JobLog:focus {
        border: round $secondary;
    }
    """

    BINDINGS = [Binding("f", "toggle_follow", "Follow", show=True)]

    follow: reactive[bool] = reactive(True)
    """Scroll to the end as lines arrive."""

    lines_received: reactive[int] = reactive(0)
    """How many chunks were appended (the border title shows it)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, highlight=False, auto_scroll=True)
        self._partial = ""

    def append(self, chunks: list[LogChunk]) -> None:
        text = self._partial + "".join(chunk.text for chunk in chunks)
        lines = text.split("\n")
        self._partial = lines.pop()
        if lines:
            self.write_lines(lines)
        self.lines_received += len(chunks)

    def restart(self) -> None:
        """Empty the pane: the output is about to be read again from its start."""
        self.clear()
        self._partial = ""
        self.lines_received = 0

    def finish(self) -> None:
        """The stream ended: show a trailing partial line."""
        if self._partial:
            self.write_line(self._partial)
            self._partial = ""

    def watch_follow(self, follow: bool) -> None:
        self.auto_scroll = follow
        if follow:
            self.scroll_end(animate=False)

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
