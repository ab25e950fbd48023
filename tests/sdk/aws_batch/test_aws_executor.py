"""The aws_batch executor in a scheduler: real boto3 clients against moto's server on
loopback (Batch, CloudWatch Logs, IAM, S3), whose job runner starts the real entrypoint as a
local process (tests/moto_batch.py)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto.batch")

from redun import Scheduler  # noqa: E402
from redun.config import Config  # noqa: E402
from redun.events import JobStateChanged, LogLine  # noqa: E402
from redun.workflow.loader import find_task, import_workflow  # noqa: E402
from tests.moto_batch import HOST_LOST  # noqa: E402
from tests.sdk.remote.helpers import wait_until  # noqa: E402

from .helpers import FLOW, IMAGE, aws_section  # noqa: E402


class Run:
    """A scheduler with a ``batch`` executor, and what its events said."""

    def __init__(self, tmp_path: Path, **extra: str) -> None:
        self.tmp_path = tmp_path
        code = tmp_path / "code"
        code.mkdir(exist_ok=True)
        (code / "aflow.py").write_text(FLOW)
        self.module = import_workflow(str(code / "aflow.py"))
        self.config = Config(
            {
                "executors.batch": aws_section(code, **extra),
                "executors.processes": {"type": "processes", "max_workers": "2"},
            }
        )
        self.scheduler = Scheduler(config=self.config)
        self.states: dict[str, list[str]] = {}
        self.logs: list[tuple[str, str, str]] = []
        self.scheduler.events.subscribe(self._record)

    def _record(self, event) -> None:
        if isinstance(event, JobStateChanged):
            self.states.setdefault(event.job_id, []).append(event.state)
        elif isinstance(event, LogLine):
            self.logs.append((event.job_id, event.stream, event.text))

    def run(self, name: str, *args, **options):
        task = find_task(self.module, name, "aflow")
        if options:
            task = task.options(**options)
        return self.scheduler.run(task(*args))

    def start(self, name: str, *args, **options) -> tuple[threading.Thread, dict]:
        outcome: dict = {}

        def go() -> None:
            try:
                outcome["value"] = self.run(name, *args, **options)
            except BaseException as error:  # noqa: BLE001 - handed to the test
                outcome["error"] = error

        thread = threading.Thread(target=go, daemon=True)
        thread.start()
        return thread, outcome

    @property
    def backend(self):
        return self.scheduler.executors["batch"].backend

    def output(self) -> str:
        return "".join(text for _, _, text in self.logs)


def batch_client():
    import boto3

    return boto3.client("batch")


def all_jobs() -> list[dict]:
    client = batch_client()
    ids: list[str] = []
    for status in (
        "SUBMITTED",
        "PENDING",
        "RUNNABLE",
        "STARTING",
        "RUNNING",
        "SUCCEEDED",
        "FAILED",
    ):
        for page in client.get_paginator("list_jobs").paginate(
            jobQueue="redun-test-queue", jobStatus=status
        ):
            ids += [j["jobId"] for j in page["jobSummaryList"] if ":" not in j["jobId"]]
    jobs: list[dict] = []
    for start in range(0, len(ids), 100):
        jobs += client.describe_jobs(jobs=ids[start : start + 100])["jobs"]
    return jobs


@pytest.fixture
def run(tmp_path: Path, moto_batch) -> Iterator[Run]:
    started = Run(tmp_path)
    yield started
    started.scheduler.stop()


def test_one_call_is_one_batch_job(run: Run, moto_batch) -> None:
    value, pid, index = run.run("square", 7)
    assert (value, index) == (49, None) and pid != os.getpid()
    [job_states] = run.states.values()
    assert job_states == ["pending", "queued", "running", "done"]
    assert run.output().count("squaring 7\n") == 1
    [job] = all_jobs()
    assert job["status"] == "SUCCEEDED" and "arrayProperties" not in job
    assert job["tags"]["redun-run"] == run.scheduler.execution.id
    assert job["tags"]["redun-task"] == "aflow.square"
    assert job["jobName"] == f"redun-{job['tags']['redun-key']}-{job['tags']['redun-token'][:8]}"
    assert job["timeout"] == {"attemptDurationSeconds": 600}
    definition = batch_client().describe_job_definitions(jobDefinitions=[job["jobDefinition"]])[
        "jobDefinitions"
    ][0]
    assert definition["containerProperties"]["image"] == IMAGE
    assert definition["containerProperties"]["jobRoleArn"].endswith(":role/redun-job")
    calls = run.backend.calls
    assert calls["submit_job"] == 1 and calls["register_job_definition"] == 1
    # a second call reuses the definition without asking AWS again
    run.run("square", 8)
    assert calls["register_job_definition"] == 1 and calls["describe_job_definitions"] == 1


def test_a_fan_out_is_one_array_job(run: Run, moto_batch) -> None:
    assert run.run("fan", 12) == [i * i for i in range(12)]
    [job] = all_jobs()
    assert job["arrayProperties"]["size"] == 12
    # each element ran as the child of its own index
    indexes = sorted(int(i.rsplit(":", 1)[1]) for i in moto_batch.finished)
    assert indexes == list(range(12))
    assert all(i.startswith(job["jobId"] + ":") for i in moto_batch.finished)
    assert run.backend.calls["submit_job"] == 1


def test_a_failing_task_brings_its_traceback_and_log(run: Run, moto_batch) -> None:
    with pytest.raises(ValueError, match="cannot take 3") as caught:
        run.run("fail", 3, retries=2)
    text = caught.value.__redun_traceback__
    assert "(task aflow.fail)" in text
    assert 'raise ValueError(f"cannot take {x}")' in text
    assert run.output().count("failing 3 soon\n") == 1  # from the CloudWatch tail, once
    [job] = all_jobs()  # the task's own failure: not retried
    assert job["status"] == "FAILED"
    assert run.backend.calls["submit_job"] == 1


def test_a_mixed_workflow_runs_local_processes_and_batch_tasks(
    run: Run, moto_batch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "mix.log"
    monkeypatch.setenv("MIX_LOG", str(log))
    assert run.run("mixed", 3) == (0 + 1 + 4) - (0 + 1 + 2)
    assert sorted(log.read_text().split()) == sorted(
        ["square"] * 3 + ["neg"] * 3 + ["add"] * 3 + ["total"]
    )
    sizes = sorted(job["arrayProperties"]["size"] for job in all_jobs())
    assert sizes == [3, 3]  # square's three calls are one array job, neg's another
    log.unlink()
    assert run.run("mixed", 3) == 2  # all cached: nothing is submitted again
    assert not log.exists() and run.backend.calls["submit_job"] == 2


def test_live_output_reaches_the_job_while_it_runs(run: Run, moto_batch) -> None:
    flag, marker = run.tmp_path / "flag", run.tmp_path / "marker"
    thread, outcome = run.start("wait_for", str(flag), str(marker))
    try:
        wait_until(lambda: "waiting for the flag\n" in run.output(), what="a live line")
        [states] = run.states.values()
        assert states[-1] == "running"
    finally:
        flag.write_text("go")
        thread.join(timeout=60)
    assert outcome.get("value") == "released", outcome
    assert run.output().count("waiting for the flag\n") == 1


def test_cancelling_terminates_the_batch_jobs(run: Run, moto_batch) -> None:
    flag, marker = run.tmp_path / "never", run.tmp_path / "marker"
    thread, outcome = run.start("waiters", str(flag), str(marker), 3)
    wait_until(lambda: len(moto_batch.running_pids()) == 3, what="three running children")
    pids = moto_batch.running_pids()
    run.scheduler.cancel()
    thread.join(timeout=60)
    assert not thread.is_alive() and "value" not in outcome, outcome
    wait_until(lambda: not moto_batch.running_pids(), what="the processes to go")
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    [parent] = all_jobs()
    children = batch_client().describe_jobs(jobs=[f"{parent['jobId']}:{i}" for i in range(3)])
    for child in children["jobs"]:
        assert child["status"] == "FAILED"
        assert child["statusReason"].startswith("terminated by redun")
    assert run.backend.calls["terminate_job"] == 1  # the parent takes its children along


def test_a_spot_reclaim_is_retried_and_user_failures_are_not(run: Run, moto_batch) -> None:
    moto_batch.reclaim.add(1)  # the child of index 1 loses its host once
    assert run.run("fan", 3) == [0, 1, 4]
    assert run.backend.calls["submit_job"] == 2  # the array, then the lost call alone
    assert HOST_LOST in run.output() and "retrying" in run.output()
    lost = [reason for status, reason in moto_batch.finished.values() if reason == HOST_LOST]
    assert len(lost) == 1


def test_a_spot_reclaim_without_retries_fails_clearly(run: Run, moto_batch) -> None:
    moto_batch.reclaim.add(None)
    with pytest.raises(Exception, match="AWS Batch lost its host") as caught:
        run.run("square", 5, retries=0)
    assert "Host EC2" in str(caught.value)
    assert run.backend.calls["submit_job"] == 1


def test_a_job_stuck_runnable_is_reported(tmp_path: Path, moto_batch) -> None:
    moto_batch.paused = True
    run = Run(tmp_path, runnable_warning="0.3")
    try:
        thread, outcome = run.start("square", 4)
        wait_until(lambda: "RUNNABLE for more than 0 s" in run.output(), what="the warning")
        assert "compute environments are ENABLED and VALID" in run.output()
        moto_batch.release()
        thread.join(timeout=60)
    finally:
        run.scheduler.stop()
    assert outcome["value"][0] == 16
    assert run.output().count("RUNNABLE for more than") == 1  # said once, not every poll


def test_a_restarted_scheduler_adopts_jobs_in_flight(tmp_path: Path, moto_batch) -> None:
    flag, marker = tmp_path / "flag", tmp_path / "marker"
    first = Run(tmp_path)
    thread, _ = first.start("wait_for", str(flag), str(marker))
    wait_until(marker.exists, what="the job to start")
    # the scheduler goes away without cancelling (a crash): the job keeps running in AWS
    first.scheduler.executors["batch"]._stopping = True
    first.scheduler.executors["batch"]._wake.set()
    second = Run(tmp_path)
    try:
        thread2, outcome = second.start("wait_for", str(flag), str(marker))
        wait_until(lambda: "re-attached to redun-" in second.output(), what="the adoption")
        flag.write_text("go")
        thread2.join(timeout=60)
    finally:
        second.scheduler.stop()
    assert outcome.get("value") == "released", outcome
    assert marker.read_text().count("\n") == 1  # it ran once
    assert second.backend.calls["submit_job"] == 0
    assert second.backend.calls["list_jobs"] >= 5  # by status
    first.scheduler.cancel()
    thread.join(timeout=30)


@pytest.mark.slow
def test_a_task_past_its_timeout_is_stopped_and_not_retried(run: Run, moto_batch) -> None:
    flag, marker = run.tmp_path / "never", run.tmp_path / "marker"
    with pytest.raises(Exception, match="ran longer than its timeout") as caught:
        run.run("wait_for", str(flag), str(marker), timeout=60, retries=2)
    assert "Job attempt duration exceeded timeout" in str(caught.value)
    assert marker.read_text().count("\n") == 1 and run.backend.calls["submit_job"] == 1
    assert not moto_batch.running_pids()


@pytest.mark.slow
# 500 fresh interpreters, 8 at a time: 375 s on a 2-core machine half as fast as the
# one this was written on (the default 300 s timed it out there).
@pytest.mark.timeout(900)
def test_a_fan_out_of_500_is_one_array_polled_in_chunks(run: Run, moto_batch) -> None:
    moto_batch.slots = 8
    try:
        assert run.run("fan", 500) == [i * i for i in range(500)]
    finally:
        moto_batch.slots = 4
    [job] = all_jobs()
    assert job["arrayProperties"]["size"] == 500
    calls = dict(run.backend.calls)
    print(f"\nAPI calls for a 500-call fan-out (poll_interval 0.2 s): {calls}")
    assert calls["submit_job"] == 1 and calls["register_job_definition"] == 1


def test_cancelling_one_element_terminates_only_its_child(run: Run, moto_batch) -> None:
    # catch_all keeps the run going without the cancelled call, so the other two finish.
    flag, marker = run.tmp_path / "flag", run.tmp_path / "marker"
    thread, outcome = run.start("waiters_spared", str(flag), str(marker), 3)
    wait_until(lambda: len(moto_batch.running_pids()) == 3, what="three running children")
    wait_until(lambda: os.path.exists(f"{marker}1"), what="child 1 to start its task")
    [job] = [
        j
        for j in run.scheduler.jobs()
        if j.task.name == "wait_for" and j.call_args[1].endswith("1")
    ]
    run.scheduler.cancel_job(job, "not wanted")
    wait_until(lambda: len(moto_batch.running_pids()) == 2, what="child 1 to be stopped")
    flag.touch()  # the two others finish
    thread.join(timeout=60)
    assert outcome.get("value") == ["released", None, "released"], outcome
    [parent] = all_jobs()
    children = batch_client().describe_jobs(jobs=[f"{parent['jobId']}:{i}" for i in range(3)])
    status = {child["jobId"].rsplit(":", 1)[1]: child["status"] for child in children["jobs"]}
    assert status == {"0": "SUCCEEDED", "1": "FAILED", "2": "SUCCEEDED"}
    assert run.backend.calls["terminate_job"] == 1  # the child alone
