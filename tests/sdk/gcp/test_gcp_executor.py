"""The gcp_batch executor in a scheduler: the real google-cloud-batch client against a fake
BatchService on loopback, the real google-cloud-storage client against the GCS emulator, and
real entrypoint processes for the tasks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("google.cloud.batch_v1")
pytest.importorskip("gcp_storage_emulator")

from redun import Scheduler  # noqa: E402
from redun.cli.loader import find_task, import_workflow  # noqa: E402
from redun.config import Config  # noqa: E402
from redun.events import JobStateChanged, LogLine  # noqa: E402

from .helpers import FLOW, gcp_section  # noqa: E402


class Run:
    """A scheduler with a ``gcp`` executor, and what its events said."""

    def __init__(self, tmp_path: Path, endpoint: str, **extra: str) -> None:
        self.tmp_path = tmp_path
        code = tmp_path / "code"
        code.mkdir(exist_ok=True)
        (code / "gflow.py").write_text(FLOW)
        self.module = import_workflow(str(code / "gflow.py"))
        config = Config(
            {
                "executors.gcp": gcp_section(endpoint, code, **extra),
                "executors.processes": {"type": "processes", "max_workers": "2"},
            }
        )
        self.scheduler = Scheduler(config=config)
        self.states: dict[str, list[str]] = {}
        self.logs: list[tuple[str, str, str]] = []
        self.scheduler.events.subscribe(self._record)

    def _record(self, event) -> None:
        if isinstance(event, JobStateChanged):
            self.states.setdefault(event.job_id, []).append(event.state)
        elif isinstance(event, LogLine):
            self.logs.append((event.job_id, event.stream, event.text))

    def run(self, name: str, *args, **options):
        task = find_task(self.module, name, "gflow")
        if options:
            task = task.options(**options)
        return self.scheduler.run(task(*args))

    @property
    def executor(self):
        return self.scheduler.executors["gcp"]

    def output(self) -> str:
        return "".join(text for _, _, text in self.logs)


@pytest.fixture
def run(tmp_path: Path, fake_batch, gcs_scratch) -> Iterator[Run]:
    started = Run(tmp_path, fake_batch.endpoint)
    yield started
    started.scheduler.stop()


def test_one_call_is_one_batch_job_of_one_task(run: Run, fake_batch) -> None:
    value, pid, index = run.run("square", 7)
    assert (value, index) == (49, 0) and pid != os.getpid()
    [job_states] = run.states.values()
    assert job_states == ["pending", "queued", "running", "done"]
    assert "squaring 7\n" in run.output()
    [job_id] = fake_batch.created
    job = fake_batch.job(job_id).message
    [group] = job.task_groups
    spec = group.task_spec
    assert group.task_count == 1
    assert spec.compute_resource.cpu_milli == 2000 and spec.compute_resource.memory_mib == 1536
    assert spec.max_run_duration.total_seconds() == 600 and spec.max_retry_count == 3
    container = spec.runnables[0].container
    assert container.image_uri == "us-docker.pkg.dev/test-project/redun/worker:1"
    assert container.entrypoint == "redun" and container.commands[0] == "oneshot"
    assert job.labels["redun_run"] == run.scheduler.execution.id
    assert job.labels["redun_task"] == "gflow_square"
    assert job_id == f"redun-{job.labels['redun_key']}-{job.labels['redun_token'][:8]}"
    assert job.logs_policy.destination.name == "CLOUD_LOGGING"
    assert fake_batch.calls["CreateJob"] == 1


def test_a_fan_out_is_one_job_with_a_task_per_call(run: Run, fake_batch) -> None:
    assert run.run("fan", 12) == [i * i for i in range(12)]
    [job_id] = fake_batch.created
    assert fake_batch.job(job_id).message.task_groups[0].task_count == 12
    # each element ran as the task of its own index
    assert fake_batch.calls["GetTask"] == 0

