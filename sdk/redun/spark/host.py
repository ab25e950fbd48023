"""Where the SparkSession lives: in this process, or in a warm Spark host (under a daemon).

``redun run`` and the Python API start a session in their own process on
first use and stop it at the end (:class:`~redun.spark.session.LocalDriver`).

Under the daemon each run is a fresh process forked from a pre-warmed
factory, and a JVM cannot survive a fork: a session started by a run dies
with it, and the next save of a watched file would pay Spark's start-up
again. So a runner asks for a **Spark host** instead: one long-lived process
per daemon home (``<home>/spark/host.sock``, mode 0600) that owns the
SparkSession and serves the runs. A run's ``spark`` batches and
``spark_driver`` tasks are sent to it (:class:`HostedDriver`, the same
interface as the local driver): batches as the pickled calls they already
are, driver tasks as remote-layer calls run in the host with the session in
scope, their output streamed back live. The user's code goes as the code
package, shipped once per content; the host drops modules of an older
package before it runs a newer one.

The host is started by the first run that needs it, in a session of its own
(the factory kills a finished run's process group), and exits when the
process it was started for (the daemon's runner factory) is gone, so it
never outlives its daemon. It restarts its session when a run asks for other
settings while no run uses it.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from redun.spark.errors import SparkSetupError
from redun.spark.settings import SparkSettings

if TYPE_CHECKING:
    from redun.executors.remote.package import CodePackage
    from redun.spark.progress import GroupProgress
    from redun.spark.worker import Call

_HEADER = struct.Struct("!Q")
SOCKET_NAME = "host.sock"
START_TIMEOUT = 60.0

_warm: tuple[str, int] | None = None


def keep_warm_in(directory: str, owner_pid: int) -> None:
    """Use (and start if needed) the Spark host in ``directory`` for sessions of this process.

    Called by the daemon's runner; ``owner_pid`` is the process the host lives
    as long as (the runner factory).
    """
    global _warm
    _warm = (os.path.abspath(directory), owner_pid)


def driver_for(settings: SparkSettings) -> Any:
    """The driver serving ``settings``: the warm host under a daemon, else this process."""
    if _warm is not None and settings.keep_warm:
        return HostedDriver(*_warm)
    from redun.spark.session import local_driver

    return local_driver()


# -- wire ---------------------------------------------------------------------------------


def send(sock: socket.socket, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_HEADER.pack(len(data)) + data)


def recv(sock: socket.socket) -> Any:
    """The next message; EOFError when the other side closed."""
    header = _recv_exactly(sock, _HEADER.size)
    return pickle.loads(_recv_exactly(sock, _HEADER.unpack(header)[0]))


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError("the Spark host closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def raise_remote(reply: tuple) -> Any:
    """The payload of an ``("ok", payload)`` reply; an ``("error", ...)`` reply raised here."""
    if reply[0] == "ok":
        return reply[1]
    _, kind, message = reply
    if kind == "SparkSetupError":
        raise SparkSetupError(message)
    raise SparkHostError(message)


class SparkHostError(RuntimeError):
    """The Spark host failed a request (its message says why)."""


# -- the client ---------------------------------------------------------------------------


class HostedDriver:
    """The driver interface, served by the Spark host in ``directory``."""

    def __init__(self, directory: str, owner_pid: int) -> None:
        self.directory = directory
        self.owner_pid = owner_pid
        self.path = os.path.join(directory, SOCKET_NAME)
        self.ui_url = ""
        self.default_parallelism = 1
        self.batch_seconds = 0.0
        self.startup_seconds = 0.0
        self._names: dict[str, str] = {}

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        return sock

    def request(self, *message: Any) -> Any:
        with self._connect() as sock:
            send(sock, message)
            return raise_remote(recv(sock))

    # -- life -------------------------------------------------------------------------
    def acquire(self, user: object, settings: SparkSettings) -> None:
        self._ensure_host()
        info = self.request("acquire", settings)
        self.ui_url = info["ui_url"]
        self.default_parallelism = info["default_parallelism"]
        self.startup_seconds = info["startup_seconds"]

    def release(self, user: object) -> None:
        """Nothing to stop: the session stays warm for the next run."""

    def _ensure_host(self) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        with open(os.path.join(self.directory, "host.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                owner = self.request("hello")["owner_pid"]
            except (OSError, EOFError):
                owner = None
            if owner == self.owner_pid:
                return
            if owner is not None:  # a host of an earlier daemon, on its way out
                try:
                    self.request("stop")
                except (OSError, EOFError, SparkHostError):
                    pass
            self._start_host()

    def _start_host(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        log = open(os.path.join(self.directory, "host.log"), "ab")
        try:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "redun.spark.hostserver",
                    "--dir",
                    self.directory,
                    "--owner-pid",
                    str(self.owner_pid),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # a finished run's process group is killed
                close_fds=True,
                # Spark resolves relative paths against the JVM's directory, which
                # cannot change later: the project's, where the first run started.
                cwd=os.getcwd(),
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SparkSetupError(
                    f"the Spark host exited at start (status {process.returncode}); "
                    f"see {os.path.join(self.directory, 'host.log')}"
                )
            try:
                self.request("hello")
                return
            except (OSError, EOFError):
                time.sleep(0.05)
        raise SparkSetupError(f"the Spark host in {self.directory} did not start in time")

    # -- code and jobs -------------------------------------------------------------------
    def add_package(self, package: CodePackage) -> str:
        name = self._names.get(package.digest)
        if name is None:
            name = self.request("has_package", package.digest)
            if name is None:
                name = self.request("package", package)
            self._names[package.digest] = name
        return name

    def run_batch(
        self,
        group: str,
        description: str,
        package: str,
        headers: list[dict[str, Any]],
        calls: list[Call],
        partitions: int,
        deliver: Callable[[int, list[Any]], None],
    ) -> None:
        started = time.monotonic()
        try:
            with self._connect() as sock:
                send(sock, ("batch", group, description, package, headers, calls, partitions))
                while True:
                    message = recv(sock)
                    if message[0] != "part":
                        raise_remote(message)
                        return
                    deliver(message[1], message[2])
        finally:
            self.batch_seconds += time.monotonic() - started

    def run_task(self, executor: Any, job: Any, group: str, description: str) -> None:
        """Run a driver task in the host; its output streams into the job's log."""
        from redun.executors.remote.protocol import call_spec, job_label, outcome_value

        scheduler = executor.scheduler
        try:
            module, path = executor.location(job)
            spec = pickle.dumps(call_spec(job, module=module, path=path, token=group))
            package = executor.package_digest
            scheduler.job_started(job)
            with self._connect() as sock:
                send(
                    sock,
                    ("task", group, description, package, spec, job.eval_hash, os.getcwd()),
                )
                while True:
                    message = recv(sock)
                    if message[0] == "log":
                        scheduler.post_log(job, message[1], message[2])
                        continue
                    outcome = raise_remote(message)
                    break
            ok, value = outcome_value(outcome, job_label(job.id, job.task.fullname))
        except BaseException as error:  # noqa: BLE001 - any failure fails the job
            scheduler.reject_job(job, error)
            return
        if ok:
            scheduler.done_job(job, value)
        else:
            scheduler.reject_job(job, value)

    def cancel_group(self, group: str) -> None:
        self.request("cancel", group)

    def progress(self, groups: list[str]) -> dict[str, GroupProgress]:
        return self.request("progress", groups)


def serve_forever(directory: str, owner_pid: int, handle: Callable[[socket.socket], None]) -> None:
    """Accept connections on the host's socket, one thread each, until the owner is gone."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, SOCKET_NAME)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        server.bind(path)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    server.listen(64)
    server.settimeout(1.0)
    while True:
        if not _alive(owner_pid):
            return
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        conn.settimeout(None)
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
