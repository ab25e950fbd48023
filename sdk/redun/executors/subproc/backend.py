"""The subprocess back end: each submission runs as local processes, as a container would.

A submission gets a directory under the state directory (``state_dir``; by
default ``SCRATCH/subprocess`` for a local scratch) and a launcher process
(:mod:`.launcher`) in its own session, which runs the entrypoint once per
element, each in a fresh temporary directory with the code package unpacked
there: nothing is shared with the scheduler's memory. Polling reads the
launchers' event files; cancelling kills their process groups.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from redun.errors import ExecutorError, UsageError
from redun.executors.remote.backend import NAME_PREFIX, FoundJob, Handle, RemoteBackend, Submission
from redun.executors.remote.scratch import Scratch
from redun.executors.remote.states import Observation, Phase, Report

LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launcher.py")
TERM_GRACE = 1.0
"""Seconds a cancelled job gets between SIGTERM and SIGKILL."""
KEEP_FINISHED = 24 * 3600.0
"""Finished submissions' directories older than this are removed when jobs are listed."""


@dataclass
class _Track:
    """What is known of one submission, read incrementally from its event file."""

    job_dir: str
    offset: int = 0
    started: set[int] = field(default_factory=set)
    exits: dict[int, int] = field(default_factory=dict)
    ended: bool = False
    elements: dict[int, Observation] = field(default_factory=dict)
    size: int | None = None
    created: float = 0.0
    logs: dict[tuple[int, str], tuple[int, bytes]] = field(default_factory=dict)


