"""What runs on Spark's Python workers: the calls of one partition.

The ``spark`` executor maps :func:`run_slice` over the slices of a call
batch (one per partition). A batch is compact: the task headers of the
remote layer's calls once, and per call only its ids and pickled arguments;
each result is the call's pickled value, or when it failed or printed the
remote layer's outcome (value or error with its traceback, and its captured
output). A slice's outcomes travel to the driver in a :class:`PartOutcomes`
accumulator, which Spark hands to the driver as each Spark task ends: the
scheduler records a partition's calls while the others still run.

The user's code arrives as a code package zip (``redun-code-<digest>.zip``)
given to ``SparkContext.addPyFile``. Spark reuses Python workers between
tasks, so a worker may still hold modules imported from an older package (a
watch re-ran after an edit): those are dropped before the calls run.

This module is imported on the workers; it must not need a JVM.
"""

from __future__ import annotations

import os
import sys
import time
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


Call = tuple[int, str, bytes]
"""One call of a batch: ``(header index, job_id, pickled (args, kwargs))``; its
outcome comes back in its place (calls and outcomes are matched by position)."""


def run_calls(code_dir: str, headers: list[dict[str, Any]], calls: Iterable[Call]) -> Iterator[Any]:
    """The outcome of each call, run in this process with ``code_dir`` as the code package.

    ``headers`` are the batch's task headers (the remote layer's
    :func:`~redun.executors.remote.protocol.task_header`), each task imported
    and looked up once. A call that returned quietly comes back as its pickled
    value alone (the common case, a few bytes each way); any other (it failed,
    or printed) as the remote layer's outcome dict.
    """
    from redun.executors.remote.protocol import (
        call_function,
        load_arguments,
        new_outcome,
        pickle_value,
        resolve_task,
        set_error,
    )
    from redun.logs import JobOutput, list_sink

    activate_package(code_dir)
    tasks: dict[int, Any] = {}
    for index, job_id, arguments in calls:
        header = headers[index]
        name = header["task"]
        output: list[tuple[str, str]] = []
        started = time.time()
        try:
            with JobOutput(list_sink(output), job_id=job_id, task_name=name):
                task = tasks.get(index)
                if task is None:
                    task = tasks[index] = resolve_task(header, code_dir)
                args, kwargs = load_arguments(arguments, job_id, name)
                value = call_function(task, args, kwargs)
            data = pickle_value(value, job_id, name)
        except Exception as error:
            outcome = new_outcome("")
            set_error(outcome, error)
        else:
            if not output:
                yield data
                continue
            outcome = new_outcome("")
            outcome["ok"], outcome["value"] = True, data
        outcome.update(token=header["token"], job_id=job_id, started=started, output=output)
        outcome["ended"] = time.time()
        yield outcome


Part = tuple[str, int, list[Any]]
"""A slice's outcomes: ``(job group, index of its first call in the batch, outcomes
in order)``."""


class PartOutcomes:
    """An accumulator parameter (pyspark's ``AccumulatorParam`` protocol) carrying
    each slice's outcomes to the driver.

    On a worker the value collects the slice's :data:`Part`; Spark sends it to
    the driver when that Spark task succeeds (a failed or repeated attempt's
    value is not applied) and the driver's accumulator server adds it there,
    where ``arrived`` gets it instead of a growing value. ``arrived`` stays on
    the driver: the copy pickled to the workers has none.
    """

    def __init__(self, arrived: Any = None) -> None:
        self.arrived = arrived

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.arrived = None

    def zero(self, value: list[Part]) -> list[Part]:
        return []

    def addInPlace(self, value: list[Part], term: list[Part]) -> list[Part]:
        if self.arrived is not None:
            self.arrived(term)
            return value
        value.extend(term)
        return value


def run_slice(
    package: str,
    group: str,
    headers: list[dict[str, Any]],
    parts: Any,
    item: tuple[int, list[Call]],
) -> int:
    """Spark's ``map`` function over a batch's slices (one per partition): runs the
    slice's calls and adds their outcomes to ``parts`` (a :class:`PartOutcomes`
    accumulator); returns how many there are.

    ``package`` is the name the code package zip was given to ``addPyFile``;
    ``group`` the batch's job group; ``item`` the slice: the index of its first call
    in the batch, and its calls.
    """
    from pyspark import SparkFiles

    start, calls = item
    outcomes = list(run_calls(SparkFiles.get(package), headers, calls))
    parts.add([(group, start, outcomes)])
    return len(outcomes)
