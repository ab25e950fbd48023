"""``WelcomeScreen``: no daemon answers; say how to start one, offer a read-only browse."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Header, Static

from redun_tui.screens.base import RedunScreen


class WelcomeScreen(RedunScreen):
    """Shown when ``redun-tui`` cannot reach a daemon."""

    DEFAULT_CSS = """
    WelcomeScreen {
        align: center middle;
    }
    WelcomeScreen #box {
        width: 100;
        height: auto;
        border: thick $warning;
        padding: 1 2;
    }
    WelcomeScreen #buttons {
        height: auto;
        margin-top: 1;
    }
    WelcomeScreen Button {
        margin-right: 2;
    }
    """

    BINDINGS = [
        Binding("b", "browse", "Browse read-only", show=True),
        Binding("r", "retry", "Try again", show=True),
    ]

    def __init__(self, reason: str, *, home: str, database: str | None) -> None:
        super().__init__()
        self.reason = reason
        self.home = home
        self.database = database

    def compose(self) -> ComposeResult:
        text = Text()
        text.append("No redun daemon answers.\n\n", style="bold")
        text.append(f"{self.reason}\n\n")
        text.append("Start one with:\n\n")
        text.append(f"    redund start --home {self.home}\n\n", style="bold cyan")
        text.append("then press r to try again.")
        if self.database:
            text.append("\n\nMeanwhile you can browse the database read-only:\n")
            text.append(f"    {self.database}", style="cyan")
        else:
            text.append("\n\nThere is no database here to browse yet.", style="italic")
        yield Header(show_clock=False)
        with Vertical(id="box"):
            yield Static(text, id="message")
            with Horizontal(id="buttons"):
                if self.database:
                    yield Button("Browse read-only (b)", variant="primary", id="browse")
                yield Button("Try again (r)", id="retry")
                yield Button("Quit (q)", variant="error", id="quit")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "not connected"
        self.query_one("#box").border_title = "redun-tui"

    @on(Button.Pressed, "#browse")
    def action_browse(self) -> None:
        if self.database:
            self.redun.browse_database()

    @on(Button.Pressed, "#retry")
    def action_retry(self) -> None:
        self.redun.retry_connect()

    @on(Button.Pressed, "#quit")
    def _quit(self) -> None:
        self.app.exit()
