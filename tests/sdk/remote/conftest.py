"""A file system that counts writes: a real local store under a scheme of its own."""

from __future__ import annotations

from typing import IO, Any

import pytest

from redun.file.filesystem import register_filesystem
from redun.file.local import LocalFileSystem, is_write_mode

PREFIX = "counting://"


class CountingFileSystem(LocalFileSystem):
    """``counting:///abs/path`` is ``/abs/path``; every open for writing is recorded."""

    name = "counting"
    protocols = ()
    writes: list[str] = []

    @staticmethod
    def _local(path: str) -> str:
        return path[len(PREFIX) :] if path.startswith(PREFIX) else path

    def open(self, path: str, mode: str = "r", encoding: str | None = None, **kwargs: Any) -> IO:
        if is_write_mode(mode):
            CountingFileSystem.writes.append(path)
        return super().open(self._local(path), mode, encoding, **kwargs)

    def exists(self, path: str) -> bool:
        return super().exists(self._local(path))

    def remove(self, path: str) -> None:
        super().remove(self._local(path))


register_filesystem(CountingFileSystem)


@pytest.fixture
def counting_root(tmp_path):
    """A scratch root URL on the counting file system, with the write log cleared."""
    CountingFileSystem.writes.clear()
    root = tmp_path / "scratch"
    root.mkdir()
    return f"{PREFIX}{root}"
