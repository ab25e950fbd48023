"""The daemon's client: submit runs, follow their events, fetch results.

    from redun.client import Client

    with Client() as client:                       # the daemon of ./.redun (or $REDUN_HOME)
        run = client.submit("flow.py", "main", n=10)
        for event in run.events():
            print(event["type"], event.get("state", ""))
        print(run.result(timeout=60))

Only this package (and ``redund``) imports grpc; it is loaded on first use of
:class:`Client`, so ``redun.client.paths`` and ``redun.client.errors`` stay light.
"""

from __future__ import annotations

from typing import Any

from redun.client.errors import (
    ClientError,
    DaemonUnavailable,
    ExecutionCancelled,
    ExecutionError,
    ExecutionFailed,
    ExecutionInterrupted,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unauthenticated,
)

_LAZY = {"Client": "redun.client.client", "ExecutionHandle": "redun.client.handle"}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'redun.client' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


__all__ = [
    "Client",
    "ClientError",
    "DaemonUnavailable",
    "ExecutionCancelled",
    "ExecutionError",
    "ExecutionFailed",
    "ExecutionHandle",
    "ExecutionInterrupted",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "Unauthenticated",
]
