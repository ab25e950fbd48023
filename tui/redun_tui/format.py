"""How states, times, durations and ids read on screen (pure functions, no widgets)."""

from __future__ import annotations

from rich.text import Text

from redun_tui.data.model import ExecutionInfo, JobInfo, RunRequest

#: Symbol and Rich style of each job state and execution status.
STATE_LOOK: dict[str, tuple[str, str]] = {
    "pending": ("…", "grey62"),
    "queued": ("◷", "yellow"),
    "running": ("▶", "bold yellow"),
    "cached": ("◆", "cyan"),
    "done": ("✔", "green"),
    "failed": ("✘", "bold red"),
    "cancelled": ("⊘", "magenta"),
    "interrupted": ("⚡", "magenta"),
}


def state_text(state: str, *, symbol_only: bool = False) -> Text:
    """``✔ done`` in the state's colour."""
    symbol, style = STATE_LOOK.get(state, ("?", ""))
    return Text(symbol if symbol_only else f"{symbol} {state}", style=style)


def short_id(identifier: str) -> str:
    return identifier[:8]


def duration(seconds: float | None) -> str:
    """``850ms``, ``2.4s``, ``3m04s``, ``1h02m``; empty when unknown."""
    if seconds is None or seconds < 0:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def age(when: float | None, now: float) -> str:
    """How long ago: ``12s ago``, ``5m ago``, ``3h ago``, ``2d ago``."""
    if when is None:
        return ""
    seconds = max(0.0, now - when)
    if seconds < 60:
        return f"{seconds:.0f}s ago"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m ago"
    if seconds < 86400:
        return f"{seconds // 3600:.0f}h ago"
    return f"{seconds // 86400:.0f}d ago"


def job_duration(job: JobInfo, now: float) -> float | None:
    if job.duration:
        return job.duration
    if job.start is not None:
        return (job.end or now) - job.start
    return None


def execution_duration(execution: ExecutionInfo, now: float) -> float | None:
    if execution.start is None:
        return None
    return (execution.end or now) - execution.start


def counts_text(counts: dict[str, int], total: int) -> Text:
    """``7 jobs: 5✔ 1◆ 1✘`` with each state in its colour."""
    text = Text(f"{total} job{'s' if total != 1 else ''}")
    parts = [(state, counts.get(state, 0)) for state in STATE_LOOK if counts.get(state)]
    if parts:
        text.append(":")
    for state, count in parts:
        symbol, style = STATE_LOOK[state]
        text.append(f" {count}{symbol}", style=style)
    return text


def job_label(job: JobInfo, now: float, *, children: int = 0) -> Text:
    """One tree line: state symbol, task, arguments, state, duration, executor, cache hit."""
    symbol, style = STATE_LOOK.get(job.state, ("?", ""))
    text = Text()
    text.append(f"{symbol} ", style=style)
    text.append(job.task, style="bold")
    summary = job.args_summary if len(job.args_summary) <= 60 else job.args_summary[:59] + "…"
    text.append(f"({summary})", style="grey62")
    text.append(f"  {job.state}", style=style)
    took = duration(job_duration(job, now))
    if took:
        text.append(f" {took}")
    if job.executor:
        text.append(f"  [{job.executor}]", style="grey50")
    if job.cached:
        text.append("  cache hit, re-evaluated" if job.reevaluated else "  cache hit", style="cyan")
    if children:
        text.append(f"  ({children} child{'ren' if children != 1 else ''})", style="grey50")
    return text


def run_text(request: RunRequest) -> str:
    """``flow.py main --n 3``: with the workflow file, so the mains of two files differ."""
    path = request.workflow_path
    name = path.rsplit("/", 1)[-1] if path.endswith(".py") else path
    command = request_text(request.task, request.args, request.argv)
    return f"{name} {command}" if name else command


def request_text(task: str, args: dict[str, str], argv: list[str]) -> str:
    """``main --n 3`` (a run's task and arguments as the CLI takes them)."""
    parts = [task] + [f"--{name} {value}" for name, value in args.items()] + list(argv)
    return " ".join(parts)
