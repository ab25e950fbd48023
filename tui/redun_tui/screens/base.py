"""``RedunScreen``: what every screen of the app shares (its data source, clock, errors)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from textual.screen import Screen
from textual.worker import Worker

from redun.errors import RedunError
from redun_tui.data.source import DataSource, Subscription
from redun_tui.failures import report_failure

if TYPE_CHECKING:
    from redun_tui.app import RedunApp


RECONNECT_DELAYS = (0.5, 1.0, 2.0, 4.0, 5.0)
"""Seconds between attempts to reach a daemon that went away (the last one repeats)."""

_ANSWERS = frozenset({"NOT_FOUND", "INVALID_ARGUMENT", "PERMISSION_DENIED", "UNAUTHENTICATED"})


T = TypeVar("T")


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

    def follow_stream(
        self,
        subscription: Subscription[T],
        consume: Callable[[list[T]], object],
        resubscribe: Callable[[], Subscription[T]],
        say: Callable[[str], object],
        what: str,
        *,
        ends: bool = True,
    ) -> bool:
        """Feed ``consume`` from the stream (in a worker) and keep it going across daemon
        restarts: when it breaks, wait for a daemon (:meth:`wait_for_daemon`) and take
        a new stream from ``resubscribe`` (called on the UI thread).

        Args:
            what: what a refusal is shown as ("lost the event stream").
            ends: the stream ends by itself (an execution's); if not, its end means
                the daemon went away.

        Returns:
            True when the stream ended (or the daemon refused it, shown as an error);
            False when the screen or the app is leaving.
        """
        while True:
            try:
                for batch in subscription:
                    consume(batch)
                if ends:
                    return True
                error = "the daemon closed the stream"
            except RedunError as caught:
                if not stream_broke(caught):
                    if not subscription.closed:
                        self.show_error(caught, what)
                    return True
                error = str(caught)
            if subscription.closed or self.leaving.is_set():
                return False
            if not self.wait_for_daemon(error, say, self._generation):
                return False
            try:
                subscription = self.app.call_from_thread(resubscribe)
            except RuntimeError:  # the app is shutting down
                return False


class FollowingScreen(RedunScreen):
    """A screen of one thing (an execution, a job) whose stream follows the daemon;
    its title says when it is reconnecting."""

    def __init__(self) -> None:
        super().__init__()
        self.connection = ""
        """Empty while the stream is live, else what reconnecting is doing."""

    def heading(self) -> str:
        """The title's own part, e.g. ``execution 1a2b3c4d``."""
        raise NotImplementedError

    def say(self, state: str) -> None:
        self.connection = state
        self.show_title()

    def show_title(self) -> None:
        # Only the screen on top has a header to update.
        if self.is_current:
            heading = self.heading()
            self.sub_title = f"{heading} · {self.connection}" if self.connection else heading

    def on_screen_resume(self) -> None:
        self.show_title()
