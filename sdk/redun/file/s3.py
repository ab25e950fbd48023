"""Amazon S3 (``s3://bucket/key``) through boto3, which is imported on first use.

The primitives of :class:`~redun.file.objectstore.ObjectStoreFileSystem`
over boto3's S3 client, and the sorting of botocore's errors. Objects are
hashed by their ETag (which changes whenever the bytes do).
"""

from __future__ import annotations

import re
from typing import IO, Any

from redun.errors import FileError
from redun.file.objectstore import (
    ObjectInfo,
    ObjectStoreFileSystem,
    StoreErrorKind,
    batches,
)
from redun.file.objectstore import split_url as _split_url

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
_THROTTLED_CODES = frozenset(
    {"SlowDown", "503", "Throttling", "ThrottlingException", "RequestLimitExceeded"}
)
_CODE_IN_MESSAGE = re.compile(r"An error occurred \(([^)]+)\)")


def split_url(path: str) -> tuple[str, str]:
    """Return ``(bucket, key)`` of ``s3://bucket/key``.

    Raises:
        FileError: the URL names no bucket.
    """
    return _split_url(path, "S3", "s3")


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


def classify(exc: BaseException) -> tuple[StoreErrorKind, str]:
    """What a boto3/botocore error means, and its code and message."""
    if type(exc).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
        return StoreErrorKind.NO_CREDENTIALS, str(exc)
    code, message = _error_code(exc)
    detail = f"{code}: {message}" if code and message else code
    if code == "NoSuchBucket":
        return StoreErrorKind.NO_BUCKET, detail
    if code in _MISSING_CODES:
        return StoreErrorKind.NO_OBJECT, detail
    if code in _DENIED_CODES:
        return StoreErrorKind.DENIED, code
    if code in _THROTTLED_CODES:
        return StoreErrorKind.THROTTLED, detail
    return StoreErrorKind.OTHER, detail or f"{type(exc).__name__}: {exc}"


def s3_error(action: str, path: str, exc: BaseException) -> FileError:
    """Translate a boto3/botocore error about ``path`` into a FileError naming it.

    Args:
        action: what was attempted, e.g. ``"read"``.
        path: the ``s3://`` URL it was attempted on.
        exc: the error boto3 raised.
    """
    from redun.file.filesystem import get_filesystem

    fs = get_filesystem(proto="s3")
    assert isinstance(fs, S3FileSystem)
    return fs.store_error(action, path, exc)


class S3FileSystem(ObjectStoreFileSystem):
    """Objects in Amazon S3 (or an S3-compatible store: set ``AWS_ENDPOINT_URL``)."""

    name = "s3"
    label = "S3"
    hash_label = "etag"
    no_credentials = (
        "no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run where an IAM "
        "role is available"
    )
    denied_hint = "check the AWS credentials in use and the bucket's policy"

    def _make_client(self) -> Any:
        try:
            import boto3
        except ImportError as exc:
            raise FileError(
                "s3:// paths need boto3, which is not installed: pip install 'redun[aws]'"
            ) from exc
        config = None
        if self.quick:
            from botocore.config import Config

            config = Config(
                retries={"max_attempts": 2, "mode": "standard"},
                connect_timeout=5,
                read_timeout=15,
            )
        # A session of our own: boto3's default session is not thread-safe.
        return boto3.session.Session().client("s3", config=config)

    def classify_error(self, exc: BaseException) -> tuple[StoreErrorKind, str]:
        return classify(exc)

    def _info(self, bucket: str, key: str, etag: Any, size: Any, modified: Any) -> ObjectInfo:
        mtime_ns = int(modified.timestamp() * 1_000_000_000) if modified is not None else 0
        return ObjectInfo(self.url(bucket, key), int(size or 0), mtime_ns, str(etag).strip('"'))

    def _head(self, bucket: str, key: str) -> ObjectInfo | None:
        head = self.client.head_object(Bucket=bucket, Key=key)
        return self._info(
            bucket, key, head.get("ETag", ""), head.get("ContentLength"), head.get("LastModified")
        )

    def _list(
        self, bucket: str, prefix: str, *, delimiter: bool = False
    ) -> tuple[list[ObjectInfo], list[str]]:
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        options: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if delimiter:
            options["Delimiter"] = "/"
        for page in self.client.get_paginator("list_objects_v2").paginate(**options):
            for obj in page.get("Contents", ()):
                objects.append(
                    self._info(
                        bucket, obj["Key"], obj.get("ETag", ""), obj.get("Size"),
                        obj.get("LastModified"),
                    )
                )  # fmt: skip
            prefixes.extend(p["Prefix"] for p in page.get("CommonPrefixes", ()))
        return objects, prefixes

    def _any_below(self, bucket: str, prefix: str) -> bool:
        response = self.client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        return bool(response.get("KeyCount") or response.get("Contents"))

    def _bucket_exists(self, bucket: str) -> bool:
        try:
            self.client.head_bucket(Bucket=bucket)
        except Exception as exc:
            if classify(exc)[0] in (StoreErrorKind.NO_BUCKET, StoreErrorKind.NO_OBJECT):
                return False
            raise
        return True

    def _read_stream(self, bucket: str, key: str) -> Any:
        return self.client.get_object(Bucket=bucket, Key=key)["Body"]

    def _put(self, bucket: str, key: str, fileobj: IO[bytes]) -> None:
        self.client.upload_fileobj(fileobj, bucket, key)

    def _put_file(self, local: str, bucket: str, key: str) -> None:
        self.client.upload_file(local, bucket, key)

    def _get_file(self, bucket: str, key: str, local: str) -> None:
        self.client.download_file(bucket, key, local)

    def _delete(self, bucket: str, key: str) -> None:
        self.client.delete_object(Bucket=bucket, Key=key)

    def _delete_many(self, bucket: str, keys: list[str]) -> None:
        for batch in batches(keys, 1000):
            response = self.client.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                url = self.url(bucket, first.get("Key", ""))
                raise FileError(
                    f"cannot remove {url!r}: {first.get('Code', '')}: {first.get('Message', '')}"
                )

    def _copy_object(self, src_bucket: str, src_key: str, bucket: str, key: str) -> None:
        self.client.copy({"Bucket": src_bucket, "Key": src_key}, bucket, key)

    def _renew(self, bucket: str, key: str) -> None:
        # Copying an object onto itself with new metadata renews LastModified.
        head = self.client.head_object(Bucket=bucket, Key=key)
        self.client.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": bucket, "Key": key},
            Metadata=head.get("Metadata") or {},
            MetadataDirective="REPLACE",
        )

    def _cli_copy(self, src: str, dest: str, recursive: bool) -> str:
        flags = "--no-progress --recursive" if recursive else "--no-progress"
        return f"aws s3 cp {flags} {src} {dest}"
