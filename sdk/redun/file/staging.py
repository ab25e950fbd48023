"""Staging: a remote File or Dir paired with the local path a script works on.

``stage()`` copies remote to local, ``unstage()`` local to remote; the
``render_*`` variants return the same copy as a shell command, for
``script()`` tasks that stage inside the job.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from redun.file.dir import Dir
from redun.file.file import File, FileClasses
from redun.hashing import hash_parts
from redun.value import Value

T = TypeVar("T", File, Dir)


class Staging(Value, Generic[T]):
    """A (local, remote) pair of Files or Dirs."""

    type_basename = "Staging"
    classes = FileClasses()
    local: T
    remote: T

    def _coerce(self, value: T | str) -> T:
        raise NotImplementedError

    def __init__(self, local: T | str, remote: T | str) -> None:
        self.local = self._coerce(local)
        self.remote = self._coerce(remote)

    def get_hash(self, data: bytes | None = None) -> str:
        return hash_parts(self.get_type_name(), self.local.path, self.remote.path)

    def iter_files(self) -> Iterator[str]:
        return self.remote.iter_files()

    def stage(self) -> T:
        """Copy remote to local; return the local value."""
        if self.local.path == self.remote.path:
            return self.local
        return self.remote.copy_to(self.local)  # type: ignore[arg-type,return-value]

    def unstage(self) -> T:
        """Copy local to remote; return the remote value."""
        if self.local.path == self.remote.path:
            return self.remote
        return self.local.copy_to(self.remote)  # type: ignore[arg-type,return-value]

    def render_stage(self, as_mount: bool = False) -> str:
        """Return a shell command copying remote to local ("" when they are the same)."""
        if self.local.path == self.remote.path:
            return ""
        return self.remote.shell_copy_to(self.local.path, as_mount=as_mount)

    def render_unstage(self, as_mount: bool = False) -> str:
        """Return a shell command copying local to remote ("" when they are the same)."""
        if self.local.path == self.remote.path:
            return ""
        return self.local.shell_copy_to(self.remote.path, as_mount=as_mount)

    def __repr__(self) -> str:
        return f"{self.type_basename}(local={self.local!r}, remote={self.remote!r})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Staging)
        return self.local == other.local and self.remote == other.remote

    def __hash__(self) -> int:
        return hash((type(self).__qualname__, self.local.path, self.remote.path))

    def __getstate__(self) -> dict[str, Any]:
        return {"local": self.local, "remote": self.remote}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.local = state["local"]
        self.remote = state["remote"]


class StagingFile(Staging[File]):
    """A remote File and the local path it is staged at."""

    type_basename = "StagingFile"
    type_name = "redun.StagingFile"
    classes = FileClasses()

    def _coerce(self, value: File | str) -> File:
        return value if isinstance(value, File) else self.classes.File(value)


class StagingDir(Staging[Dir]):
    """A remote Dir and the local path it is staged at."""

    type_basename = "StagingDir"
    type_name = "redun.StagingDir"
    classes = FileClasses()

    def _coerce(self, value: Dir | str) -> Dir:
        return value if isinstance(value, Dir) else self.classes.Dir(value)
