"""In-flight bookkeeping: which platform jobs run which scheduler jobs."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from redun.executors.remote.backend import Handle
from redun.executors.remote.states import Phase, Seen

if TYPE_CHECKING:
    from redun.scheduler.job import Job

TAIL_LINES = 20


@dataclass
class Flight:
    """One platform job (lone or array) and the scheduler jobs it runs.

    Attributes:
        handle: the back end's id for it.
        key: its submission key (call id, or ``a-<token>``).
        token: its submission token (outcomes written for it carry it).
        array: True for an array.
        jobs: the watched elements' jobs by index (cancelled or finished ones leave).
        seen: what the scheduler was told about each watched element.
        adopted: True if an earlier scheduler submitted it.
        phase: the whole job's phase at the last poll (a change re-checks every element).
        dirty: elements were added since the last poll (check every element).
        tails: the last lines of output shown per element (for failure messages).
        running: the watched elements the scheduler was told are running (tailed).
    """

    handle: Handle
    key: str
    token: str
    array: bool
    jobs: dict[int, Job] = field(default_factory=dict)
    seen: dict[int, Seen] = field(default_factory=dict)
    adopted: bool = False
    phase: Phase | None = None
    dirty: bool = True
    tails: dict[int, deque[str]] = field(default_factory=dict)
    running: set[int] = field(default_factory=set)

    def watch(self, index: int, job: Job) -> None:
        self.jobs[index] = job
        self.seen[index] = Seen()
        self.dirty = True

    def unwatch(self, index: int) -> Job | None:
        self.seen.pop(index, None)
        self.tails.pop(index, None)
        self.running.discard(index)
        return self.jobs.pop(index, None)

    def remember_output(self, index: int, text: str) -> None:
        tail = self.tails.get(index)
        if tail is None:
            tail = self.tails[index] = deque(maxlen=TAIL_LINES)
        tail.extend(text.rstrip("\n").split("\n"))

    def tail_text(self, index: int) -> str:
        tail = self.tails.get(index)
        return "\n".join("  " + line for line in tail) if tail else ""
