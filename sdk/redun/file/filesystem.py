"""The FileSystem seam: one small interface per storage backend, chosen by URL scheme.

``get_filesystem(url)`` maps ``/local/path`` and ``file://...`` to the local
file system. Backends for other schemes register themselves with
:func:`register_filesystem`, or lazily with :func:`register_lazy_filesystem`
so that e.g. boto3 loads only when an ``s3://`` path is first used (and
google-cloud-storage when a ``gs://`` one is).

Backends raise :class:`~redun.errors.FileError` (or the two subclasses below,
which are also the matching builtin ``OSError`` subclasses, so
``except FileNotFoundError`` keeps working) with the path in the message.
"""

from __future__ import annotations

import abc
import errno as errno_codes
import importlib
from dataclasses import dataclass
from shlex import quote
from typing import IO, Any

from redun.errors import FileError
from redun.hashing import hash_parts


class _PathError(FileError):
    # Keeps the message as written: OSError.__str__ would otherwise rebuild it
    # from errno/strerror/filename once ``filename`` is set.
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class RedunFileNotFoundError(_PathError, FileNotFoundError):
    """A file or directory that a read, copy or stat needed does not exist."""


class RedunPermissionError(_PathError, PermissionError):
    """The operating system refused access to a path."""


def _task_suffix() -> str:
    # Name the task whose code hit the error, when a job is running here.
    from redun.logs import get_current_task_name

    name = get_current_task_name()
    return f" (in task {name})" if name else ""


def path_error(
    cls: type[FileError], action: str, path: str, reason: str, *, errno: int | None = None
) -> FileError:
    """Build ``cls("cannot ACTION 'PATH': REASON (in task T)")`` with ``filename`` set.

    Args:
        cls: FileError or one of its subclasses.
        action: what was attempted, e.g. ``"read"`` or ``"copy to"``.
        path: the path or URL it was attempted on.
        reason: why it failed, and what to do about it.
        errno: the matching ``errno`` code, if any.
    """
    error = cls(f"cannot {action} {path!r}: {reason}{_task_suffix()}")
    error.errno = errno
    if isinstance(error, _PathError):
        error.filename = path
    return error


def file_error(action: str, path: str, exc: OSError, *, hint: str = "") -> FileError:
    """Translate ``exc`` into a FileError saying what failed on which path.

    Args:
        action: what was attempted, e.g. ``"read"`` or ``"copy to"``.
        path: the path it was attempted on.
        exc: the operating system's error.
        hint: appended to the message, e.g. what to do about it.
    """
    reason = exc.strerror or str(exc) or type(exc).__name__
    cls: type[FileError]
    if isinstance(exc, FileNotFoundError):
        cls = RedunFileNotFoundError
    elif isinstance(exc, PermissionError):
        cls = RedunPermissionError
    else:
        cls = FileError
    if exc.errno is None or not exc.strerror:
        return path_error(cls, action, path, reason + hint, errno=exc.errno)
    # The operating system's own words first, in the shape redun's messages have
    # ("[Errno 2] No such file or directory. PATH"): scripts that match on them
    # keep working; then what was being done.
    error = cls(
        f"[Errno {exc.errno}] {reason}. {path} (cannot {_on_it(action)}{hint}){_task_suffix()}"
    )
    error.errno = exc.errno
    if isinstance(error, _PathError):
        error.filename = path
    return error


def _on_it(action: str) -> str:
    """``action`` said of the path already named: "read it", "remove this directory"."""
    if action.endswith(" directory"):
        return action[: -len("directory")] + "this directory"
    verb, _, rest = action.partition(" for ")
    return f"{verb} it for {rest}" if rest else f"{action} it"


def missing_error(action: str, path: str, what: str = "no such file or directory") -> FileError:
    """A RedunFileNotFoundError for ``path`` without an OSError to translate."""
    return path_error(RedunFileNotFoundError, action, path, what, errno=errno_codes.ENOENT)


@dataclass(frozen=True)
class FileStat:
    """The metadata a file's fast hash is made of."""

    size: int
    """Size in bytes."""
    mtime_ns: int
    """Modification time, in nanoseconds since the epoch."""

    @property
    def mtime(self) -> float:
        """Modification time in seconds since the epoch."""
        return self.mtime_ns / 1e9


