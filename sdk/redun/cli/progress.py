"""Live progress of a run: job counts by task and state, drawn at a bounded rate."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from redun.events import Event, ExecutionFinished, JobStateChanged

if TYPE_CHECKING:
    from redun.scheduler.job import Job

STATES = ("pending", "queued", "running", "cached", "done", "failed", "cancelled")
_STYLES = {
    "pending": "yellow",
    "queued": "yellow",
    "running": "cyan",
    "cached": "green",
    "done": "bold green",
    "failed": "bold red",
    "cancelled": "magenta",
}


class ProgressTally:
    """Counts jobs per task and state from scheduler events (an event subscriber)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, tuple[str, str]] = {}
        self.counts: dict[str, dict[str, int]] = {}
        self.started = time.monotonic()
        self.finished: float | None = None
        self.queued_seen = False  # the queued column appears once a remote job queues

    def __call__(self, event: Event) -> None:
        if type(event) is JobStateChanged:
            self.count(event.job_id, event.task, event.state)
        elif type(event) is ExecutionFinished:
            self.finished = time.monotonic()

    def job_changed(self, job: Job) -> None:
        """A job observer (:meth:`redun.events.EventBus.attach`): no event is built."""
        self.count(job.id, job.task.fullname, job.state._value_)

    def count(self, job_id: str, task: str, state: str) -> None:
        with self._lock:
            previous = self._state.get(job_id)
            if previous is not None:
                self.counts[previous[0]][previous[1]] -= 1
            self._state[job_id] = (task, state)
            task_counts = self.counts.get(task)
            if task_counts is None:
                task_counts = self.counts[task] = dict.fromkeys(STATES, 0)
            task_counts[state] += 1
            if state == "queued":
                self.queued_seen = True

    def count_jobs(self, jobs: Iterable[Job]) -> None:
        """Count ``jobs`` in their current states (a tally that did not follow the run)."""
        for job in jobs:
            self.count(job.id, job.task.fullname, job.state._value_)

    def snapshot(self) -> list[tuple[str, dict[str, int]]]:
        with self._lock:
            return [(task, dict(counts)) for task, counts in self.counts.items()]

    def render(self) -> Any:
        from rich.table import Table

        elapsed = (self.finished or time.monotonic()) - self.started
        table = Table(title=f"redun  {elapsed:6.1f}s", title_justify="left", expand=False)
        table.add_column("task", style="bold")
        states = [s for s in STATES if s != "queued" or self.queued_seen]
        for state in states:
            table.add_column(state, justify="right", style=_STYLES[state])
        totals = dict.fromkeys(STATES, 0)
        rows = self.snapshot()
        for task, counts in rows[:30]:
            table.add_row(task, *[str(counts[s]) if counts[s] else "" for s in states])
            for state in STATES:
                totals[state] += counts[state]
        for _, counts in rows[30:]:
            for state in STATES:
                totals[state] += counts[state]
        if len(rows) > 1:
            table.add_row("total", *[str(totals[s]) for s in states], style="dim")
        return table


class ProgressDisplay:
    """Draws a :class:`ProgressTally` on stderr while a run goes on.

    Args:
        jobs: where the summary's counts come from when nothing is drawn live (no
            terminal): the tally then need not follow every job of the run, and
            is filled from ``jobs()`` once, at the end.
    """

    def __init__(
        self,
        tally: ProgressTally,
        *,
        enabled: bool | None = None,
        jobs: Callable[[], Iterable[Job]] | None = None,
    ) -> None:
        self.tally = tally
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.jobs = jobs
        self._live: Any = None

    @property
    def follows_jobs(self) -> bool:
        """Whether the tally must hear of every job as it changes (drawn live)."""
        return self.enabled or self.jobs is None

    def __enter__(self) -> ProgressDisplay:
        if self.enabled:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(
                get_renderable=self.tally.render,
                console=Console(stderr=True),
                refresh_per_second=8,
                transient=False,
            )
            self._live.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.stop()
            return
        if self.jobs is not None:
            if self.tally.finished is None:
                self.tally.finished = time.monotonic()
            self.tally.count_jobs(self.jobs())
        self.print_summary()

    def print_summary(self) -> None:
        rows = self.tally.snapshot()
        totals = dict.fromkeys(STATES, 0)
        for _, counts in rows:
            for state in STATES:
                totals[state] += counts[state]
        parts = [f"{state}={totals[state]}" for state in STATES if totals[state]]
        elapsed = (self.tally.finished or time.monotonic()) - self.tally.started
        print(
            f"[redun] {len(rows)} task(s), jobs: {' '.join(parts) or 'none'} in {elapsed:.2f}s",
            file=sys.stderr,
        )
