"""Amazon S3 (``s3://bucket/key``) through boto3, which is imported on first use.

Objects are hashed by their ETag (which changes whenever the bytes do), in
both hash modes: S3 already did the content digest. A "directory" is a key
prefix ending in ``/``; ``mkdir`` writes the usual empty ``dir/`` marker
object, which listings skip.

Every botocore error is translated here into a :class:`~redun.errors.FileError`
naming the URL: a missing object or bucket into
:class:`~redun.file.RedunFileNotFoundError`, a refused request (403,
bad credentials) into :class:`~redun.file.RedunPermissionError`.
"""

from __future__ import annotations

import errno as errno_codes
import io
import os
import re
import tempfile
import threading
from shlex import quote
from typing import IO, Any

from redun.errors import FileError
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

_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_DENIED_CODES = frozenset(
    {
        "403",
        "AccessDenied",
        "Forbidden",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "AccountProblem",
    }
)
_CODE_IN_MESSAGE = re.compile(r"An error occurred \(([^)]+)\)")
_GLOB_CHARS = re.compile(r"[*?\[]")


def split_url(path: str) -> tuple[str, str]:
    """Return ``(bucket, key)`` of ``s3://bucket/key``.

    Raises:
        FileError: the URL names no bucket.
    """
    rest = path.split("://", 1)[1] if "://" in path else path
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise FileError(f"invalid S3 URL {path!r}: expected s3://BUCKET/KEY")
    return bucket, key


