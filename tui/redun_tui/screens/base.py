"""``RedunScreen``: what every screen of the app shares (its data source, clock, errors)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from textual.screen import Screen
from textual.worker import Worker

from redun.errors import RedunError
from redun_tui.data.source import DataSource
from redun_tui.failures import report_failure

if TYPE_CHECKING:
    from redun_tui.app import RedunApp


RECONNECT_DELAYS = (0.5, 1.0, 2.0, 4.0, 5.0)
"""Seconds between attempts to reach a daemon that went away (the last one repeats)."""

_ANSWERS = frozenset({"NOT_FOUND", "INVALID_ARGUMENT", "PERMISSION_DENIED", "UNAUTHENTICATED"})


def stream_broke(error: RedunError) -> bool:
    """Whether a stream ended because the daemon went away (worth reconnecting), not
    because a daemon answered no (an unknown job, a refused token)."""
    return getattr(error, "code", "UNAVAILABLE") not in _ANSWERS


class RedunScreen(Screen[Any]):
    """A screen of :class:`~redun_tui.app.RedunApp`."""

    _leaving_event: threading.Event | None = None
    _generation = 0
    """The source's generation when this screen's stream was made."""

    @property
    def leaving(self) -> threading.Event:
        """Set once the screen is unmounted: its workers stop waiting for the daemon."""
        if self._leaving_event is None:
            self._leaving_event = threading.Event()
        return self._leaving_event

    def on_unmount(self) -> None:
        self.leaving.set()

    def wait_for_daemon(self, error: str, say: Callable[[str], object], seen: int) -> bool:
        """Try the daemon again, RECONNECT_DELAYS apart, until it answers (from a worker).

        ``say`` is called on the UI thread with each attempt's state. Several
        screens may lose their streams at once: the source reconnects once for
        them all (:meth:`DataSource.reconnect` with ``seen``, the source's
        generation when the broken stream was made).

        Returns:
            True once a daemon answers; False when the screen or the app is leaving.
        """
        attempt = 0
        while True:
            delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
            attempt += 1
            try:
                self.app.call_from_thread(
                    say, f"reconnecting (attempt {attempt} in {delay:g} s): {error}"
                )
            except RuntimeError:  # the app is shutting down
                return False
            if self.leaving.wait(delay):
                return False
            try:
                self.source.reconnect(after=seen)
                return True
            except RedunError as caught:
                error = str(caught)

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
