"""``JobScreen``: one job's arguments, result, hashes, reason, traceback and live output."""

from __future__ import annotations

import threading

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Footer, Header, Static

from redun.errors import RedunError
from redun_tui.data.model import TERMINAL_STATES, JobDetail, JobInfo, LogChunk, ValuePreview
from redun_tui.data.source import Subscription
from redun_tui.format import duration, job_duration, state_text
from redun_tui.screens.base import FollowingScreen
from redun_tui.widgets.detail_view import DetailView
from redun_tui.widgets.job_log import JobLog

#: Seconds between redraws of a running job's duration.
TICK_INTERVAL = 1.0


def preview_text(preview: ValuePreview) -> Text:
    text = Text(preview.file_path or preview.repr or "(no preview)")
    if preview.truncated:
        text.append(" …", style="grey50")
    if preview.type_name:
        text.append(f"  {preview.type_name}", style="grey62")
    return text


def reason_text(explanation: list[str], reason: str) -> Text:
    """Why a job ran: the summary, then each further reason once, as a bullet.

    A reason that only repeats the summary is left out, and each line wraps
    at word boundaries under its own start (never in the middle of a phrase).
    """
    lines = [line.strip() for line in explanation if line.strip()] or [reason or "(not known yet)"]
    summary, seen = lines[0], {_bare(lines[0])}
    text = Text(summary)
    for line in lines[1:]:
        if _bare(line) in seen:
            continue
        seen.add(_bare(line))
        text.append("\n")
        text.append(line if line.startswith("- ") else f"- {line}")
    return text


def _bare(line: str) -> str:
    """A reason without its bullet, ``ran:``/``cached:`` prefix and case."""
    line = line.removeprefix("- ").strip()
    for prefix in ("ran:", "cached:"):
        if line.lower().startswith(prefix):
            line = line[len(prefix) :].strip()
    return line.lower().rstrip(".")


