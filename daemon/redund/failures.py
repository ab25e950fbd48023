"""A run's failures as the daemon reports them: type, message, and a traceback
trimmed to the user's own frames (redun's and the runner's removed)."""

from __future__ import annotations

import os
import traceback

import redun

_ENGINE_DIRS = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep for path in (redun.__file__ or "", __file__)
)


def _is_engine_frame(filename: str) -> bool:
    return (
        os.path.abspath(filename).startswith(_ENGINE_DIRS)
        or filename.startswith("<frozen")
        or os.sep + "concurrent" + os.sep in filename
        or filename.endswith(os.sep + "threading.py")
    )


def format_error(error: BaseException) -> str:
    """The error's traceback with redun's and the runner's own frames removed."""
    remote = getattr(error, "__redun_traceback__", None)
    if remote:
        return str(remote).rstrip()
    frames = traceback.extract_tb(error.__traceback__)
    user = [frame for frame in frames if not _is_engine_frame(frame.filename)]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(user or frames)]
    lines += traceback.format_exception_only(type(error), error)
    job = getattr(error, "__redun_job__", None)
    if job is not None:
        lines.insert(0, f"Task {job.task.fullname} failed (job {job.id[:8]}):\n")
    return "".join(lines).rstrip()


def error_tuple(error: BaseException, *, with_traceback: bool = True) -> tuple[str, str, str]:
    """(type, message, traceback) of an exception, traceback trimmed to user code."""
    text = ""
    if with_traceback:
        try:
            text = format_error(error)
        except Exception:
            text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return (type(error).__name__, describe_error(error), text)


def describe_error(error: BaseException) -> str:
    """The error's message; for a task's SystemExit or KeyboardInterrupt, what the task did."""
    job = getattr(error, "__redun_job__", None)
    if job is not None and isinstance(error, SystemExit):
        return f"task {job.task.fullname} called sys.exit({error.code!r})"
    if job is not None and isinstance(error, KeyboardInterrupt):
        return f"task {job.task.fullname} raised KeyboardInterrupt"
    return str(error)


def load_error_tuple(path: str, error: BaseException) -> tuple[str, str, str]:
    """The error of a workflow that does not import; a SyntaxError names file and line."""
    cause = error.__cause__ or error
    if isinstance(cause, SyntaxError):
        where = f"{cause.filename or path}, line {cause.lineno}"
        message = f"{cause.msg} ({where})"
        if cause.text:
            message += f": {cause.text.strip()}"
        text = "".join(traceback.format_exception_only(type(cause), cause))
        return (type(cause).__name__, message, text)
    kind, message, text = error_tuple(cause)
    return (kind, f"cannot load workflow {path}: {message}", text)
