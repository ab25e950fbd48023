"""The runner factory: a pre-warmed interpreter that forks one runner per run.

The daemon starts it by exec (``python -m redund.factory --control-fd N``)
before it imports grpc, and this process never imports grpc: forking a process
whose gRPC threads run can deadlock, forking this one is safe and fast. It has
already imported the SDK, SQLAlchemy and the runner, so a forked runner only
has to import the user's workflow.

It reads ``("fork", run_id)`` requests, each with the runner's end of a socket
pair attached, from its control socket; forks; reports ``("forked", run_id,
pid)``; and when a runner ends, ``("exited", run_id, pid, how)``. When the
control socket closes (the daemon stopped or died) it kills every runner's
process group and exits, so no run outlives its daemon.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import marshal
import os
import pwd  # noqa: F401  (redun.tags.login_name without $USER)
import selectors
import signal
import socket
import sys
import tempfile
import types
from collections.abc import Callable
from typing import Any, NoReturn, cast

import sqlalchemy.dialects.sqlite  # noqa: F401

# Pre-warm: everything a runner needs before the user's code (not grpc), including
# what every run imports lazily (code hashing, the recorder, the run's command line).
import redun  # noqa: F401
import redun.backends.db  # noqa: F401
import redun.backends.recorder  # noqa: F401
import redun.backends.writer_process  # noqa: F401
import redun.codehash  # noqa: F401
import redun.codehash.disk  # noqa: F401
import redun.config
import redun.executors.threads  # noqa: F401
import redun.file  # noqa: F401
import redun.file.hash_mode  # noqa: F401
import redun.functools  # noqa: F401
import redun.scheduler  # noqa: F401
import redun.spark.host  # noqa: F401  (no pyspark: runners find the warm Spark host)
import redun.tags  # noqa: F401
import redun.workflow.args
import redun.workflow.freshness
import redun.workflow.loader  # noqa: F401
import redund.model  # noqa: F401
import redund.runner
from redun.codehash.modules import _system_dirs
from redund.wire import describe_wait_status

_system_dirs()  # the interpreter's site-packages and stdlib directories: the same in every run
redun.workflow.freshness.prime()  # their real paths, which loading a workflow compares


def warm() -> None:
    """Do once here what every run does first: argparse's and configparser's patterns
    compiled, gettext's lookups made. Each runner forked after this starts with them
    done (~1.5 ms of each run on a 2 GHz core)."""

    def sample(n: int = 1, name: str = "", items: list[str] | None = None) -> None:
        """A stand-in task."""

    stand_in = types.SimpleNamespace(
        func=sample, fullname="warm.sample", signature=inspect.signature(sample)
    )
    redun.workflow.args.parse_task_args(
        cast(Any, stand_in), ["--n", "2", "--name", "x", "--items", "a", "b"]
    )
    with tempfile.TemporaryDirectory() as home:
        redun.config.load_config(home, check_types=True)


MAX_PACKET = 65536


def _save_caches() -> None:
    """Write what the run learned about unchanged source files (os._exit skips atexit)."""
    try:
        from redun.codehash import disk

        disk.save()
    except BaseException:  # noqa: BLE001 - a cache only saves time
        pass


class Factory:
    """Forks runners on request; reaps them and reports how they ended."""

    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.children: dict[int, str] = {}  # pid -> run id
        self.spare: tuple[int, socket.socket] | None = None  # a runner waiting for its run
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)

    def send(self, message: tuple) -> None:
        try:
            self.control.send(marshal.dumps(message))
        except OSError:
            pass

    def serve(self) -> None:
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        selector = selectors.DefaultSelector()
        selector.register(self.control, selectors.EVENT_READ, "control")
        selector.register(self._wake_r, selectors.EVENT_READ, "signal")
        self._fork_spare()
        self.send(("ready", os.getpid()))
        try:
            while True:
                for key, _ in selector.select():
                    if key.data == "signal":
                        if self._on_signal():
                            return
                    elif not self._on_control():
                        return
        finally:
            self.kill_all()

    def _on_signal(self) -> bool:
        try:
            signals = os.read(self._wake_r, 512)
        except BlockingIOError:
            signals = b""
        self.reap()
        return signal.SIGTERM in signals

    def _on_control(self) -> bool:
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.control, MAX_PACKET, 4)
        except InterruptedError:
            return True
        except OSError:
            return False
        if not data:
            for fd in fds:
                os.close(fd)
            return False
        message = marshal.loads(data)
        if message[0] == "fork" and fds:
            self.fork(message[1], fds[0])
            for fd in fds[1:]:
                os.close(fd)
        else:
            for fd in fds:
                os.close(fd)
        return True

    def fork(self, run_id: str, fd: int) -> None:
        """Hand ``run_id`` (and its socket ``fd``) to the spare runner, else fork one."""
        pid = self._hand_to_spare(run_id, fd)
        if pid is None:
            try:
                pid = os.fork()
            except OSError as error:
                os.close(fd)
                self.send(("fork_failed", run_id, f"cannot fork a runner: {error}"))
                return
            if pid == 0:
                self._become_runner(lambda: (fd, run_id))
        os.close(fd)
        self.children[pid] = run_id
        self.send(("forked", run_id, pid))

    def _fork_spare(self) -> None:
        """Fork the next run's runner ahead of time: it waits for its run (its socket
        and run id, sent over a socket pair of its own), so a run does not wait for a
        fork. It has what the factory has, as a runner forked on demand would."""
        if self.spare is not None:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            pid = os.fork()
        except OSError:
            ours.close()
            theirs.close()
            return  # the next run forks on demand
        if pid == 0:
            ours.close()
            self._become_runner(lambda: _await_run(theirs))
        theirs.close()
        self.spare = (pid, ours)

    def _hand_to_spare(self, run_id: str, fd: int) -> int | None:
        """The spare's pid once it has the run, or None (no spare, or it is gone)."""
        spare, self.spare = self.spare, None
        if spare is None:
            return None
        pid, sock = spare
        try:
            socket.send_fds(sock, [marshal.dumps(run_id)], [fd])
        except OSError:
            _kill_group(pid)  # reaped as any child; the run gets a new fork
            return None
        finally:
            sock.close()
        return pid

    def _become_runner(self, await_run: Callable[[], tuple[int, str]]) -> NoReturn:
        """In a forked child: become a runner of the run ``await_run`` gives, then exit."""
        code = 70
        try:
            os.setpgid(0, 0)
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGCHLD, signal.SIGTERM):
                signal.signal(signum, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self.control.close()
            os.close(self._wake_r)
            os.close(self._wake_w)
            if self.spare is not None:
                self.spare[1].close()
            fd, run_id = await_run()
            code = redund.runner.main(socket.socket(fileno=fd), run_id)
        finally:
            _save_caches()
            os._exit(code)

    def reap(self) -> None:
        while self.children or self.spare is not None:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if self.spare is not None and pid == self.spare[0]:
                self.spare[1].close()
                self.spare = None  # killed while waiting: the next run forks on demand
                continue
            run_id = self.children.pop(pid, None)
            if run_id is not None:
                _kill_group(pid)  # whatever the run left behind
                self.send(("exited", run_id, pid, describe_wait_status(status)))
                # Forked when no run is left, not while one runs: on a busy machine
                # that would slow the run in flight.
                if not self.children:
                    self._fork_spare()

    def kill_all(self) -> None:
        if self.spare is not None:
            pid, sock = self.spare
            self.spare = None
            sock.close()
            self.children[pid] = ""
        for pid in list(self.children):
            _kill_group(pid)
        for pid in list(self.children):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        self.children.clear()


def _await_run(sock: socket.socket) -> tuple[int, str]:
    """In a spare runner: wait for the run (its id, and its socket as an fd)."""
    try:
        data, fds, _flags, _addr = socket.recv_fds(sock, MAX_PACKET, 1)
    except OSError:
        data, fds = b"", []
    sock.close()
    if not data or not fds:  # the factory went away before giving it a run
        os._exit(0)
    return fds[0], marshal.loads(data)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="redund.factory")
    parser.add_argument("--control-fd", type=int, required=True)
    args = parser.parse_args(argv)
    control = socket.socket(fileno=args.control_fd)
    # Everything imported so far lives as long as the factory and every runner it forks:
    # out of the garbage collector's sight, a runner's collections walk only what its run
    # made (not the ~45,000 objects of the SDK and SQLAlchemy, several full collections
    # per large run), and they do not write to the pages the runner shares with the
    # factory.
    warm()
    gc.freeze()
    Factory(control).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