class SubprocessBackend(RemoteBackend):
    """Runs jobs as local processes of the entrypoint.

    Configuration: ``max_concurrency`` (elements of one array at once; default:
    the number of CPUs), ``python`` (the interpreter; default: the scheduler's),
    ``state_dir``, ``work_dir`` (where each element's temporary directory is made).
    """

    live_logs = True
    max_array_size = 1_000_000
    poll_interval = 0.5
    lost_after = 10.0

    def __init__(self, name: str, config: dict) -> None:
        super().__init__(name, config)
        try:
            self.max_concurrency = int(config.get("max_concurrency") or os.cpu_count() or 2)
        except ValueError:
            raise UsageError(
                f"[executors.{name}] max_concurrency = {config.get('max_concurrency')!r} "
                "is not a number"
            ) from None
        self.python = config.get("python") or sys.executable
        self.work_dir = config.get("work_dir") or None
        self.state_dir = config.get("state_dir") or _default_state_dir(config.get("scratch", ""))
        self._tracks: dict[Handle, _Track] = {}
        self._procs: dict[Handle, subprocess.Popen] = {}

    def start(self) -> None:
        try:
            os.makedirs(self.state_dir, exist_ok=True)
        except OSError as exc:
            raise ExecutorError(
                f"[executors.{self.name}] cannot create state_dir {self.state_dir!r}: {exc}"
            ) from exc
        if not os.path.exists(self.python):
            raise UsageError(f"[executors.{self.name}] python = {self.python!r} does not exist")

    # -- hooks -----------------------------------------------------------------------
    def submit(self, submission: Submission) -> Handle:
        handle = submission.name
        job_dir = os.path.join(self.state_dir, handle)
        os.makedirs(job_dir, exist_ok=True)
        command = list(submission.command)
        if command and command[0] == "redun":
            command = [self.python, "-m", "redun", *command[1:]]
        created = time.time()
        spec = {
            "name": submission.name,
            "key": submission.key,
            "token": submission.token,
            "size": submission.size,
            "command": command,
            "max_concurrency": self.max_concurrency,
            "work_dir": self.work_dir,
            "labels": submission.labels,
            "created": created,
        }
        with open(os.path.join(job_dir, "job.json"), "w", encoding="utf-8") as out:
            json.dump(spec, out)
        with open(os.path.join(job_dir, "launcher.log"), "wb") as log:
            try:
                process = subprocess.Popen(
                    [self.python, "-I", LAUNCHER, job_dir],
                    cwd=job_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: cancel kills all of it
                )
            except OSError as exc:
                raise ExecutorError(f"cannot start {self.python}: {exc}") from exc
        self._procs[handle] = process
        self._tracks[handle] = _Track(job_dir, size=submission.size, created=created)
        return handle

    def poll(self, handles: list[Handle]) -> dict[Handle, Report]:
        reports: dict[Handle, Report] = {}
        for handle in handles:
            track = self._tracks.get(handle)
            if track is None:
                track = self._load(str(handle))
                if track is None:
                    continue
                self._tracks[handle] = track
            reports[handle] = self._report(handle, track)
        return reports

    def cancel(self, handles: list[Handle]) -> None:
        groups = [pid for pid in (self._pid(handle) for handle in handles) if pid]
        for pid in groups:
            _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + TERM_GRACE
        try:
            while groups and time.monotonic() < deadline:
                for handle in handles:
                    process = self._procs.get(handle)
                    if process is not None:
                        process.poll()  # reap our own launchers, or their group never empties
                groups = [pid for pid in groups if _group_alive(pid)]
                if groups:
                    time.sleep(0.02)
        finally:  # even if interrupted again (a second Ctrl-C): nothing may outlive a cancel
            for pid in groups:
                _signal_group(pid, signal.SIGKILL)
        for handle in handles:
            process = self._procs.pop(handle, None)
            if process is not None:
                try:
                    process.wait(timeout=TERM_GRACE)
                except subprocess.TimeoutExpired:
                    pass

    def find_jobs(self) -> Iterable[FoundJob]:
        try:
            names = sorted(os.listdir(self.state_dir))
        except FileNotFoundError:
            return []
        found: list[FoundJob] = []
        now = time.time()
        for name in names:
            if not name.startswith(NAME_PREFIX):
                continue
            track = self._load(name)
            if track is None:
                continue
            report = self._report(name, track)
            if report.phase.is_final and now - track.created > KEEP_FINISHED:
                shutil.rmtree(track.job_dir, ignore_errors=True)
                continue
            self._tracks[name] = track
            found.append(FoundJob(name, name, report))
        return found

    def read_logs(self, handle: Handle, index: int | None, *, final: bool) -> list[tuple[str, str]]:
        track = self._tracks.get(handle)
        if track is None:
            return []
        element = index or 0
        chunks: list[tuple[str, str]] = []
        for stream, suffix in (("stdout", "out"), ("stderr", "err")):
            offset, partial = track.logs.get((element, stream), (0, b""))
            path = os.path.join(track.job_dir, "logs", f"{element}.{suffix}")
            try:
                with open(path, "rb") as infile:
                    infile.seek(offset)
                    data = infile.read()
            except FileNotFoundError:
                continue
            offset += len(data)
            data = partial + data
            if final:
                ready, partial = data, b""
            else:
                cut = data.rfind(b"\n") + 1
                ready, partial = data[:cut], data[cut:]
            track.logs[(element, stream)] = (offset, partial)
            if ready:
                chunks.append((stream, ready.decode("utf-8", "replace")))
        return chunks

    def forget(self, handle: Handle) -> None:
        self._tracks.pop(handle, None)
        process = self._procs.get(handle)
        if process is not None and process.poll() is not None:
            del self._procs[handle]

    def stop(self) -> None:
        for process in self._procs.values():
            process.poll()

    # -- reading a submission's state ------------------------------------------------------
    def _load(self, name: str) -> _Track | None:
        job_dir = os.path.join(self.state_dir, name)
        try:
            with open(os.path.join(job_dir, "job.json"), encoding="utf-8") as infile:
                spec = json.load(infile)
        except (OSError, ValueError):
            return None
        return _Track(job_dir, size=spec.get("size"), created=float(spec.get("created") or 0))

    def _read_events(self, track: _Track) -> None:
        try:
            with open(os.path.join(track.job_dir, "events"), "rb") as infile:
                infile.seek(track.offset)
                data = infile.read()
        except FileNotFoundError:
            return
        cut = data.rfind(b"\n") + 1  # a line still being written waits for the next poll
        track.offset += cut
        for line in data[:cut].decode("utf-8", "replace").splitlines():
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "start" and len(parts) >= 2:
                index = int(parts[1])
                track.started.add(index)
                track.elements[index] = Observation(Phase.RUNNING)
            elif parts[0] == "exit" and len(parts) >= 3:
                index, code = int(parts[1]), int(parts[2])
                track.exits[index] = code
                track.elements[index] = _exit_observation(code)
            elif parts[0] == "end":
                track.ended = True

    def _report(self, handle: Handle, track: _Track) -> Report:
        self._read_events(track)
        if track.ended:
            failed = any(code != 0 for code in track.exits.values())
            return Report(Phase.FAILED if failed else Phase.SUCCEEDED, "", track.elements)
        if self._alive(handle, track):
            phase = Phase.RUNNING if track.started else Phase.QUEUED
            return Report(phase, "", track.elements)
        reason = "its launcher process is gone (killed, or the machine restarted)"
        for index in track.started:
            if index not in track.exits:
                track.elements[index] = Observation(Phase.LOST, reason)
        return Report(Phase.LOST, reason, track.elements)

    def _alive(self, handle: Handle, track: _Track) -> bool:
        process = self._procs.get(handle)
        if process is not None:
            return process.poll() is None
        pid = self._pid(handle)
        if pid is None:
            # Not started yet, or its pid file is about to be written.
            return time.time() - track.created < self.lost_after
        return _is_launcher(pid, track.job_dir)

    def _pid(self, handle: Handle) -> int | None:
        process = self._procs.get(handle)
        if process is not None:
            return process.pid
        track = self._tracks.get(handle)
        job_dir = track.job_dir if track is not None else os.path.join(self.state_dir, str(handle))
        try:
            with open(os.path.join(job_dir, "pid"), encoding="utf-8") as infile:
                pid = int(infile.read().strip() or 0)
        except (OSError, ValueError):
            return None
        return pid if pid > 0 and _is_launcher(pid, job_dir) else None


def _exit_observation(code: int) -> Observation:
    if code == 0:
        return Observation(Phase.SUCCEEDED)
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return Observation(Phase.FAILED, f"killed by {name}")
    return Observation(Phase.FAILED, f"exit status {code}")


def _is_launcher(pid: int, job_dir: str) -> bool:
    """True if ``pid`` is alive and is the launcher of ``job_dir`` (not a reused pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as infile:
            return job_dir.encode() in infile.read()
    except OSError:
        return True  # no /proc here: trust the pid


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _default_state_dir(scratch: str) -> str:
    try:
        store = Scratch(scratch)
    except ExecutorError:
        store = None
    if store is not None and store.local:
        return os.path.join(store.root, "subprocess")
    digest = hashlib.sha256(str(scratch).encode()).hexdigest()[:12]
    return os.path.join(os.path.expanduser("~/.cache/redun/subprocess"), digest)