def _error_code(exc: BaseException) -> tuple[str, str]:
    """Return (code, message) of a botocore ClientError or a boto3 transfer error."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        code = str(error.get("Code") or "")
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        if not code and status:
            code = str(status)
        return code, str(error.get("Message") or "")
    match = _CODE_IN_MESSAGE.search(str(exc))
    return (match.group(1) if match else ""), str(exc)


def s3_error(action: str, path: str, exc: BaseException) -> FileError:
    """Translate a boto3/botocore error about ``path`` into a FileError naming it.

    Args:
        action: what was attempted, e.g. ``"read"``.
        path: the ``s3://`` URL it was attempted on.
        exc: the error boto3 raised.
    """
    if isinstance(exc, FileError):
        return exc
    kind = type(exc).__name__
    if kind in ("NoCredentialsError", "PartialCredentialsError"):
        return path_error(
            RedunPermissionError,
            action,
            path,
            "no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE, or run where an IAM role is available",
            errno=errno_codes.EACCES,
        )
    code, message = _error_code(exc)
    if code == "NoSuchBucket":
        try:
            bucket = split_url(path)[0]
        except FileError:
            bucket = "?"
        return path_error(
            RedunFileNotFoundError,
            action,
            path,
            f"the bucket {bucket!r} does not exist",
            errno=errno_codes.ENOENT,
        )
    if code in _MISSING_CODES:
        return path_error(
            RedunFileNotFoundError, action, path, "no such object", errno=errno_codes.ENOENT
        )
    if code in _DENIED_CODES:
        return path_error(
            RedunPermissionError,
            action,
            path,
            f"access denied ({code}); check the AWS credentials in use and the bucket's policy",
            errno=errno_codes.EACCES,
        )
    detail = f"{code}: {message}" if code else f"{kind}: {exc}"
    return path_error(FileError, action, path, detail)


class _BodyReader(io.RawIOBase):
    """A raw stream over a botocore ``StreamingBody``."""

    def __init__(self, body: Any, path: str) -> None:
        self._body = body
        self._path = path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._body.read(len(buffer))
        except Exception as exc:
            raise s3_error("read", self._path, exc) from exc
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
    """A write stream that uploads its bytes to S3 when closed."""

    def __init__(self, fs: S3FileSystem, path: str, initial: bytes = b"") -> None:
        self._fs = fs
        self._path = path
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_SIZE)
        if initial:
            self._spool.write(initial)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError(f"write to closed S3 stream {self._path!r}")
        return self._spool.write(data)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._spool.seek(0)
            bucket, key = split_url(self._path)
            try:
                self._fs.client.upload_fileobj(self._spool, bucket, key)
            except Exception as exc:
                raise s3_error("write", self._path, exc) from exc
        finally:
            self._spool.close()
            super().close()


def _glob_regex(pattern: str) -> re.Pattern[str]:
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


class S3FileSystem(FileSystem):
    """Objects in Amazon S3 (or an S3-compatible store: set ``AWS_ENDPOINT_URL``)."""

    name = "s3"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: Any = None
        self._pid = 0

    # -- the client ----------------------------------------------------------

    @property
    def client(self) -> Any:
        """The boto3 S3 client of this process (created, and boto3 imported, on first use)."""
        client = self._client
        if client is None or self._pid != os.getpid():
            with self._lock:
                if self._client is None or self._pid != os.getpid():
                    self._client = self._make_client()
                    self._pid = os.getpid()
                client = self._client
        return client

    def _make_client(self) -> Any:
        try:
            import boto3
        except ImportError as exc:
            raise FileError(
                "s3:// paths need boto3, which is not installed: pip install 'redun[aws]'"
            ) from exc
        # A session of our own: boto3's default session is not thread-safe.
        return boto3.session.Session().client("s3")

    def reset_client(self) -> None:
        """Drop the client, so the next use builds one from the current environment."""
        with self._lock:
            self._client = None

    def _head(self, path: str, action: str = "stat") -> dict | None:
        """Return the object's metadata, or None if there is no such object."""
        bucket, key = split_url(path)
        if not key:
            return None
        try:
            return self.client.head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            code, _ = _error_code(exc)
            if code in _MISSING_CODES or code == "NoSuchBucket":
                return None
            raise s3_error(action, path, exc) from exc

    @staticmethod
    def _dir_prefix(key: str) -> str:
        return key.rstrip("/") + "/" if key.strip("/") else ""

    def _list(self, path: str, prefix: str, action: str = "list") -> list[dict]:
        bucket, _ = split_url(path)
        objects: list[dict] = []
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                objects.extend(page.get("Contents", ()))
        except FileError:
            raise
        except Exception as exc:
            raise s3_error(action, path, exc) from exc
        return objects

    # -- queries -------------------------------------------------------------

    def exists(self, path: str) -> bool:
        return self.isfile(path) or self.isdir(path)

    def isfile(self, path: str) -> bool:
        return self._head(path) is not None

    def isdir(self, path: str) -> bool:
        bucket, key = split_url(path)
        try:
            response = self.client.list_objects_v2(
                Bucket=bucket, Prefix=self._dir_prefix(key), MaxKeys=1
            )
        except Exception as exc:
            if _error_code(exc)[0] == "NoSuchBucket":
                return False
            raise s3_error("list", path, exc) from exc
        return bool(response.get("KeyCount") or response.get("Contents"))

    def stat(self, path: str) -> FileStat:
        head = self._head(path)
        if head is None:
            raise missing_error("stat", path, "no such object")
        modified = head.get("LastModified")
        mtime_ns = int(modified.timestamp() * 1_000_000_000) if modified is not None else 0
        return FileStat(size=int(head.get("ContentLength", 0)), mtime_ns=mtime_ns)

    def checksum(self, path: str) -> str:
        head = self._head(path, "read")
        if head is None:
            raise missing_error("read", path, "no such object")
        return str(head.get("ETag", "")).strip('"')

    def get_hash(self, path: str, *, content: bool = False) -> str:
        head = self._head(path, "hash")
        if head is None:
            return hash_parts("File", self.name, path, "missing")
        return self._etag_hash(path, str(head.get("ETag", "")))

    def _etag_hash(self, path: str, etag: str) -> str:
        return hash_parts("File", self.name, path, "etag", etag.strip('"'))

    def glob(self, pattern: str) -> list[str]:
        bucket, key_pattern = split_url(pattern)
        match = _GLOB_CHARS.search(key_pattern)
        if match is None:
            return [pattern] if self.exists(pattern) else []
        regex = _glob_regex(key_pattern)
        objects = self._list(pattern, key_pattern[: match.start()], "glob")
        return sorted(
            f"s3://{bucket}/{obj['Key']}"
            for obj in objects
            if not obj["Key"].endswith("/") and regex.match(obj["Key"])
        )

    def glob_files(self, pattern: str) -> list[str]:
        if _GLOB_CHARS.search(split_url(pattern)[1]) is None:
            return [pattern] if self.isfile(pattern) else []
        return self.glob(pattern)

    def walk_files(self, path: str) -> list[str]:
        bucket, key = split_url(path)
        objects = self._list(path, self._dir_prefix(key))
        return sorted(f"s3://{bucket}/{o['Key']}" for o in objects if not o["Key"].endswith("/"))

    def walk_file_hashes(self, path: str, *, content: bool = False) -> list[tuple[str, str]]:
        # One listing carries every ETag: no request per file.
        bucket, key = split_url(path)
        found = []
        for obj in self._list(path, self._dir_prefix(key)):
            if obj["Key"].endswith("/"):
                continue
            url = f"s3://{bucket}/{obj['Key']}"
            found.append((url, self._etag_hash(url, str(obj.get("ETag", "")))))
        found.sort()
        return found

    # -- reading and writing ---------------------------------------------------

    def open(self, path: str, mode: str = "r", encoding: str | None = None, **kwargs: Any) -> IO:
        if "+" in mode:
            raise FileError(
                f"cannot open {path!r} in mode {mode!r}: S3 objects are read or written whole"
            )
        binary = "b" in mode
        bucket, key = split_url(path)
        if not key:
            raise FileError(f"cannot open {path!r}: it names a bucket, not an object")
        stream: Any
        if "r" in mode:
            try:
                response = self.client.get_object(Bucket=bucket, Key=key)
            except Exception as exc:
                raise s3_error("read", path, exc) from exc
            stream = io.BufferedReader(_BodyReader(response["Body"], path), READ_BUFFER)
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
        if binary:
            return stream
        return io.TextIOWrapper(stream, encoding=encoding or "utf-8", **kwargs)

    def remove(self, path: str) -> None:
        bucket, key = split_url(path)
        try:
            self.client.delete_object(Bucket=bucket, Key=key)
        except Exception as exc:
            raise s3_error("remove", path, exc) from exc

    def touch(self, path: str, time: tuple[float, float] | None = None) -> None:
        if time is not None:
            raise FileError(f"cannot set the times of {path!r}: S3 sets them itself")
        bucket, key = split_url(path)
        head = self._head(path, "touch")
        try:
            if head is None:
                self.client.put_object(Bucket=bucket, Key=key, Body=b"")
            else:
                # Copying an object onto itself with new metadata renews LastModified.
                self.client.copy_object(
                    Bucket=bucket,
                    Key=key,
                    CopySource={"Bucket": bucket, "Key": key},
                    Metadata=head.get("Metadata") or {},
                    MetadataDirective="REPLACE",
                )
        except Exception as exc:
            raise s3_error("touch", path, exc) from exc

    def mkdir(self, path: str) -> None:
        bucket, key = split_url(path)
        prefix = self._dir_prefix(key)
        if not prefix:
            return
        try:
            self.client.put_object(Bucket=bucket, Key=prefix, Body=b"")
        except Exception as exc:
            raise s3_error("create directory", path, exc) from exc

    def rmdir(self, path: str, recursive: bool = False) -> None:
        bucket, key = split_url(path)
        prefix = self._dir_prefix(key)
        keys = [obj["Key"] for obj in self._list(path, prefix, "list")]
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
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            try:
                response = self.client.delete_objects(
                    Bucket=bucket, Delete={"Objects": batch, "Quiet": True}
                )
            except Exception as exc:
                raise s3_error("remove directory", path, exc) from exc
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise path_error(
                    FileError,
                    "remove",
                    f"s3://{bucket}/{first.get('Key', '')}",
                    f"{first.get('Code', '')}: {first.get('Message', '')}",
                )

    def copy(self, src_path: str, dest_path: str) -> None:
        src_proto, dest_proto = get_proto(src_path), get_proto(dest_path)
        if src_path == dest_path:
            return
        if src_proto == dest_proto == "s3":
            src_bucket, src_key = split_url(src_path)
            bucket, key = split_url(dest_path)
            if self._head(src_path, "copy") is None:
                raise missing_error("copy", src_path, "no such object")
            try:
                self.client.copy({"Bucket": src_bucket, "Key": src_key}, bucket, key)
            except Exception as exc:
                raise s3_error(f"copy {src_path!r} to", dest_path, exc) from exc
        elif src_proto == "s3" and dest_proto == "local":
            self._download(src_path, dest_path)
        elif src_proto == "local" and dest_proto == "s3":
            self._upload(src_path, dest_path)
        else:
            super().copy(src_path, dest_path)

    def _download(self, src_path: str, dest_path: str) -> None:
        from redun.file.local import _os_path

        bucket, key = split_url(src_path)
        local = _os_path(dest_path)
        parent = os.path.dirname(local)
        try:
            if parent:
                os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise file_error("copy to", dest_path, exc) from exc
        # Download next to the destination, then rename: no half-written file.
        fd, partial = tempfile.mkstemp(dir=parent or ".", prefix=".redun-download-")
        os.close(fd)
        try:
            try:
                self.client.download_file(bucket, key, partial)
            except OSError as exc:
                raise file_error("copy to", dest_path, exc) from exc
            except Exception as exc:
                raise s3_error("copy", src_path, exc) from exc
            os.replace(partial, local)
        finally:
            if os.path.exists(partial):
                os.remove(partial)

    def _upload(self, src_path: str, dest_path: str) -> None:
        from redun.file.local import _os_path

        local = _os_path(src_path)
        if not os.path.isfile(local):
            raise missing_error("copy", src_path)
        bucket, key = split_url(dest_path)
        try:
            self.client.upload_file(local, bucket, key)
        except OSError as exc:
            raise file_error("copy", src_path, exc) from exc
        except Exception as exc:
            raise s3_error(f"copy {src_path!r} to", dest_path, exc) from exc

    def shell_copy(
        self,
        src_path: str | None,
        dest_path: str | None,
        recursive: bool = False,
        as_mount: bool = False,
    ) -> str:
        protos = {get_proto(path) for path in (src_path, dest_path) if path}
        if not protos <= {"local", "s3"}:
            return super().shell_copy(src_path, dest_path, recursive=recursive)
        flags = "--no-progress --recursive" if recursive else "--no-progress"
        if src_path and dest_path:
            return f"aws s3 cp {flags} {quote(src_path)} {quote(dest_path)}"
        if recursive:
            raise FileError("a recursive copy needs both a source and a destination path")
        if src_path:
            return f"aws s3 cp {flags} {quote(src_path)} -"
        if dest_path:
            return f"aws s3 cp {flags} - {quote(dest_path)}"
        raise FileError("a copy needs a source or a destination path")
