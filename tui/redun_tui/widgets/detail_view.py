"""``DetailView``: labelled fields (``name  value``) of a record."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static


class DetailView(Static):
    """Rows of label and value; set :attr:`rows` to redraw."""

    DEFAULT_CSS = """
    DetailView {
        height: auto;
        padding: 0 1;
        border: round $primary 40%;
    }
    """

    rows: reactive[Sequence[tuple[str, RenderableType]]] = reactive(list, always_update=True)
    """The fields, in order."""

    def watch_rows(self, rows: Sequence[tuple[str, RenderableType]]) -> None:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold grey70", no_wrap=True)
        table.add_column(overflow="fold")
        for label, value in rows:
            table.add_row(Text(label), value)
        self.update(table)
