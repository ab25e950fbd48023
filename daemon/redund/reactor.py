"""The reactor of watches: file changes in, runs to start (and to supersede) out.

A pure state machine, in the manner of dask's ``worker_state_machine``: the
I/O shell (:mod:`redund.observer`) feeds it events and carries out the
actions it returns; it never touches a file, a thread or the event loop, and
its only notion of time is the clock it is given, so tests drive it with a
fake clock and no sleeps.

Events in:

- :class:`WatchUpdated`: a watch exists, with the paths its last run touched
  and its latest execution (in flight or not). Sent when a watch's run starts
  or ends; the shell reads it from the registry, so it is idempotent.
- :class:`WatchRemoved`, :class:`StartFailed`.
- :class:`FilesChanged`: paths the file system reported, each with its
  fingerprint now (``None``: gone). A path whose fingerprint equals the one
  last seen did not change (a ``touch`` of a source file, an editor saving
  the same bytes, the late echo of a run's own write) and counts for nothing.
- :class:`Measured`: fingerprints the reactor asked for with :class:`Measure`
  (in parts, when some paths take longer to measure: objects in a bucket).
- :class:`Stale`: paths that changed while nobody watched (a daemon restart).

Actions out:

- :class:`StartRun`: run the watch again, naming the changed paths and the
  execution it supersedes (the shell cancels that one).
- :class:`Observe`: the set of paths the file-system watcher should follow.
- :class:`Measure`: fingerprint these paths now (the baseline a run left).

Debounce: a watch's changes fire once no new change has come for ``quiet``
seconds, or ``max_wait`` seconds after the first of them, whichever is
first; so an editor's write-then-rename and a formatter's burst of writes are
one run. :meth:`Reactor.deadline` says when :meth:`Reactor.poll` has work.

Paths a run wrote (its outputs) are special: while that watch's run is in
flight their changes are its own doing and are ignored, and when it ends
they are measured afresh, so the echo of those writes is ignored too. A
change to anything else while the run is in flight supersedes it.

Paths may be URLs of objects (``s3://``, ``gs://``), which the shell polls; to
the reactor they are paths like any other. Measuring them takes requests, so
the shell may answer a :class:`Measure` in parts: until the last part
(``more=False``) comes, changes of the outputs of that run still count as
its own writes.

What a watch observes is learnt when a run ends. Paths it learns then (and
paths never measured) were not observed during that run, so the reactor asks
the shell which of them were modified after the run began
(:attr:`Measure.fresh`) and runs the watch again for those.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

#: What a path looked like: opaque to the reactor, compared for equality only.
#: ``None`` means the path does not exist.
Fingerprint = object

DEFAULT_QUIET = 0.01  # seconds without a new change before a burst fires
DEFAULT_MAX_WAIT = 0.3  # seconds after a burst's first change at the latest


# -- events in -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class WatchUpdated:
    """A watch, its observed paths, and its latest execution.

    Args:
        watch_id: the watch.
        workflow_path: its workflow file (always observed).
        paths: what its runs touched: source modules, files read or written.
        outputs: the subset of ``paths`` its runs wrote.
        execution_id: its latest execution ("" before the first).
        running: whether that execution is still in flight.
    """

    watch_id: str
    workflow_path: str
    paths: frozenset[str] = frozenset()
    outputs: frozenset[str] = frozenset()
    execution_id: str = ""
    running: bool = False


@dataclass(frozen=True, slots=True)
class WatchRemoved:
    watch_id: str


@dataclass(frozen=True, slots=True)
class StartFailed:
    """A :class:`StartRun` could not start a run (the daemon is stopping, ...)."""

    watch_id: str


@dataclass(frozen=True, slots=True)
class FilesChanged:
    """Paths reported changed, with their fingerprint now."""

    changes: Mapping[str, Fingerprint]


@dataclass(frozen=True, slots=True)
class Measured:
    """The answer to a :class:`Measure`.

    Args:
        fingerprints: of the paths asked for.
        watch_id: the watch whose run ended (when asked with one).
        changed: those of the asked ``fresh`` paths modified after that run began:
            the run may have read them before the change, and nobody observed it.
        more: another part of the answer follows (the paths measured by requests).
    """

    fingerprints: Mapping[str, Fingerprint]
    watch_id: str = ""
    changed: tuple[str, ...] = ()
    more: bool = False


@dataclass(frozen=True, slots=True)
class Stale:
    """``paths`` of a watch changed while no one observed them: run it again."""

    watch_id: str
    paths: tuple[str, ...]


ReactorEvent = WatchUpdated | WatchRemoved | StartFailed | FilesChanged | Measured | Stale


# -- actions out ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StartRun:
    """Run the watch again; cancel ``supersede`` (an execution id) first if not empty."""

    watch_id: str
    changed_paths: tuple[str, ...]
    supersede: str = ""


@dataclass(frozen=True, slots=True)
class Observe:
    """Follow exactly these paths (files, and directories with what is below them)."""

    paths: frozenset[str]


@dataclass(frozen=True, slots=True)
class Measure:
    """Fingerprint these paths and answer with :class:`Measured`.

    Args:
        paths: what to fingerprint.
        watch_id, execution_id: the watch and its run that just ended.
        fresh: paths that run made the watch observe only now (none of their
            changes during the run was seen): say which were modified after
            the run began.
    """

    paths: frozenset[str]
    watch_id: str = ""
    execution_id: str = ""
    fresh: frozenset[str] = frozenset()


Action = StartRun | Observe | Measure


# -- state -----------------------------------------------------------------------------------
class Phase(enum.Enum):
    """Where a watch's runs are."""

    IDLE = "idle"  # no run in flight
    STARTING = "starting"  # a StartRun went out; its execution is not known yet
    RUNNING = "running"  # an execution is in flight


