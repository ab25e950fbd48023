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
from redun.config import Config  # noqa: E402
from redun.events import JobStateChanged, LogLine  # noqa: E402
from redun.workflow.loader import find_task, import_workflow  # noqa: E402

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


def test_a_failing_task_brings_its_traceback_and_output(run: Run, fake_batch) -> None:
    with pytest.raises(ValueError, match="cannot take 3") as caught:
        run.run("fail", 3, retries=2)
    text = caught.value.__redun_traceback__
    assert "(task gflow.fail)" in text
    assert 'raise ValueError(f"cannot take {x}")' in text
    assert "failing 3 soon\n" in run.output()
    [job_id] = fake_batch.created  # the task's own failure: not retried by Batch or redun
    [task] = fake_batch.job(job_id).tasks
    assert task.failures == 1
    assert "exit code 1" in task.events[-1].description


def test_a_mixed_workflow_runs_local_processes_and_gcp_tasks(
    run: Run, fake_batch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "mix.log"
    monkeypatch.setenv("MIX_LOG", str(log))
    assert run.run("mixed", 3) == (0 + 1 + 4) - (0 + 1 + 2)
    assert sorted(log.read_text().split()) == sorted(
        ["square"] * 3 + ["neg"] * 3 + ["add"] * 3 + ["total"]
    )
    # square's three calls are one job; neg's three another
    assert len(fake_batch.created) == 2
    sizes = sorted(fake_batch.job(j).message.task_groups[0].task_count for j in fake_batch.created)
    assert sizes == [3, 3]
    log.unlink()
    assert run.run("mixed", 3) == 2  # all cached: nothing is submitted again
    assert not log.exists() and len(fake_batch.created) == 2


def _preempt_while_waiting(run: Run, fake_batch, retries: int):
    import threading

    from tests.sdk.remote.helpers import wait_until

    flag, marker = run.tmp_path / "flag", run.tmp_path / "marker"
    outcome: dict = {}

    def go() -> None:
        try:
            outcome["value"] = run.run("wait_for", str(flag), str(marker), retries=retries)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    wait_until(lambda: marker.exists() and marker.read_text().count("\n") == 1, what="a start")
    [job_id] = fake_batch.created
    fake_batch.preempt(job_id, 0)
    if retries:
        wait_until(lambda: marker.read_text().count("\n") == 2, what="Batch's retry")
    flag.write_text("go")
    thread.join(timeout=120)
    assert not thread.is_alive()
    return outcome, marker.read_text().count("\n")


def test_a_preempted_task_is_retried_by_batch_in_the_same_job(run: Run, fake_batch) -> None:
    outcome, runs = _preempt_while_waiting(run, fake_batch, retries=1)
    assert outcome.get("value") == "released", outcome
    assert runs == 2 and len(fake_batch.created) == 1  # one job; its task ran twice
    assert "spot VM was preempted (exit code 50001); Batch runs it again" in run.output()


def test_a_preemption_without_retries_fails_clearly(run: Run, fake_batch) -> None:
    outcome, runs = _preempt_while_waiting(run, fake_batch, retries=0)
    error = outcome.get("error")
    assert error is not None, outcome
    message = str(error)
    assert "spot VM was preempted (exit code 50001) and retries = 0" in message
    assert "Spot VM preemption with exit code 50001" in message  # Batch's own words
    assert runs == 1 and len(fake_batch.created) == 1


@pytest.mark.slow
def test_a_fan_out_of_200_is_one_job_polled_in_bulk(run: Run, fake_batch) -> None:
    fake_batch.slots = 4
    try:
        assert run.run("fan", 200) == [i * i for i in range(200)]
    finally:
        fake_batch.slots = 2
    [job_id] = fake_batch.created
    assert fake_batch.job(job_id).message.task_groups[0].task_count == 200
    calls = dict(fake_batch.calls)
    print(f"\nAPI calls for a 200-call fan-out (poll_interval 0.2 s): {calls}")
    assert calls["CreateJob"] == 1 and "GetTask" not in calls and "GetJob" not in calls
    # one ListJobs per poll; tasks are listed (2 pages of 100) only when their counts moved
    polls = calls["ListJobs"]
    assert calls["ListTasks"] <= 2 * polls and calls["ListTasks"] % 2 == 0
    assert run.executor.backend.calls["list_tasks"] == calls["ListTasks"]


def _chat(run: Run, flag: Path, *, before_release) -> str:
    import threading

    outcome: dict = {}
    thread = threading.Thread(
        target=lambda: outcome.update(value=run.run("chatty", str(flag))), daemon=True
    )
    thread.start()
    try:
        before_release()
    finally:
        flag.write_text("go")
        thread.join(timeout=120)
    assert outcome.get("value") == "said", outcome
    return run.output()


def test_live_output_is_tailed_from_cloud_logging(tmp_path: Path, fake_batch, gcs_scratch) -> None:
    from tests.sdk.remote.helpers import wait_until

    run = Run(tmp_path, fake_batch.endpoint, logging_endpoint=fake_batch.endpoint, log_interval="0")
    try:
        # the first line reaches the job's log while the task still runs
        text = _chat(
            run,
            tmp_path / "flag",
            before_release=lambda: wait_until(
                lambda: "first line\n" in run.output(), what="a live line"
            ),
        )
        assert fake_batch.calls["ListLogEntries"] >= 1
    finally:
        run.scheduler.stop()
    assert [text.count(line) for line in ("first line\n", "a warning\n", "last line\n")] == [
        1,
        1,
        1,
    ]
    streams = {(stream, t) for _, stream, t in run.logs}
    assert ("stderr", "a warning\n") in streams
    assert "its live output is in Cloud Logging" not in text  # tailed: no pointer needed


def test_lines_cloud_logging_has_not_ingested_come_from_the_outcome(
    tmp_path: Path, fake_batch, gcs_scratch
) -> None:
    fake_batch.log_lag = 3600.0  # nothing is listed in time
    run = Run(tmp_path, fake_batch.endpoint, logging_endpoint=fake_batch.endpoint, log_interval="0")
    try:
        text = _chat(run, tmp_path / "flag", before_release=lambda: None)
    finally:
        run.scheduler.stop()
    assert fake_batch.calls["ListLogEntries"] >= 1
    assert [text.count(line) for line in ("first line\n", "a warning\n", "last line\n")] == [
        1,
        1,
        1,
    ]


def test_a_task_past_its_timeout_is_stopped_and_not_retried(run: Run, fake_batch) -> None:
    flag, marker = run.tmp_path / "never", run.tmp_path / "marker"
    with pytest.raises(Exception, match="ran longer than its timeout") as caught:
        run.run("wait_for", str(flag), str(marker), timeout=2, retries=2)
    assert "exit code 50005" in str(caught.value)
    [job_id] = fake_batch.created
    assert fake_batch.job(job_id).message.task_groups[0].task_spec.max_retry_count == 2
    [task] = fake_batch.job(job_id).tasks
    started = [e for e in task.events if e.task_state.name == "RUNNING"]
    assert task.failures == 1 and len(started) == 1  # Batch did not run it again
    assert not fake_batch.running_pids()