class FileSystem(abc.ABC):
    """One storage backend. Paths are full URLs or local paths, as the user wrote them."""

    name: str = "base"
    """The protocol name this backend registers as (``local``, ``s3``, ...)."""
    protocols: tuple[str, ...] = ()
    """Further URL schemes served by this backend."""

    @abc.abstractmethod
    def open(self, path: str, mode: str = "r", encoding: str | None = None, **kwargs: Any) -> IO:
        """Open a stream; writing modes create missing parent directories.

        Raises:
            FileError: the path cannot be opened (missing, permission, ...).
        """

    @abc.abstractmethod
    def exists(self, path: str) -> bool:
        """Return True if something exists at ``path``."""

    @abc.abstractmethod
    def isfile(self, path: str) -> bool:
        """Return True if ``path`` is a file."""

    @abc.abstractmethod
    def isdir(self, path: str) -> bool:
        """Return True if ``path`` is a directory."""

    @abc.abstractmethod
    def remove(self, path: str) -> None:
        """Delete the file at ``path``; a missing file is not an error."""

    @abc.abstractmethod
    def mkdir(self, path: str) -> None:
        """Create the directory ``path`` and its parents; an existing one is fine."""

    @abc.abstractmethod
    def rmdir(self, path: str, recursive: bool = False) -> None:
        """Remove the directory ``path`` (with its contents if ``recursive``).

        A missing directory is not an error; a non-empty one without
        ``recursive`` is.
        """

    @abc.abstractmethod
    def glob(self, pattern: str) -> list[str]:
        """Return the sorted paths matching ``pattern`` (``**`` recurses)."""

    @abc.abstractmethod
    def walk_files(self, path: str) -> list[str]:
        """Return the paths of all files below directory ``path``, sorted.

        A missing directory has no files.
        """

    @abc.abstractmethod
    def stat(self, path: str) -> FileStat:
        """Return the size and modification time of the file at ``path``.

        Raises:
            FileError: the file does not exist or cannot be examined.
        """

    @abc.abstractmethod
    def checksum(self, path: str) -> str:
        """Return a digest of the file's bytes (or the store's own checksum).

        Raises:
            FileError: the file does not exist or cannot be read.
        """

    def size(self, path: str) -> int:
        """Return the size of the file at ``path`` in bytes."""
        return self.stat(path).size

    def filesize(self, path: str) -> int:
        """Alias of :meth:`size` (the original redun's name)."""
        return self.size(path)

    def glob_files(self, pattern: str) -> list[str]:
        """Return the sorted paths of the *files* matching ``pattern``.

        Backends whose listings only hold files (object stores) override this
        to skip the per-path ``isfile`` check.
        """
        return [path for path in self.glob(pattern) if self.isfile(path)]

    def walk_file_hashes(self, path: str, *, content: bool = False) -> list[tuple[str, str]]:
        """Return ``(path, hash)`` for every file below directory ``path``, sorted.

        Each hash equals ``get_hash(file_path, content=content)``. Object stores
        override this to hash a whole listing in one round of requests.
        """
        return [(file, self.get_hash(file, content=content)) for file in self.walk_files(path)]

    def mtime(self, path: str) -> float:
        """Return the modification time of the file at ``path`` in seconds."""
        return self.stat(path).mtime

    def touch(self, path: str, time: tuple[float, float] | None = None) -> None:
        """Create an empty file at ``path``, or set its times if it exists."""
        if time is not None:
            raise FileError(f"cannot set the times of {path!r}: not supported by {self.name}")
        if not self.exists(path):
            self.open(path, "wb").close()

    def get_hash(self, path: str, *, content: bool = False) -> str:
        """Return the hash of the file at ``path``; a missing file has its own stable hash.

        Args:
            path: the file.
            content: hash the bytes rather than the metadata.
        """
        try:
            if content:
                return hash_parts("File", self.name, path, "content", self.checksum(path))
            stat = self.stat(path)
        except RedunFileNotFoundError:
            return hash_parts("File", self.name, path, "missing")
        return hash_parts("File", self.name, path, "stat", str(stat.size), str(stat.mtime_ns))

    def copy(self, src_path: str, dest_path: str) -> None:
        """Copy one file, streaming it; either side may be on another file system."""
        import shutil

        src_fs = get_filesystem(src_path)
        dest_fs = get_filesystem(dest_path)
        with src_fs.open(src_path, "rb") as infile, dest_fs.open(dest_path, "wb") as outfile:
            shutil.copyfileobj(infile, outfile, 1 << 20)

    def local_path(self, path: str) -> str | None:
        """Return the OS path of ``path`` if it is on this machine, else None."""
        return None

    def shell_copy(
        self,
        src_path: str | None,
        dest_path: str | None,
        recursive: bool = False,
        as_mount: bool = False,
    ) -> str:
        """Return a shell command copying ``src_path`` to ``dest_path``.

        Either may be None for stdin/stdout. Backends override this with
        their own tools; this default goes through the ``redun`` CLI.
        """
        if src_path and dest_path:
            if not recursive:
                piped = _piped_copy(src_path, dest_path)
                if piped:
                    return piped
            flag = "--recursive " if recursive else ""
            return f"redun fs cp {flag}{quote(src_path)} {quote(dest_path)}"
        raise FileError(
            f"{self.name} file system cannot render a copy from {src_path!r} to {dest_path!r}"
        )


