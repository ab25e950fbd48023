"""The object watcher's shell: real clients polling moto's S3 server and the GCS emulator."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pytest

pytest.importorskip("boto3")
pytest.importorskip("google.cloud.storage")

from redund.errors import StartError  # noqa: E402
from redund.objectwatch import ObjectWatcher, is_remote, poll_settings  # noqa: E402
from tests.cloud import RefusingEndpoint, apply_env, aws_env, gcs_env  # noqa: E402

BUCKET = "watched"


@pytest.fixture
def stores(gcs_emulator, moto_server, monkeypatch, tmp_path):
    """Both stores, wiped, each with a bucket; yields (boto3 S3 client, GCS bucket)."""
    import boto3
    from google.cloud import storage

    apply_env(monkeypatch, aws_env(tmp_path, moto_server.url))
    apply_env(monkeypatch, gcs_env(gcs_emulator.url))
    gcs_emulator.wipe()
    s3 = boto3.client("s3")
    for bucket in s3.list_buckets().get("Buckets", []):
        for obj in s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", []):
            s3.delete_object(Bucket=bucket["Name"], Key=obj["Key"])
        s3.delete_bucket(Bucket=bucket["Name"])
    s3.create_bucket(Bucket=BUCKET)
    yield s3, storage.Client().create_bucket(BUCKET)


async def until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


class Collector:
    def __init__(self) -> None:
        self.changes: dict = {}
        self.batches = 0

    def __call__(self, changes: dict) -> None:
        self.changes.update(changes)
        self.batches += 1


def test_is_remote_and_settings() -> None:
    assert is_remote("s3://b/k") and is_remote("GS://b/k") and not is_remote("/tmp/x")
    assert not is_remote("file:///tmp/x") and not is_remote("ftp://h/x")
    assert poll_settings({}) == (10.0, 300.0)
    assert poll_settings({"watch": {"poll_interval": "0.5", "poll_max_interval": "20"}}) == (
        0.5,
        20.0,
    )
    with pytest.raises(StartError, match=r"\[watch\] poll_interval must be a number .* 'often'"):
        poll_settings({"watch": {"poll_interval": "often"}})


def test_changes_in_both_stores_are_delivered(stores) -> None:
    s3, gcs_bucket = stores
    s3.put_object(Bucket=BUCKET, Key="in/a.txt", Body=b"1")
    gcs_bucket.blob("in/a.txt").upload_from_string(b"1")
    gcs_bucket.blob("dir/x.txt").upload_from_string(b"1")
    urls = [f"s3://{BUCKET}/in/a.txt", f"gs://{BUCKET}/in/a.txt", f"gs://{BUCKET}/dir/"]

    async def main() -> None:
        seen = Collector()
        watcher = ObjectWatcher(seen, interval=0.05)
        watcher.start()
        try:
            measured = await watcher.measure(urls)
            assert all(measured[url].fingerprint is not None for url in urls)
            watcher.set_paths(urls)
            s3.put_object(Bucket=BUCKET, Key="in/a.txt", Body=b"2")
            await until(lambda: urls[0] in seen.changes)
            gcs_bucket.blob("in/a.txt").upload_from_string(b"2")
            await until(lambda: urls[1] in seen.changes)
            gcs_bucket.blob("dir/sub/y.txt").upload_from_string(b"new")
            await until(lambda: urls[2] in seen.changes)
            assert seen.changes[urls[2]][0] == "dir"
            s3.delete_object(Bucket=BUCKET, Key="in/a.txt")
            await until(lambda: seen.changes[urls[0]] is None)
            before = seen.batches
            await asyncio.sleep(0.3)  # several rounds with nothing new: nothing delivered
            assert seen.batches == before
        finally:
            await watcher.close()

    asyncio.run(main())


def test_probe_sees_what_is_there_now(stores) -> None:
    s3, gcs_bucket = stores
    s3.put_object(Bucket=BUCKET, Key="p/x", Body=b"x")
    watcher = ObjectWatcher(Collector())
    found = watcher.probe([f"s3://{BUCKET}/p/x", f"s3://{BUCKET}/p", f"gs://{BUCKET}/none"])
    assert found[f"s3://{BUCKET}/p/x"].fingerprint[0] == "object"
    assert found[f"s3://{BUCKET}/p"].fingerprint[0] == "dir"  # a directory, learnt
    assert found[f"gs://{BUCKET}/none"].fingerprint is None
    assert found[f"s3://{BUCKET}/p/x"].mtime_ns > (time.time() - 3600) * 1e9


def test_throttling_backs_off_and_is_logged_once(monkeypatch, caplog) -> None:
    apply_env(monkeypatch, gcs_env(""))
    with RefusingEndpoint(429, "rate limit exceeded") as endpoint:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint.url)

        async def main() -> ObjectWatcher:
            watcher = ObjectWatcher(Collector(), interval=0.02, max_interval=0.08)
            watcher.start()
            try:
                watcher.set_paths(["gs://b/k"])
                await until(lambda: endpoint.hits >= 4)
                assert watcher.poller.backoff >= 4
                return watcher
            finally:
                await watcher.close()

        with caplog.at_level(logging.WARNING, logger="redund"):
            asyncio.run(main())
    warnings = [r.getMessage() for r in caplog.records if "polling" in r.getMessage()]
    assert len(warnings) == 1 and "slow down" in warnings[0] and "gs://b/k" in warnings[0]
