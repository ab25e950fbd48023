"""``FileSet`` (the files matching a glob) and ``Dir`` (every file below a directory)."""

from __future__ import annotations

import glob as globlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from redun.errors import FileError
from redun.file.file import File, FileClasses, PathLike
from redun.file.filesystem import FileSystem, get_filesystem, missing_error
from redun.file.hash_mode import resolve_content_hash, split_hash_argument
from redun.hashing import hash_parts
from redun.value import Value

if TYPE_CHECKING:
    from redun.file.staging import StagingDir


# A directory with more files than this is recorded without its files (and its
# listing is not kept in memory): lineage then stops at the directory.
MAX_RECORDED_FILES = 100_000


class FileSet(Value):
    """The files matching a glob pattern (``**`` recurses), hashed together.

    Args:
        pattern: e.g. ``"data/**/*.csv"``.
        hash: a hash recorded earlier, or ``"content"``/``"stat"`` to choose the mode.
        content_hash: hash the files' bytes rather than their size and mtime.
    """

    type_basename = "FileSet"
    type_name = "redun.FileSet"
    classes = FileClasses()

    def __init__(
        self, pattern: PathLike, hash: str | None = None, *, content_hash: bool | None = None
    ) -> None:
        self.pattern: str = os.fspath(pattern)
        hash, content_hash = split_hash_argument(hash, content_hash)
        self._hash: str | None = hash
        # None: the default mode, resolved when the hash is first taken.
        self._content_hash: bool | None = content_hash
        self._filesystem: FileSystem | None = None

    @property
    def content_hash(self) -> bool:
        """True if the files are hashed by their bytes, False if by size and mtime."""
        return resolve_content_hash(self._content_hash)

    @content_hash.setter
    def content_hash(self, value: bool | None) -> None:
        self._content_hash = value

    def _fix_mode(self) -> bool:
        if self._content_hash is None:
            self._content_hash = resolve_content_hash(None)
        return self._content_hash

    @property
    def filesystem(self) -> FileSystem:
        fs = self._filesystem
        if fs is None:
            fs = self._filesystem = get_filesystem(self.pattern)
        return fs

    @property
    def hash(self) -> str:
        """The recorded hash: computed on first access, then fixed until updated."""
        value = self._hash
        if value is None:
            value = self._hash = self._calc_hash()
        return value

    def _calc_hash(self) -> str:
        self._fix_mode()
        return hash_parts(self.type_basename, self.pattern, *(f.hash for f in self.files()))

    def get_hash(self, data: bytes | None = None) -> str:
        return self.hash

    def update_hash(self) -> None:
        """Record the current state of the matching files as the hash."""
        self._hash = self._calc_hash()

    def is_valid(self) -> bool:
        """Return True if the same files match, each in its recorded state."""
        if self._hash is None:
            self.update_hash()
            return True
        return self._hash == self._calc_hash()

    def _file(self, path: str) -> File:
        return self.classes.File(path, content_hash=self._content_hash)

    def files(self) -> list[File]:
        """Return the files matching now, sorted by path."""
        return [self._file(path) for path in self.filesystem.glob_files(self.pattern)]

    def __iter__(self) -> Iterator[File]:
        return iter(self.files())

    def iter_files(self) -> Iterator[str]:
        for file in self.files():
            yield from file.iter_files()

    def __repr__(self) -> str:
        recorded = self._hash[:8] if self._hash is not None else "unhashed"
        return f"{self.type_basename}(pattern={self.pattern}, hash={recorded})"

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = {"pattern": self.pattern, "hash": self.hash}
        if self.content_hash:
            state["content_hash"] = True
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.pattern = state["pattern"]
        self._hash = state["hash"]
        self.content_hash = bool(state.get("content_hash", False))
        self._filesystem = None


