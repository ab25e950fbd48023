"""``Traceback`` and ``Frame``: a failed call's traceback as a recordable value.

Executors written for insitro/redun report a failure with
``scheduler.reject_job(job, error, error_traceback=Traceback.from_error(error))``;
these types keep such code working here. A ``Traceback`` holds the error, its
frames (``traceback.FrameSummary``, or :class:`Frame` for a frame that is a
job's task) and, optionally, the job's last log lines. ``format()`` gives the
text the scheduler records and prints.
"""

from __future__ import annotations

import linecache
import os
import traceback
from collections.abc import Iterator
from typing import Any

from redun.value import Value

# Frames from these places are the engine's, not the user's: trimming walks back
# from the innermost frame and stops at the first of them.
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ENGINE_PREFIXES = (
    os.path.join(_PACKAGE, "executors") + os.sep,
    os.path.join(_PACKAGE, "scheduler") + os.sep,
    os.path.join(_PACKAGE, "cli") + os.sep,
)
_LOCAL_REPR_LIMIT = 200


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as error:  # a broken __repr__ must not hide the real error
        text = f"<repr failed: {type(error).__name__}>"
    return text if len(text) <= _LOCAL_REPR_LIMIT else text[: _LOCAL_REPR_LIMIT - 3] + "..."


class Frame(traceback.FrameSummary, Value):
    """A frame that is a job's task: where the task was defined, and which job ran it.

    ``locals`` are kept as short reprs (what is shown, and what can be recorded).
    A line number on a decorator is moved to the ``def`` it decorates.
    """

    type_name = "redun.Frame"

    def __init__(
        self,
        filename: str,
        lineno: int,
        name: str,
        locals: dict[str, Any] | None = None,
        lookup_line: bool = True,
        line: str | None = None,
        job: Any = None,
    ) -> None:
        if line is None:
            lineno = _past_decorators(filename, lineno)
        super().__init__(filename, lineno, name, lookup_line=lookup_line, locals=None, line=line)
        self.locals = {key: _short_repr(value) for key, value in (locals or {}).items()}
        self.job = job

    def __getstate__(self) -> dict:
        return {
            "filename": self.filename,
            "lineno": self.lineno,
            "name": self.name,
            "line": self.line,
            "locals": self.locals,
            "job_id": self.job_id,
            "task_name": self.task_name,
        }

    def __setstate__(self, state: dict) -> None:
        traceback.FrameSummary.__init__(
            self, state["filename"], state["lineno"], state["name"], line=state["line"]
        )
        self.locals = state["locals"]
        # The job itself is not recorded with its frame: its id and task name are.
        self.job = _JobRef(state.get("job_id"), state.get("task_name"))

    @property
    def job_id(self) -> str | None:
        return getattr(self.job, "id", None)

    @property
    def task_name(self) -> str | None:
        """The full name of the job's task (kept when the frame is recorded)."""
        if isinstance(self.job, _JobRef):
            return self.job.task_name
        return getattr(getattr(self.job, "task", None), "fullname", None)


class _JobRef:
    """What a recorded :class:`Frame` keeps of its job."""

    __slots__ = ("id", "task_name")

    def __init__(self, job_id: str | None, task_name: str | None) -> None:
        self.id = job_id
        self.task_name = task_name

    def __repr__(self) -> str:
        return f"Job({(self.id or '?')[:8]}, {self.task_name})"


def _past_decorators(filename: str, lineno: int) -> int:
    """The line of the ``def`` under the decorators starting at ``lineno``."""
    text = linecache.getline(filename, lineno).strip()
    if not text.startswith("@"):
        return lineno
    for offset in range(1, 50):
        text = linecache.getline(filename, lineno + offset).strip()
        if not text:
            break
        if text.startswith(("def ", "async def ")):
            return lineno + offset
    return lineno


class Traceback(Value):
    """A failed call's error, its frames (innermost last) and its last log lines."""

    type_name = "redun.Traceback"

    def __init__(
        self, error: Any, frames: list[traceback.FrameSummary], logs: list[str] | None = None
    ) -> None:
        self.error = error
        self.frames = list(frames)
        self.logs: list[str] = list(logs or [])

    def __getstate__(self) -> dict:
        frames: list[traceback.FrameSummary] = []
        for frame in self.frames:
            if isinstance(frame, Frame):
                frames.append(frame)
            else:  # a plain FrameSummary keeps what pickling can carry
                frames.append(
                    traceback.FrameSummary(
                        frame.filename, frame.lineno, frame.name, lookup_line=False, line=frame.line
                    )
                )
        return {"error": self.error, "frames": frames, "logs": self.logs}

    def __setstate__(self, state: dict) -> None:
        self.error = state["error"]
        self.frames = state["frames"]
        self.logs = state["logs"]

    @classmethod
    def from_error(cls, error: BaseException, trim_frames: bool = True) -> Traceback:
        """The traceback of ``error`` (as raised), without the engine's frames if
        ``trim_frames``."""
        frames: list[traceback.FrameSummary] = list(traceback.extract_tb(error.__traceback__))
        if trim_frames:
            frames = cls.trim_frames(frames)
        return cls(error, frames)

    @classmethod
    def trim_frames(cls, frames: list[traceback.FrameSummary]) -> list[traceback.FrameSummary]:
        """The innermost frames, up to (not including) the first of the engine's own."""
        kept: list[traceback.FrameSummary] = []
        for frame in reversed(frames):
            if os.path.abspath(frame.filename).startswith(_ENGINE_PREFIXES):
                break
            kept.append(frame)
        kept.reverse()
        return kept

    def format(self) -> Iterator[str]:
        """The lines of the traceback, each ending in a newline but the error's."""
        for frame in self.frames:
            if isinstance(frame, Frame) and frame.job_id:
                yield (
                    f'  Job {frame.job_id[:8]}: File "{frame.filename}", '
                    f"line {frame.lineno}, in {frame.name}\n"
                )
            else:
                yield f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}\n'
            if frame.line:
                yield f"    {frame.line}\n"
            if frame.locals:
                width = max(map(len, frame.locals))
                for key, value in sorted(frame.locals.items()):
                    yield f"    {key.ljust(width)} = {value}\n"
        yield f"{type(self.error).__name__}: {self.error}"
        if self.logs:
            yield "\n\nLatest logs:\n"
            for line in self.logs:
                yield line if line.endswith("\n") else line + "\n"

    def text(self) -> str:
        """The whole traceback as Python prints one."""
        return "Traceback (most recent call last):\n" + "".join(self.format())

    def __repr__(self) -> str:
        return f"Traceback({self.error!r}, {len(self.frames)} frames)"
