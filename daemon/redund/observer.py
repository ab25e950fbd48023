"""The I/O shell around the :mod:`reactor <redund.reactor>`: watchfiles in, runs out.

:class:`WatchObserver` owns one :class:`~redund.reactor.Reactor` on the
daemon's event loop. It tells the reactor what happens to watches (it
listens to the :class:`~redund.watches.WatchRegistry`: a run started, a run
ended with a new path set, a watch removed), feeds it file changes from a
:class:`FileWatcher`, wakes it at its debounce deadline, and carries out
what it answers: start a run (cancelling the one it supersedes), follow a
new path set, fingerprint paths.

:class:`FileWatcher` runs watchfiles' Rust notifier in threads: the parent
directories of the watched files, non-recursively (an editor that writes a
temporary file and renames it over the original replaces the inode, which a
watch on the file itself would lose), and watched directories (``Dir``
values) recursively. Each batch of changes is narrowed to the watched paths,
fingerprinted in the thread, and handed to the loop.

URLs of objects (``s3://``, ``gs://``) that watched runs read are not for
watchfiles: an :class:`~redund.objectwatch.ObjectWatcher` polls them and
feeds the same reactor.

At start the observer compares each watch's paths with its last run and runs
again the watches whose files changed while no daemon was watching.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import importlib.util
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from redund.errors import DaemonError
from redund.model import Event, WatchTriggeredData
from redund.objectwatch import ObjectWatcher, is_remote
from redund.polling import DEFAULT_INTERVAL, DEFAULT_MAX_INTERVAL
from redund.reactor import (
    DEFAULT_MAX_WAIT,
    DEFAULT_QUIET,
    Action,
    FilesChanged,
    Fingerprint,
    Measure,
    Measured,
    Observe,
    Reactor,
    ReactorEvent,
    Stale,
    StartFailed,
    StartRun,
    WatchRemoved,
    WatchUpdated,
    is_under,
)
from redund.tasks import TaskSet

if TYPE_CHECKING:
    from redund.hub import Hub
    from redund.runs import RunManager
    from redund.store import Store
    from redund.watches import Watch, WatchRegistry

log = logging.getLogger("redund")

STEP_MS = 5  # the notifier returns a batch once no change came for this long
GROUP_MS = 50  # ... or this long after the batch's first change
MAX_SOURCE_BYTES = 4 << 20  # larger .py files are fingerprinted by size and mtime
MTIME_SLACK = 0.01  # file times come from a coarse kernel clock (a tick behind)
# S3 gives a HEAD's time in whole seconds, and a store's clock is not ours: an object
# modified this close to a run's start may have changed after it (a cached re-run).
OBJECT_MTIME_SLACK = 2.0
IGNORED_NAMES = ("__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache")
IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp", ".swx", "~")

Deliver = Callable[[dict[str, Fingerprint]], None]


def fingerprint(path: str) -> Fingerprint:
    """What ``path`` looks like now: None (gone), a directory, a source's bytes, or a stat.

    A Python source is fingerprinted by its content, so a save that changes
    nothing (a ``touch``, an editor writing the same bytes) is no change; any
    other file by size and nanosecond mtime, as redun hashes a ``File``.
    """
    try:
        info = os.stat(path)
    except OSError:
        return None
    if stat.S_ISDIR(info.st_mode):
        return ("dir",)
    if path.endswith(".py") and info.st_size <= MAX_SOURCE_BYTES:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        return ("source", len(data), hashlib.blake2b(data, digest_size=16).hexdigest())
    return ("file", info.st_size, info.st_mtime_ns)


def forget_bytecode(path: str) -> None:
    """Remove the cached bytecode of a changed source.

    Python trusts a ``.pyc`` whose recorded source size and mtime (whole
    seconds) match: an edit that keeps the size within the same second (a
    constant 3 -> 4) would otherwise import the old code.
    """
    try:
        os.unlink(importlib.util.cache_from_source(path))
    except (OSError, ValueError, NotImplementedError):
        pass


def _short(path: str) -> str:
    """A changed path for the log: a file's name, an object's whole URL."""
    return path if is_remote(path) else os.path.basename(path)


def _ignored_below(path: str) -> bool:
    name = os.path.basename(path)
    if name.endswith(IGNORED_SUFFIXES) or name.startswith(".#"):
        return True
    return any(part in IGNORED_NAMES for part in path.split(os.sep))


def _existing_ancestor(path: str) -> str:
    while not os.path.isdir(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


class _PathMap:
    """Which reported paths matter, and as which watched paths (symlinks resolved)."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.exact: dict[str, list[str]] = collections.defaultdict(list)
        self.roots: dict[str, list[str]] = collections.defaultdict(list)
        self.flat_dirs: set[str] = set()
        self.deep_dirs: set[str] = set()
        self.missing: set[str] = set()  # directories we wait for
        for path in paths:
            real = os.path.realpath(path)
            self.exact[real].append(path)
            if os.path.isdir(real):
                self.roots[real].append(path)
                self.deep_dirs.add(real)
            else:
                self._want(os.path.dirname(real))

    def _want(self, directory: str) -> None:
        if os.path.isdir(directory):
            self.flat_dirs.add(directory)
        else:
            self.missing.add(directory)
            self.flat_dirs.add(_existing_ancestor(directory))

    def translate(self, path: str) -> list[str]:
        """The watched paths a reported change of ``path`` concerns."""
        found = list(self.exact.get(path, ()))
        for root, originals in self.roots.items():
            if path != root and is_under(path, root) and not _ignored_below(path[len(root) :]):
                found += [original + path[len(root) :] for original in originals]
        return found

    def originals(self) -> list[str]:
        return [path for paths in self.exact.values() for path in paths]

    def appeared(self) -> list[str]:
        return [directory for directory in self.missing if os.path.isdir(directory)]

    @property
    def layout(self) -> tuple[frozenset[str], frozenset[str]]:
        return frozenset(self.flat_dirs), frozenset(self.deep_dirs)