class Dir(FileSet):
    """A directory: every file below it, recursively, hashed together.

    The hash covers each file's path relative to the directory and the file's
    own hash, so adding, removing, renaming or changing a file changes it.
    Hidden files count; symlinked subdirectories are not followed.

    Args:
        path: a local directory or a URL.
        hash: a hash recorded earlier, or ``"content"``/``"stat"`` to choose the mode.
        content_hash: hash the files' bytes rather than their size and mtime.
    """

    type_basename = "Dir"
    type_name = "redun.Dir"
    classes = FileClasses()

    def __init__(
        self, path: PathLike, hash: str | None = None, *, content_hash: bool | None = None
    ) -> None:
        path = os.fspath(path)
        self.path: str = path.rstrip("/") or path[:1]
        super().__init__(self.path + "/**", hash, content_hash=content_hash)
        # (hash, [(path, file hash), ...]) of the last listing hashed here: which
        # files a recorded hash stands for (see recorded_files); the list is None
        # past MAX_RECORDED_FILES. Never pickled.
        self._listing: tuple[str, list[tuple[str, str]] | None] | None = None

    def _calc_hash(self) -> str:
        if not self.filesystem.isdir(self.path):
            return hash_parts(self.type_basename, self.path, "missing")
        parts: list[str] = []
        listing = self.filesystem.walk_file_hashes(self.path, content=self._fix_mode())
        for path, digest in listing:
            parts += (self.rel_path(path), digest)
        value = hash_parts(self.type_basename, self.path, *parts)
        self._listing = (value, listing if len(listing) <= MAX_RECORDED_FILES else None)
        return value

    def recorded_files(self) -> list[File] | None:
        """The files below the directory as its hash records them (each with its own
        hash), or None when that is not known: it holds more than
        ``MAX_RECORDED_FILES`` files, or its hash was taken elsewhere (another
        process) and, listed again here, it no longer matches it (a local directory
        hashed by content is not read again for this: None). The store records these
        as the directory's subvalues, so a file's lineage leads to the job that
        returned the directory."""
        recorded = self.hash
        found = self._listing
        if found is None or found[0] != recorded:
            if self._fix_mode() and self.filesystem.local_path(self.path) is not None:
                return None
            try:
                if self._calc_hash() != recorded:
                    return None
            except Exception:  # gone, unreadable: its files are not known
                return None
            found = self._listing
            if found is None or found[0] != recorded:
                return None
        listing = found[1]
        if listing is None:
            return None
        make = self.classes.File
        mode = self._content_hash
        return [make(path, digest, content_hash=mode) for path, digest in listing]

    def files(self) -> list[File]:
        """Return every file below the directory now, sorted by path."""
        return [self._file(path) for path in self.filesystem.walk_files(self.path)]

    def glob(self, pattern: str) -> list[File]:
        """Return the files matching ``pattern`` relative to the directory, sorted."""
        # The directory's own name is literal, even if it holds "[" or "*".
        matches = self.filesystem.glob_files(f"{globlib.escape(self.path)}/{pattern}")
        return [self._file(path) for path in matches]

    def file(self, rel_path: str) -> File:
        """Return the File at ``rel_path`` inside the directory."""
        return self._file(f"{self.path}/{rel_path}" if self.path != "/" else f"/{rel_path}")

    def rel_path(self, path: str) -> str:
        """Return ``path`` relative to the directory."""
        prefix = self.path if self.path.endswith("/") else self.path + "/"
        if path.startswith(prefix):
            return path[len(prefix) :]
        return os.path.relpath(path, self.path)

    def exists(self) -> bool:
        return self.filesystem.isdir(self.path)

    def mkdir(self) -> None:
        """Create the directory (and parents), then record its state."""
        self.filesystem.mkdir(self.path)
        self.update_hash()

    def rmdir(self, recursive: bool = False) -> None:
        """Remove the directory (with its contents if ``recursive``), then record its state.

        Raises:
            FileError: it is not empty and ``recursive`` is False.
        """
        self.filesystem.rmdir(self.path, recursive)
        self.update_hash()

    def iter_files(self) -> Iterator[str]:
        for file in self.files():
            yield from file.iter_files()
        local = self.filesystem.local_path(self.path)
        if local is not None:
            yield local

    def copy_to(self, dest_dir: Dir | PathLike, skip_if_exists: bool = False) -> Dir:
        """Copy every file into ``dest_dir`` (a Dir or a path), keeping relative paths.

        Returns:
            The destination Dir, its new state recorded.

        Raises:
            FileError: this directory does not exist, or a copy failed.
        """
        if not isinstance(dest_dir, Dir):
            dest_dir = self.classes.Dir(dest_dir, content_hash=self._content_hash)
        if not self.exists():
            raise missing_error("copy directory", self.path, "no such directory")
        dest_dir.filesystem.mkdir(dest_dir.path)
        for src_file in self.files():
            src_file.copy_to(dest_dir.file(self.rel_path(src_file.path)), skip_if_exists)
        dest_dir.update_hash()
        return dest_dir

    def shell_copy_to(self, dest_path: str, as_mount: bool = False) -> str:
        """Return a shell command copying the directory's contents into ``dest_path``."""
        return self.filesystem.shell_copy(self.path, dest_path, recursive=True, as_mount=as_mount)

    def stage(self, local: str | None = None) -> StagingDir:
        """Pair this (remote) directory with a local path (default: its basename)."""
        if not local:
            local = os.path.basename(self.path)
            if not local:
                raise FileError(f"cannot stage {self.path!r} without a local path")
        return self.classes.StagingDir(local, self)

    def __repr__(self) -> str:
        recorded = self._hash[:8] if self._hash is not None else "unhashed"
        return f"{self.type_basename}(path={self.path}, hash={recorded})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Dir)
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
        self._listing = None
        super().__setstate__({**state, "pattern": self.path + "/**"})


def recorded_files_of(value: Any) -> list[File]:
    """The files a directory value stands for, as the store records them (see
    :meth:`Dir.recorded_files`); none for any other value or when not known."""
    recorded = getattr(value, "recorded_files", None)
    return (recorded() if recorded is not None else None) or []


def copy_file(src_path: str, dest_path: str, recursive: bool = False) -> None:
    """Copy a file (or with ``recursive``, a directory) between any file systems."""
    if recursive:
        Dir(src_path).copy_to(Dir(dest_path))
    else:
        File(src_path).copy_to(File(dest_path))
