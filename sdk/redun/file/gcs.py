"""Google Cloud Storage (``gs://bucket/key``) through google-cloud-storage, imported on first use.

The primitives of :class:`~redun.file.objectstore.ObjectStoreFileSystem`
over the storage client, and the sorting of google-api-core's errors.

**Hashes.** An object's token is its MD5 (``md5:...``), a digest of its
bytes, so a rewrite of the same bytes keeps the hash (as S3's ETag does).
Composite objects have no MD5: their token is the CRC32C *and* the
generation (``crc32c:...:GEN``), since a 32-bit checksum alone is too weak to
stand for the bytes. Either way nothing is downloaded.

**Credentials** come from Application Default Credentials
(``GOOGLE_APPLICATION_CREDENTIALS``, ``gcloud auth application-default
login``, the metadata server); ``GOOGLE_CLOUD_PROJECT`` names the project if
one is wanted. ``STORAGE_EMULATOR_HOST=http://HOST:PORT`` points the client at
an emulator, without credentials.
"""

from __future__ import annotations

import os
import time
from typing import IO, Any

from redun.errors import FileError
from redun.file.objectstore import (
    ObjectInfo,
    ObjectStoreFileSystem,
    StoreErrorKind,
    batches,
)
from redun.file.objectstore import split_url as _split_url

BATCH_SIZE = 100  # requests in one JSON-API batch (GCS allows 100)
QUICK_TIMEOUT = 15.0  # seconds per request of a quick file system (no retries)
_THROTTLED = frozenset({429, 503})
_DENIED = frozenset({401, 403})


def split_url(path: str) -> tuple[str, str]:
    """Return ``(bucket, key)`` of ``gs://bucket/key``.

    Raises:
        FileError: the URL names no bucket.
    """
    return _split_url(path, "GCS", "gs")


