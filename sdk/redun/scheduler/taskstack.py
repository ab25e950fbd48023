"""The chain of task calls that led to a failure, for error reports.

When a job fails, the scheduler hangs on its error (``__redun_task_stack__``)
one line per call from the outermost to the failing one: the task with its
arguments as it received them, the job id and where the task is defined.
``redun run`` prints it above the Python traceback, which shows only the
frames inside the failing task:

    Task stack (outermost first):
      errs.main(x=10)                job 1a2b3c4d  wf.py:9
      errs.task1(a=10, b=11, c=3)    job a920f800  wf.py:6

It is taken once per error (the first job it fails), while the jobs still
know their parents, as references only: a fan-out under ``catch()`` may fail
by the thousand, and the text is made only when a report asks for it.
"""

from __future__ import annotations

import inspect
import linecache
import os
import reprlib
import traceback
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redun.scheduler.job import Job

# Calls deeper than this show the outermost and innermost ones only.
MAX_DEPTH = 40

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 6
_repr.maxlevel = 3

_HIDDEN = frozenset({"redun.root_task"})


class TaskStack:
    """The calls from the outermost one to a failed job, formatted when asked."""

    __slots__ = ("_calls", "_lines")

    def __init__(self, job: Job) -> None:
        # Only references are taken here (a fan-out under catch() may fail by the
        # thousand); reprs, signatures and source lines wait for lines().
        calls: list[tuple[Any, str, tuple, dict]] = []
        seen: set[int] = set()
        current: Job | None = job
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            if current.task.fullname not in _HIDDEN:
                calls.append((current.task, current.id, current.call_args, current.kwargs))
            current = current.parent_job
        calls.reverse()
        self._calls = calls
        self._lines: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self._calls)

    def lines(self) -> tuple[str, ...]:
        """The lines described in the module doc, outermost call first."""
        if self._lines is None:
            self._lines = _format(self._calls)
        return self._lines


# The engine's own files (frames there are not the user's).
_ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def is_engine_frame(filename: str) -> bool:
    """True for a frame of redun's own code, the interpreter's or its thread pools'."""
    return (
        os.path.abspath(filename).startswith(_ENGINE_DIR + os.sep)
        or filename.startswith("<frozen")
        or os.sep + "concurrent" + os.sep in filename
        or os.sep + "threading.py" in filename
    )


def failure_report(error: BaseException) -> list[str]:
    """insitro/redun's report of a failed execution, line by line: each task call from
    the outermost (its job, where it is defined, its arguments), the failing task's
    own Python frames, then the error."""
    lines = ["*** Execution failed. Traceback (most recent task last):"]
    found = getattr(error, "__redun_task_stack__", None)
    for task, job_id, args, kwargs in found._calls if found is not None else ():
        func = getattr(task, "func", None)
        code = getattr(func, "__code__", None)
        if code is None:
            lines.append(f"  Job {job_id[:8]}: {task.fullname}")
            continue
        number = _def_line(code.co_filename, code.co_firstlineno)
        lines.append(
            f'  Job {job_id[:8]}: File "{code.co_filename}", line {number}, in {task.name}'
        )
        lines.append("    " + linecache.getline(code.co_filename, number).strip())
        lines.extend(
            f"    {name} = {value}" if name else f"    {value}"
            for name, value in _bound(func, args, kwargs)
        )
    for frame in traceback.extract_tb(error.__traceback__):
        if is_engine_frame(frame.filename):
            continue
        lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line}")
    lines.extend(traceback.format_exception_only(type(error), error)[-1:])
    lines[-1] = lines[-1].rstrip("\n")
    return lines


def task_stack(job: Job) -> TaskStack:
    """The task stack of ``job`` (see :class:`TaskStack`)."""
    return TaskStack(job)


def _format(chain: list[tuple[Any, str, tuple, dict]]) -> tuple[str, ...]:
    if len(chain) > MAX_DEPTH:
        half = MAX_DEPTH // 2
        skipped = len(chain) - 2 * half
        calls = [_call(*one) for one in chain[:half]]
        calls.append((f"... {skipped} more call(s) ...", ""))
        calls.extend(_call(*one) for one in chain[-half:])
    else:
        calls = [_call(*one) for one in chain]
    if not calls:
        return ()
    width = min(max(len(text) for text, _ in calls), 72)
    return tuple(f"{text:<{width}}  {where}".rstrip() for text, where in calls)


def _call(task: Any, job_id: str, args: tuple, kwargs: dict) -> tuple[str, str]:
    where = f"job {job_id[:8]}"
    func = getattr(task, "func", None)
    code = getattr(func, "__code__", None)
    if code is not None:
        where += f"  {code.co_filename}:{_def_line(code.co_filename, code.co_firstlineno)}"
    return f"{task.fullname}({_arguments(func, args, kwargs)})", where


def _def_line(filename: str, first: int) -> int:
    """The line of the ``def`` (``co_firstlineno`` is the first decorator's)."""
    for number in range(first, first + 30):
        text = linecache.getline(filename, number).lstrip()
        if not text:
            break
        if text.startswith(("def ", "async def ")):
            return number
    return first


def _arguments(func: Any, args: tuple, kwargs: dict) -> str:
    return ", ".join(
        f"{name}={value}" if name else value for name, value in _bound(func, args, kwargs)
    )


def _bound(func: Any, args: tuple, kwargs: dict) -> list[tuple[str, str]]:
    """(name, short repr) of each argument, defaults included; positional ones keep no
    name when the function's signature cannot be read."""
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
        bound.apply_defaults()
        named = bound.arguments.items()
    except (TypeError, ValueError):
        return [("", _value(arg)) for arg in args] + [
            (name, _value(value)) for name, value in kwargs.items()
        ]
    return [(name, _value(value)) for name, value in named]


def _value(value: Any) -> str:
    try:
        return _repr.repr(value)
    except Exception:
        return f"<{type(value).__name__}>"
