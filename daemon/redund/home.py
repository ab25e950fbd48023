"""The daemon's files in its home: lock, pid, state, socket, token, log.

The lock file is the truth about whether a daemon runs for a home: the daemon
holds an exclusive ``flock`` on it for its whole life, and the kernel drops it
when the process dies, even by ``kill -9``. A pid file or socket found while
the lock is free is stale and is removed.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import time
from typing import IO, Any

from redun.client.paths import (
    INFLIGHT_DIR,
    LOCK_NAME,
    LOG_NAME,
    PID_NAME,
    STATE_NAME,
    TOKEN_NAME,
    home_file,
    read_state,
    socket_path,
)
from redund.errors import StartError


class Home:
    """Paths of one home, and the operations on them."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.lock_path = home_file(self.path, LOCK_NAME)
        self.pid_path = home_file(self.path, PID_NAME)
        self.state_path = home_file(self.path, STATE_NAME)
        self.log_path = home_file(self.path, LOG_NAME)
        self.token_path = home_file(self.path, TOKEN_NAME)
        self.socket_path = socket_path(self.path)
        self.inflight_dir = home_file(self.path, INFLIGHT_DIR)
        self._lock: IO[str] | None = None

    def ensure(self) -> None:
        try:
            os.makedirs(self.path, mode=0o700, exist_ok=True)  # values and provenance: private
            os.makedirs(os.path.dirname(self.socket_path), mode=0o700, exist_ok=True)
        except OSError as error:
            raise StartError(f"cannot create the redun home {self.path}: {error}") from error

    # -- the lock ----------------------------------------------------------------
    def try_lock(self) -> bool:
        """Take the daemon lock; False if a live daemon holds it."""
        handle = open(self.lock_path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._lock = handle
        return True

    def is_locked(self) -> bool:
        """Whether a live daemon holds the lock (without taking it)."""
        if not os.path.exists(self.lock_path):
            return False
        with open(self.lock_path, "a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # -- pid, state, stale files ----------------------------------------------------------
    def read_pid(self) -> int | None:
        try:
            with open(self.pid_path, encoding="utf-8") as handle:
                return int(handle.read().strip())
        except (OSError, ValueError):
            return None

    def read_state(self) -> dict[str, Any] | None:
        return read_state(self.path)

    def clean_stale(self) -> list[str]:
        """Remove files a crashed daemon left (call with the lock held); returns them."""
        removed = []
        for path in (self.pid_path, self.state_path, self.socket_path):
            if os.path.lexists(path):
                try:
                    os.unlink(path)
                    removed.append(path)
                except OSError:
                    pass
        return removed

    def write_running(self, pid: int, addresses: list[str], start_time: float) -> None:
        _write_private(self.pid_path, f"{pid}\n")
        state = {"pid": pid, "addresses": addresses, "start_time": start_time, "home": self.path}
        _write_private(self.state_path, json.dumps(state) + "\n")

    def remove_running(self) -> None:
        for path in (self.pid_path, self.state_path, self.socket_path):
            try:
                os.unlink(path)
            except OSError:
                pass

    # -- the token --------------------------------------------------------------------
    def token(self) -> str:
        """The TCP token: the one in ``redund.token`` (0600), made on first use."""
        try:
            with open(self.token_path, encoding="utf-8") as handle:
                existing = handle.read().strip()
            if existing and os.stat(self.token_path).st_mode & 0o077 == 0:
                return existing
        except OSError:
            pass
        token = secrets.token_urlsafe(32)
        _write_private(self.token_path, token + "\n")
        return token


def _write_private(path: str, text: str) -> None:
    """Write ``path`` atomically with mode 0600."""
    temp = f"{path}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.replace(temp, path)