def _status(exc: BaseException) -> int | None:
    """The HTTP status of a google-api-core or google-resumable-media error."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def classify(exc: BaseException) -> tuple[StoreErrorKind, str]:
    """What a google-cloud-storage error means, and its status and message."""
    kind = type(exc).__name__
    if kind == "DefaultCredentialsError":
        return StoreErrorKind.NO_CREDENTIALS, str(exc)
    if kind == "RefreshError":  # credentials that no longer work (revoked, expired)
        return StoreErrorKind.DENIED, f"credentials refused: {exc}"
    status = _status(exc)
    message = str(getattr(exc, "message", "") or exc).strip()
    detail = f"{status} {message}".strip() if status else f"{kind}: {message}"
    if status == 404:
        lowered = message.lower()
        if "bucket does not exist" in lowered:
            return StoreErrorKind.NO_BUCKET, detail
        if "no such object" in lowered:
            return StoreErrorKind.NO_OBJECT, detail
        return StoreErrorKind.NOT_FOUND, detail
    if status in _DENIED:
        return StoreErrorKind.DENIED, str(status)
    if status in _THROTTLED:
        return StoreErrorKind.THROTTLED, detail
    return StoreErrorKind.OTHER, detail


def object_token(blob: Any) -> str:
    """What stands for the bytes of a blob: its MD5, else its CRC32C and generation."""
    if blob.md5_hash:
        return f"md5:{blob.md5_hash}"
    return f"crc32c:{blob.crc32c or ''}:{blob.generation or ''}"


class GCSFileSystem(ObjectStoreFileSystem):
    """Objects in Google Cloud Storage (or its emulator: set ``STORAGE_EMULATOR_HOST``)."""

    name = "gs"
    label = "GCS"
    hash_label = "object"
    no_credentials = (
        "no Google Cloud credentials found; set GOOGLE_APPLICATION_CREDENTIALS to a service "
        "account key file, run 'gcloud auth application-default login', or run where a "
        "service account is attached"
    )
    denied_hint = "check the Google Cloud credentials in use and the bucket's IAM roles"

    def _make_client(self) -> Any:
        try:
            # (with google-cloud-batch's typed packages installed, mypy sees google.cloud
            # as theirs and misses storage, which ships no type information)
            from google.cloud import storage  # type: ignore[attr-defined]
        except ImportError as exc:
            raise FileError(
                "gs:// paths need google-cloud-storage, which is not installed: "
                "pip install 'redun[gcp]'"
            ) from exc
        # Object calls need no project; an explicit None keeps the client from
        # failing where credentials carry none.
        return storage.Client(project=os.environ.get("GOOGLE_CLOUD_PROJECT") or None)

    def classify_error(self, exc: BaseException) -> tuple[StoreErrorKind, str]:
        return classify(exc)

    @property
    def _call(self) -> dict[str, Any]:
        # Metadata calls of a quick file system: no retries (the caller backs off).
        return {"retry": None, "timeout": QUICK_TIMEOUT} if self.quick else {}

    def _info(self, blob: Any) -> ObjectInfo:
        updated = blob.updated
        mtime_ns = int(updated.timestamp() * 1_000_000_000) if updated is not None else 0
        return ObjectInfo(
            self.url(blob.bucket.name, blob.name), int(blob.size or 0), mtime_ns, object_token(blob)
        )

    def _head(self, bucket: str, key: str) -> ObjectInfo | None:
        blob = self.client.bucket(bucket).get_blob(key, **self._call)
        return None if blob is None else self._info(blob)

    def _list(
        self, bucket: str, prefix: str, *, delimiter: bool = False
    ) -> tuple[list[ObjectInfo], list[str]]:
        listing = self.client.list_blobs(
            bucket, prefix=prefix or None, delimiter="/" if delimiter else None, **self._call
        )
        objects = [self._info(blob) for blob in listing]  # pages through the whole listing
        return objects, sorted(listing.prefixes or ())

    def _any_below(self, bucket: str, prefix: str) -> bool:
        return any(True for _ in self.client.list_blobs(bucket, prefix=prefix, max_results=1))

    def _bucket_exists(self, bucket: str) -> bool:
        return bool(self.client.bucket(bucket).exists())

    def _not_found(self, bucket: str, key: str) -> Exception:
        from google.api_core.exceptions import NotFound

        return NotFound(f"{bucket}/{key}")

    def _read_stream(self, bucket: str, key: str) -> Any:
        blob = self.client.bucket(bucket).get_blob(key)
        if blob is None:
            raise self._not_found(bucket, key)
        # The generation just read is pinned: a concurrent rewrite cannot mix two versions.
        return blob.open("rb")

    def _put(self, bucket: str, key: str, fileobj: IO[bytes]) -> None:
        self.client.bucket(bucket).blob(key).upload_from_file(fileobj)

    def _put_file(self, local: str, bucket: str, key: str) -> None:
        self.client.bucket(bucket).blob(key).upload_from_filename(local)

    def _get_file(self, bucket: str, key: str, local: str) -> None:
        self.client.bucket(bucket).blob(key).download_to_filename(local)

    def _delete(self, bucket: str, key: str) -> None:
        self.client.bucket(bucket).delete_blob(key)

    def _delete_many(self, bucket: str, keys: list[str]) -> None:
        handle = self.client.bucket(bucket)
        for batch in batches(keys, BATCH_SIZE):
            try:
                with self.client.batch():
                    for key in batch:
                        handle.delete_blob(key)
            except Exception as exc:
                if not self._missing(exc):  # one gone meanwhile: it is deleted all the same
                    raise

    def _copy_object(self, src_bucket: str, src_key: str, bucket: str, key: str) -> None:
        source = self.client.bucket(src_bucket).blob(src_key)
        dest = self.client.bucket(bucket).blob(key)
        # A rewrite, not a copy: large objects between locations take several calls.
        token, _, _ = dest.rewrite(source)
        while token is not None:
            token, _, _ = dest.rewrite(source, token=token)

    def _renew(self, bucket: str, key: str) -> None:
        # A metadata patch moves ``updated`` and leaves the bytes (and the token) alone.
        blob = self.client.bucket(bucket).get_blob(key)
        if blob is None:
            raise self._not_found(bucket, key)
        blob.metadata = {**(blob.metadata or {}), "redun-touched": f"{time.time():.6f}"}
        blob.patch()

    def _cli_copy(self, src: str, dest: str, recursive: bool) -> str:
        # gsutil, as the original redun renders it (scripts may match on it).
        return f"gsutil cp {'-r ' if recursive else ''}{src} {dest}"
