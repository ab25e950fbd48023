"""The chain of task calls that led to a failure, for error reports.

When a job fails, the scheduler hangs on its error (``__redun_task_stack__``)
one line per call from the outermost to the failing one: the task with its
arguments as it received them, the job id and where the task is defined.
``redun run`` prints it above the Python traceback, which shows only the
frames inside the failing task:

    Task stack (outermost first):
      errs.main(x=10)                job 1a2b3c4d  wf.py:9
      errs.task1(a=10, b=11, c=3)    job a920f800  wf.py:6

It is made once per error (the first job it fails), while the jobs still
know their parents; failures are rare, so its cost does not matter.
"""

from __future__ import annotations

import inspect
import linecache
import reprlib
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


def task_stack(job: Job) -> tuple[str, ...]:
    """The lines described in the module doc, outermost call first ('' if none)."""
    chain: list[Job] = []
    seen: set[int] = set()
    current: Job | None = job
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current.task.fullname not in _HIDDEN:
            chain.append(current)
        current = current.parent_job
    chain.reverse()
    if len(chain) > MAX_DEPTH:
        half = MAX_DEPTH // 2
        skipped = len(chain) - 2 * half
        calls = [_call(one) for one in chain[:half]]
        calls.append((f"... {skipped} more call(s) ...", ""))
        calls.extend(_call(one) for one in chain[-half:])
    else:
        calls = [_call(one) for one in chain]
    if not calls:
        return ()
    width = min(max(len(text) for text, _ in calls), 72)
    return tuple(f"{text:<{width}}  {where}".rstrip() for text, where in calls)


def _call(job: Job) -> tuple[str, str]:
    where = f"job {job.id[:8]}"
    func = getattr(job.task, "func", None)
    code = getattr(func, "__code__", None)
    if code is not None:
        where += f"  {code.co_filename}:{_def_line(code.co_filename, code.co_firstlineno)}"
    return f"{job.task.fullname}({_arguments(func, job.args, job.kwargs)})", where


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
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
        bound.apply_defaults()
        named = bound.arguments.items()
    except (TypeError, ValueError):
        parts = [_value(arg) for arg in args]
        parts.extend(f"{name}={_value(value)}" for name, value in kwargs.items())
        return ", ".join(parts)
    return ", ".join(f"{name}={_value(value)}" for name, value in named)


def _value(value: Any) -> str:
    try:
        return _repr.repr(value)
    except Exception:
        return f"<{type(value).__name__}>"
