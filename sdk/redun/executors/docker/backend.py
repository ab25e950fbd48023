"""The docker back end: one container per call, at most ``max_concurrency`` running at once.

Docker has no queue and no array jobs, so this back end keeps both: a
submission's elements wait here (queued) until a slot frees, then each runs
as its own container (``docker run -d``), named and labelled after its
submission (see :mod:`.command`). A poll is one ``docker inspect`` of every
container in flight; output is read with ``docker logs``; finished
containers are removed in bulk once their output was read; cancelling is
``docker rm -f``. After a restart, ``docker ps`` with the executor's labels
finds the containers an earlier scheduler started (elements it had not
started yet count as lost, so the layer submits them again).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from redun.errors import ExecutorError, UsageError
from redun.executors.docker.cli import DockerCli, DockerError
from redun.executors.docker.command import (
    LABEL_CREATED,
    LABEL_EXECUTOR,
    LABEL_INDEX,
    LABEL_NAME,
    LABEL_SCOPE,
    LABEL_SIZE,
    Placement,
    container_name,
    run_command,
    scope_of,
)
from redun.executors.docker.credentials import borrow
from redun.executors.docker.monitor import command_problem, observe, summarize
from redun.executors.docker.settings import Volume, parse_settings
from redun.executors.remote.backend import FoundJob, Handle, RemoteBackend, Submission, parse_name
from redun.executors.remote.scratch import Scratch
from redun.executors.remote.states import Observation, Phase, Report

logger = logging.getLogger("redun.docker")

PARALLEL = 8
"""Docker commands (runs, log reads) at once."""
KEEP_FINISHED = 24 * 3600.0
"""Finished containers an earlier scheduler left are removed this long after submission."""
NOT_STARTED = "not started: the scheduler that queued it stopped first"
_HAS_LOGS = frozenset({Phase.RUNNING, Phase.SUCCEEDED, Phase.FAILED})


@dataclass
class _Track:
    """One submission: its elements' containers and what is known of each.

    ``command`` builds the ``docker run`` line of an element (None for a
    submission found after a restart: those start nothing new).
    """

    handle: str
    size: int | None
    created: float
    command: Callable[[int | None], list[str]] | None = None
    image: str = ""
    pending: deque[int] = field(default_factory=deque)
    containers: dict[int, str] = field(default_factory=dict)
    observed: dict[int, Observation] = field(default_factory=dict)
    logs: dict[tuple[int, str], tuple[int, bytes]] = field(default_factory=dict)
    cancelled: bool = False
    interactive: bool = False

    def index_of(self, element: int) -> int | None:
        return None if self.size is None else element

    def report(self) -> Report:
        return summarize(self.size, self.observed)


class DockerBackend(RemoteBackend):
    """Runs each call in its own container of the configured image.

    Args:
        name: the executor's name.
        config: its section (see :mod:`.settings` for the keys).
        config_dir: relative host paths of ``volumes`` are taken from here.
    """

    live_logs = True
    max_array_size = 100_000
    poll_interval = 1.0
    lost_after = 30.0

    def __init__(self, name: str, config: dict, *, config_dir: str = ".") -> None:
        super().__init__(name, config)
        self.settings = parse_settings(name, config, config_dir)
        self.config_dir = config_dir
        self.cli: DockerCli | None = None
        self.placement: Placement | None = None
        self.scope = ""
        self._lock = threading.Lock()
        self._tracks: dict[str, _Track] = {}
        self._queue: deque[str] = deque()
        self._active: dict[str, tuple[str, int]] = {}  # container -> (handle, element)
        self._garbage: list[str] = []
        # container -> (its output, read after it ended), read in parallel by the last poll
        self._prefetched: dict[str, tuple[tuple[bytes, bytes], bool]] = {}
        self._pool: ThreadPoolExecutor | None = None

    # -- hooks -------------------------------------------------------------------------
    def start(self) -> None:
        program = shutil.which(self.settings.program)
        if program is None:
            raise UsageError(
                f"[executors.{self.name}] type = docker needs the {self.settings.program!r} "
                "command, which is not on PATH: install Docker "
                "(https://docs.docker.com/engine/install/) or use type = subprocess to run "
                "the jobs as local processes"
            )
        scratch = Scratch(str(self.config.get("scratch") or ""))
        borrowed = borrow(self.settings, scratch.root)
        mounts: tuple[Volume, ...] = borrowed.mounts
        mount = ""
        if scratch.local:
            os.makedirs(scratch.root, exist_ok=True)
            mount = self.settings.scratch_mount or scratch.root
            mounts = (Volume(scratch.root, mount), *mounts)
        self.cli = DockerCli(program, borrowed.docker_env)
        self.scope = scope_of(scratch.root)
        self.placement = Placement(
            scratch_root=scratch.root,
            scratch_mount=mount,
            mounts=mounts,
            passed_env=borrowed.names,
            config_dir=self.config_dir,
        )

    def submit(self, submission: Submission) -> Handle:
        placement = self.placement
        assert placement is not None, "start() first"
        interactive = self.settings.interactive or _truthy(submission.options.get("interactive"))
        created = time.time()

        def command(index: int | None) -> list[str]:
            return run_command(
                self.settings,
                submission,
                index,
                placement,
                created=created,
                detach=not interactive,
                tty=interactive and sys.stdin.isatty() and sys.stdout.isatty(),
            )

        command(0 if submission.is_array else None)  # a bad task option fails the submission
        track = _Track(
            submission.name,
            submission.size,
            created,
            command=command,
            image=str(submission.options.get("image") or self.settings.image),
            pending=deque(range(submission.size or 1)),
            interactive=interactive,
        )
        with self._lock:
            self._tracks[track.handle] = track
            self._queue.append(track.handle)
        refused = self._launch().get(track.handle)
        if refused is not None and all(
            seen.phase is Phase.FAILED for seen in track.observed.values()
        ):
            with self._lock:  # docker refused it outright (no such image, bad flags)
                self._tracks.pop(track.handle, None)
            raise refused
        return track.handle

    def poll(self, handles: list[Handle]) -> dict[Handle, Report]:
        self._collect_garbage()
        assert self.cli is not None
        with self._lock:
            names = list(self._active)
        infos = self.cli.inspect(names) if names else {}
        watched = set(map(str, handles))
        tail: list[tuple[str, bool]] = []
        with self._lock:
            for name in names:
                owner = self._active.get(name)
                track = self._tracks.get(owner[0]) if owner else None
                if owner is None or track is None:
                    continue  # cancelled meanwhile
                info = infos.get(name)
                seen = (
                    observe(info)
                    if info is not None
                    else Observation(
                        Phase.LOST, f"the container {name} is gone (removed outside redun?)"
                    )
                )
                track.observed[owner[1]] = seen
                if seen.phase.is_final:
                    del self._active[name]
                if owner[0] in watched and not track.interactive and seen.phase in _HAS_LOGS:
                    tail.append((name, seen.phase.is_final))
        self._launch()  # free slots first: waiting elements need not wait for log reads
        self._prefetch_logs(tail)
        with self._lock:
            return {
                handle: self._tracks[handle].report()
                for handle in handles
                if handle in self._tracks
            }

    def cancel(self, handles: list[Handle]) -> None:
        names: list[str] = []
        with self._lock:
            for handle in handles:
                track = self._tracks.get(str(handle))
                if track is None:
                    continue
                track.cancelled = True
                track.pending.clear()
                names += track.containers.values()
                for name in track.containers.values():
                    self._active.pop(name, None)
                track.containers.clear()
        if names and self.cli is not None:
            self.cli.remove(names)

    def cancel_elements(self, handle: Handle, indexes: list[int]) -> None:
        names: list[str] = []
        with self._lock:
            track = self._tracks.get(str(handle))
            if track is None:
                return
            unwanted = set(indexes)
            track.pending = deque(i for i in track.pending if i not in unwanted)
            for index in unwanted:
                name = track.containers.pop(index, None)
                if name is not None:
                    names.append(name)
                    self._active.pop(name, None)
        if names:
            self._remove(names)  # one still being started is removed once it is

    def find_jobs(self) -> Iterable[FoundJob]:
        assert self.cli is not None
        ids = self.cli.container_ids({LABEL_EXECUTOR: self.name, LABEL_SCOPE: self.scope})
        infos = self.cli.inspect(ids) if ids else {}
        groups: dict[str, list[tuple[str, dict]]] = {}
        for name, info in infos.items():
            labels = (info.get("Config") or {}).get("Labels") or {}
            submission = labels.get(LABEL_NAME, "")
            if parse_name(submission) is not None:
                groups.setdefault(submission, []).append((name, info))
        found: list[FoundJob] = []
        stale: list[str] = []
        now = time.time()
        for handle, members in sorted(groups.items()):
            track = _found_track(handle, members)
            if track is None:
                continue
            report = track.report()
            if report.phase.is_final and now - track.created > KEEP_FINISHED:
                stale += [name for name, _ in members]
                continue
            with self._lock:
                self._tracks[handle] = track
                for element, name in track.containers.items():
                    if not track.observed[element].phase.is_final:
                        self._active[name] = (handle, element)
            found.append(FoundJob(handle, handle, report))
        if stale:
            self._remove(stale)
        return found

    def read_logs(self, handle: Handle, index: int | None, *, final: bool) -> list[tuple[str, str]]:
        element = index or 0
        with self._lock:
            track = self._tracks.get(str(handle))
            name = track.containers.get(element) if track is not None else None
        if track is None or name is None or self.cli is None:
            return []
        with self._lock:
            prefetched = self._prefetched.get(name)
        streams = None
        if prefetched is not None and (prefetched[1] or not final):
            streams = prefetched[0]  # read in this poll (after the container ended, if final)
        if track.interactive:
            streams = (b"", b"")  # it was shown on the terminal as it ran
        elif streams is None:
            streams = self.cli.logs(name)
        chunks: list[tuple[str, str]] = []
        for stream, data in zip(("stdout", "stderr"), streams):
            offset, partial = track.logs.get((element, stream), (0, b""))
            fresh = partial + data[offset:]
            offset = len(data)
            if final:
                ready, partial = fresh, b""
            else:
                cut = fresh.rfind(b"\n") + 1
                ready, partial = fresh[:cut], fresh[cut:]
            track.logs[(element, stream)] = (offset, partial)
            if ready:
                chunks.append((stream, ready.decode("utf-8", "replace")))
        if final:
            with self._lock:
                self._prefetched.pop(name, None)
                self._garbage.append(name)
                track.logs.pop((element, "stdout"), None)
                track.logs.pop((element, "stderr"), None)
        return chunks

    def forget(self, handle: Handle) -> None:
        with self._lock:
            track = self._tracks.pop(str(handle), None)
            if track is None:
                return
            track.cancelled = True
            track.pending.clear()
            for name in track.containers.values():
                self._active.pop(name, None)
                self._prefetched.pop(name, None)
                if name not in self._garbage:
                    self._garbage.append(name)
        self._collect_garbage()

    def stop(self) -> None:
        self._collect_garbage()
        with self._lock:
            self._tracks.clear()
            self._queue.clear()
            self._active.clear()
            self._prefetched.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def _prefetch_logs(self, names: list[tuple[str, bool]]) -> None:
        """Read containers' output in parallel, for :meth:`read_logs` right after the poll.

        ``names`` are ``(container, ended)``: the output of a container seen
        ended is complete, so it serves the final read too.
        """

        def fetch(item: tuple[str, bool]) -> tuple[bytes, bytes] | None:
            assert self.cli is not None
            try:
                return self.cli.logs(item[0])
            except ExecutorError as error:
                logger.debug("executor %s: docker logs %s failed: %s", self.name, item[0], error)
                return None

        for (name, ended), streams in zip(names, self._each(fetch, names)):
            with self._lock:
                if streams is None:
                    self._prefetched.pop(name, None)  # never an older, shorter read
                else:
                    self._prefetched[name] = (streams, ended)

    # -- starting containers -------------------------------------------------------------
    def _launch(self) -> dict[str, DockerError]:
        """Start waiting elements while slots are free; the submissions that docker refused.

        Containers start in parallel (``docker run`` takes a while each); one
        run in the foreground (``interactive``) at a time.
        """
        failures: dict[str, DockerError] = {}
        while True:
            with self._lock:
                picks = self._pick_elements()
            if not picks:
                return failures
            detached = [pick for pick in picks if not pick[0].interactive]
            attached = [pick for pick in picks if pick[0].interactive]
            errors = self._each(self._try_start, detached)
            errors += [self._try_start(pick) for pick in attached]
            removed: list[str] = []
            with self._lock:
                for (track, element, name), error in zip(detached + attached, errors):
                    if error is not None:
                        failures[track.handle] = error
                        self._active.pop(name, None)
                        track.observed[element] = Observation(Phase.FAILED, str(error))
                        for waiting in track.pending:  # the same image and flags: no use trying
                            track.observed[waiting] = Observation(Phase.FAILED, str(error))
                        track.pending.clear()
                        self._garbage.append(name)  # docker may have created it
                    elif track.cancelled or track.containers.get(element) != name:
                        removed.append(name)  # cancelled while docker was starting it
            if removed:
                self._remove(removed)

    def _pick_elements(self) -> list[tuple[_Track, int, str]]:
        """Waiting elements for the free slots, registered as started (call with the lock)."""
        picks: list[tuple[_Track, int, str]] = []
        while True:
            picked = self._next_element()
            if picked is None:
                return picks
            track, element = picked
            name = container_name(track.handle, track.index_of(element))
            track.containers[element] = name
            track.observed[element] = Observation(Phase.QUEUED)
            self._active[name] = (track.handle, element)
            picks.append((track, element, name))
            if track.interactive:
                return picks  # the foreground: one at a time

    def _try_start(self, pick: tuple[_Track, int, str]) -> DockerError | None:
        try:
            self._start_container(pick[0], pick[1])
        except DockerError as error:
            return error
        return None

    def _each(self, step: Callable[[Any], Any], items: list) -> list:
        """``step`` of each item, in parallel threads when there are several."""
        if len(items) < 2:
            return [step(item) for item in items]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                PARALLEL, thread_name_prefix=f"redun-docker-{self.name}"
            )
        return list(self._pool.map(step, items))

    def _next_element(self) -> tuple[_Track, int] | None:
        if len(self._active) >= self.settings.max_concurrency:
            return None
        while self._queue:
            track = self._tracks.get(self._queue[0])
            if track is None or track.cancelled or not track.pending:
                self._queue.popleft()
                continue
            return track, track.pending.popleft()
        return None

    def _start_container(self, track: _Track, element: int) -> None:
        assert self.cli is not None and track.command is not None
        argv = track.command(track.index_of(element))
        image = track.image
        logger.debug("executor %s: docker run %s (%s)", self.name, track.handle, image)
        if track.interactive:
            done = self.cli.run(argv[1:], timeout=None, check=False, interactive=True)
            if done.returncode == 125:
                raise DockerError(f"docker run of image {image!r} failed (exit status 125)", 125)
            return  # the container's own failure is read from it, as for any other
        try:
            self.cli.run(argv[1:], timeout=None)
        except DockerError as error:
            hint = ""
            if error.returncode in (126, 127):
                hint = f": {command_problem(error.returncode)}"
            raise DockerError(
                f"docker run of image {image!r} failed (exit status {error.returncode})"
                f"{hint}: {error.stderr or error}",
                error.returncode,
                error.stderr,
            ) from error

    # -- removing containers ---------------------------------------------------------------
    def _collect_garbage(self) -> None:
        with self._lock:
            names, self._garbage = self._garbage, []
        if names:
            self._remove(names)

    def _remove(self, names: list[str]) -> None:
        if self.cli is None:
            return
        try:
            self.cli.remove(names)
        except ExecutorError as error:
            logger.warning(
                "executor %s: removing %d container(s) failed: %s", self.name, len(names), error
            )


def _found_track(handle: str, members: list[tuple[str, dict]]) -> _Track | None:
    """A submission as its containers tell it (after a restart), or None if they disagree."""
    first = (members[0][1].get("Config") or {}).get("Labels") or {}
    size_label = first.get(LABEL_SIZE)
    try:
        size = int(size_label) if size_label else None
        created = float(first.get(LABEL_CREATED) or 0)
    except ValueError:
        return None
    track = _Track(handle, size, created)
    for name, info in members:
        labels = (info.get("Config") or {}).get("Labels") or {}
        try:
            element = int(labels.get(LABEL_INDEX) or 0)
        except ValueError:
            continue
        track.containers[element] = name
        track.observed[element] = observe(info)
    for element in range(size or 0):
        track.observed.setdefault(element, Observation(Phase.LOST, NOT_STARTED))
    return track


def _truthy(value: object) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")
