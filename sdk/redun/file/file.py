"""``File``: a path whose hash says what state the file was in when it was recorded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from shlex import quote
from typing import IO, TYPE_CHECKING, Any

from redun.file.filesystem import FileStat, FileSystem, get_filesystem
from redun.file.hash_mode import resolve_content_hash, split_hash_argument
from redun.file.local import is_write_mode
from redun.value import Value

if TYPE_CHECKING:
    from redun.file.dir import Dir, FileSet
    from redun.file.staging import StagingDir, StagingFile

PathLike = str | os.PathLike

_LOCAL = get_filesystem(proto="local")


def _filesystem_for(path: str) -> FileSystem | None:
    # Plain local paths (the common case) skip URL parsing entirely.
    if "://" not in path:
        return _LOCAL
    return None


class FileClasses:
    """The family of classes a File, Dir or staging value makes more of.

    ``Dir.file()``, ``File.stage()`` and friends build new values through
    ``self.classes`` so that a subclass family (e.g. content-hashed files)
    stays within itself.
    """

    File: type[File]
    FileSet: type[FileSet]
    Dir: type[Dir]
    StagingFile: type[StagingFile]
    StagingDir: type[StagingDir]

    def __getattr__(self, attr: str) -> type:
        # Resolved on use: the classes live in modules that import this one.
        if attr == "File":
            return File
        if attr in ("FileSet", "Dir"):
            from redun.file import dir as dir_module

            return getattr(dir_module, attr)
        if attr in ("StagingFile", "StagingDir"):
            from redun.file import staging

            return getattr(staging, attr)
        raise AttributeError(attr)


class File(Value):
    """A file on a local or remote file system, hashed by its state.

    Construction is free of I/O. The hash is computed on first use and then
    kept: it is the *recorded* state, and :meth:`is_valid` tells whether the
    file still matches it. Writing through this object (``write``, ``open``
    for writing, ``touch``, ``copy_to``) records the new state.

    Args:
        path: a local path or a URL (``file://``; other schemes need their
            file system installed).
        hash: a hash recorded earlier, e.g. when loading a cached result; or
            ``"content"``/``"stat"`` to choose the hash mode (as ``content_hash``).
        content_hash: hash the bytes (True) or the size and mtime (False).
            Defaults to :func:`redun.file.get_default_hash_mode` as it is
            when the hash is first taken. Remote files
            (S3) always hash by the store's checksum/ETag.
    """

    type_basename = "File"
    type_name = "redun.File"
    classes = FileClasses()

    def __init__(
        self, path: PathLike, hash: str | None = None, *, content_hash: bool | None = None
    ) -> None:
        self.path: str = path if isinstance(path, str) else os.fspath(path)
        hash, content_hash = split_hash_argument(hash, content_hash)
        self._hash: str | None = hash
        # None: the default mode, resolved when the hash is first taken (so a
        # File made at import time follows the config loaded after it).
        self._content_hash: bool | None = content_hash
        self._filesystem = _filesystem_for(self.path)

    # -- identity ---------------------------------------------------------

    @property
    def content_hash(self) -> bool:
        """True if the file is hashed by its bytes, False if by size and mtime."""
        return resolve_content_hash(self._content_hash)

    @content_hash.setter
    def content_hash(self, value: bool | None) -> None:
        self._content_hash = value

    @property
    def filesystem(self) -> FileSystem:
        """The backend serving this path (resolved on first use)."""
        fs = self._filesystem
        if fs is None:
            fs = self._filesystem = get_filesystem(self.path)
        return fs

    @property
    def hash(self) -> str:
        """The recorded hash: computed on first access, then fixed until updated."""
        value = self._hash
        if value is None:
            value = self._hash = self._calc_hash()
        return value

    def _calc_hash(self) -> str:
        if self._content_hash is None:
            self._content_hash = resolve_content_hash(None)
        return self.filesystem.get_hash(self.path, content=self._content_hash)

    def get_hash(self, data: bytes | None = None) -> str:
        return self.hash

    def update_hash(self) -> None:
        """Record the file's current state as its hash."""
        self._hash = self._calc_hash()

    def is_valid(self) -> bool:
        """Return True if the file is still in its recorded state.

        A file whose hash was never recorded records it now and is valid.
        """
        if self._hash is None:
            self.update_hash()
            return True
        return self._hash == self._calc_hash()

    def iter_files(self) -> Iterator[str]:
        local = self.filesystem.local_path(self.path)
        if local is not None:
            yield local

    def __repr__(self) -> str:
        # No I/O: a File not yet hashed says so (and keeps its mode unresolved).
        recorded = self._hash[:8] if self._hash is not None else "unhashed"
        return f"{self.type_basename}(path={self.path}, hash={recorded})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, File)
        return self.path == other.path and self.hash == other.hash

    def __hash__(self) -> int:
        return hash((type(self).__qualname__, self.path))

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = {"path": self.path, "hash": self.hash}
        if self.content_hash:
            state["content_hash"] = True
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self._hash = state["hash"]
        self.content_hash = bool(state.get("content_hash", False))
        self._filesystem = _filesystem_for(self.path)

    # -- queries ----------------------------------------------------------

    def exists(self) -> bool:
        return self.filesystem.exists(self.path)

    def isfile(self) -> bool:
        return self.filesystem.isfile(self.path)

    def isdir(self) -> bool:
        return self.filesystem.isdir(self.path)

    def stat(self) -> FileStat:
        """Return the file's size and modification time.

        Raises:
            FileError: the file does not exist or cannot be examined.
        """
        return self.filesystem.stat(self.path)

    def size(self) -> int:
        """Return the file's size in bytes.

        Raises:
            FileError: the file does not exist or cannot be examined.
        """
        return self.filesystem.size(self.path)

    def basename(self) -> str:
        return os.path.basename(self.path)

    def dirname(self) -> str:
        return os.path.dirname(self.path)

    def shell_quote(self) -> str:
        """Return the path quoted for a POSIX shell."""
        return quote(self.path)

    # -- reading and writing ----------------------------------------------

    def open(self, mode: str = "r", encoding: str | None = None, **kwargs: Any) -> IO:
        """Open the file; a writing mode creates parent directories.

        When a stream opened for writing is closed, the file's new state is
        recorded as its hash.

        Raises:
            FileError: the file cannot be opened (e.g. it does not exist).
        """
        stream = self.filesystem.open(self.path, mode, encoding=encoding, **kwargs)
        if is_write_mode(mode):
            original_close = stream.close

            def close() -> None:
                original_close()
                # Restore the plain close so a second close does not re-hash.
                stream.close = original_close  # type: ignore[method-assign]
                self.update_hash()

            stream.close = close  # type: ignore[method-assign]
        return stream

    def read(self, mode: str = "r", encoding: str | None = None) -> Any:
        """Return the file's contents (``str``, or ``bytes`` with ``mode="rb"``)."""
        with self.open(mode, encoding=encoding) as infile:
            return infile.read()

    def readlines(self, mode: str = "r") -> list[Any]:
        """Return the file's lines."""
        with self.open(mode) as infile:
            return infile.readlines()

    def write(self, data: str | bytes, mode: str = "w", encoding: str | None = None) -> None:
        """Write ``data`` (bytes select binary mode), creating parent directories."""
        if isinstance(data, (bytes, bytearray, memoryview)) and "b" not in mode:
            mode += "b"
        with self.open(mode, encoding=encoding) as out:
            out.write(data)

    def touch(self, time: tuple[float, float] | None = None) -> None:
        """Create the file if missing, else set its times (now, or ``time``)."""
        self.filesystem.touch(self.path, time)
        self.update_hash()

    def remove(self) -> None:
        """Delete the file (a missing file is fine). The recorded hash is kept,
        so :meth:`is_valid` turns False."""
        self.filesystem.remove(self.path)

    def copy_to(self, dest_file: File | PathLike, skip_if_exists: bool = False) -> File:
        """Copy this file to ``dest_file`` (a File or a path) and return the destination.

        Raises:
            FileError: this file does not exist, or the destination cannot be written.
        """
        if not isinstance(dest_file, File):
            dest_file = self.classes.File(dest_file, content_hash=self._content_hash)
        if skip_if_exists and dest_file.exists():
            return dest_file
        if self.filesystem.local_path(self.path) is not None:
            # Uploads are the remote side's business (it knows multipart etc.).
            dest_file.filesystem.copy(self.path, dest_file.path)
        else:
            self.filesystem.copy(self.path, dest_file.path)
        dest_file.update_hash()
        return dest_file

    def shell_copy_to(self, dest_path: str | None, as_mount: bool = False) -> str:
        """Return a shell command copying this file to ``dest_path`` (None: stdout)."""
        return self.filesystem.shell_copy(self.path, dest_path, as_mount=as_mount)

    def stage(self, local: str | None = None) -> StagingFile:
        """Pair this (remote) file with a local path for a script to use.

        ``local`` defaults to this file's basename; a value ending in ``/`` is
        a directory to put that basename in.
        """
        if not local:
            local = self.basename()
        elif local.endswith("/"):
            local = os.path.join(local, self.basename())
        return self.classes.StagingFile(local, self)
