"""The job status report: how many jobs of each task are in each state.

``Scheduler(job_status_interval=N)`` (or ``[scheduler] job_status_interval``)
logs it every N seconds while a run waits for jobs, and once at the end, as
insitro/redun does; ``redun run``'s progress display shows the same live.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

__all__ = ["job_status_report", "status_interval"]

# redun's columns, in its order; see job_status_report.
_COLUMNS = ("PENDING", "RUNNING", "FAILED", "CACHED", "DONE", "TOTAL")
_MIN_WIDTH = 7


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


def job_status_report(jobs: Iterable[Any], now: float | None = None) -> list[str]:
    """The lines of redun's job status table: a time stamp, a row per task and one for
    ALL, a column per status (``QUEUED`` and ``CANCELLED``, which redun's jobs never
    are, only when some job is), each line behind ``| ``, then an empty line."""
    counts: dict[str, Counter[str]] = {}
    for job in jobs:
        counts.setdefault(job.task.fullname, Counter())[job.state.value.upper()] += 1
    total: Counter[str] = Counter()
    for per_state in counts.values():
        total.update(per_state)
    columns = list(_COLUMNS)
    columns[5:5] = [extra for extra in ("QUEUED", "CANCELLED") if total[extra]]
    rows = [["TASK", *columns]]
    for name, per_state in [("ALL", total), *sorted(counts.items())]:
        cells = [per_state[state] for state in columns[:-1]]
        rows.append([name, *map(str, cells), str(sum(per_state.values()))])
    widths = [max(_MIN_WIDTH, *(len(row[i]) for row in rows)) for i in range(len(columns) + 1)]

    def line(row: list[str]) -> str:
        first, *rest = row
        return " ".join([first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:]))])

    stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(now))
    return [
        f"| JOB STATUS {stamp}",
        f"| {line(rows[0])}",
        "| ",
        *(f"| {line(row)}" for row in rows[1:]),
        "",
    ]
