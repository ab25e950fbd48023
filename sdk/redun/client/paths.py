"""Where a daemon for a redun home keeps its files, and how clients find it.

Shared by the daemon (``redund``) and its clients; imports neither grpc nor
protobuf. A home is the ``.redun/`` directory that ``redun run`` uses: the
daemon keeps, next to ``redun.ini`` and ``redun.db``::

    redund.sock    the Unix socket (mode 0600)
    redund.pid     the daemon's process id
    redund.lock    held (flock) for as long as the daemon lives
    redund.log     its log
    redund.json    pid, addresses and start time of the running daemon
    redund.token   the token TCP clients must send (mode 0600; with --tcp)
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any

from redun.config import DEFAULT_CONFIG_DIR, nearest_config_dir

SOCKET_NAME = "redund.sock"
PID_NAME = "redund.pid"
LOCK_NAME = "redund.lock"
LOG_NAME = "redund.log"
STATE_NAME = "redund.json"
TOKEN_NAME = "redund.token"
INFLIGHT_DIR = "redund-inflight"

#: The longest Unix socket path we use (sun_path holds 108 bytes with the NUL).
MAX_SOCKET_PATH = 100


def resolve_home(explicit: str | None = None, *, search: bool = False) -> str:
    """The redun home: ``explicit``, else ``$REDUN_HOME``, else ``./.redun``.

    Args:
        explicit: a directory given on the command line.
        search: when neither is given, use the nearest ``.redun`` up from the
            current directory (what clients do), falling back to ``./.redun``.

    Returns:
        An absolute path (the directory may not exist yet).
    """
    chosen = explicit or os.environ.get("REDUN_HOME")
    if chosen:
        return os.path.abspath(os.path.expanduser(chosen))
    if search:
        found = nearest_config_dir(os.getcwd())
        if found is not None:
            return found
    return os.path.abspath(DEFAULT_CONFIG_DIR)


def home_file(home: str, name: str) -> str:
    """The path of one of the daemon's files in ``home``."""
    return os.path.join(home, name)


def socket_path(home: str) -> str:
    """Where the daemon of ``home`` listens.

    ``home/redund.sock``, unless that path is too long for a Unix socket; then
    a short path in a private (0700) directory under the temp dir, derived from
    the home's path, so daemon and clients agree on it without asking.
    """
    path = os.path.join(home, SOCKET_NAME)
    if len(path.encode()) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(os.path.abspath(home).encode()).hexdigest()[:20]
    directory = os.path.join(tempfile.gettempdir(), f"redund-{os.getuid()}")
    return os.path.join(directory, f"{digest}.sock")


def unix_address(home: str) -> str:
    """The gRPC target of the daemon's Unix socket, e.g. ``unix:/p/.redun/redund.sock``."""
    return "unix:" + socket_path(home)


def read_state(home: str) -> dict[str, Any] | None:
    """What the running daemon wrote about itself (pid, addresses, start), if anything."""
    try:
        with open(home_file(home, STATE_NAME), encoding="utf-8") as handle:
            state = json.load(handle)
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def read_token(home: str) -> str | None:
    """The TCP token of the daemon of ``home``, if it wrote one."""
    try:
        with open(home_file(home, TOKEN_NAME), encoding="utf-8") as handle:
            return handle.read().strip() or None
    except OSError:
        return None
