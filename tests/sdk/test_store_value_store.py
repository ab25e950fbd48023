"""The value store: content-addressed files on disk or S3 (moto), streamed, never via SQL."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from redun import Scheduler, task
from redun.backends.queries import StoreReader
from redun.backends.value_store import (
    InlineOnly,
    UrlValueStore,
    ValueStore,
    value_store_from_config,
)
from redun.config import Config

redun_namespace = "test_value_store"


@task
def numbers(n: int) -> list:
    return list(range(n))


def test_small_values_stay_inline_and_large_ones_stream_to_disk(tmp_path: Path) -> None:
    store = ValueStore(str(tmp_path / "values"), inline_max_bytes=100)
    data, size = store.dump("ab" * 20, [1, 2, 3])
    assert data is not None and pickle.loads(data) == [1, 2, 3] and size == len(data)
    big = list(range(10_000))
    data, size = store.dump("cd" * 20, big)
    assert data is None and size == os.path.getsize(store.path("cd" * 20))
    assert store.exists("cd" * 20) and store.load("cd" * 20) == big
    # No temporary files are left behind.
    assert [p.name for p in (tmp_path / "values" / "cd").iterdir()] == ["cd" * 19]


def test_failed_pickle_leaves_no_partial_file(tmp_path: Path) -> None:
    class Bad:
        def __reduce__(self) -> object:
            raise TypeError("no")

    store = ValueStore(str(tmp_path / "values"), inline_max_bytes=10)
    with pytest.raises(TypeError):
        store.dump("ef" * 20, [list(range(100)), Bad()])
    assert not store.exists("ef" * 20)
    assert not any(p.is_file() for p in (tmp_path / "values").rglob("*"))


def test_configuration(tmp_path: Path) -> None:
    sqlite_file = str(tmp_path / ".redun" / "redun.db")
    default = value_store_from_config({}, sqlite_file)
    assert isinstance(default, ValueStore) and default.root == str(tmp_path / ".redun" / "values")
    assert isinstance(value_store_from_config({}, None), InlineOnly)  # servers: inline
    assert isinstance(value_store_from_config({"value_store": "none"}, sqlite_file), InlineOnly)
    custom = value_store_from_config(
        {"value_store": str(tmp_path / "elsewhere"), "inline_max_bytes": "5"}, None
    )
    assert custom.root == str(tmp_path / "elsewhere") and custom.inline_max_bytes == 5
    assert isinstance(value_store_from_config({"value_store": "s3://b/p"}, None), UrlValueStore)


@pytest.fixture
def s3_bucket(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    boto3 = pytest.importorskip("boto3")
    pytest.importorskip("moto")
    from moto import mock_aws

    from redun.file import get_filesystem

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    fs = get_filesystem(proto="s3")
    fs.reset_client()  # type: ignore[attr-defined]
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="redun-values")
        yield client
    fs.reset_client()  # type: ignore[attr-defined]


def test_values_in_s3(s3_bucket, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    backend = {
        "db_uri": f"sqlite:///{tmp_path}/redun.db",
        "value_store": "s3://redun-values/cache",
        "inline_max_bytes": "1000",
        "writer": "thread",  # moto lives in this process
    }
    assert Scheduler(config=Config({"backend": backend})).run(numbers(2000)) == list(range(2000))
    keys = [o["Key"] for o in s3_bucket.list_objects_v2(Bucket="redun-values")["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("cache/")
    again = Scheduler(config=Config({"backend": backend}))
    assert again.run(numbers(2000)) == list(range(2000))
    assert [job.cached for job in again.jobs()] == [True]
    reader = StoreReader(again.backend)
    job = reader.jobs_of_execution(reader.executions()[0].id)[0]
    value = reader.values([reader.call(job.call_hash).result_hash])
    assert next(iter(value.values())).location == "store"
