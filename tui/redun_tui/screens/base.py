"""``RedunScreen``: what every screen of the app shares (its data source, clock, errors)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from textual.screen import Screen
from textual.worker import Worker

from redun_tui.data.source import DataSource
from redun_tui.failures import report_failure

if TYPE_CHECKING:
    from redun_tui.app import RedunApp


class RedunScreen(Screen[Any]):
    """A screen of :class:`~redun_tui.app.RedunApp`."""

    @property
    def redun(self) -> RedunApp:
        return cast("RedunApp", self.app)

    @property
    def source(self) -> DataSource:
        source = self.redun.source
        assert source is not None, "no data source: the welcome screen comes first"
        return source

    @property
    def clock(self) -> Callable[[], float]:
        return self.redun.clock

    def show_error(self, error: BaseException, doing: str) -> None:
        """A notification naming what failed and why (callable from any thread)."""
        message = f"{doing}: {error}"
        self.redun.call_soon(self.notify, message, title="redun", severity="error", timeout=8)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_failure(self, event)
