"""Frames between the daemon, its runner factory and the runners (no grpc here).

A frame is a 4-byte big-endian length and a :mod:`marshal` payload: tuples of
plain values, cheap to make and to read, and both ends run the same
interpreter. Messages are tuples whose first item names them.

Runner -> daemon::

    ("ready",)                                  workflow loaded, run starts
    ("rejected", kind, error)                   kind: "not_found" | "invalid"
    ("events", [item, ...])                     JobUpdate, LogChunk or ("S", time) items
    ("finished", status, error, result, pickled, deps, recorded)
                                                recorded: the run's own scheduler
                                                committed the execution's end

Daemon -> runner::

    ("run", spec_dict, execution_id, home, reject_load_errors, track_dependencies)
                                                track_dependencies: a watch's run, whose
                                                "finished" carries deps (else empty)
    ("cancel",)
    ("cancel_job", job_id)

Factory control socket (SOCK_SEQPACKET, one message per packet)::

    daemon -> factory  ("fork", run_id) with the runner's socket as an fd
    factory -> daemon  ("ready", pid) | ("forked", run_id, pid)
                       | ("fork_failed", run_id, message) | ("exited", run_id, pid, how)
"""

from __future__ import annotations

import marshal
import socket
import struct
import threading
from typing import Any, NamedTuple

HEADER = struct.Struct(">I")
MAX_FRAME = 1 << 30

JOB_TAG, LOG_TAG, STARTED_TAG = "J", "L", "S"


class JobUpdate(NamedTuple):
    """A job's new state, as a runner reports it: the one record both ends build and read.

    On the wire it is a plain tuple, ``("J", *fields)`` (marshal takes no
    NamedTuple): :meth:`to_wire` and :meth:`from_wire` know the order, and so
    does the runner's hot path, ``redund.forwarding.EventForwarder._job_update``
    (its test holds it to this record).
    """

    time: float
    job_id: str
    parent_id: str
    task: str
    state: str
    executor: str
    cached: bool
    reason: str
    call_hash: str
    args_summary: str | None  # set in a job's first report only
    error: tuple[str, str, str] | None  # (type, message, traceback) when it failed
    task_hash: str | None  # set in a job's first report only

    def to_wire(self) -> tuple:
        return (JOB_TAG, *self)

    @classmethod
    def from_wire(cls, item: tuple) -> JobUpdate:
        return cls._make(item[1:])


class LogChunk(NamedTuple):
    """Output of a job (``job_id`` empty: of the runner itself), one or more lines."""

    time: float
    job_id: str
    stream: str
    text: str

    def to_wire(self) -> tuple:
        return (LOG_TAG, *self)

    @classmethod
    def from_wire(cls, item: tuple) -> LogChunk:
        return cls._make(item[1:])


def encode(message: Any) -> bytes:
    payload = marshal.dumps(message)
    return HEADER.pack(len(payload)) + payload


def decode(payload: bytes) -> Any:
    return marshal.loads(payload)


class ChannelClosed(EOFError):
    """The other end closed the channel."""


class BlockingChannel:
    """Frames over a blocking socket; ``send`` is safe from several threads."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._send_lock = threading.Lock()

    def send(self, message: Any) -> None:
        data = encode(message)
        with self._send_lock:
            self.sock.sendall(data)

    def recv(self) -> Any:
        header = self._read(HEADER.size)
        (length,) = HEADER.unpack(header)
        if length > MAX_FRAME:
            raise ChannelClosed(f"frame of {length} bytes is too large")
        return decode(self._read(length))

    def _read(self, size: int) -> bytes:
        chunks = []
        while size:
            chunk = self.sock.recv(min(size, 1 << 20))
            if not chunk:
                raise ChannelClosed("channel closed")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def describe_wait_status(status: int) -> str:
    """A phrase for how a process ended, e.g. "exited with code 3", "was killed by SIGKILL"."""
    import os
    import signal

    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"was killed by {name}"
    if os.WIFEXITED(status):
        return f"exited with code {os.WEXITSTATUS(status)}"
    return f"ended with wait status {status}"
