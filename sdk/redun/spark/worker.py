"""What runs on Spark's Python workers: the calls of one partition.

The ``spark`` executor maps :func:`run_slice` over the slices of a call
batch (one per partition). Each call is ``(call_id, pickled call)`` as the remote layer
writes them; each result is the call's outcome (value or error with its
traceback, and its captured output), made by the layer's ``run_call``.

The user's code arrives as a code package zip (``redun-code-<digest>.zip``)
given to ``SparkContext.addPyFile``. Spark reuses Python workers between
tasks, so a worker may still hold modules imported from an older package (a
watch re-ran after an edit): those are dropped before the calls run.

This module is imported on the workers; it must not need a JVM.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any

PACKAGE_PREFIX = "redun-code-"


def zip_name(digest: str) -> str:
    """The file name a code package is shipped under."""
    return f"{PACKAGE_PREFIX}{digest}.zip"


def activate_package(path: str) -> None:
    """Make ``path`` (a package zip or directory) the only code package on ``sys.path``.

    Modules imported from another code package are removed from
    ``sys.modules``, so the next import reads this package's version.
    """
    if sys.path and sys.path[0] == path:
        return
    own = path.rstrip(os.sep) + os.sep
    stale = [
        entry
        for entry in sys.path
        if entry != path and not entry.startswith(own) and _in_package(entry)
    ]
    for entry in stale:
        while entry in sys.path:
            sys.path.remove(entry)
    roots = {_package_root(entry) for entry in stale}
    if roots:
        prefixes = tuple(root + os.sep for root in roots)
        for name, module in list(sys.modules.items()):
            filename = getattr(module, "__file__", None) or ""
            if filename.startswith(prefixes):
                del sys.modules[name]
    while path in sys.path:
        sys.path.remove(path)
    sys.path.insert(0, path)


def _in_package(entry: str) -> bool:
    return any(part.startswith(PACKAGE_PREFIX) for part in entry.split(os.sep))


def _package_root(entry: str) -> str:
    """``/x/redun-code-abc.zip`` of ``/x/redun-code-abc.zip/sub``."""
    parts = entry.rstrip(os.sep).split(os.sep)
    for index, part in enumerate(parts):
        if part.startswith(PACKAGE_PREFIX):
            return os.sep.join(parts[: index + 1])
    return entry


def run_calls(code_dir: str, calls: Iterable[tuple[str, bytes]]) -> Iterator[dict[str, Any]]:
    """The outcome of each call, run in this process with ``code_dir`` as the code package."""
    from redun.executors.remote.protocol import run_call

    activate_package(code_dir)
    for call_id, pickled in calls:
        yield run_call(pickled, code_dir=code_dir, call_id=call_id)


def run_slice(package: str, calls: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """Spark's ``map`` function over a batch's slices (one per partition).

    ``package`` is the name the code package zip was given to ``addPyFile``.
    """
    from pyspark import SparkFiles

    return list(run_calls(SparkFiles.get(package), calls))