class TransitionError(RuntimeError):
    """An event that makes no sense in the watch's phase (a bug in the shell)."""


@dataclass(slots=True)
class WatchState:
    """What the reactor keeps per watch."""

    watch_id: str
    workflow_path: str
    paths: frozenset[str] = frozenset()
    outputs: frozenset[str] = frozenset()
    phase: Phase = Phase.IDLE
    execution_id: str = ""
    pending: dict[str, None] = field(default_factory=dict)  # an ordered set
    first_change: float = 0.0
    last_change: float = 0.0
    measuring: bool = False  # the baseline its last run left is still being measured

    @property
    def observed(self) -> frozenset[str]:
        return self.paths | self.outputs | {self.workflow_path}

    def due(self, quiet: float, max_wait: float) -> float | None:
        """When its pending changes fire (None: nothing pending, or it waits for a start)."""
        if not self.pending or self.phase is Phase.STARTING:
            return None
        return min(self.last_change + quiet, self.first_change + max_wait)


def is_under(path: str, root: str) -> bool:
    """``path`` is ``root`` or lies below it."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _matches(path: str, watched: Iterable[str]) -> bool:
    return any(is_under(path, root) for root in watched)


class Reactor:
    """The watches' state machine.

    Args:
        clock: monotonic seconds (a fake one in tests).
        quiet: a burst ends after this many seconds without a change.
        max_wait: a burst fires at most this many seconds after its first change.
        ignore: path prefixes never to react to (the daemon's own home, whose
            database every run writes).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        quiet: float = DEFAULT_QUIET,
        max_wait: float = DEFAULT_MAX_WAIT,
        ignore: Iterable[str] = (),
    ) -> None:
        if quiet < 0 or max_wait < quiet:
            raise ValueError(f"need 0 <= quiet <= max_wait, got quiet={quiet}, max_wait={max_wait}")
        self.clock = clock
        self.quiet = quiet
        self.max_wait = max_wait
        self.ignore = tuple(ignore)
        self.watches: dict[str, WatchState] = {}
        self.known: dict[str, Fingerprint] = {}  # path -> fingerprint last seen
        self._observed: frozenset[str] = frozenset()

    # -- the interface ------------------------------------------------------------------
    def handle(self, *events: ReactorEvent) -> list[Action]:
        """Apply ``events`` in order; returns what to do (runs that are due included)."""
        actions: list[Action] = []
        for event in events:
            kind = type(event)
            if kind is FilesChanged:
                self._files_changed(event)  # type: ignore[arg-type]
            elif kind is WatchUpdated:
                actions += self._watch_updated(event)  # type: ignore[arg-type]
            elif kind is WatchRemoved:
                self._watch_removed(event)  # type: ignore[arg-type]
            elif kind is StartFailed:
                self._start_failed(event)  # type: ignore[arg-type]
            elif kind is Measured:
                self._measured(event)  # type: ignore[arg-type]
            elif kind is Stale:
                self._stale(event)  # type: ignore[arg-type]
            else:
                raise TypeError(f"not a reactor event: {event!r}")
        actions += self._observe()
        actions += self.poll()
        return actions

    def poll(self) -> list[Action]:
        """The runs whose debounce has elapsed (call at :meth:`deadline`)."""
        now = self.clock()
        actions: list[Action] = []
        for watch in self.watches.values():
            due = watch.due(self.quiet, self.max_wait)
            if due is None or due > now:
                continue
            supersede = watch.execution_id if watch.phase is Phase.RUNNING else ""
            actions.append(StartRun(watch.watch_id, tuple(watch.pending), supersede))
            watch.pending.clear()
            watch.phase = Phase.STARTING
        return actions

    def deadline(self) -> float | None:
        """When :meth:`poll` will next have something to do (clock seconds), if ever."""
        dues = [
            due
            for watch in self.watches.values()
            if (due := watch.due(self.quiet, self.max_wait)) is not None
        ]
        return min(dues) if dues else None

    @property
    def observed(self) -> frozenset[str]:
        """Every path some watch follows."""
        return self._observed

    # -- transitions ---------------------------------------------------------------------
    def _watch_updated(self, event: WatchUpdated) -> list[Action]:
        watch = self.watches.get(event.watch_id)
        if watch is None:
            watch = self.watches[event.watch_id] = WatchState(event.watch_id, event.workflow_path)
        before = watch.observed
        watch.workflow_path = event.workflow_path
        watch.paths = event.paths
        watch.outputs = event.outputs
        if watch.phase is Phase.STARTING:
            # only the run we asked for ends this phase (a superseded one ending does not)
            if event.running and event.execution_id != watch.execution_id:
                watch.execution_id = event.execution_id
                watch.phase = Phase.RUNNING
            return []
        if event.running:
            watch.execution_id = event.execution_id
            watch.phase = Phase.RUNNING
            return []
        ended = watch.phase is Phase.RUNNING
        watch.execution_id = event.execution_id
        watch.phase = Phase.IDLE
        # the baseline: paths first heard of now, and what the run that ended wrote
        measure = frozenset(path for path in watch.observed if path not in self.known)
        if not ended:
            return [Measure(measure)] if measure else []
        # changes to these may have gone unseen during the run (an event still on its
        # way counts for nothing once the path is measured): the shell checks their mtimes
        fresh = ((watch.observed - before) | measure) - watch.outputs
        watch.measuring = True
        return [Measure(measure | watch.outputs, watch.watch_id, watch.execution_id, fresh)]

    def _measured(self, event: Measured) -> None:
        self.known.update(event.fingerprints)
        watch = self.watches.get(event.watch_id)
        if watch is not None and not event.more:
            watch.measuring = False
        if watch is None or not event.changed or watch.phase is not Phase.IDLE:
            return
        now = self.clock()
        for path in event.changed:
            self._pend(watch, path, now)

    def _watch_removed(self, event: WatchRemoved) -> None:
        if self.watches.pop(event.watch_id, None) is None:
            return
        observed = frozenset().union(*(watch.observed for watch in self.watches.values()))
        self.known = {path: seen for path, seen in self.known.items() if _matches(path, observed)}

    def _start_failed(self, event: StartFailed) -> None:
        watch = self.watches.get(event.watch_id)
        if watch is None:
            return
        if watch.phase is not Phase.STARTING:
            raise TransitionError(
                f"watch {event.watch_id} is {watch.phase.value}; only a starting watch can fail "
                "to start"
            )
        watch.phase = Phase.IDLE

    def _files_changed(self, event: FilesChanged) -> None:
        now = self.clock()
        for path, fingerprint in event.changes.items():
            if self.ignore and _matches(path, self.ignore):
                continue
            seen = path in self.known
            before = self.known.get(path)
            self.known[path] = fingerprint
            if seen and before == fingerprint:
                continue  # not a change: same bytes, or the echo of a write already measured
            for watch in self.watches.values():
                if not _matches(path, watch.observed):
                    continue
                if (watch.phase is not Phase.IDLE or watch.measuring) and _matches(
                    path, watch.outputs
                ):
                    continue  # the run in flight writes it (or just wrote it: measuring)
                self._pend(watch, path, now)

    def _stale(self, event: Stale) -> None:
        watch = self.watches.get(event.watch_id)
        if watch is None:
            return
        now = self.clock()
        for path in event.paths or (watch.workflow_path,):
            self._pend(watch, path, now)

    @staticmethod
    def _pend(watch: WatchState, path: str, now: float) -> None:
        if not watch.pending:
            watch.first_change = now
        watch.pending[path] = None
        watch.last_change = now

    def _observe(self) -> list[Action]:
        observed = frozenset().union(*(watch.observed for watch in self.watches.values()))
        if observed == self._observed:
            return []
        self._observed = observed
        return [Observe(observed)]