class JobScreen(FollowingScreen):
    """Everything about one job; its output streams while it runs (follow mode)."""

    DEFAULT_CSS = """
    JobScreen #details {
        height: auto;
        max-height: 70%;
    }
    JobScreen #top {
        height: auto;
    }
    JobScreen #job {
        width: 1fr;
    }
    JobScreen #side {
        width: 1fr;
        height: auto;
    }
    JobScreen #traceback {
        height: auto;
        padding: 0 1;
        border: round $error 60%;
        color: $text;
    }
    """

    BINDINGS = [
        Binding("l", "lineage", "Lineage of result", show=True),
        Binding("a", "argument_lineage", "Lineage of 1st arg", show=True),
        Binding("p", "parent", "Parent job", show=True),
        Binding("e", "execution", "Execution", show=True),
    ]

    log_interval: reactive[float] = reactive(0.1)
    """Seconds between appends of streamed output to the log (a bounded rate)."""

    class DetailLoaded(Message):
        """The job's details arrived."""

        def __init__(self, detail: JobDetail) -> None:
            super().__init__()
            self.detail = detail

    class LogEnded(Message):
        """The output stream ended (the job finished, or all recorded output was read)."""

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.detail: JobDetail | None = None
        self._pending: list[LogChunk] = []
        self._lock = threading.Lock()
        self._subscription: Subscription | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with VerticalScroll(id="details"):
            with Horizontal(id="top"):
                yield DetailView(id="job")
                with Vertical(id="side"):
                    yield DetailView(id="arguments")
            # Full width: a reason is a sentence, and a half-width pane broke it mid-phrase.
            yield DetailView(id="reason")
            yield Static(id="traceback")
        yield JobLog(id="log")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.heading()
        self.query_one("#job", DetailView).border_title = "Job"
        self.query_one("#arguments", DetailView).border_title = "Arguments and result"
        self.query_one("#reason", DetailView).border_title = "Why it ran"
        self.query_one("#traceback", Static).display = False
        log = self.query_one("#log", JobLog)
        log.border_title = "Output"
        log.focus()
        self.load()
        # Made on the UI thread (it connects when iterated): on_unmount always finds it.
        self._generation = self.source.generation
        self._subscription = self.source.logs(self.job_id, follow=True)
        self.stream_logs(self._subscription)
        self.set_interval(TICK_INTERVAL, self._tick)
        self.set_interval(self.log_interval, self._flush_log)

    def on_unmount(self) -> None:
        super().on_unmount()
        if self._subscription is not None:
            self._subscription.close()

    # -- data -------------------------------------------------------------------------
    @work(thread=True, exit_on_error=False, exclusive=True, group="job-detail")
    def load(self) -> None:
        try:
            detail = self.source.job(self.job_id)
        except RedunError as error:
            self.show_error(error, f"cannot load job {self.job_id[:8]}")
            return
        self.post_message(self.DetailLoaded(detail))

    @work(thread=True, exit_on_error=False, exclusive=True, group="job-logs")
    def stream_logs(self, subscription: Subscription) -> None:
        """Read the job's output; after a daemon restart, read it again from its start."""
        if self.follow_stream(
            subscription, self._take, self._resubscribe, self.say, "lost the output stream"
        ):
            self.post_message(self.LogEnded())

    def _take(self, batch: list[LogChunk]) -> None:
        with self._lock:
            self._pending.extend(batch)

    def heading(self) -> str:
        return f"job {self.job_id[:8]}"

    def _resubscribe(self) -> Subscription:
        """A new output stream from the job's start (the pane is cleared), on the UI thread."""
        if self._subscription is not None:
            self._subscription.close()
        self.connection = ""
        self.show_title()
        with self._lock:
            self._pending.clear()
        self.query_one("#log", JobLog).restart()
        self._generation = self.source.generation
        self._subscription = self.source.logs(self.job_id, follow=True)
        self.load()
        return self._subscription

    def _flush_log(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if pending:
            self.query_one("#log", JobLog).append(pending)

    @on(LogEnded)
    def _log_ended(self) -> None:
        self._flush_log()
        log = self.query_one("#log", JobLog)
        log.finish()
        log.border_subtitle = f"{log.line_count} lines · ended"
        self.load()  # the job is over: show its result

    def _tick(self) -> None:
        """A running job's duration goes on while no event arrives."""
        if self.detail is not None and self.detail.job.state not in TERMINAL_STATES:
            self._draw_job()

    @on(DetailLoaded)
    def _detail_loaded(self, message: DetailLoaded) -> None:
        self.detail = message.detail
        self._draw_job()
        self._draw_arguments_and_reason()

    def _draw_job(self) -> None:
        assert self.detail is not None
        detail = self.detail
        job = detail.job
        now = self.clock()
        rows: list[tuple[str, Text | str]] = [
            ("task", Text(job.task, style="bold")),
            ("state", state_text(job.state)),
            ("id", job.id),
            ("execution", job.execution_id),
            ("parent", job.parent_id or "(root job)"),
            ("executor", job.executor),
        ]
        if detail.tags:
            rows.append(("tags", ", ".join(f"{k}={v}" for k, v in sorted(detail.tags.items()))))
        rows += [
            ("cache", _cache_text(job)),
            ("took", duration(job_duration(job, now))),
            ("task hash", job.task_hash),
            ("call hash", job.call_hash),
        ]
        if detail.result is not None and detail.result.hash:
            rows.append(("result hash", detail.result.hash))
        self.query_one("#job", DetailView).rows = rows

    def _draw_arguments_and_reason(self) -> None:
        assert self.detail is not None
        detail = self.detail
        job = detail.job
        args: list[tuple[str, Text | str]] = [
            (name, preview_text(preview)) for name, preview in detail.args
        ]
        if not args:
            args.append(("arguments", job.args_summary or "(none)"))
        if detail.result is not None:
            args.append(("→ result", preview_text(detail.result)))
        elif job.state not in TERMINAL_STATES:
            args.append(("→ result", Text("(not yet)", style="italic grey50")))
        self.query_one("#arguments", DetailView).rows = args
        self.query_one("#reason", DetailView).rows = [
            ("cached" if job.cached else "ran", reason_text(detail.explanation, job.reason))
        ]
        traceback = self.query_one("#traceback", Static)
        if job.error or job.traceback:
            traceback.border_title = "Error"
            traceback.update(Text(job.traceback or job.error, style="red"))
            traceback.display = True
        else:
            traceback.display = False

    # -- actions ------------------------------------------------------------------------
    def action_lineage(self) -> None:
        detail = self.detail
        if detail is None or detail.result is None or not detail.result.hash:
            self.notify("this job has no recorded result", severity="warning")
            return
        self.redun.open_lineage(value_hash=detail.result.hash)

    def action_argument_lineage(self) -> None:
        detail = self.detail
        hashes = [p.hash for _, p in detail.args if p.hash] if detail else []
        if not hashes:
            self.notify("no recorded argument values", severity="warning")
            return
        self.redun.open_lineage(value_hash=hashes[0])

    def action_parent(self) -> None:
        if self.detail is not None and self.detail.job.parent_id:
            self.redun.open_job(self.detail.job.parent_id)

    def action_execution(self) -> None:
        if self.detail is not None:
            self.redun.open_execution(self.detail.job.execution_id)


def _cache_text(job: JobInfo) -> str:
    if not job.cached:
        return "miss"
    return "hit, its returned expression re-evaluated" if job.reevaluated else "hit"
