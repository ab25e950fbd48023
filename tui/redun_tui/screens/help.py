"""``HelpScreen``: the keys, screen by screen (``?``)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Everywhere",
        [
            ("?", "this help"),
            ("q", "quit"),
            ("escape", "back to the previous screen"),
            ("ctrl+p", "command palette: every action and screen by name"),
            ("s", "submit a run (pick a workflow file, a task, its arguments)"),
            ("t / v / f / ctrl+f", "tasks / values / files / search"),
        ],
    ),
    (
        "Executions",
        [
            ("enter", "open the execution (or a watch's latest run)"),
            ("r", "re-run the selected execution"),
            ("c", "cancel it"),
            ("w / u", "watch its run / unwatch the selected watch"),
            ("tab", "move between the executions and the watches"),
        ],
    ),
    (
        "Execution",
        [
            ("enter", "open the job; space expands a node"),
            ("/", "filter: task:NAME state:failed,running or free text"),
            ("r / c / w", "re-run / cancel / watch"),
            ("l", "lineage of the result"),
        ],
    ),
    (
        "Job",
        [
            ("f", "follow the output (on/off)"),
            ("l / a", "lineage of the result / of the first argument"),
            ("p / e", "parent job / execution"),
        ],
    ),
    ("Lineage", [("enter", "a value or file: trace it; a call: open its job")]),
]


class HelpScreen(ModalScreen[None]):
    """A modal list of keys; any of ``escape``, ``q`` or ``?`` closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen #help {
        width: 90;
        max-height: 90%;
        height: auto;
        border: thick $primary;
        background: $surface;
        padding: 1 2;
    }
    """

    BINDINGS = [
        Binding("escape", "close", "Close", show=True),
        Binding("q", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for section, keys in KEYS:
            table.add_row(Text(section, style="bold underline"), "")
            for key, what in keys:
                table.add_row(key, what)
            table.add_row("", "")
        with VerticalScroll(id="help"):
            yield Static(table)

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "redun-tui keys"

    def action_close(self) -> None:
        self.dismiss(None)
