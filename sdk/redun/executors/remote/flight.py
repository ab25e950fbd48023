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
        shown: what live tails showed per (element, stream), kept only for a back
            end whose tails may miss lines (``live_logs_complete = False``).
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
    shown: dict[tuple[int, str], list[str]] = field(default_factory=dict)

    def watch(self, index: int, job: Job) -> None:
        self.jobs[index] = job
        self.seen[index] = Seen()
        self.dirty = True

    def unwatch(self, index: int) -> Job | None:
        self.seen.pop(index, None)
        self.tails.pop(index, None)
        self.running.discard(index)
        for stream in ("stdout", "stderr"):
            self.shown.pop((index, stream), None)
        return self.jobs.pop(index, None)

    def remember_output(self, index: int, text: str) -> None:
        tail = self.tails.get(index)
        if tail is None:
            tail = self.tails[index] = deque(maxlen=TAIL_LINES)
        tail.extend(text.rstrip("\n").split("\n"))

    def tail_text(self, index: int) -> str:
        tail = self.tails.get(index)
        return "\n".join("  " + line for line in tail) if tail else ""

    def remember_shown(self, index: int, stream: str, text: str) -> None:
        self.shown.setdefault((index, stream), []).append(text)

    def shown_text(self, index: int) -> dict[str, str]:
        return {
            stream: "".join(self.shown.get((index, stream), ())) for stream in ("stdout", "stderr")
        }


def unshown(output: list[tuple[str, str]], shown: dict[str, str]) -> list[tuple[str, str]]:
    """The part of a call's captured ``output`` that live tails have not shown.

    Per stream, the lines the tails showed that start the output (its longest
    common prefix with them) are dropped; the rest is kept in order. A tail
    that lags (a log service still ingesting) loses nothing this way, and a
    tail that showed everything leaves nothing to post twice.
    """
    skip: dict[str, int] = {}
    for stream, text in shown.items():
        ours = "".join(chunk for name, chunk in output if name == stream).splitlines()
        theirs = text.splitlines()
        common = 0
        while common < min(len(ours), len(theirs)) and ours[common] == theirs[common]:
            common += 1
        skip[stream] = common
    if not any(skip.values()):
        return list(output)
    rest: list[tuple[str, str]] = []
    for stream, chunk in output:
        lines = chunk.splitlines(keepends=True)
        drop = min(skip.get(stream, 0), len(lines))
        skip[stream] = skip.get(stream, 0) - drop
        if lines[drop:]:
            rest.append((stream, "".join(lines[drop:])))
    return rest


def unshown_merged(output: list[tuple[str, str]], shown: str) -> list[tuple[str, str]]:
    """Like :func:`unshown`, for tails that carry both streams as one (CloudWatch's awslogs).

    The lines of ``output`` (all streams, in order) that match the start of the
    ``shown`` lines are dropped; from the first difference on, everything is kept.
    """
    theirs = shown.splitlines()
    matched = 0
    rest: list[tuple[str, str]] = []
    for stream, chunk in output:
        lines = chunk.splitlines(keepends=True)
        drop = 0
        if not rest:
            while (
                drop < len(lines)
                and matched < len(theirs)
                and lines[drop].rstrip("\n") == theirs[matched]
            ):
                drop += 1
                matched += 1
        if lines[drop:]:
            rest.append((stream, "".join(lines[drop:])))
    return rest