def _piped_copy(src_path: str, dest_path: str) -> str | None:
    """``(read SRC to stdout) | (write stdin to DEST)`` with each side's own tool.

    None when either side has no streaming form (then ``redun fs cp`` copies).
    """
    try:
        src_fs, dest_fs = get_filesystem(src_path), get_filesystem(dest_path)
        if type(src_fs) is type(dest_fs):
            return None
        read = FileSystem.shell_copy is not type(src_fs).shell_copy and src_fs.shell_copy(
            src_path, None
        )
        write = FileSystem.shell_copy is not type(dest_fs).shell_copy and dest_fs.shell_copy(
            None, dest_path
        )
    except FileError:
        return None
    if not read or not write or "redun fs cp" in read + write:
        return None
    return f"({read}) | ({write})"


_filesystem_classes: dict[str, type[FileSystem]] = {}
_lazy_filesystems: dict[str, str] = {}
_instances: dict[type[FileSystem], FileSystem] = {}


def register_filesystem(cls: type[FileSystem]) -> type[FileSystem]:
    """Register ``cls`` for its ``name`` and ``protocols``; usable as a class decorator."""
    for proto in (cls.name, *cls.protocols):
        _filesystem_classes[proto] = cls
    return cls


def register_lazy_filesystem(proto: str, target: str) -> None:
    """Register a backend by ``"module:Class"``, imported when ``proto`` is first used."""
    _lazy_filesystems[proto] = target


def list_filesystems() -> list[type[FileSystem]]:
    """Return the registered (already imported) backend classes, the local one always."""
    if "local" not in _filesystem_classes:
        _load_filesystem_class("local", None)
    return list(dict.fromkeys(_filesystem_classes.values()))


def get_proto(url: str | None = None) -> str:
    """Return the protocol of ``url``: its scheme, or ``"local"`` for plain paths."""
    if not url:
        return "local"
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme or "/" in scheme:
        return "local"
    scheme = scheme.lower()
    return "local" if scheme == "file" else scheme


def get_filesystem(url: str | None = None, *, proto: str | None = None) -> FileSystem:
    """Return the (shared) backend for ``url``, or for the protocol ``proto``.

    Raises:
        FileError: no backend serves that scheme.
    """
    if proto is None:
        proto = get_proto(url)
    cls = _filesystem_classes.get(proto)
    if cls is None:
        cls = _load_filesystem_class(proto, url)
    instance = _instances.get(cls)
    if instance is None:
        instance = _instances.setdefault(cls, cls())
    return instance


def _load_filesystem_class(proto: str, url: str | None) -> type[FileSystem]:
    where = f" (path {url!r})" if url else ""
    target = _lazy_filesystems.get(proto)
    if target is None:
        known = ", ".join(sorted({*_filesystem_classes, *_lazy_filesystems}))
        raise FileError(f"no file system for scheme {proto!r}{where}; known: {known}")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise FileError(f"cannot load the {proto!r} file system{where}: {exc}") from exc
    cls = getattr(module, class_name)
    _filesystem_classes[proto] = cls
    return cls


def open_file(url: str, mode: str = "r", encoding: str | None = None, **kwargs: Any) -> IO:
    """Open a stream on any registered file system."""
    return get_filesystem(url).open(url, mode, encoding=encoding, **kwargs)


def glob_file(pattern: str) -> list[str]:
    """Return the sorted paths matching ``pattern`` (``**`` recurses)."""
    return get_filesystem(pattern).glob(pattern)


# Built-in backends load on first use: remote ones with their SDKs, and the local one
# too, so that reading [file] settings does not import every file module.
register_lazy_filesystem("local", "redun.file.local:LocalFileSystem")
register_lazy_filesystem("file", "redun.file.local:LocalFileSystem")
register_lazy_filesystem("s3", "redun.file.s3:S3FileSystem")
register_lazy_filesystem("http", "redun.file.http:HTTPFileSystem")
register_lazy_filesystem("https", "redun.file.http:HTTPFileSystem")
register_lazy_filesystem("gs", "redun.file.gcs:GCSFileSystem")
