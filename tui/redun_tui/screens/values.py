"""``ValuesScreen``: recorded values, newest first, with a longer look at one."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Footer, Header

from redun.errors import RedunError
from redun_tui.data.model import ValuePreview
from redun_tui.screens.base import RedunScreen
from redun_tui.widgets.detail_view import DetailView


class ValuesScreen(RedunScreen):
    """Values (results and arguments of recent calls); enter shows a value's lineage."""

    DEFAULT_CSS = """
    ValuesScreen #values {
        width: 3fr;
        border: round $primary 50%;
    }
    ValuesScreen #value-pane {
        width: 2fr;
    }
    """

    BINDINGS = [Binding("enter", "lineage", "Lineage", show=True)]

    class Loaded(Message):
        """The value list arrived."""

        def __init__(self, values: list[ValuePreview]) -> None:
            super().__init__()
            self.values = values

    class ValueLoaded(Message):
        """One value with a longer repr arrived."""

        def __init__(self, value: ValuePreview) -> None:
            super().__init__()
            self.value = value

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal():
            yield DataTable(id="values", cursor_type="row")
            with VerticalScroll(id="value-pane"):
                yield DetailView(id="value")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "values"
        table = self.query_one("#values", DataTable)
        table.border_title = "Values"
        self.query_one("#value", DetailView).border_title = "Value"
        for label, width in (("hash", 8), ("type", 16), ("size", 8), ("preview", 50)):
            table.add_column(label, key=label, width=width)
        table.focus()
        self.load()

    @work(thread=True, exit_on_error=False, exclusive=True, group="values")
    def load(self) -> None:
        try:
            values = self.source.values()
        except RedunError as error:
            self.show_error(error, "cannot list values")
            return
        self.post_message(self.Loaded(values))

    @work(thread=True, exit_on_error=False, exclusive=True, group="value")
    def load_value(self, value_hash: str) -> None:
        try:
            value = self.source.value(value_hash)
        except RedunError as error:
            self.show_error(error, f"cannot load value {value_hash[:8]}")
            return
        self.post_message(self.ValueLoaded(value))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        table = self.query_one("#values", DataTable)
        table.clear()
        for value in message.values:
            preview = value.file_path or value.repr
            table.add_row(
                value.hash[:8],
                value.type_name,
                str(value.size) if value.size else "",
                preview if len(preview) <= 70 else preview[:69] + "…",
                key=value.hash,
            )
        table.border_subtitle = f"{len(message.values)} values"

    @on(DataTable.RowHighlighted, "#values")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self.load_value(event.row_key.value)

    @on(DataTable.RowSelected, "#values")
    def _selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.redun.open_lineage(value_hash=event.row_key.value)

    @on(ValueLoaded)
    def _value_loaded(self, message: ValueLoaded) -> None:
        value = message.value
        rows: list[tuple[str, Text | str]] = [
            ("hash", value.hash),
            ("type", value.type_name),
            ("size", f"{value.size} bytes" if value.size else ""),
        ]
        if value.file_path:
            rows.append(("file", value.file_path))
        rows.append(("value", Text(value.repr + (" …" if value.truncated else ""))))
        self.query_one("#value", DetailView).rows = rows

    def action_lineage(self) -> None:
        self.query_one("#values", DataTable).action_select_cursor()
