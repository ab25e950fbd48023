"""Validation of what clients ask to run: precise errors before any process starts."""

from __future__ import annotations

import json
import os

from redund.errors import InvalidRequest, NotFoundError
from redund.model import RunSpec

#: Scheduler options a RunSpec may carry, and what each means.
OPTIONS = {
    "executor": "the default executor's type (threads, processes, ...)",
    "max_workers": "the default executor's worker count (an integer >= 1)",
    "context": "a JSON object of values for get_context()",
    "poll_interval": "a watch's seconds between polls of the s3:// and gs:// objects it read",
}

MAX_SPEC_CHARS = 1 << 20


def validate(spec: RunSpec) -> RunSpec:
    """A copy of ``spec`` with absolute paths, or the first thing wrong with it.

    Raises:
        InvalidRequest: a malformed field.
        NotFoundError: the workflow file or the working directory does not exist.
    """
    if not spec.workflow_path:
        raise InvalidRequest("RunSpec.workflow_path is empty: name the workflow file to run")
    if not spec.task:
        raise InvalidRequest("RunSpec.task is empty: name the task to call, e.g. 'main'")
    size = len(spec.kwargs_json) + sum(len(k) + len(v) for k, v in spec.args.items())
    size += sum(len(item) for item in spec.argv)
    if size > MAX_SPEC_CHARS:
        raise InvalidRequest(f"the run's arguments are too large ({size} characters)")
    working_dir = spec.working_dir
    if working_dir:
        if not os.path.isabs(working_dir):
            raise InvalidRequest(f"RunSpec.working_dir must be absolute, got {working_dir!r}")
        if not os.path.isdir(working_dir):
            raise NotFoundError(f"working directory not found: {working_dir}")
    path = spec.workflow_path
    is_file = path.endswith(".py") or os.sep in path
    if is_file:
        if not os.path.isabs(path):
            if not working_dir:
                raise InvalidRequest(
                    f"relative workflow_path {path!r} needs working_dir (the client's cwd)"
                )
            path = os.path.normpath(os.path.join(working_dir, path))
        if not os.path.exists(path):
            raise NotFoundError(f"workflow file not found: {path}")
        if os.path.isdir(path):
            raise InvalidRequest(f"workflow_path is a directory, not a file: {path}")
        working_dir = working_dir or os.path.dirname(path)
    elif not working_dir:
        raise InvalidRequest(f"workflow module {path!r} needs working_dir to import it from")
    for name in spec.args:
        if not name or name.startswith("-") or any(c.isspace() for c in name):
            raise InvalidRequest(f"bad argument name {name!r} in RunSpec.args")
    if spec.kwargs_json:
        try:
            kwargs = json.loads(spec.kwargs_json)
        except ValueError as error:
            raise InvalidRequest(f"RunSpec.kwargs_json is not valid JSON: {error}") from None
        if not isinstance(kwargs, dict):
            raise InvalidRequest("RunSpec.kwargs_json must be a JSON object of arguments")
        both = sorted(set(kwargs) & set(spec.args))
        if both:
            raise InvalidRequest(
                f"argument(s) {', '.join(both)} given both in args and kwargs_json"
            )
    validate_options(spec.options)
    return RunSpec(
        workflow_path=path,
        task=spec.task,
        args=dict(spec.args),
        argv=list(spec.argv),
        kwargs_json=spec.kwargs_json,
        options=dict(spec.options),
        working_dir=working_dir,
        no_cache=spec.no_cache,
        dryrun=spec.dryrun,
    )


def validate_options(options: dict[str, str]) -> None:
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        known = ", ".join(sorted(OPTIONS))
        raise InvalidRequest(f"unknown option(s) {', '.join(unknown)}; known options: {known}")
    workers = options.get("max_workers")
    if workers is not None:
        try:
            if int(workers) < 1:
                raise ValueError
        except ValueError:
            raise InvalidRequest(
                f"option max_workers must be an integer >= 1, got {workers!r}"
            ) from None
    interval = options.get("poll_interval")
    if interval is not None:
        try:
            if not 0 < float(interval) < float("inf"):
                raise ValueError
        except ValueError:
            raise InvalidRequest(
                f"option poll_interval must be a number of seconds > 0, got {interval!r}"
            ) from None
    if "executor" in options:
        from redun.executors.base import executor_types

        types = executor_types()
        executor = options["executor"]
        # A dotted path names a class of the user's own: the runner imports and checks it.
        if executor not in types and "." not in executor:
            raise InvalidRequest(
                f"option executor={executor!r} is not an executor type; "
                f"known types: {', '.join(types)} (or a class, mypkg.module.MyExecutor)"
            )
    context = options.get("context")
    if context is not None:
        try:
            value = json.loads(context)
        except ValueError as error:
            raise InvalidRequest(f"option context is not valid JSON: {error}") from None
        if not isinstance(value, dict):
            raise InvalidRequest("option context must be a JSON object")
