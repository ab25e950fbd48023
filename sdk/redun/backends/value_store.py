"""The value store: large values as files named by their hash, outside the database.

A value whose pickle is larger than ``inline_max_bytes`` is written to
``<root>/<hash[:2]>/<hash[2:]>`` instead of into ``redun_value.data``; the
row keeps its type, size and preview and says ``location = 'store'``. The
pickle streams straight to a temporary file that is renamed into place, so a
1 GB result is written once and never held as one ``bytes`` object nor sent
through SQL. Files are immutable and named by content hash: two runs that
store the same value at once write the same bytes, and the rename is atomic.

``root`` is a local directory (default: ``values/`` next to a SQLite
database) or a URL served by :mod:`redun.file` (``s3://bucket/prefix``).
"""

from __future__ import annotations

import io
import os
import pickle
from typing import IO, Any

DEFAULT_INLINE_MAX_BYTES = 64 * 1024


class _SpillWriter(io.RawIOBase):
    """Collects bytes in memory up to ``limit``, then moves them to a file."""

    def __init__(self, limit: int, open_file: Any) -> None:
        self.limit = limit
        self._open_file = open_file
        self._buffer: list[bytes] = []
        self._size = 0
        self.file: IO[bytes] | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        size = len(data)
        if self.file is not None:
            self.file.write(data)
        else:
            self._buffer.append(bytes(data))
            if self._size + size > self.limit:
                self.file = self._open_file()
                for chunk in self._buffer:
                    self.file.write(chunk)
                self._buffer = []
        self._size += size
        return size

    @property
    def size(self) -> int:
        return self._size

    def getvalue(self) -> bytes:
        return b"".join(self._buffer)


class ValueStore:
    """Content-addressed pickles under a local directory.

    Args:
        root: the directory (created on first write).
        inline_max_bytes: values whose pickle is at most this large stay inline.
    """

    def __init__(self, root: str, inline_max_bytes: int = DEFAULT_INLINE_MAX_BYTES) -> None:
        self.root = root
        self.inline_max_bytes = inline_max_bytes

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"

    def path(self, value_hash: str) -> str:
        return os.path.join(self.root, value_hash[:2], value_hash[2:])

    def exists(self, value_hash: str) -> bool:
        return os.path.exists(self.path(value_hash))

    def size(self, value_hash: str) -> int | None:
        try:
            return os.path.getsize(self.path(value_hash))
        except OSError:
            return None

    def dump(self, value_hash: str, value: Any) -> tuple[bytes | None, int]:
        """Pickle ``value``: returns ``(data, size)`` when small, ``(None, size)`` when stored.

        Raises:
            pickle.PicklingError, TypeError, ...: the value cannot be pickled.
            OSError: the store cannot be written.
        """
        temp: list[str] = []

        def open_temp() -> IO[bytes]:
            directory = os.path.dirname(self.path(value_hash))
            os.makedirs(directory, exist_ok=True)
            import tempfile

            fd, name = tempfile.mkstemp(dir=directory, prefix=".tmp-")
            temp.append(name)
            return os.fdopen(fd, "wb")

        writer = _SpillWriter(self.inline_max_bytes, open_temp)
        try:
            pickle.dump(value, writer, protocol=pickle.HIGHEST_PROTOCOL)
            if writer.file is None:
                return writer.getvalue(), writer.size
            writer.file.flush()
            os.fsync(writer.file.fileno())
            writer.file.close()
            os.replace(temp[0], self.path(value_hash))
            temp.clear()
            return None, writer.size
        finally:
            if writer.file is not None and not writer.file.closed:
                writer.file.close()
            for name in temp:
                try:
                    os.unlink(name)
                except OSError:
                    pass

    def load(self, value_hash: str) -> Any:
        """Unpickle a stored value.

        Raises:
            FileNotFoundError: the store does not have it (e.g. another machine's store).
        """
        with open(self.path(value_hash), "rb") as handle:
            return pickle.load(handle)

    def read_bytes(self, value_hash: str) -> bytes:
        """The stored pickle itself (raises FileNotFoundError if absent)."""
        with open(self.path(value_hash), "rb") as handle:
            return handle.read()

    def put_bytes(self, value_hash: str, data: bytes) -> None:
        """Keep ``data`` (a pickle read from another store) under ``value_hash``.

        Raises:
            OSError: the store cannot be written.
        """
        import tempfile

        path = self.path(value_hash)
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(name, path)
        except BaseException:
            try:
                os.unlink(name)
            except OSError:
                pass
            raise

    def remove(self, value_hash: str) -> None:
        try:
            os.unlink(self.path(value_hash))
        except FileNotFoundError:
            pass