class _Notifier:
    """One watchfiles notifier and the thread that waits on it."""

    def __init__(self, dirs: frozenset[str], recursive: bool, on_batch: Callable) -> None:
        from watchfiles._rust_notify import RustNotify

        self.stop_event = threading.Event()
        self.notify = RustNotify(sorted(dirs), False, False, 300, recursive, True)
        self.on_batch = on_batch
        self.thread = threading.Thread(
            target=self._run, name=f"redund-watch-{'deep' if recursive else 'flat'}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                result = self.notify.watch(GROUP_MS, STEP_MS, 0, self.stop_event)
                if result == "stop" or self.stop_event.is_set():
                    return
                if isinstance(result, set) and result:
                    self.on_batch({path for _, path in result})
        except Exception:
            log.exception("the file watcher failed; watches stop reacting until the next run")
        finally:
            self.notify.close()

    def stop(self) -> None:
        self.stop_event.set()


class FileWatcher:
    """Follows a set of paths with watchfiles; calls ``deliver`` (in its thread) on changes.

    Args:
        deliver: receives ``{watched path: fingerprint}`` for each batch.
    """

    def __init__(self, deliver: Deliver) -> None:
        self.deliver = deliver
        self._map = _PathMap(())
        self._layout: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
        self._notifiers: list[_Notifier] = []
        self._lock = threading.Lock()
        self._closed = False

    def set_paths(self, paths: Iterable[str]) -> None:
        """Follow exactly ``paths`` from now on."""
        with self._lock:
            if self._closed:
                return
            self._map = _PathMap(paths)
            self._relayout()

    def _relayout(self, *, force: bool = False) -> None:
        layout = self._map.layout
        if layout == self._layout and not force:
            return
        old, self._notifiers = self._notifiers, []
        for attempt in range(2):
            try:
                for dirs, recursive in ((layout[0], False), (layout[1], True)):
                    if dirs:
                        self._notifiers.append(_Notifier(dirs, recursive, self._on_batch))
                break
            except (OSError, RuntimeError) as error:  # a directory vanished meanwhile
                for notifier in self._notifiers:
                    notifier.stop()
                self._notifiers = []
                if attempt:
                    log.warning("cannot watch %s: %s", ", ".join(sorted(layout[0])), error)
                self._map = _PathMap(self._map.originals())
                layout = self._map.layout
        self._layout = layout
        for notifier in old:  # after the new ones started: no change falls in between
            notifier.stop()

    def _on_batch(self, reported: set[str]) -> None:
        path_map = self._map
        changed: set[str] = set()
        for path in reported:
            changed.update(path_map.translate(path))
        appeared = path_map.appeared() if path_map.missing else []
        vanished = reported & (path_map.flat_dirs | path_map.deep_dirs)
        if appeared or vanished:  # a watched directory was created, or removed
            with self._lock:
                if not self._closed and self._map is path_map:
                    self._map = _PathMap(path_map.originals())
                    self._relayout(force=True)
            for directory in appeared:  # what was created before we watched it
                for real, originals in path_map.exact.items():
                    if is_under(real, directory):
                        changed.update(originals)
        if not changed:
            return
        changes: dict[str, Fingerprint] = {}
        for path in changed:
            if path.endswith(".py"):
                forget_bytecode(path)
            changes[path] = fingerprint(path)
        self.deliver(changes)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            notifiers, self._notifiers = self._notifiers, []
        for notifier in notifiers:
            notifier.stop()
        for notifier in notifiers:
            notifier.thread.join(timeout=2)


class WatchObserver:
    """Keeps the daemon's watches up to date: the reactor's shell.

    Args:
        registry: the watches.
        runs: starts and cancels runs.
        hub: where ``watch_triggered`` events go.
        store: the database (the start time of a watch's last run).
        home: the redun home; changes below it never count.
        clock: the reactor's clock.
        quiet, max_wait: the reactor's debounce (seconds).
        poll_interval: seconds between polls of the objects (``s3://``, ``gs://``)
            watches read, unless a watch sets its own (option ``poll_interval``).
        poll_max_interval: the longest wait when a store throttles or fails.
    """

    def __init__(
        self,
        registry: WatchRegistry,
        runs: RunManager,
        hub: Hub,
        store: Store,
        *,
        home: str,
        clock: Callable[[], float] = time.monotonic,
        quiet: float = DEFAULT_QUIET,
        max_wait: float = DEFAULT_MAX_WAIT,
        poll_interval: float = DEFAULT_INTERVAL,
        poll_max_interval: float = DEFAULT_MAX_INTERVAL,
    ) -> None:
        self.registry = registry
        self.runs = runs
        self.hub = hub
        self.store = store
        self.clock = clock
        self.reactor = Reactor(
            clock=clock, quiet=quiet, max_wait=max_wait, ignore=[os.path.realpath(home), home]
        )
        self.watcher: FileWatcher | None = None
        self.objects = ObjectWatcher(
            self._from_poller, interval=poll_interval, max_interval=poll_max_interval
        )
        self._tasks = TaskSet()
        self._queue: collections.deque[ReactorEvent] = collections.deque()
        self._dispatching = False
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False
        self._began: dict[str, float] = {}  # execution id -> wall time its start was asked for

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Follow every registered watch; re-run those whose files changed meanwhile."""
        self._loop = asyncio.get_running_loop()
        self.watcher = FileWatcher(self._from_thread)
        self.objects.start()
        self.registry.add_listener(self._on_watch)
        watches = list(self.registry.watches.values())
        for watch in watches:
            self.dispatch(self._updated(watch, running=False))
        for watch in watches:
            paths = await asyncio.to_thread(self._changed_since_last_run, watch)
            if paths and watch.id in self.registry.watches:
                log.info("watch %s: %d path(s) changed while not watched", watch.id, len(paths))
                self.dispatch(Stale(watch.id, tuple(paths)))

    async def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        if self.watcher is not None:
            await asyncio.to_thread(self.watcher.close)
        await self.objects.close()
        await self._tasks.close()

    # -- events in ------------------------------------------------------------------------------
    def _on_watch(self, watch: Watch) -> None:
        """A registry listener: a watch's run started or ended, or it was removed."""
        if watch.id not in self.registry.watches:
            self.dispatch(WatchRemoved(watch.id))
            return
        running = watch.last_status == "running"
        if running and watch.last_execution_id not in self._began:
            self._began[watch.last_execution_id] = watch.create_time  # its first run
        self.dispatch(self._updated(watch, running=running))

    @staticmethod
    def _updated(watch: Watch, *, running: bool) -> WatchUpdated:
        workflow = watch.spec.workflow_path
        if not os.path.isabs(workflow):  # a module name: its file comes with the run's paths
            workflow = os.path.join(watch.spec.working_dir, workflow)
        return WatchUpdated(
            watch.id,
            workflow,
            frozenset(watch.paths),
            frozenset(getattr(watch, "outputs", ()) or ()),
            watch.last_execution_id,
            running,
        )

    def _from_thread(self, changes: dict[str, Fingerprint]) -> None:
        loop = self._loop
        if loop is None or self._stopped:
            return
        try:
            loop.call_soon_threadsafe(self.dispatch, FilesChanged(changes))
        except RuntimeError:  # the loop closed
            pass

    def _from_poller(self, changes: dict[str, Fingerprint]) -> None:
        if not self._stopped:
            self.dispatch(FilesChanged(changes))

    def dispatch(self, *events: ReactorEvent) -> None:
        """Hand events to the reactor and carry out what it answers (never re-entrant)."""
        if self._stopped:
            return
        self._queue.extend(events)
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self._queue:
                self._perform(self.reactor.handle(self._queue.popleft()))
        finally:
            self._dispatching = False
        self._arm()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.reactor.deadline()
        if deadline is not None and self._loop is not None and not self._stopped:
            self._timer = self._loop.call_later(max(0.0, deadline - self.clock()), self._due)

    def _due(self) -> None:
        self._timer = None
        if self._stopped:
            return
        self._perform(self.reactor.poll())
        self._arm()

    # -- actions out -----------------------------------------------------------------------------
    def _perform(self, actions: list[Action]) -> None:
        for action in actions:
            if type(action) is StartRun:
                self._tasks.spawn(self._start(action), name=f"watch-{action.watch_id[:8]}")
            elif type(action) is Observe:
                local = [path for path in action.paths if not is_remote(path)]
                if self.watcher is not None:
                    self.watcher.set_paths(local)
                self.objects.set_paths(self._poll_intervals(action.paths))
            elif type(action) is Measure:
                began = self._began.pop(action.execution_id, None)
                remote = frozenset(path for path in action.paths if is_remote(path))
                measured = self._measure(action, began, more=bool(remote))
                self._queue.appendleft(measured)  # type: ignore[arg-type]
                if remote:
                    self._tasks.spawn(
                        self._measure_remote(action, remote, began), name="measure-objects"
                    )

    def _poll_intervals(self, paths: frozenset[str]) -> dict[str, float | None]:
        """The observed object URLs, each with the shortest interval a watch asks for."""
        intervals: dict[str, float | None] = {path: None for path in paths if is_remote(path)}
        for watch in self.registry.watches.values():
            try:
                own = float(watch.spec.options.get("poll_interval") or 0)
            except ValueError:
                own = 0
            if own <= 0:
                continue
            for path in (*watch.paths, *watch.outputs):
                if path in intervals:
                    current = intervals[path]
                    intervals[path] = own if current is None else min(current, own)
        return intervals

    async def _measure_remote(
        self, action: Measure, remote: frozenset[str], began: float | None
    ) -> None:
        observations = {}
        try:
            observations = await self.objects.measure(remote)
        finally:  # answer even if the requests failed: the reactor waits for the last part
            changed = [
                path
                for path in sorted(action.fresh & remote)
                if began is not None
                and path in observations
                and observations[path].fingerprint is not None
                and observations[path].mtime_ns / 1e9 > began - OBJECT_MTIME_SLACK
            ]
            fingerprints = {path: seen.fingerprint for path, seen in observations.items()}
            self.dispatch(Measured(fingerprints, action.watch_id, tuple(changed)))

    def _measure(self, action: Measure, began: float | None, *, more: bool = False) -> Measured:
        measured = {path: fingerprint(path) for path in action.paths if not is_remote(path)}
        changed: list[str] = []
        if began is not None:
            for path in sorted(action.fresh):
                if is_remote(path):
                    continue
                try:
                    if os.stat(path).st_mtime > began - MTIME_SLACK:
                        changed.append(path)
                except OSError:
                    pass  # missing: its creation is an event we will see
        return Measured(measured, action.watch_id, tuple(changed), more)

    async def _start(self, action: StartRun) -> None:
        watch = self.registry.watches.get(action.watch_id)
        if watch is None:
            return
        self.hub.publish(
            [
                Event(
                    "",
                    0,
                    time.time(),
                    WatchTriggeredData(watch.id, action.changed_paths, action.supersede),
                )
            ]
        )
        log.info(
            "watch %s: %s changed%s",
            watch.id,
            ", ".join(_short(path) for path in action.changed_paths[:5]),
            f"; superseding {action.supersede}" if action.supersede else "",
        )
        if action.supersede:
            self._began.pop(action.supersede, None)
            self._tasks.spawn(self._cancel(action.supersede), name="supersede")
        for path in action.changed_paths:  # a run in flight may have cached the old code
            if path.endswith(".py"):
                forget_bytecode(path)
        began = time.time()
        try:
            record = await self.runs.submit(watch.spec, watch_id=watch.id, reject_load_errors=False)
        except DaemonError as error:
            log.warning("watch %s: cannot start a run: %s", watch.id, error)
            self.dispatch(StartFailed(watch.id))
            return
        except Exception:
            log.exception("watch %s: starting a run failed", watch.id)
            self.dispatch(StartFailed(watch.id))
            return
        if watch.id not in self.registry.watches:  # unwatched while the run started
            await self._cancel(record.id)
            return
        self._began[record.id] = began
        self.registry.run_started(watch.id, record.id, triggered=True)

    async def _cancel(self, execution_id: str) -> None:
        try:
            await self.runs.cancel(execution_id)
        except DaemonError:
            pass  # it finished meanwhile

    # -- catching up after a restart ----------------------------------------------------------------
    def _changed_since_last_run(self, watch: Watch) -> list[str]:
        """Paths of ``watch`` that changed since its last run started (all: no usable run)."""
        workflow = watch.spec.workflow_path
        if watch.last_status not in ("done", "failed") or not watch.last_execution_id:
            return [workflow]
        try:
            record = self.store.get_execution(watch.last_execution_id)
        except Exception:
            log.exception("cannot read execution %s", watch.last_execution_id)
            record = None
        if record is None:
            return [workflow]
        outputs = set(getattr(watch, "outputs", ()) or ())
        changed = []
        remote = [path for path in watch.paths if is_remote(path) and path not in outputs]
        if remote:
            try:
                seen = self.objects.probe(remote)
            except Exception:
                log.exception("watch %s: cannot poll its objects", watch.id)
                seen = {}
            for path in remote:
                found = seen.get(path)
                if found is None or found.fingerprint is None:
                    changed.append(path)  # gone, or unknown: a run makes sure
                elif found.mtime_ns / 1e9 > record.start_time - OBJECT_MTIME_SLACK:
                    changed.append(path)
        for path in watch.paths or [workflow]:
            if is_remote(path):
                continue
            try:
                info = os.stat(path)
            except OSError:
                changed.append(path)
                continue
            # a directory's mtime moves when a file is added to it or removed
            if path not in outputs and info.st_mtime > record.start_time:
                changed.append(path)
        return changed
