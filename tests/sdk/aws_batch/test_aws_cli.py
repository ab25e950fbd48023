"""``redun aws list-jobs|kill-jobs|logs`` against moto's Batch and CloudWatch Logs on
loopback: jobs submitted by real runs of the aws_batch executor (their processes started by
tests/moto_batch.py), and jobs submitted straight to the queue with boto3."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto.batch")

from redun.cli.main import main  # noqa: E402
from tests.moto_batch import QUEUE  # noqa: E402
from tests.sdk.remote.helpers import wait_until  # noqa: E402

from .helpers import aws_project  # noqa: E402


class Cli:
    """``redun -c PROJECT/.redun ...`` in this process; returns (exit code, stdout, stderr)."""

    def __init__(self, project: Path, capsys: pytest.CaptureFixture) -> None:
        self.project = project
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(["-c", str(self.project / ".redun"), *args])
        out, err = self.capsys.readouterr()
        return code, out, err

    def db(self, sql: str, *params: Any) -> list[tuple]:
        with sqlite3.connect(self.project / ".redun" / "redun.db") as conn:
            return conn.execute(sql, params).fetchall()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, moto_batch) -> Cli:
    monkeypatch.chdir(tmp_path)  # the runs' code root
    aws_project(tmp_path)
    return Cli(tmp_path, capsys)


def listed(out: str) -> dict[str, list[dict]]:
    """list-jobs' output: executor name -> its jobs (one JSON object a line)."""
    found: dict[str, list[dict]] = {}
    current = ""
    for line in out.splitlines():
        if line.startswith("Executor ") and line.endswith(" jobs:"):
            current = line[len("Executor ") : -len(" jobs:")]
            found[current] = []
        elif line.strip():
            found[current].append(json.loads(line))
    return found


def submit_raw(name: str, tags: dict[str, str]) -> str:
    """A Batch job submitted with boto3, not by redun (its command sleeps)."""
    import boto3

    batch = boto3.client("batch")
    definition = batch.register_job_definition(
        jobDefinitionName="raw-sleep",
        type="container",
        containerProperties={
            "image": "busybox",
            "command": ["sleep", "60"],
            "vcpus": 1,
            "memory": 128,
        },
    )["jobDefinitionArn"]
    return str(
        batch.submit_job(jobName=name, jobQueue=QUEUE, jobDefinition=definition, tags=tags)["jobId"]
    )


def status_of(job_id: str) -> dict:
    import boto3

    [job] = boto3.client("batch").describe_jobs(jobs=[job_id])["jobs"]
    return job


def test_jobs_of_runs_are_listed_with_their_redun_jobs_and_their_logs_read(cli: Cli) -> None:
    assert cli("run", "flow.py", "square", "--x", "3")[0] == 0
    assert cli("run", "flow.py", "fan", "--n", "2")[0] == 0
    [(square_job, square_run)] = cli.db(
        "SELECT id, execution_id FROM redun_job WHERE task_name = 'aflow.square' "
        "AND execution_id IN (SELECT execution_id FROM redun_job GROUP BY execution_id "
        "HAVING count(*) = 1)"
    )
    fan_jobs = dict(
        cli.db(
            "SELECT eval_hash, id FROM redun_job WHERE task_name = 'aflow.square' AND id != ?",
            square_job,
        )
    )
    assert len(fan_jobs) == 2

    code, out, _ = cli("aws", "list-jobs")
    assert code == 0
    jobs = listed(out)["batch"]
    assert [job["status"] for job in jobs] == ["SUCCEEDED", "SUCCEEDED"]
    array, lone = jobs  # newest first
    assert lone["redunJobs"] == [square_job] and lone["redunExecution"] == square_run
    assert lone["redunTask"] == "aflow.square" and lone["jobName"].startswith("redun-")
    assert array["arrayProperties"]["size"] == 2
    assert sorted(array["redunJobs"]) == sorted(fan_jobs.values())
    assert all(job["createdAt"] > 0 and job["jobId"] for job in jobs)
    # -s filters on the Batch status
    assert listed(cli("aws", "list-jobs", "-s", "RUNNING,FAILED")[1]) == {"batch": []}
    assert len(listed(cli("aws", "list-jobs", "-s", "succeeded")[1])["batch"]) == 2
    code, out, err = cli("aws", "list-jobs", "-s", "DONE")
    assert code == 2 and "unknown AWS Batch job status DONE" in err
    code, out, _ = cli("aws", "list-jobs", "--format", "text")
    assert f"SUCCEEDED  {lone['jobId']}  {lone['jobName']}  redun job {square_job[:8]}" in out

    # logs by redun job id (a prefix), by execution id, by Batch job id, and -l
    code, out, _ = cli("aws", "logs", square_job[:10])
    assert code == 0
    assert f"# redun Job {square_job}\n# AWS Batch job {lone['jobId']}\n" in out
    assert "  squaring 3\n" in out and "squaring 0" not in out
    stream = next(line for line in out.splitlines() if line.startswith("# AWS Log Stream "))
    assert cli("aws", "logs", "-j", square_run)[1].count("  squaring 3\n") == 1
    assert "  squaring 3\n" in cli("aws", "logs", "-b", lone["jobId"])[1]
    assert "  squaring 3\n" in cli("aws", "logs", "-l", stream.split(" ", 4)[4])[1]
    # an array element's own child job, found through the array's call list
    for job_id in fan_jobs.values():
        out = cli("aws", "logs", job_id)[1]
        [index] = [i for i in (0, 1) if f"  squaring {i}\n" in out]
        assert f"# AWS Batch job {array['jobId']}:{index}\n" in out
    # an array by its Batch id: its children's logs
    out = cli("aws", "logs", "-b", array["jobId"])[1]
    assert "  squaring 0\n" in out and "  squaring 1\n" in out
    out = cli("aws", "logs", "-a")[1]
    assert all(f"  squaring {i}\n" in out for i in (0, 1, 3))
    assert all(f"# redun Job {job_id}\n" in out for job_id in [square_job, *fan_jobs.values()])
    # what cannot be found says so, and fails
    code, out, err = cli("aws", "logs", "ffffffff")
    assert code == 1 and "'ffffffff' matches no redun job or execution" in err
    code, _, err = cli("aws", "logs")
    assert code == 2 and "-a for all jobs" in err