class UrlValueStore(ValueStore):
    """The same layout on any file system :mod:`redun.file` serves (``s3://...``)."""

    def _fs(self) -> Any:
        from redun.file import get_filesystem

        return get_filesystem(self.root)

    def path(self, value_hash: str) -> str:
        return f"{self.root.rstrip('/')}/{value_hash[:2]}/{value_hash[2:]}"

    def exists(self, value_hash: str) -> bool:
        return bool(self._fs().exists(self.path(value_hash)))

    def size(self, value_hash: str) -> int | None:
        try:
            return int(self._fs().size(self.path(value_hash)))
        except Exception:
            return None

    def dump(self, value_hash: str, value: Any) -> tuple[bytes | None, int]:
        fs = self._fs()
        path = self.path(value_hash)
        writer = _SpillWriter(self.inline_max_bytes, lambda: fs.open(path, "wb"))
        try:
            pickle.dump(value, writer, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:
            if writer.file is not None:
                writer.file.close()
                fs.remove(path)
            raise
        if writer.file is None:
            return writer.getvalue(), writer.size
        writer.file.close()
        return None, writer.size

    def load(self, value_hash: str) -> Any:
        fs = self._fs()
        path = self.path(value_hash)
        if not fs.exists(path):
            raise FileNotFoundError(path)
        with fs.open(path, "rb") as handle:
            return pickle.load(handle)

    def read_bytes(self, value_hash: str) -> bytes:
        fs = self._fs()
        path = self.path(value_hash)
        if not fs.exists(path):
            raise FileNotFoundError(path)
        with fs.open(path, "rb") as handle:
            return bytes(handle.read())

    def put_bytes(self, value_hash: str, data: bytes) -> None:
        with self._fs().open(self.path(value_hash), "wb") as handle:
            handle.write(data)

    def remove(self, value_hash: str) -> None:
        self._fs().remove(self.path(value_hash))


class InlineOnly(ValueStore):
    """No store: every value stays in the database (the default for server databases)."""

    def __init__(self) -> None:
        super().__init__("", inline_max_bytes=1 << 62)

    def exists(self, value_hash: str) -> bool:
        return False

    def size(self, value_hash: str) -> int | None:
        return None

    def dump(self, value_hash: str, value: Any) -> tuple[bytes | None, int]:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        return data, len(data)

    def load(self, value_hash: str) -> Any:
        raise FileNotFoundError(value_hash)

    def read_bytes(self, value_hash: str) -> bytes:
        raise FileNotFoundError(value_hash)

    def put_bytes(self, value_hash: str, data: bytes) -> None:
        raise OSError(f"no value store to keep value {value_hash[:12]} in")


def value_store_from_config(config: dict, sqlite_file: str | None) -> ValueStore:
    """The store ``[backend] value_store`` names; default ``values/`` beside a SQLite file.

    ``value_store = none`` keeps every value inline; ``inline_max_bytes`` sets the
    size above which values go to the store.
    """
    limit = int(config.get("inline_max_bytes", DEFAULT_INLINE_MAX_BYTES))
    root = config.get("value_store")
    if root is None:
        if sqlite_file is None:
            return InlineOnly()
        root = os.path.join(os.path.dirname(sqlite_file), "values")
    root = str(root).strip()
    if root.lower() in ("", "none", "off", "inline"):
        return InlineOnly()
    if "://" in root and not root.startswith("file://"):
        return UrlValueStore(root, limit)
    if root.startswith("file://"):
        root = root[len("file://") :]
    return ValueStore(os.path.abspath(os.path.expanduser(root)), limit)
