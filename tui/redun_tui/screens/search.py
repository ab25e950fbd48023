"""``SearchScreen``: free text over executions, jobs, tasks, values and files."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Input

from redun.errors import RedunError
from redun_tui.data.model import SearchHit
from redun_tui.screens.base import RedunScreen

KIND_STYLE = {
    "execution": "magenta",
    "job": "yellow",
    "task": "cyan",
    "value": "green",
    "file": "blue",
}


class SearchScreen(RedunScreen):
    """Type to search; enter opens the hit on its own screen."""

    DEFAULT_CSS = """
    SearchScreen #hits {
        height: 1fr;
        border: round $primary 50%;
    }
    SearchScreen #query {
        border: round $accent;
    }
    """

    class Found(Message):
        """Search results arrived."""

        def __init__(self, query: str, hits: list[SearchHit]) -> None:
            super().__init__()
            self.query = query
            self.hits = hits

    def __init__(self, query: str = "") -> None:
        super().__init__()
        self.initial_query = query
        self.hits: dict[str, SearchHit] = {}

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Input(
            value=self.initial_query,
            placeholder="search executions, jobs, tasks, values, files (ids, names, paths)…",
            id="query",
        )
        yield DataTable(id="hits", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "search"
        table = self.query_one("#hits", DataTable)
        table.border_title = "Results"
        for label, width in (("kind", 9), ("title", 70), ("detail", 40), ("id", 12)):
            table.add_column(label, key=label, width=width)
        self.query_one("#query", Input).focus()
        if self.initial_query:
            self.search(self.initial_query)

    @work(thread=True, exit_on_error=False, exclusive=True, group="search")
    def search(self, query: str) -> None:
        try:
            hits = self.source.search(query)
        except RedunError as error:
            self.show_error(error, "search failed")
            return
        self.post_message(self.Found(query, hits))

    @on(Input.Changed, "#query")
    def _changed(self, event: Input.Changed) -> None:
        self.search(event.value)

    @on(Input.Submitted, "#query")
    def _submitted(self) -> None:
        self.query_one("#hits", DataTable).focus()

    @on(Found)
    def _found(self, message: Found) -> None:
        table = self.query_one("#hits", DataTable)
        table.clear()
        self.hits = {}
        for index, hit in enumerate(message.hits):
            key = f"{index}:{hit.kind}:{hit.id}"
            self.hits[key] = hit
            title = hit.title if len(hit.title) <= 70 else hit.title[:69] + "…"
            table.add_row(
                Text(hit.kind, style=KIND_STYLE.get(hit.kind, "")),
                title,
                hit.snippet,
                hit.id[:12],
                key=key,
            )
        table.border_subtitle = f"{len(message.hits)} hits for {message.query!r}"

    @on(DataTable.RowSelected, "#hits")
    def _selected(self, event: DataTable.RowSelected) -> None:
        hit = self.hits.get(event.row_key.value or "")
        if hit is not None:
            self.redun.open_hit(hit)
