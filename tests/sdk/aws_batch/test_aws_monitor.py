"""What AWS Batch's describe_jobs answers mean: pure functions on recorded responses."""

from __future__ import annotations

from redun.executors.aws_batch.monitor import (
    child_index,
    is_host_lost,
    log_stream,
    observe,
    parent_phase,
    summary_key,
)
from redun.executors.remote.states import Phase

QUEUE = "arn:aws:batch:us-east-1:123456789012:job-queue/genomics"


def job(status: str, **extra) -> dict:
    return {"jobId": "0f1e", "jobName": "redun-abc-12345678", "status": status, **extra}


def test_waiting_states_are_queued_and_running_is_running() -> None:
    for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING"):
        assert observe(job(status)).phase is Phase.QUEUED
    assert observe(job("RUNNING")).phase is Phase.RUNNING
    assert observe(job("SUCCEEDED")).phase is Phase.SUCCEEDED


def test_a_job_runnable_too_long_earns_one_stable_warning() -> None:
    waiting = job("RUNNABLE", jobQueue=QUEUE)
    assert observe(waiting, runnable_for=10, warn_after=900).reason == ""
    late = observe(waiting, runnable_for=901, warn_after=900)
    later = observe(waiting, runnable_for=5000, warn_after=900)
    assert late.phase is Phase.QUEUED and late.reason == later.reason  # noted once
    assert "RUNNABLE for more than 900 s: no compute environment of genomics" in late.reason
    assert observe(job("STARTING"), runnable_for=5000, warn_after=900).reason == ""


def test_a_lost_host_is_lost_and_a_failure_of_the_task_is_failed() -> None:
    spot = job(
        "FAILED",
        statusReason="Host EC2 (instance i-0abc) terminated.",
        container={"reason": "Task stopped", "exitCode": None},
    )
    observed = observe(spot)
    assert (
        observed.phase is Phase.LOST and "Host EC2 (instance i-0abc) terminated." in observed.reason
    )
    assert is_host_lost("Your Spot Task was interrupted.")
    failed = observe(
        job(
            "FAILED",
            statusReason="Essential container in task exited",
            container={"exitCode": 3},
        )
    )
    assert failed.phase is Phase.FAILED
    assert failed.reason == (
        "AWS Batch said: statusReason: Essential container in task exited; exit code 3"
    )
    timed_out = observe(
        job(
            "FAILED",
            statusReason="Job attempt duration exceeded timeout",
            timeout={"attemptDurationSeconds": 60},
        )
    )
    assert timed_out.phase is Phase.FAILED
    assert timed_out.reason.startswith("it ran longer than its timeout (60 s)")


def test_an_array_parent_is_never_final() -> None:
    parent = job(
        "PENDING",
        arrayProperties={"size": 3, "statusSummary": {"RUNNABLE": 3, "RUNNING": 0}},
    )
    assert parent_phase(parent) is Phase.QUEUED
    moved = job(
        "PENDING",
        arrayProperties={"size": 3, "statusSummary": {"RUNNABLE": 2, "FAILED": 1}},
    )
    assert parent_phase(moved) is Phase.RUNNING
    assert summary_key(parent) != summary_key(moved)
    assert parent_phase(job("FAILED", arrayProperties={"size": 3})) is Phase.RUNNING


def test_children_and_streams() -> None:
    child = {"jobId": "0f1e:7", "arrayProperties": {"index": 7}, "status": "RUNNING"}
    assert child_index(child) == 7
    assert child_index({"jobId": "0f1e:12"}) == 12
    assert child_index({"jobId": "0f1e"}) is None
    assert log_stream({"container": {"logStreamName": "redun-x/default/abc"}}) == (
        "redun-x/default/abc"
    )
    attempts = [{"container": {"logStreamName": "first"}}, {"container": {}}]
    assert log_stream({"attempts": attempts}) == "first"
    assert log_stream({}) == ""
