"""The Spark host process: a warm SparkSession serving the runs of one daemon home.

Started by :class:`redun.spark.host.HostedDriver` as
``python -m redun.spark.hostserver --dir DIR --owner-pid PID``. Each
connection carries one request (see :mod:`redun.spark.host`); requests run
on threads of their own, so batches and driver tasks of several runs share
the session at once, and a client that goes away mid-request has its job
group cancelled.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from redun.executors.remote.package import CodePackage, unpack
from redun.spark.errors import SparkSetupError
from redun.spark.host import recv, send, serve_forever
from redun.spark.session import LocalDriver
from redun.spark.settings import SparkSettings
from redun.spark.worker import activate_package


class Host:
    """Answers requests with one :class:`LocalDriver` (this process's session)."""

    def __init__(self, directory: str, owner_pid: int) -> None:
        self.directory = directory
        self.owner_pid = owner_pid
        self.driver = LocalDriver()
        self._lock = threading.Lock()
        self._busy = 0
        self._code: dict[str, str] = {}  # digest -> unpacked directory
        self._names: dict[str, str] = {}  # digest -> zip name on the executors

    def handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                message = recv(conn)
            except (EOFError, OSError):
                return
            kind = message[0]
            try:
                if kind == "task":
                    self._task(conn, *message[1:])
                    return
                if kind == "stop":
                    send(conn, ("ok", None))
                    self.stop()
                    return
                reply = getattr(self, "do_" + kind)(conn, *message[1:])
            except BaseException as error:  # noqa: BLE001 - every failure is answered
                _answer(conn, ("error", type(error).__name__, _one_line(error)))
                return
            _answer(conn, ("ok", reply))

    # -- requests ------------------------------------------------------------------------
    def do_hello(self, conn: socket.socket) -> dict[str, Any]:
        return {"owner_pid": self.owner_pid, "pid": os.getpid()}

    def do_acquire(self, conn: socket.socket, settings: SparkSettings) -> dict[str, Any]:
        with self._lock:
            driver = self.driver
            if driver.session is not None and driver.settings is not None:
                if driver.settings.fingerprint() != settings.fingerprint():
                    if self._busy:
                        raise SparkSetupError(
                            "the warm Spark host is running Spark jobs of another run with "
                            f"other settings (master {driver.settings.master}); retry when "
                            "it is done, or set keep_warm = false"
                        )
                    driver.release(self)  # new settings and nobody using it: start over
                    self._names.clear()
            driver.acquire(self, settings)
            return {
                "ui_url": driver.ui_url,
                "default_parallelism": driver.default_parallelism,
                "startup_seconds": driver.startup_seconds,
            }

    def do_has_package(self, conn: socket.socket, digest: str) -> str | None:
        return self._names.get(digest)

    def do_package(self, conn: socket.socket, package: CodePackage) -> str:
        directory = os.path.join(self.directory, "code", package.digest)
        if not os.path.isdir(directory):
            staging = directory + f".{os.getpid()}.{threading.get_ident()}"
            os.makedirs(staging, exist_ok=True)
            unpack(package.data, staging)
            try:
                os.rename(staging, directory)
            except OSError:  # another request unpacked it first
                pass
        name = self.driver.add_package(package)
        with self._lock:
            self._code[package.digest] = directory
            self._names[package.digest] = name
        return name

    def do_batch(
        self,
        conn: socket.socket,
        group: str,
        description: str,
        package: str,
        headers: list,
        calls: list,
        partitions: int,
    ) -> None:
        """Run a batch; each partition's outcomes go to the client as a ``("part", start,
        outcomes)`` message as it ends, before the reply."""

        def deliver(start: int, outcomes: list) -> None:
            _answer(conn, ("part", start, outcomes))

        with self._busy_with(conn, group):
            self.driver.run_batch(group, description, package, headers, calls, partitions, deliver)

    def do_cancel(self, conn: socket.socket, group: str) -> None:
        self.driver.cancel_group(group)

    def do_progress(self, conn: socket.socket, groups: list[str]) -> dict:
        return self.driver.progress(groups)

    def _task(
        self,
        conn: socket.socket,
        group: str,
        description: str,
        digest: str,
        pickled_call: bytes,
        call_id: str,
        cwd: str,
    ) -> None:
        from redun.executors.remote.protocol import run_call

        code_dir = self._code.get(digest) or os.path.join(self.directory, "code", digest)
        lock = threading.Lock()

        def sink(stream: str, text: str) -> None:
            with lock:
                _answer(conn, ("log", stream, text))

        try:
            with self._busy_with(conn, group):
                # Relative paths in a driver task mean what they mean in its run; the
                # working directory is the process's, shared by the tasks running here.
                if cwd and os.getcwd() != cwd:
                    os.chdir(cwd)
                activate_package(code_dir)
                with self.driver.in_group(group, description):
                    outcome = run_call(pickled_call, code_dir=code_dir, call_id=call_id, sink=sink)
        except BaseException as error:  # noqa: BLE001
            _answer(conn, ("error", type(error).__name__, _one_line(error)))
            return
        with lock:
            _answer(conn, ("ok", outcome))

    # -- helpers -------------------------------------------------------------------------
    @contextmanager
    def _busy_with(self, conn: socket.socket, group: str) -> Iterator[None]:
        """Count a running request; cancel its job group if its client goes away."""
        with self._lock:
            self._busy += 1
        done = threading.Event()
        threading.Thread(target=self._watch_client, args=(conn, group, done), daemon=True).start()
        try:
            yield
        finally:
            done.set()
            with self._lock:
                self._busy -= 1

    def _watch_client(self, conn: socket.socket, group: str, done: threading.Event) -> None:
        # The client sends nothing more on this connection: readable means EOF, i.e.
        # its run was killed, and its Spark jobs are not wanted any more.
        while not done.is_set():
            try:
                readable, _, _ = select.select([conn], [], [], 0.5)
                if not readable:
                    continue
                data = conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            except (OSError, ValueError):
                data = b""
            if not data and not done.is_set():
                try:
                    self.driver.cancel_group(group)
                except Exception:
                    pass
            return

    def stop(self) -> None:
        try:
            self.driver.release(self)
        finally:
            os._exit(0)


def _answer(conn: socket.socket, message: Any) -> None:
    try:
        send(conn, message)
    except OSError:
        pass  # the client went away


def _one_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:1000]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="redun.spark.hostserver")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--owner-pid", type=int, required=True)
    args = parser.parse_args(argv)
    host = Host(os.path.abspath(args.dir), args.owner_pid)
    try:
        serve_forever(host.directory, host.owner_pid, host.handle)
    finally:
        try:
            host.driver.release(host)
        except Exception:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
