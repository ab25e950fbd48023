"""GCP Batch tasks through the daemon: queued -> running -> done as clients see them, and a
run cancelled from a client deletes its Batch jobs (the fake BatchService on loopback, the
GCS emulator for the scratch)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("google.cloud.batch_v1")
pytest.importorskip("gcp_storage_emulator")

from tests.sdk.gcp.helpers import (
    assert_deleted_but_finished,  # noqa: E402
    gcp_project,  # noqa: E402
)
from tests.sdk.remote.helpers import processes_with, ran, wait_until  # noqa: E402

from .helpers import Daemon  # noqa: E402


@pytest.fixture
def gcp_daemon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_batch, gcs_scratch
) -> Iterator[tuple[Daemon, Path]]:
    monkeypatch.chdir(tmp_path)  # clients submit from the project
    log = gcp_project(tmp_path, fake_batch.endpoint)
    running = Daemon(tmp_path)  # its environment reaches the emulators
    running.env["MIX_LOG"] = str(log)
    fake_batch.env["MIX_LOG"] = str(log)  # the tasks' environment is the "image's"
    running.start()
    yield running, log
    running.stop()


def test_gcp_jobs_are_queued_then_running_then_done(gcp_daemon, fake_batch) -> None:
    daemon, log = gcp_daemon
    flag, marker = daemon.project / "flag", daemon.project / "marker"
    fake_batch.paused = True  # no capacity yet: the job waits in Batch's queue
    with daemon.client() as client:
        run = client.submit("flow.py", "wait_for", args={"flag": str(flag), "marker": str(marker)})

        wait_until(lambda: list(client.jobs(run.id, states=["queued"])), what="a queued job")
        [queued] = list(client.jobs(run.id, states=["queued"]))
        assert queued.task == "gflow.wait_for" and fake_batch.created
        fake_batch.paused = False
        wait_until(lambda: list(client.jobs(run.id, states=["running"])), what="a running job")
        wait_until(marker.exists, what="the task to start")
        assert ran(log) == ["wait_for"]
        flag.write_text("go")
        assert run.result(timeout=120) == "released"
        [done] = list(client.jobs(run.id, states=["done"], task="gflow.wait_for"))
        text = "".join(line.text for line in client.logs(done.id))
    assert "its live output is in Cloud Logging" in text  # where to look while it runs
    assert len(fake_batch.created) == 1


def test_cancelling_a_run_from_a_client_deletes_its_batch_jobs(gcp_daemon, fake_batch) -> None:
    daemon, _ = gcp_daemon
    tag = str(os.getpid() % 10000 + 5000)
    with daemon.client() as client:
        run = client.submit("flow.py", "sleepers", args={"tag": tag})
        wait_until(lambda: len(processes_with(f"sleep 31.{tag}")) == 2, what="both sleeps")
        assert client.cancel(run.id) >= 1
        wait_until(lambda: not processes_with(f"sleep 31.{tag}"), timeout=30, what="sleeps gone")
        wait_until(lambda: fake_batch.deleted, what="the job to be deleted")
        assert_deleted_but_finished(fake_batch)
        assert not fake_batch.running_pids()
        wait_until(
            lambda: client.execution(run.id).job_counts.cancelled >= 1, what="cancelled jobs"
        )
