"""The job status report: how many jobs of each task are in each state.

``Scheduler(job_status_interval=N)`` (or ``[scheduler] job_status_interval``)
logs it every N seconds while a run waits for jobs, and once at the end, as
insitro/redun does; ``redun run``'s progress display shows the same live.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from redun.scheduler.job import JobState

__all__ = ["job_status_report", "status_interval"]

_STATES = [state.value for state in JobState]


def status_interval(given: float | None, config: Any) -> float | None:
    """Seconds between reports: ``given``, else the config's; None (off) when neither or <= 0.

    Raises:
        UsageError: the config's value is not a number.
    """
    from redun.errors import UsageError

    value: Any = given
    if value is None:
        value = (config.get("scheduler") or {}).get("job_status_interval")
        if value is None:
            return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise UsageError(
            f"[scheduler] job_status_interval = {value!r} is not a number of seconds"
        ) from None
    return seconds if seconds > 0 else None


def job_status_report(jobs: Iterable[Any]) -> list[str]:
    """Lines of a table: a row per task (and a total), a column per state."""
    counts: dict[str, Counter[str]] = {}
    for job in jobs:
        counts.setdefault(job.task.fullname, Counter())[job.state.value] += 1
    if not counts:
        return ["no jobs"]
    total: Counter[str] = Counter()
    for per_state in counts.values():
        total.update(per_state)
    width = max(len("TOTAL"), *(len(name) for name in counts))
    header = f"{'TASK':<{width}} " + " ".join(f"{s.upper():>9}" for s in _STATES) + "     TOTAL"
    lines = [header]
    for name, per_state in [*sorted(counts.items()), ("TOTAL", total)]:
        cells = " ".join(f"{per_state.get(state, 0):>9}" for state in _STATES)
        lines.append(f"{name:<{width}} {cells} {sum(per_state.values()):>9}")
    return lines