def test_kill_jobs_terminates_only_this_configs_active_jobs(cli: Cli, moto_batch) -> None:
    moto_batch.paused = True  # no capacity: the jobs wait RUNNABLE
    ours = submit_raw("redun-" + "a" * 40 + "-0123abcd", {"redun-executor": "batch"})
    untagged = submit_raw("redun-" + "b" * 40 + "-0123abcd", {})
    foreign = submit_raw("someone-elses-job", {})
    other_config = submit_raw("redun-" + "c" * 40 + "-0123abcd", {"redun-executor": "gpu"})
    every = (ours, untagged, foreign, other_config)
    wait_until(lambda: all(status_of(j)["status"] == "RUNNABLE" for j in every), what="RUNNABLE")
    try:
        jobs = listed(cli("aws", "list-jobs", "-s", "RUNNABLE")[1])["batch"]
        assert sorted(job["jobId"] for job in jobs) == sorted([ours, untagged])
        assert all(job["status"] == "RUNNABLE" and "redunJobs" not in job for job in jobs)
        assert listed(cli("aws", "list-jobs", "-s", "SUCCEEDED")[1]) == {"batch": []}
        # a stream not named yet is said so
        out = cli("aws", "logs", ours)[1]
        assert "no log stream yet: the job is RUNNABLE" in out

        code, out, _ = cli("aws", "kill-jobs", "-s", "RUNNING")
        assert code == 0 and "Killed 0 AWS Batch job(s)" in out
        assert status_of(ours)["status"] == "RUNNABLE"
        code, out, _ = cli("aws", "kill-jobs")
        assert code == 0
        assert f"Killing job {ours}...\n" in out and f"Killing job {untagged}...\n" in out
        assert "Killed 2 AWS Batch job(s)" in out
        for job_id in (ours, untagged):
            wait_until(lambda j=job_id: status_of(j)["status"] == "FAILED", what="terminated")
            assert "redun aws kill-jobs" in status_of(job_id)["statusReason"]
        assert status_of(foreign)["status"] == "RUNNABLE"
        assert status_of(other_config)["status"] == "RUNNABLE"
        jobs = listed(cli("aws", "list-jobs")[1])["batch"]
        assert sorted(job["jobId"] for job in jobs) == sorted([ours, untagged])
        assert {job["status"] for job in jobs} == {"FAILED"}
    finally:
        import boto3

        for job_id in (foreign, other_config):
            boto3.client("batch").terminate_job(jobId=job_id, reason="test over")
        moto_batch.release()


def test_errors_say_what_to_set(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    ini = cli.project / ".redun" / "redun.ini"
    text = ini.read_text()
    ini.write_text(text.replace("type = aws_batch", "type = threads"))
    code, _, err = cli("aws", "list-jobs")
    assert code == 2 and "no AWS Batch executor in" in err and "type = aws_batch" in err
    ini.write_text(text.replace("region = us-east-1\n", ""))
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    code, _, err = cli("aws", "kill-jobs")
    assert code == 2 and "[executors.batch]: no AWS region" in err
    ini.write_text(text)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, _, err = cli("aws", "logs", "-a")
    assert code == 2 and "no AWS credentials found" in err
    monkeypatch.setitem(sys.modules, "boto3", None)
    code, _, err = cli("aws", "list-jobs")
    assert code == 2 and "needs boto3" in err and "pip install 'redun[aws]'" in err
