"""Unexpected errors of workers: shown, never fatal.

Workers catch the errors they expect (:class:`redun.errors.RedunError`, which
names the problem) and say what they were doing. Anything else is a bug, but
it must not take the UI down with it: every worker is made with
``exit_on_error=False``, and the screen or app that owns it shows the error
as a notification (and logs its traceback).
"""

from __future__ import annotations

import logging

from textual.app import App
from textual.widget import Widget
from textual.worker import Worker, WorkerState

log = logging.getLogger("redun_tui")


def report_failure(node: App | Widget, event: Worker.StateChanged) -> None:
    """Notify about a worker of ``node`` that raised (a ``Worker.StateChanged`` handler)."""
    if event.state is not WorkerState.ERROR:
        return
    worker = event.worker
    error = worker.error
    log.error("worker %s failed", worker.name, exc_info=error)
    what = worker.name or worker.group or "a background task"
    node.notify(
        f"unexpected error in {what}: {type(error).__name__}: {error}",
        title="redun",
        severity="error",
        timeout=10,
    )
