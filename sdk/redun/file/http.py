"""``http://`` and ``https://`` files: read-only, hashed by what the server says.

``File("https://host/data.csv")`` can be read, copied and staged like any
file. Its hash is the server's ``ETag`` when it sends one, else its
``Last-Modified`` and ``Content-Length``; with neither, the content's digest.
So a workflow re-runs the steps that read a URL when the resource changes.
Writing, removing and listing are refused with a clear error. Only the
standard library is used (``urllib``).
"""

from __future__ import annotations

import email.utils
import hashlib
import io
import urllib.error
import urllib.request
from typing import IO, Any

from redun.errors import FileError
from redun.file.filesystem import (
    FileStat,
    FileSystem,
    RedunFileNotFoundError,
    missing_error,
    path_error,
)
from redun.hashing import hash_parts

TIMEOUT = 60.0  # seconds, per request


class HTTPFileSystem(FileSystem):
    """Read-only files served over HTTP(S)."""

    name = "http"
    protocols = ("https",)

    def _request(self, url: str, method: str) -> Any:
        request = urllib.request.Request(url, method=method)
        try:
            return urllib.request.urlopen(request, timeout=TIMEOUT)
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 410):
                raise missing_error("read", url, f"the server answered {exc.code}") from None
            raise path_error(FileError, "read", url, f"the server answered {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise path_error(
                FileError, "read", url, f"cannot reach the server ({reason})"
            ) from None

    def _head(self, url: str) -> dict[str, str]:
        with self._request(url, "HEAD") as response:
            return {key.lower(): value for key, value in response.headers.items()}

    def _read_only(self, action: str, path: str) -> FileError:
        return path_error(FileError, action, path, "http(s) files are read-only")

    def open(self, path: str, mode: str = "r", encoding: str | None = None, **kwargs: Any) -> IO:
        if any(flag in mode for flag in "wax+"):
            raise self._read_only("write", path)
        response = self._request(path, "GET")
        if "b" in mode:
            return response  # type: ignore[no-any-return]
        return io.TextIOWrapper(response, encoding=encoding or "utf-8")

    def exists(self, path: str) -> bool:
        try:
            self._head(path)
        except RedunFileNotFoundError:
            return False
        return True

    def isfile(self, path: str) -> bool:
        return self.exists(path)

    def isdir(self, path: str) -> bool:
        return False

    def remove(self, path: str) -> None:
        raise self._read_only("remove", path)

    def mkdir(self, path: str) -> None:
        raise self._read_only("make directory", path)

    def rmdir(self, path: str, recursive: bool = False) -> None:
        raise self._read_only("remove directory", path)

    def glob(self, pattern: str) -> list[str]:
        if any(char in pattern for char in "*?["):
            raise path_error(FileError, "glob", pattern, "http(s) servers cannot be listed")
        return [pattern] if self.exists(pattern) else []

    def walk_files(self, path: str) -> list[str]:
        return self.glob(path)

    def stat(self, path: str) -> FileStat:
        headers = self._head(path)
        size = int(headers.get("content-length") or 0)
        modified = headers.get("last-modified")
        mtime_ns = 0
        if modified:
            parsed = email.utils.parsedate_to_datetime(modified)
            mtime_ns = int(parsed.timestamp() * 1e9)
        return FileStat(size=size, mtime_ns=mtime_ns)

    def checksum(self, path: str) -> str:
        digest = hashlib.sha256()
        with self.open(path, "rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def get_hash(self, path: str, *, content: bool = False) -> str:
        """The ETag, else Last-Modified and length, else the content digest."""
        try:
            if content:
                return hash_parts("File", self.name, path, "content", self.checksum(path))
            headers = self._head(path)
        except RedunFileNotFoundError:
            return hash_parts("File", self.name, path, "missing")
        etag = headers.get("etag")
        if etag:
            return hash_parts("File", self.name, path, "etag", etag)
        modified = headers.get("last-modified")
        if modified:
            length = headers.get("content-length", "")
            return hash_parts("File", self.name, path, "modified", modified, length)
        return hash_parts("File", self.name, path, "content", self.checksum(path))
