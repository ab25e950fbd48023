"""A docker executor whose scratch is on S3 (moto's server) or GCS (the emulator).

The stand-in gives each container only the environment docker would: what
the executor passes with ``-e``. So these prove the executor hands over
what the job needs to reach the store, by name, never with a secret value
on a command line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redun import Scheduler
from redun.config import Config
from redun.file import get_filesystem
from redun.workflow.loader import find_task, import_workflow
from tests.cloud import apply_env, aws_env, gcs_env

from ..remote.helpers import FLOW
from .conftest import FakeDocker

SECRET = "s3cr3t-never-on-a-command-line"


def run_square(tmp_path: Path, scratch: str, x: int):
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "subflow.py").write_text(FLOW)
    module = import_workflow(str(code / "subflow.py"))
    section = {
        "type": "docker",
        "image": "example/flow:1",
        "scratch": scratch,
        "code_root": str(code),
        "poll_interval": "0.2",
    }
    scheduler = Scheduler(config=Config({"executors.remote": section}))
    try:
        return scheduler.run(find_task(module, "square", "subflow")(x))
    finally:
        scheduler.stop()


@pytest.fixture
def s3_bucket(moto_server, tmp_path, monkeypatch):
    import boto3

    apply_env(monkeypatch, aws_env(tmp_path, moto_server.url))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    get_filesystem(proto="s3").reset_client()
    s3 = boto3.client("s3")
    bucket = f"docker-{tmp_path.name.lower().replace('_', '-')}"[:63]
    s3.create_bucket(Bucket=bucket)
    yield bucket
    get_filesystem(proto="s3").reset_client()


def assert_passed_by_name(fake: FakeDocker, name: str, value: str) -> None:
    """Every container got ``name=value``, given as ``-e name``; the value is on no command line."""
    for spec in fake.runs():
        assert f"{name}={value}" in spec["Config"]["Env"]
        args = spec["Args"]
        assert any(args[i] == "-e" and args[i + 1] == name for i in range(len(args) - 1))
    assert all(value not in json.dumps(argv) for argv in fake.calls())


def test_an_s3_scratch_passes_credentials_by_name(tmp_path, s3_bucket, fake_docker) -> None:
    value, _, _ = run_square(tmp_path, f"s3://{s3_bucket}/scratch", 6)
    assert value == 36
    [spec] = fake_docker.runs()
    assert spec["HostConfig"]["Binds"] == []  # nothing to mount: the job reads S3
    assert spec["Config"]["Cmd"][2:4] == ["--scratch", f"s3://{s3_bucket}/scratch"]
    assert_passed_by_name(fake_docker, "AWS_SECRET_ACCESS_KEY", SECRET)
    assert any(item.startswith("AWS_ENDPOINT_URL=") for item in spec["Config"]["Env"])


def test_keys_of_an_aws_profile_are_resolved_for_the_containers(
    tmp_path, s3_bucket, fake_docker, monkeypatch
) -> None:
    credentials = tmp_path / "aws-credentials"
    credentials.write_text(
        f"[default]\naws_access_key_id = FROMPROFILE\naws_secret_access_key = {SECRET}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    get_filesystem(proto="s3").reset_client()
    value, _, _ = run_square(tmp_path, f"s3://{s3_bucket}/scratch", 7)
    assert value == 49
    assert_passed_by_name(fake_docker, "AWS_ACCESS_KEY_ID", "FROMPROFILE")
    assert_passed_by_name(fake_docker, "AWS_SECRET_ACCESS_KEY", SECRET)


def test_a_gcs_scratch_passes_the_storage_settings(
    tmp_path, gcs_emulator, fake_docker, monkeypatch
) -> None:
    from google.cloud import storage

    apply_env(monkeypatch, gcs_env(gcs_emulator.url))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "docker-test")
    get_filesystem(proto="gs").reset_client()
    gcs_emulator.wipe()
    storage.Client().create_bucket("docker-scratch")
    try:
        value, _, _ = run_square(tmp_path, "gs://docker-scratch/scratch", 8)
    finally:
        get_filesystem(proto="gs").reset_client()
    assert value == 64
    [spec] = fake_docker.runs()
    assert f"STORAGE_EMULATOR_HOST={gcs_emulator.url}" in spec["Config"]["Env"]
    assert "GOOGLE_CLOUD_PROJECT=docker-test" in spec["Config"]["Env"]
