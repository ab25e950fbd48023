"""What every object store (S3, GCS) shares: URLs, listings, globs, streams, errors.

An object store has buckets of objects named by keys; a "directory" is a key
prefix ending in ``/`` (``mkdir`` writes the usual empty ``dir/`` marker,
which listings skip). :class:`ObjectStoreFileSystem` implements the whole
:class:`~redun.file.FileSystem` interface on a dozen small primitives a back
end provides (head, list, read, put, delete, copy) plus one function that
sorts its SDK's errors into :class:`StoreErrorKind`; the back end's SDK is
imported on first use, never by ``import redun``.

An object is hashed by its :attr:`ObjectInfo.token`, what the store already
knows of its bytes (S3's ETag, GCS's MD5): no download, in either hash mode.

Errors are translated here, once for every store, into FileErrors naming the
URL: a missing bucket or object into
:class:`~redun.file.RedunFileNotFoundError`, refused access and missing
credentials into :class:`~redun.file.RedunPermissionError`, a request to slow
down into :class:`RedunThrottledError`.
"""

from __future__ import annotations

import abc
import enum
import errno as errno_codes
import io
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from shlex import quote
from typing import IO, Any

from redun.errors import FileError, UsageError
from redun.file.filesystem import (
    FileStat,
    FileSystem,
    RedunFileNotFoundError,
    RedunPermissionError,
    file_error,
    get_proto,
    missing_error,
    path_error,
)
from redun.hashing import hash_parts

# Writes are spooled in memory up to this size, then in a temporary file.
SPOOL_SIZE = 16 << 20
READ_BUFFER = 1 << 20

_GLOB_CHARS = re.compile(r"[*?\[]")


class RedunThrottledError(FileError):
    """The store asked us to slow down (S3 ``SlowDown``, GCS 429), after the SDK's retries."""


class StoreErrorKind(enum.Enum):
    """What an SDK error means, whatever the store."""

    NO_CREDENTIALS = "no credentials"
    NO_BUCKET = "no such bucket"
    NOT_FOUND = "not found"  # an object, or its bucket: the store does not say which
    NO_OBJECT = "no such object"
    DENIED = "access denied"
    THROTTLED = "throttled"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a HEAD or a listing says of one object."""

    url: str
    size: int
    mtime_ns: int
    """Last modification, in nanoseconds since the epoch (0 if the store did not say)."""
    token: str
    """What changes when the bytes do: S3's ETag, GCS's MD5 (or CRC32C and generation)."""


def split_url(path: str, label: str = "object store", scheme: str = "s3") -> tuple[str, str]:
    """Return ``(bucket, key)`` of ``scheme://bucket/key``.

    Raises:
        FileError: the URL names no bucket.
    """
    rest = path.split("://", 1)[1] if "://" in path else path
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise FileError(f"invalid {label} URL {path!r}: expected {scheme}://BUCKET/KEY")
    return bucket, key


def dir_prefix(key: str) -> str:
    """The listing prefix of a directory key (``""`` for a whole bucket)."""
    return key.rstrip("/") + "/" if key.strip("/") else ""


# -- streams ----------------------------------------------------------------------


class _Reader(io.RawIOBase):
    """A raw stream over an SDK's download stream, translating its errors."""

    def __init__(self, fs: ObjectStoreFileSystem, body: Any, path: str) -> None:
        self._fs = fs
        self._body = body
        self._path = path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._body.read(len(buffer))
        except Exception as exc:
            raise self._fs.store_error("read", self._path, exc) from exc
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                self._body.close()
            finally:
                super().close()


class _Upload(io.BufferedIOBase):
    """A write stream that uploads its bytes when closed (objects are written whole)."""

    def __init__(self, fs: ObjectStoreFileSystem, path: str, initial: bytes = b"") -> None:
        self._fs = fs
        self._path = path
        import tempfile

        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_SIZE)
        if initial:
            self._spool.write(initial)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError(f"write to closed stream {self._path!r}")
        return self._spool.write(data)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._spool.seek(0)
            bucket, key = self._fs.split_url(self._path)
            try:
                self._fs._put(bucket, key, self._spool)
            except Exception as exc:
                raise self._fs.store_error("write", self._path, exc) from exc
        finally:
            self._spool.close()
            super().close()


