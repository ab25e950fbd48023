"""Configuration errors of the aws_batch executor: each is found before any job is submitted
and says what to set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto.batch")

from redun import Scheduler, task  # noqa: E402
from redun.config import Config  # noqa: E402
from redun.errors import UsageError  # noqa: E402
from redun.executors.aws_batch.settings import parse_pairs  # noqa: E402
from tests.moto_batch import QUEUE  # noqa: E402

from .helpers import aws_section  # noqa: E402

redun_namespace = "test_aws_config"


@task(executor="batch")
def one() -> int:
    return 1


def run_one(section: dict[str, str], **options):
    scheduler = Scheduler(config=Config({"executors.batch": section}))
    try:
        return scheduler.run(one.options(**options)() if options else one())
    finally:
        scheduler.stop()


def submitted() -> int:
    import boto3

    client = boto3.client("batch")
    return sum(
        len(client.list_jobs(jobQueue=QUEUE, jobStatus=status)["jobSummaryList"])
        for status in ("SUBMITTED", "PENDING", "RUNNABLE", "RUNNING", "SUCCEEDED", "FAILED")
    )


@pytest.mark.parametrize(
    "key, hint",
    [
        ("queue", "set queue = JOB_QUEUE"),
        ("image", "set image = IMAGE_URI"),
        ("s3_scratch", "set s3_scratch = s3://BUCKET/PREFIX"),
    ],
)
def test_a_missing_key_names_what_to_set(key, hint, moto_batch, tmp_path: Path) -> None:
    section = aws_section(tmp_path)
    del section[key]
    with pytest.raises(UsageError, match=r"\[executors.batch\] has no " + key) as caught:
        run_one(section)
    assert hint in str(caught.value)
    assert submitted() == 0


def test_a_local_scratch_is_refused(moto_batch, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="set s3_scratch = s3://BUCKET/PREFIX"):
        run_one(aws_section(tmp_path, s3_scratch=str(tmp_path / "s")))


def test_an_unknown_queue_says_so(moto_batch, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="queue = nope: AWS Batch has no such job queue"):
        run_one(aws_section(tmp_path, queue="nope"))
    assert submitted() == 0


def test_a_missing_bucket_says_so(moto_batch, tmp_path: Path) -> None:
    section = aws_section(tmp_path, s3_scratch="s3://no-such-bucket/x")
    with pytest.raises(UsageError, match="the bucket 'no-such-bucket' does not exist"):
        run_one(section)
    assert submitted() == 0


def test_a_bucket_these_credentials_cannot_write_says_so(
    moto_batch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="read-only")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::read-only/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket="read-only", Policy=json.dumps(policy))
    section = aws_section(tmp_path, s3_scratch="s3://read-only/scratch")
    try:
        run_one(section)
    except UsageError as error:
        message = str(error)
    else:
        pytest.skip("this moto does not enforce bucket policies")
    assert "s3_scratch = s3://read-only/scratch" in message
    assert "set s3_scratch to a bucket these credentials can read and write" in message
    assert submitted() == 0


def test_bad_values_are_named(moto_batch, tmp_path: Path) -> None:
    cases = {
        "retry_mode": ("eager", "use one of adaptive, standard, legacy"),
        "memory": ("lots", "memory = 'lots' is not a number"),
        "region": ("mars", "region = 'mars' is not an AWS region"),
        "tags": ("aws:x=1", "must not start with 'aws:'"),
    }
    for key, (value, message) in cases.items():
        with pytest.raises(UsageError, match=message):
            run_one(aws_section(tmp_path, **{key: value}))
    # a task's own option is checked as its job is built, before anything is sent
    with pytest.raises(Exception, match="shortest timeout is 60 seconds; set timeout to at least"):
        run_one(aws_section(tmp_path), timeout=5)
    assert parse_pairs('{"team": "genomics"}', "x") == {"team": "genomics"}
    assert parse_pairs("team=genomics, env=prod", "x") == {"team": "genomics", "env": "prod"}
    assert submitted() == 0


def test_no_credentials_says_how_to_provide_them(tmp_path: Path) -> None:
    section = aws_section(tmp_path)
    ini = "[executors.batch]\n" + "".join(f"{k} = {v}\n" for k, v in section.items())
    (tmp_path / ".redun").mkdir()
    (tmp_path / ".redun" / "redun.ini").write_text(ini)
    (tmp_path / "flow.py").write_text(
        "from redun import task\n\n@task(executor='batch')\ndef one() -> int:\n    return 1\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",  # never probe an instance's metadata service
        HOME=str(tmp_path),
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("REDUN_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "redun", "run", "--no-progress", "flow.py", "one"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "no AWS credentials found; set AWS_PROFILE" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_subclass_configured_in_code_as_in_redun(moto_batch, tmp_path: Path) -> None:
    # redun's setup_scheduler example: an executor class of a workflow library, made
    # with its own Config, its section read as config["executors"][NAME].
    from redun.executors.aws_batch import AWSBatchExecutor
    from redun.workflow.loader import find_task, import_workflow

    from .helpers import FLOW

    code = tmp_path / "code"
    code.mkdir()
    (code / "aflow.py").write_text(FLOW)
    module = import_workflow(str(code / "aflow.py"))

    class AccountExecutor(AWSBatchExecutor):
        def __init__(self, name: str) -> None:
            config = Config({"executors.account1": aws_section(code)})
            super().__init__(name, config=config["executors"]["account1"])

    scheduler = Scheduler()
    scheduler.add_executor(AccountExecutor("batch"))
    try:
        assert scheduler.run(find_task(module, "square", "aflow")(7))[0] == 49
    finally:
        scheduler.stop()
    assert submitted() == 1
