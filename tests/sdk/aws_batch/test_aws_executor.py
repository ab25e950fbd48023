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

        thread = threading.Thread(target=go)
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
    for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"):
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
    definition = batch_client().describe_job_definitions(
        jobDefinitions=[job["jobDefinition"]]
    )["jobDefinitions"][0]
    assert definition["containerProperties"]["image"] == IMAGE
    assert definition["containerProperties"]["jobRoleArn"].endswith(":role/redun-job")
    calls = run.backend.calls
    assert calls["submit_job"] == 1 and calls["register_job_definition"] == 1
    # a second call reuses the definition without asking AWS again
    run.run("square", 8)
    assert calls["register_job_definition"] == 1 and calls["describe_job_definitions"] == 1