# -- globs over keys ------------------------------------------------------------------


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a glob over keys: ``*`` and ``?`` stay within one path segment,
    a ``**`` segment spans any number of them (including none)."""
    parts: list[str] = []
    segments = pattern.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            parts.append(".*" if last else "(?:[^/]*/)*")
            continue
        parts.append(_segment_regex(segment) + ("" if last else "/"))
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def _segment_regex(segment: str) -> str:
    out: list[str] = []
    i, n = 0, len(segment)
    while i < n:
        char = segment[i]
        i += 1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = i
            if end < n and segment[end] in "!^":
                end += 1
            if end < n and segment[end] == "]":
                end += 1
            while end < n and segment[end] != "]":
                end += 1
            if end >= n:
                out.append(re.escape(char))
                continue
            body = segment[i:end]
            i = end + 1
            if body[:1] in ("!", "^"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
        else:
            out.append(re.escape(char))
    return "".join(out)


# -- the file system --------------------------------------------------------------------


class ObjectStoreFileSystem(FileSystem):
    """The FileSystem interface over a back end's primitives (see the module docstring)."""

    label = "object store"
    """The store's name in messages (``S3``, ``GCS``)."""
    hash_label = "object"
    """Names what :attr:`ObjectInfo.token` is in a File's hash."""
    no_credentials = "no credentials found"
    """The missing-credentials error: what is missing and where credentials come from."""
    denied_hint = "check the credentials in use and the bucket's permissions"

    def __init__(self, *, quick: bool = False) -> None:
        """Args:
        quick: fail fast (few retries, short timeouts) rather than ride out
            throttling and outages as the SDK does by default: for pollers
            that back off on their own (the daemon's watches).
        """
        self.quick = quick
        self._lock = threading.Lock()
        self._client: Any = None
        self._pid = 0

    # -- the client (one per process: SDK clients do not survive a fork) ------------------

    @property
    def client(self) -> Any:
        """The SDK client of this process (created, and the SDK imported, on first use)."""
        client = self._client
        if client is None or self._pid != os.getpid():
            with self._lock:
                if self._client is None or self._pid != os.getpid():
                    self._client = self._make_client()
                    self._pid = os.getpid()
                client = self._client
        return client

    @abc.abstractmethod
    def _make_client(self) -> Any:
        """Import the SDK and build a client.

        Raises:
            FileError: the SDK is not installed, or has no credentials.
        """

    def reset_client(self) -> None:
        """Drop the client, so the next use builds one from the current environment."""
        with self._lock:
            self._client = None

    # -- the primitives a back end provides (they raise the SDK's own errors) ------------

    @abc.abstractmethod
    def classify_error(self, exc: BaseException) -> tuple[StoreErrorKind, str]:
        """Return what ``exc`` means and a short detail (its code and message)."""

    @abc.abstractmethod
    def _head(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object's metadata; None if the object (or its bucket) does not exist."""

    @abc.abstractmethod
    def _list(
        self, bucket: str, prefix: str, *, delimiter: bool = False
    ) -> tuple[list[ObjectInfo], list[str]]:
        """Every object whose key starts with ``prefix``, and (with ``delimiter``) the
        common prefixes one level down instead of what is below them."""

    @abc.abstractmethod
    def _any_below(self, bucket: str, prefix: str) -> bool:
        """Whether some object's key starts with ``prefix`` (False if no bucket)."""

    @abc.abstractmethod
    def _bucket_exists(self, bucket: str) -> bool:
        """Whether the bucket exists (asked only to explain a not-found error)."""

    @abc.abstractmethod
    def _read_stream(self, bucket: str, key: str) -> Any:
        """A stream (``read(n)``, ``close()``) over the object's bytes."""

    @abc.abstractmethod
    def _put(self, bucket: str, key: str, fileobj: IO[bytes]) -> None:
        """Write the object from a binary file object."""

    @abc.abstractmethod
    def _put_file(self, local: str, bucket: str, key: str) -> None:
        """Upload a local file (the SDK's parallel/multipart path)."""

    @abc.abstractmethod
    def _get_file(self, bucket: str, key: str, local: str) -> None:
        """Download the object into the local file ``local``."""

    @abc.abstractmethod
    def _delete(self, bucket: str, key: str) -> None:
        """Delete one object; a missing one is fine."""

    @abc.abstractmethod
    def _delete_many(self, bucket: str, keys: list[str]) -> None:
        """Delete these objects, in as few requests as the store allows."""

    @abc.abstractmethod
    def _copy_object(self, src_bucket: str, src_key: str, bucket: str, key: str) -> None:
        """Copy an object within the store (no bytes through this machine)."""

    @abc.abstractmethod
    def _renew(self, bucket: str, key: str) -> None:
        """Renew an existing object's modification time, keeping its bytes."""

    # -- shell commands (for scripts that stage inside their job) --------------------

    @abc.abstractmethod
    def _cli_copy(self, src: str, dest: str, recursive: bool) -> str:
        """The store's CLI copying ``src`` to ``dest`` (either may be ``-``: stdin/stdout)."""

    def shell_copy(
        self,
        src_path: str | None,
        dest_path: str | None,
        recursive: bool = False,
        as_mount: bool = False,
    ) -> str:
        protos = {get_proto(path) for path in (src_path, dest_path) if path}
        if not protos <= {"local", self.name}:
            from redun.file.filesystem import get_filesystem

            stores = [get_filesystem(path) for path in (src_path, dest_path) if path]
            if not recursive and len(stores) == 2:
                src_fs, dest_fs = stores
                if isinstance(src_fs, ObjectStoreFileSystem) and isinstance(
                    dest_fs, ObjectStoreFileSystem
                ):  # one store to another: a pipe between their CLIs
                    out = src_fs.shell_copy(src_path, None)
                    return f"({out}) | ({dest_fs.shell_copy(None, dest_path)})"
            return super().shell_copy(src_path, dest_path, recursive=recursive)
        if recursive and not (src_path and dest_path):
            raise UsageError("a recursive copy needs both a source and a destination path")
        if not (src_path or dest_path):
            raise UsageError("a copy needs a source or a destination path")
        return self._cli_copy(quote(src_path or "-"), quote(dest_path or "-"), recursive)

    # -- URLs and errors ----------------------------------------------------------------

    def split_url(self, path: str) -> tuple[str, str]:
        """Return ``(bucket, key)`` of a URL of this store."""
        return split_url(path, self.label, self.name)

    def url(self, bucket: str, key: str) -> str:
        return f"{self.name}://{bucket}/{key}"

    def store_error(self, action: str, path: str, exc: BaseException) -> FileError:
        """Translate an SDK error about ``path`` into a FileError naming it.

        Args:
            action: what was attempted, e.g. ``"read"``.
            path: the URL it was attempted on.
            exc: the error the SDK raised.
        """
        if isinstance(exc, FileError):
            return exc
        kind, detail = self.classify_error(exc)
        try:
            bucket = self.split_url(path)[0]
        except FileError:
            bucket = "?"
        if kind is StoreErrorKind.NOT_FOUND:
            try:
                found = self._bucket_exists(bucket)
            except Exception:
                found = True
            kind = StoreErrorKind.NO_OBJECT if found else StoreErrorKind.NO_BUCKET
        if kind is StoreErrorKind.NO_CREDENTIALS:
            return path_error(
                RedunPermissionError, action, path, self.no_credentials, errno=errno_codes.EACCES
            )
        if kind is StoreErrorKind.NO_BUCKET:
            reason = f"the bucket {bucket!r} does not exist"
            return path_error(
                RedunFileNotFoundError, action, path, reason, errno=errno_codes.ENOENT
            )
        if kind is StoreErrorKind.NO_OBJECT:
            return path_error(
                RedunFileNotFoundError, action, path, "no such object", errno=errno_codes.ENOENT
            )
        if kind is StoreErrorKind.DENIED:
            reason = f"access denied ({detail}); {self.denied_hint}"
            return path_error(RedunPermissionError, action, path, reason, errno=errno_codes.EACCES)
        if kind is StoreErrorKind.THROTTLED:
            reason = f"the store asks to slow down ({detail})"
            return path_error(RedunThrottledError, action, path, reason, errno=errno_codes.EAGAIN)
        return path_error(FileError, action, path, detail or f"{type(exc).__name__}: {exc}")

    def _missing(self, exc: BaseException) -> bool:
        kind = self.classify_error(exc)[0]
        return kind in (
            StoreErrorKind.NOT_FOUND,
            StoreErrorKind.NO_OBJECT,
            StoreErrorKind.NO_BUCKET,
        )

    # -- metadata, for hashing and for watches ------------------------------------------

    def head(self, path: str, action: str = "stat") -> ObjectInfo | None:
        """The metadata of the object at ``path``; None if there is none.

        Raises:
            FileError: the store refused or failed the request.
        """
        bucket, key = self.split_url(path)
        if not key:
            return None
        try:
            return self._head(bucket, key)
        except Exception as exc:
            if self._missing(exc):
                return None
            raise self.store_error(action, path, exc) from exc

    def list_objects(
        self, path: str, *, delimiter: bool = False, action: str = "list"
    ) -> tuple[list[ObjectInfo], list[str]]:
        """The objects below the prefix ``path`` names (``gs://b/dir/``: its contents).

        With ``delimiter``, only one level: objects directly below and the URLs
        of the "subdirectories" (ending in ``/``). A missing bucket lists nothing.

        Raises:
            FileError: the store refused or failed the request.
        """
        bucket, prefix = self.split_url(path)
        try:
            objects, prefixes = self._list(bucket, prefix, delimiter=delimiter)
        except Exception as exc:
            if self._missing(exc):
                return [], []
            raise self.store_error(action, path, exc) from exc
        return objects, [self.url(bucket, p) for p in prefixes]

    def _files_below(self, path: str, action: str = "list") -> list[ObjectInfo]:
        bucket, key = self.split_url(path)
        objects, _ = self.list_objects(self.url(bucket, dir_prefix(key)), action=action)
        return sorted((o for o in objects if not o.url.endswith("/")), key=lambda o: o.url)

    # -- queries ----------------------------------------------------------------------

    def exists(self, path: str) -> bool:
        return self.isfile(path) or self.isdir(path)

    def isfile(self, path: str) -> bool:
        return self.head(path) is not None

    def isdir(self, path: str) -> bool:
        bucket, key = self.split_url(path)
        try:
            return self._any_below(bucket, dir_prefix(key))
        except Exception as exc:
            if self._missing(exc):
                return False
            raise self.store_error("list", path, exc) from exc

    def stat(self, path: str) -> FileStat:
        info = self.head(path)
        if info is None:
            raise missing_error("stat", path, "no such object")
        return FileStat(size=info.size, mtime_ns=info.mtime_ns)

    def checksum(self, path: str) -> str:
        info = self.head(path, "read")
        if info is None:
            raise missing_error("read", path, "no such object")
        return info.token

    def get_hash(self, path: str, *, content: bool = False) -> str:
        # Both modes: the store's token already stands for the bytes.
        info = self.head(path, "hash")
        if info is None:
            return hash_parts("File", self.name, path, "missing")
        return self.token_hash(path, info.token)

    def token_hash(self, path: str, token: str) -> str:
        """The File hash of the object at ``path`` whose token is ``token``."""
        return hash_parts("File", self.name, path, self.hash_label, token)

    def glob(self, pattern: str) -> list[str]:
        bucket, key_pattern = self.split_url(pattern)
        match = _GLOB_CHARS.search(key_pattern)
        if match is None:
            return [pattern] if self.exists(pattern) else []
        regex = glob_regex(key_pattern)
        objects, _ = self.list_objects(
            self.url(bucket, key_pattern[: match.start()]), action="glob"
        )
        keys = (o.url[len(self.url(bucket, "")) :] for o in objects)
        return sorted(
            self.url(bucket, key) for key in keys if not key.endswith("/") and regex.match(key)
        )

    def glob_files(self, pattern: str) -> list[str]:
        if _GLOB_CHARS.search(self.split_url(pattern)[1]) is None:
            return [pattern] if self.isfile(pattern) else []
        return self.glob(pattern)

    def walk_files(self, path: str) -> list[str]:
        return [o.url for o in self._files_below(path)]

    def walk_file_hashes(self, path: str, *, content: bool = False) -> list[tuple[str, str]]:
        # One listing carries every object's token: no request per file.
        return [(o.url, self.token_hash(o.url, o.token)) for o in self._files_below(path)]

    # -- reading and writing ---------------------------------------------------------------

    def open(self, path: str, mode: str = "r", encoding: str | None = None, **kwargs: Any) -> IO:
        if "+" in mode:
            raise FileError(
                f"cannot open {path!r} in mode {mode!r}: {self.label} objects are read or "
                "written whole"
            )
        bucket, key = self.split_url(path)
        if not key:
            raise FileError(f"cannot open {path!r}: it names a bucket, not an object")
        stream: Any
        if "r" in mode:
            try:
                body = self._read_stream(bucket, key)
            except Exception as exc:
                raise self.store_error("read", path, exc) from exc
            stream = io.BufferedReader(_Reader(self, body, path), READ_BUFFER)
        elif "w" in mode or "a" in mode or "x" in mode:
            initial = b""
            if "x" in mode and self.isfile(path):
                raise path_error(FileError, "create", path, "the object exists (mode 'x')")
            if "a" in mode and self.isfile(path):
                with self.open(path, "rb") as existing:
                    initial = existing.read()
            stream = _Upload(self, path, initial)
        else:
            raise FileError(f"cannot open {path!r}: unknown mode {mode!r}")
        if "b" in mode:
            return stream
        return io.TextIOWrapper(stream, encoding=encoding or "utf-8", **kwargs)

    def remove(self, path: str) -> None:
        bucket, key = self.split_url(path)
        try:
            self._delete(bucket, key)
        except Exception as exc:
            if self._missing(exc) and self.classify_error(exc)[0] is not StoreErrorKind.NO_BUCKET:
                return
            raise self.store_error("remove", path, exc) from exc

    def touch(self, path: str, time: tuple[float, float] | None = None) -> None:
        if time is not None:
            raise FileError(f"cannot set the times of {path!r}: {self.label} sets them itself")
        bucket, key = self.split_url(path)
        exists = self.head(path, "touch") is not None
        try:
            if exists:
                self._renew(bucket, key)
            else:
                self._put(bucket, key, io.BytesIO(b""))
        except Exception as exc:
            raise self.store_error("touch", path, exc) from exc

    def mkdir(self, path: str) -> None:
        bucket, key = self.split_url(path)
        prefix = dir_prefix(key)
        if not prefix:
            return
        try:
            self._put(bucket, prefix, io.BytesIO(b""))
        except Exception as exc:
            raise self.store_error("create directory", path, exc) from exc

    def rmdir(self, path: str, recursive: bool = False) -> None:
        bucket, key = self.split_url(path)
        prefix = dir_prefix(key)
        objects, _ = self.list_objects(self.url(bucket, prefix))
        base = len(self.url(bucket, ""))
        keys = [o.url[base:] for o in objects]
        if not keys:
            return
        if not recursive and any(k != prefix for k in keys):
            raise path_error(
                FileError,
                "remove directory",
                path,
                "it is not empty; pass recursive=True to remove its contents",
                errno=errno_codes.ENOTEMPTY,
            )
        try:
            self._delete_many(bucket, keys)
        except Exception as exc:
            raise self.store_error("remove directory", path, exc) from exc

    def copy(self, src_path: str, dest_path: str) -> None:
        src_proto, dest_proto = get_proto(src_path), get_proto(dest_path)
        if src_path == dest_path:
            return
        if src_proto == dest_proto == self.name:
            src_bucket, src_key = self.split_url(src_path)
            bucket, key = self.split_url(dest_path)
            if self.head(src_path, "copy") is None:
                raise missing_error("copy", src_path, "no such object")
            try:
                self._copy_object(src_bucket, src_key, bucket, key)
            except Exception as exc:
                raise self.store_error(f"copy {src_path!r} to", dest_path, exc) from exc
        elif src_proto == self.name and dest_proto == "local":
            self._download(src_path, dest_path)
        elif src_proto == "local" and dest_proto == self.name:
            self._upload(src_path, dest_path)
        else:
            super().copy(src_path, dest_path)

    def _download(self, src_path: str, dest_path: str) -> None:
        from redun.file.local import _os_path

        bucket, key = self.split_url(src_path)
        local = _os_path(dest_path)
        parent = os.path.dirname(local)
        try:
            if parent:
                os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise file_error("copy to", dest_path, exc) from exc
        # Download next to the destination, then rename: no half-written file.
        import tempfile

        fd, partial = tempfile.mkstemp(dir=parent or ".", prefix=".redun-download-")
        os.close(fd)
        try:
            try:
                self._get_file(bucket, key, partial)
            except Exception as exc:
                if _local_os_error(exc):
                    raise file_error("copy to", dest_path, exc) from exc  # type: ignore[arg-type]
                raise self.store_error("copy", src_path, exc) from exc
            os.replace(partial, local)
        finally:
            if os.path.exists(partial):
                os.remove(partial)

    def _upload(self, src_path: str, dest_path: str) -> None:
        from redun.file.local import _os_path

        local = _os_path(src_path)
        if not os.path.isfile(local):
            raise missing_error("copy", src_path)
        bucket, key = self.split_url(dest_path)
        try:
            self._put_file(local, bucket, key)
        except Exception as exc:
            if _local_os_error(exc):
                raise file_error("copy", src_path, exc) from exc  # type: ignore[arg-type]
            raise self.store_error(f"copy {src_path!r} to", dest_path, exc) from exc


def _local_os_error(exc: BaseException) -> bool:
    # The operating system's own errors (disk full, permission): SDK network errors
    # also derive from OSError (requests' do) but are the store's.
    return isinstance(exc, OSError) and type(exc).__module__ == "builtins"


def batches(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    """``items`` in lists of at most ``size``."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
