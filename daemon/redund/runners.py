"""The daemon's side of runners: the factory process and one channel per run.

:class:`RunnerPool` starts the factory (by exec, before grpc is imported, see
:mod:`redund.factory`), asks it to fork a runner per run, and hands each run a
:class:`RunnerHandle`: the daemon's end of the runner's socket pair, the
runner's pid, and a future that resolves with how its process ended.
"""

from __future__ import annotations

import asyncio
import logging
import marshal
import os
import signal
import socket
import subprocess
import sys
from typing import Any

from redund.errors import StartError
from redund.wire import HEADER, MAX_FRAME, decode, encode

log = logging.getLogger("redund")

FACTORY_START_TIMEOUT = 30.0


class RunnerHandle:
    """One runner: its channel and its process."""

    def __init__(self, run_id: str, sock: socket.socket) -> None:
        self.run_id = run_id
        self.sock = sock
        self.pid = 0
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.exited: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_unix_connection(sock=self.sock, limit=1 << 20)

    async def send(self, message: Any) -> None:
        assert self.writer is not None
        self.writer.write(encode(message))
        await self.writer.drain()

    async def recv(self) -> Any:
        """The next message, or None when the runner closed its end."""
        assert self.reader is not None
        try:
            header = await self.reader.readexactly(HEADER.size)
            (length,) = HEADER.unpack(header)
            if length > MAX_FRAME:
                return None
            return decode(await self.reader.readexactly(length))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, EOFError, TypeError):
            return None

    def kill(self) -> None:
        """Kill the runner and everything it started (its process group)."""
        if self.pid:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        else:
            self.sock.close()


class RunnerPool:
    """Owns the factory process; forks runners through it."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._handles: dict[str, RunnerHandle] = {}
        self._ready: asyncio.Future[int] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def spawn(self) -> None:
        """Start the factory. Call before importing grpc (no event loop needed yet)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "redund.factory", "--control-fd", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env=env,
            )
        except OSError as error:
            raise StartError(f"cannot start the runner factory: {error}") from error
        finally:
            theirs.close()
        self._control = ours

    async def attach(self) -> None:
        """Start listening to the factory (on the running loop); wait for it to be ready."""
        assert self._control is not None
        self._loop = asyncio.get_running_loop()
        self._ready = self._loop.create_future()
        self._control.setblocking(False)
        self._loop.add_reader(self._control.fileno(), self._on_control)
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), FACTORY_START_TIMEOUT)
        except asyncio.TimeoutError as error:
            raise StartError("the runner factory did not start (see the log)") from error

    def _on_control(self) -> None:
        assert self._control is not None
        while True:
            try:
                data = self._control.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self._factory_gone()
                return
            self._dispatch(marshal.loads(data))

    def _dispatch(self, message: tuple) -> None:
        kind = message[0]
        if kind == "ready":
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(message[1])
            return
        handle = self._handles.get(message[1])
        if handle is None:
            return
        if kind == "forked":
            handle.pid = message[2]
        elif kind in ("fork_failed", "exited"):
            self._handles.pop(message[1], None)
            if not handle.exited.done():
                handle.exited.set_result(message[-1])

    def _factory_gone(self) -> None:
        assert self._loop is not None and self._control is not None
        self._loop.remove_reader(self._control.fileno())
        log.error("the runner factory exited; runs in flight fail")
        for handle in self._handles.values():
            handle.kill()
            if not handle.exited.done():
                handle.exited.set_result("was lost with the runner factory")
        self._handles.clear()
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(StartError("the runner factory exited at start"))

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def start_runner(self, run_id: str) -> RunnerHandle:
        """Fork a runner for ``run_id``; returns once its channel is open."""
        if self._control is None or not self.alive:
            raise StartError("the runner factory is not running; restart the daemon")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        handle = RunnerHandle(run_id, ours)
        self._handles[run_id] = handle
        try:
            socket.send_fds(self._control, [marshal.dumps(("fork", run_id))], [theirs.fileno()])
        finally:
            theirs.close()
        await handle.open()
        return handle

    def stop(self) -> None:
        """Stop the factory; it kills the runners still alive."""
        if self._control is not None:
            if self._loop is not None:
                try:
                    self._loop.remove_reader(self._control.fileno())
                except (ValueError, OSError):
                    pass
            self._control.close()
            self._control = None
        if self.process is not None:
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
