"""``FilesScreen``: recorded files and directories; enter shows a file's lineage."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Input

from redun.errors import RedunError
from redun_tui.data.model import FileInfo
from redun_tui.screens.base import RedunScreen


class FilesScreen(RedunScreen):
    """Files by path, filtered by a path prefix."""

    DEFAULT_CSS = """
    FilesScreen #files {
        height: 1fr;
        border: round $primary 50%;
    }
    FilesScreen #prefix {
        border: round $accent 40%;
    }
    """

    class Loaded(Message):
        """The file list arrived."""

        def __init__(self, files: list[FileInfo]) -> None:
            super().__init__()
            self.files = files

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Input(placeholder="path starts with…", id="prefix")
        yield DataTable(id="files", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "files"
        table = self.query_one("#files", DataTable)
        table.border_title = "Files"
        for label, width in (
            ("path", 80), ("kind", 4), ("size", 10), ("file hash", 12), ("value", 8),
        ):  # fmt: skip
            table.add_column(label, key=label, width=width)
        table.focus()
        self.load("")

    @work(thread=True, exit_on_error=False, exclusive=True, group="files")
    def load(self, prefix: str) -> None:
        try:
            files = self.source.files(prefix)
        except RedunError as error:
            self.show_error(error, "cannot list files")
            return
        self.post_message(self.Loaded(files))

    @on(Input.Changed, "#prefix")
    def _prefix(self, event: Input.Changed) -> None:
        self.load(event.value)

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        table = self.query_one("#files", DataTable)
        table.clear()
        for file in message.files:
            table.add_row(
                file.path,
                "dir" if file.is_dir else "file",
                str(file.size) if file.size else "",
                file.file_hash[:12],
                file.value_hash[:8],
                key=file.value_hash,
            )
        table.border_subtitle = f"{len(message.files)} files"

    @on(DataTable.RowSelected, "#files")
    def _selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.redun.open_lineage(value_hash=event.row_key.value)
