"""Watches on object stores end to end: a real daemon polls moto's S3 server and the GCS
emulator (both on loopback), and a changed object re-runs exactly its readers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("boto3")
pytest.importorskip("google.cloud.storage")

from tests.cloud import apply_env, aws_env, gcs_env  # noqa: E402

from .helpers import Daemon, write_workflow  # noqa: E402
from .watching import WatchEvents, replay_run  # noqa: E402

BUCKET = "watched"

FLOW = """
from redun import Dir, File, task

redun_namespace = "objw"


@task
def count(data: File) -> int:
    return len(data.read().split())


@task
def count_dir(data: Dir) -> int:
    return sum(len(f.read().split()) for f in data.files())


@task
def other(x: int) -> int:
    return x + 1


@task
def add(a: int, b: int, c: int, d: int) -> int:
    return a + b + c + d


@task
def main(
    s3_url: str = "s3://watched/in.txt",
    gs_url: str = "gs://watched/in.txt",
    gs_dir: str = "gs://watched/dir",
) -> int:
    return add(count(File(s3_url)), count(File(gs_url)), count_dir(Dir(gs_dir)), other(1))
"""

INI = """
[backend]
db_uri = sqlite:///${config_dir}/redun.db

[watch]
poll_interval = %s
"""


@pytest.fixture
def stores(gcs_emulator, moto_server, tmp_path, monkeypatch) -> Iterator[tuple[Any, Any]]:
    """A bucket in each store; yields (boto3 S3 client, GCS bucket)."""
    import boto3
    from google.cloud import storage

    apply_env(monkeypatch, aws_env(tmp_path, moto_server.url))
    apply_env(monkeypatch, gcs_env(gcs_emulator.url))
    gcs_emulator.wipe()
    s3 = boto3.client("s3")
    if BUCKET in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=obj["Key"])
    else:
        s3.create_bucket(Bucket=BUCKET)
    yield s3, storage.Client().create_bucket(BUCKET)


def start_daemon(project: Path, tmp_path: Path, stores_env: dict, interval: str) -> Daemon:
    project.mkdir(parents=True)
    write_workflow(project, "flow.py", FLOW)
    home = project / ".redun"
    home.mkdir()
    (home / "redun.ini").write_text(INI % interval)
    daemon = Daemon(project)
    apply_env(daemon.env, stores_env)
    daemon.start()
    return daemon


def finished_with(events: WatchEvents, result: str, start: int) -> dict[str, Any]:
    """The first run after ``start`` that ends with ``result`` (extra cached runs may come)."""
    _, finished = events.wait(
        lambda e: e["type"] == "execution_finished" and e.get("result") == result,
        start=start,
        timeout=60,
    )
    return finished


def settle(events: WatchEvents, flow: Path) -> None:
    """Edit a comment into ``flow`` and wait for the run that edit triggers to finish."""
    mark = events.mark()
    flow.write_text(flow.read_text() + "# settled\n")
    index, _ = events.wait(
        lambda e: e["type"] == "watch_triggered" and str(flow) in e["changed_paths"], start=mark
    )
    index, started = events.wait(lambda e: e["type"] == "execution_started", start=index)
    events.wait(
        lambda e: (
            e["type"] == "execution_finished" and e["execution_id"] == started["execution_id"]
        ),
        start=index,
    )


def watched_paths(client: Any, watch_id: str) -> set[str]:
    """The watch's paths once its last run's end is recorded (just after execution_finished)."""
    deadline = time.monotonic() + 30
    while True:
        [info] = [w for w in client.watches(include_paths=True) if w.id == watch_id]
        if info.last_status != 1 or time.monotonic() > deadline:  # 1: RUNNING
            return set(info.watched_paths)
        time.sleep(0.01)


def triggered_by(events: WatchEvents, url: str, start: int) -> dict[str, Any]:
    _, trigger = events.wait(
        lambda e: e["type"] == "watch_triggered" and url in e["changed_paths"],
        start=start,
        timeout=60,
    )
    return trigger


def test_a_watch_reruns_when_its_s3_or_gcs_inputs_change(
    stores, tmp_path, moto_server, gcs_emulator
) -> None:
    s3, gcs_bucket = stores
    s3.put_object(Bucket=BUCKET, Key="in.txt", Body=b"a b")
    gcs_bucket.blob("in.txt").upload_from_string(b"c d e")
    gcs_bucket.blob("dir/one.txt").upload_from_string(b"f")
    env = {**aws_env(tmp_path, moto_server.url), **gcs_env(gcs_emulator.url)}
    daemon = start_daemon(tmp_path / "proj", tmp_path, env, "0.2")
    client = daemon.client()
    try:
        info = client.watch("flow.py", "main", working_dir=str(daemon.project))
        first = replay_run(client, info.last_execution_id)
        assert first.finished["status"] == "done", first.finished
        assert first.finished["result"] == "8"  # 2 + 3 + 1 + 2
        events = WatchEvents(daemon.client(), info.id)
        assert {"s3://watched/in.txt", "gs://watched/in.txt", "gs://watched/dir/"} <= watched_paths(
            client, info.id
        )

        # Objects written this close to the first run count as fresh (a cached re-run may
        # follow it): settle on a run triggered by a source edit, after which the objects
        # are known, and only polling can see them change.
        settle(events, daemon.project / "flow.py")

        mark = events.mark()
        s3.put_object(Bucket=BUCKET, Key="in.txt", Body=b"a b x y")
        triggered_by(events, "s3://watched/in.txt", mark)
        finished = finished_with(events, "10", mark)
        run = replay_run(client, finished["execution_id"])
        assert "count" in run.ran and "other" not in run.ran and "count_dir" not in run.ran

        mark = events.mark()
        gcs_bucket.blob("in.txt").upload_from_string(b"c")
        triggered_by(events, "gs://watched/in.txt", mark)
        finished = finished_with(events, "8", mark)
        run = replay_run(client, finished["execution_id"])
        assert "count" in run.ran and "other" not in run.ran

        mark = events.mark()
        gcs_bucket.blob("dir/sub/two.txt").upload_from_string(b"g h")
        triggered_by(events, "gs://watched/dir/", mark)
        finished = finished_with(events, "10", mark)
        run = replay_run(client, finished["execution_id"])
        assert "count_dir" in run.ran and "count" not in run.ran
        events.close()
    finally:
        client.close()
        daemon.stop()


def test_a_watch_can_poll_faster_than_the_daemon(
    stores, tmp_path, moto_server, gcs_emulator
) -> None:
    s3, _ = stores
    s3.put_object(Bucket=BUCKET, Key="in.txt", Body=b"a")
    gcs = stores[1]
    gcs.blob("in.txt").upload_from_string(b"b")
    gcs.blob("dir/one.txt").upload_from_string(b"c")
    env = {**aws_env(tmp_path, moto_server.url), **gcs_env(gcs_emulator.url)}
    daemon = start_daemon(tmp_path / "proj", tmp_path, env, "3600")  # the daemon: hourly
    client = daemon.client()
    try:
        info = client.watch(
            "flow.py", "main", working_dir=str(daemon.project), options={"poll_interval": "0.2"}
        )
        assert replay_run(client, info.last_execution_id).finished["result"] == "5"
        events = WatchEvents(daemon.client(), info.id)
        settle(events, daemon.project / "flow.py")
        mark = events.mark()
        s3.put_object(Bucket=BUCKET, Key="in.txt", Body=b"a a a")
        triggered_by(events, "s3://watched/in.txt", mark)
        finished_with(events, "7", mark)
        events.close()
    finally:
        client.close()
        daemon.stop()


def test_objects_changed_while_the_daemon_was_down_rerun_at_start(
    stores, tmp_path, moto_server, gcs_emulator
) -> None:
    s3, gcs_bucket = stores
    s3.put_object(Bucket=BUCKET, Key="in.txt", Body=b"a")
    gcs_bucket.blob("in.txt").upload_from_string(b"b")
    gcs_bucket.blob("dir/one.txt").upload_from_string(b"c")
    env = {**aws_env(tmp_path, moto_server.url), **gcs_env(gcs_emulator.url)}
    daemon = start_daemon(tmp_path / "proj", tmp_path, env, "3600")  # only the restart sees it
    client = daemon.client()
    try:
        info = client.watch("flow.py", "main", working_dir=str(daemon.project))
        assert replay_run(client, info.last_execution_id).finished["result"] == "5"
        watched_paths(client, info.id)  # its end recorded
        client.close()
        assert daemon.stop().returncode == 0
        gcs_bucket.blob("dir/two.txt").upload_from_string(b"d e")
        daemon.start()
        client = daemon.client()
        events = WatchEvents(daemon.client(), info.id)
        finished_with(events, "7", 0)
        events.close()
    finally:
        client.close()
        daemon.stop()
