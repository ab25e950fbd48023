"""What a run depended on: the user's modules it imported and the files its values name.

A watch re-runs the workflow when one of them changes; ``outputs`` (files
jobs returned) let it ignore the run's own writes.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from redun.nested import ATOMS

log = logging.getLogger("redund.runner")  # what the runner reports, under its name


def value_files(value: Any, budget: int = 10_000) -> list[str]:
    from redun.nested import ValueWalk

    found: list[str] = []
    for item in ValueWalk(value, budget):
        try:
            found.extend(item.iter_files())
            found.extend(_object_urls(item))
        except Exception:
            log.warning(
                "cannot list the local files of a %s value; a watch will not follow them",
                type(item).__name__,
                exc_info=True,
            )
    return found


def _object_urls(value: Any) -> list[str]:
    """The ``s3://``/``gs://`` URL a File or Dir names (a Dir's ends in ``/``): the
    daemon polls them, as it watches local files."""
    from redun.file import Dir, File, Staging

    if isinstance(value, Staging):
        value = value.remote
    if not isinstance(value, (File, Dir)) or not _is_object_url(value.path):
        return []
    return [value.path.rstrip("/") + "/" if isinstance(value, Dir) else value.path]


def _is_object_url(path: str) -> bool:
    return path.partition("://")[0].lower() in ("s3", "gs") and "://" in path


def _abspath(path: str) -> str:
    return path if _is_object_url(path) else os.path.abspath(path)


def _holds_no_files(value: Any) -> bool:
    """True for a plain value, or a tuple, list or dict of them (most arguments and
    results): nothing to walk for files."""
    cls = type(value)
    if cls in ATOMS:
        return True
    if cls is tuple or cls is list:
        return all(type(item) in ATOMS for item in value)
    if cls is dict:
        return all(type(k) in ATOMS and type(v) in ATOMS for k, v in value.items())
    return False


def dependencies(
    before: set[str], workflow_path: str, jobs: list[Any], backend: Any = None
) -> dict[str, list[str]]:
    """What the run depended on: the user's modules it imported and the files of File values
    (local paths, and the URLs of objects in S3 or GCS).

    ``outputs`` are the files among them that jobs returned (and the root job
    was not given): the daemon's watch ignores its own run writing them.
    """
    excluded = {
        os.path.realpath(p)
        for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
    }
    for name in ("redun", "redund"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            excluded.add(os.path.dirname(os.path.realpath(str(module.__file__))))
    modules = {os.path.realpath(workflow_path)}
    for name, module in list(sys.modules.items()):
        if name in before or module is None:
            continue
        filename = getattr(module, "__file__", None)
        if not filename or not filename.endswith(".py"):
            continue
        real = os.path.realpath(filename)
        if any(real.startswith(prefix + os.sep) for prefix in excluded):
            continue
        if "site-packages" in real or "dist-packages" in real:
            continue
        modules.add(real)
    files: set[str] = set()
    results: set[str] = set()  # files some job returned: written by the run, mostly
    given: set[str] = set()  # files passed to the root job: the run's inputs
    for job in jobs:
        for value in (job.call_args, job.kwargs, job.result):
            if _holds_no_files(value):
                continue
            for path in value_files(value, budget=1000):
                path = _abspath(path)
                files.add(path)
                if value is job.result:
                    results.add(path)
                elif job.parent_job is None:
                    given.add(path)
    # A cached job stands for its whole recorded call tree: its files count too. Not
    # a replayed one: the calls below it are jobs of this run, counted above.
    cached = [job.call_hash for job in jobs if job.cached and job.call_hash and not job.replayed]
    if cached and backend is not None:
        try:
            files.update(_abspath(path) for path in backend.files_in_calls(cached))
        except Exception:
            log.warning(
                "cannot read the files of %d cached call(s) from the store; a watch will not "
                "follow them until a run records them again",
                len(cached),
                exc_info=True,
            )
    return {
        "modules": sorted(modules),
        "files": sorted(files),
        "outputs": sorted(results - given),
    }


def collect_dependencies(
    before: set[str], spec: dict[str, Any], jobs: list[Any], backend: Any = None
) -> dict[str, list[str]]:
    """:func:`dependencies` of a run, or its workflow file alone if they cannot be
    collected (logged: the watch then follows less than it should until the next run)."""
    try:
        return dependencies(before, spec["workflow_path"], jobs, backend)
    except Exception:
        log.warning(
            "cannot collect what the run depended on; a watch follows only %s until the next run",
            spec["workflow_path"],
            exc_info=True,
        )
        return {"modules": [spec["workflow_path"]], "files": []}
