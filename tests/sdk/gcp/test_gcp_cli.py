"""`redun run` with GCP Batch tasks: Ctrl-C deletes the run's jobs (their processes are gone),
and a run killed mid-flight is adopted by the next one instead of being submitted again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("google.cloud.batch_v1")
pytest.importorskip("gcp_storage_emulator")

from tests.sdk.gcp.helpers import assert_deleted_but_finished  # noqa: E402
from tests.sdk.remote.helpers import processes_with, wait_until  # noqa: E402

from .helpers import gcp_project  # noqa: E402


@pytest.fixture
def project(tmp_path: Path, fake_batch, gcs_scratch):
    log = gcp_project(tmp_path, fake_batch.endpoint)
    env = dict(os.environ, MIX_LOG=str(log), PYTHONDONTWRITEBYTECODE="1")
    env.pop("REDUN_CONFIG", None)
    env.pop("REDUN_DB_URI", None)
    return tmp_path, env


def start_run(directory: Path, env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "redun", "run", "--no-progress", "flow.py", *args],
        cwd=directory,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_ctrl_c_deletes_the_runs_batch_jobs_and_their_processes(project, fake_batch) -> None:
    directory, env = project
    tag = str(os.getpid() % 10000 + 4000)
    run = start_run(directory, env, "sleepers", "--tag", tag)
    try:
        wait_until(lambda: len(processes_with(f"sleep 31.{tag}")) == 2, what="both sleeps")
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode != 0
    wait_until(lambda: not processes_with(f"sleep 31.{tag}"), timeout=30, what="sleeps gone")
    # the sleepers' job ended; the scripts' job(s) were deleted, and Batch forgets them
    assert_deleted_but_finished(fake_batch)
    assert fake_batch.calls["DeleteJob"] == len(fake_batch.deleted)
    assert not fake_batch.running_pids()


def test_a_killed_run_is_adopted_by_the_next_one(project, fake_batch) -> None:
    directory, env = project
    flag, marker = directory / "flag", directory / "marker"
    args = ("wait_for", "--flag", str(flag), "--marker", str(marker))
    first = start_run(directory, env, *args)
    try:
        wait_until(lambda: marker.exists(), what="the task to start")
        first.kill()  # the scheduler dies; its Batch job does not
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    [job_id] = fake_batch.created
    assert fake_batch.running_pids()
    before = dict(fake_batch.calls)
    second = start_run(directory, env, *args)
    try:
        wait_until(
            lambda: fake_batch.calls["ListJobs"] > before.get("ListJobs", 0),
            what="the second run to list the scratch's jobs",
        )
        flag.write_text("go")
        stdout, stderr = second.communicate(timeout=120)
    finally:
        if second.poll() is None:
            second.kill()
    assert second.returncode == 0, stderr
    assert stdout.strip().splitlines()[-1] == "'released'"
    assert fake_batch.created == [job_id]  # submitted once
    assert marker.read_text().count("\n") == 1  # and ran once


def test_a_job_that_finished_after_its_run_died_is_read_back(project, fake_batch) -> None:
    directory, env = project
    flag, marker = directory / "flag", directory / "marker"
    args = ("wait_for", "--flag", str(flag), "--marker", str(marker))
    first = start_run(directory, env, *args)
    try:
        wait_until(lambda: marker.exists(), what="the task to start")
        first.kill()
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    [job_id] = fake_batch.created
    flag.write_text("go")  # it finishes with nobody watching
    wait_until(lambda: fake_batch.job(job_id).state.name == "SUCCEEDED", what="the job to end")
    second = start_run(directory, env, *args)
    stdout, stderr = second.communicate(timeout=120)
    assert second.returncode == 0, stderr
    assert stdout.strip().splitlines()[-1] == "'released'"
    assert fake_batch.created == [job_id] and marker.read_text().count("\n") == 1
