"""AWS Batch tasks through the daemon: queued -> running -> done as clients see them, with
the CloudWatch tail in the job's log, and a run cancelled from a client terminates its Batch
jobs (moto's server on loopback, its job runner replaced by local processes)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto.batch")

from tests.sdk.aws_batch.helpers import aws_project  # noqa: E402
from tests.sdk.remote.helpers import processes_with, ran, wait_until  # noqa: E402

from .helpers import Daemon  # noqa: E402


@pytest.fixture
def aws_daemon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_batch
) -> Iterator[tuple[Daemon, Path]]:
    monkeypatch.chdir(tmp_path)  # clients submit from the project
    log = aws_project(tmp_path)
    running = Daemon(tmp_path)  # its environment reaches moto
    running.env["MIX_LOG"] = str(log)
    moto_batch.env["MIX_LOG"] = str(log)  # the jobs' environment is the "image's"
    running.start()
    yield running, log
    running.stop()


def _terminated_jobs() -> list[dict]:
    import boto3

    client = boto3.client("batch")
    found = client.list_jobs(jobQueue="redun-test-queue", jobStatus="FAILED")["jobSummaryList"]
    return [job for job in found if "terminated by redun" in job.get("statusReason", "")]


def test_batch_jobs_are_queued_then_running_then_done(aws_daemon, moto_batch) -> None:
    daemon, log = aws_daemon
    flag, marker = daemon.project / "flag", daemon.project / "marker"
    moto_batch.paused = True  # no capacity yet: the job waits RUNNABLE in the queue
    with daemon.client() as client:
        run = client.submit("flow.py", "wait_for", args={"flag": str(flag), "marker": str(marker)})
        wait_until(lambda: list(client.jobs(run.id, states=["queued"])), what="a queued job")
        [queued] = list(client.jobs(run.id, states=["queued"]))
        assert queued.task == "aflow.wait_for" and not marker.exists()
        moto_batch.release()
        wait_until(lambda: list(client.jobs(run.id, states=["running"])), what="a running job")
        [running] = list(client.jobs(run.id, states=["running"]))
        # the CloudWatch tail reaches the job's log while it runs
        wait_until(
            lambda: "waiting for the flag" in "".join(x.text for x in client.logs(running.id)),
            what="the live log line",
        )
        assert ran(log) == ["wait_for"]
        flag.write_text("go")
        assert run.result(timeout=120) == "released"
        [done] = list(client.jobs(run.id, states=["done"], task="aflow.wait_for"))
        text = "".join(line.text for line in client.logs(done.id))
    assert text.count("waiting for the flag\n") == 1


def test_cancelling_a_run_from_a_client_terminates_its_batch_jobs(aws_daemon, moto_batch) -> None:
    daemon, _ = aws_daemon
    tag = str(os.getpid() % 10000 + 5000)
    with daemon.client() as client:
        run = client.submit("flow.py", "sleepers", args={"tag": tag})
        wait_until(lambda: len(processes_with(f"sleep 31.{tag}")) == 2, what="both sleeps")
        assert client.cancel(run.id) >= 1
        wait_until(lambda: not processes_with(f"sleep 31.{tag}"), timeout=30, what="sleeps gone")
        wait_until(lambda: not moto_batch.running_pids(), what="the job processes to go")
        wait_until(_terminated_jobs, what="the array job to be terminated")
        wait_until(
            lambda: client.execution(run.id).job_counts.cancelled >= 1, what="cancelled jobs"
        )


def test_redund_stop_terminates_batch_jobs(aws_daemon, moto_batch) -> None:
    daemon, _ = aws_daemon
    tag = str(os.getpid() % 10000 + 6000)
    with daemon.client() as client:
        client.submit("flow.py", "sleepers", args={"tag": tag})
        wait_until(lambda: len(processes_with(f"sleep 31.{tag}")) == 2, what="both sleeps")
    daemon.stop()
    wait_until(lambda: not moto_batch.running_pids(), timeout=30, what="the job processes to go")
    wait_until(_terminated_jobs, what="the array job to be terminated")
