"""Configuration errors of the gcp_batch executor: each is found before any job is submitted
and says what to set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("google.cloud.batch_v1")
pytest.importorskip("gcp_storage_emulator")

from redun import Scheduler, task  # noqa: E402
from redun.config import Config  # noqa: E402
from redun.errors import UsageError  # noqa: E402
from redun.executors.gcp_batch.settings import check_endpoint, parse_labels  # noqa: E402
from tests.cloud import RefusingEndpoint, apply_env, gcs_env  # noqa: E402

from .helpers import gcp_section  # noqa: E402

redun_namespace = "test_gcp_config"


@task(executor="gcp")
def one() -> int:
    return 1


def run_one(section: dict[str, str]):
    scheduler = Scheduler(config=Config({"executors.gcp": section}))
    try:
        return scheduler.run(one())
    finally:
        scheduler.stop()


@pytest.mark.parametrize(
    "key, hint",
    [
        ("project", "set project = YOUR_PROJECT_ID"),
        ("region", "set region = REGION"),
        ("image", "set image = IMAGE_URI"),
        ("gcs_scratch", "set gcs_scratch = gs://BUCKET/PREFIX"),
    ],
)
def test_a_missing_key_names_what_to_set(key, hint, fake_batch, tmp_path: Path) -> None:
    section = gcp_section(fake_batch.endpoint, tmp_path)
    del section[key]
    with pytest.raises(UsageError, match=r"\[executors.gcp\] has no " + key) as caught:
        run_one(section)
    assert hint in str(caught.value)
    assert fake_batch.calls["CreateJob"] == 0


def test_a_local_scratch_is_refused(fake_batch, tmp_path: Path) -> None:
    section = gcp_section(fake_batch.endpoint, tmp_path, gcs_scratch=str(tmp_path / "s"))
    with pytest.raises(UsageError, match="set gcs_scratch = gs://BUCKET/PREFIX"):
        run_one(section)


def test_plaintext_grpc_only_to_loopback(fake_batch, tmp_path: Path) -> None:
    section = gcp_section("10.1.2.3:8080", tmp_path)
    with pytest.raises(UsageError, match="allowed only to a loopback address"):
        run_one(section)
    assert check_endpoint("[x]", "127.0.0.1:1") == ("127.0.0.1", 1)
    assert check_endpoint("[x]", "[::1]:2") == ("::1", 2)
    assert check_endpoint("[x]", "localhost:3") == ("localhost", 3)
    with pytest.raises(UsageError, match="is not HOST:PORT"):
        check_endpoint("[x]", "127.0.0.1")
    assert fake_batch.calls["CreateJob"] == 0


def test_bad_values_are_named(fake_batch, tmp_path: Path) -> None:
    cases = {
        "provisioning_model": ("cheap", "use one of standard, spot, preemptible"),
        "memory": ("lots", "memory = 'lots' is not a number"),
        "priority": ("500", "priority = 500; use 0 to 99"),
        "labels": ("Team=x", "label key 'Team' must start with a lower-case letter"),
    }
    for key, (value, message) in cases.items():
        section = gcp_section(fake_batch.endpoint, tmp_path, **{key: value})
        with pytest.raises(UsageError, match=message):
            run_one(section)
    assert parse_labels('{"team": "genomics"}', "x") == {"team": "genomics"}
    assert parse_labels("team=genomics, env=prod", "x") == {"team": "genomics", "env": "prod"}
    assert fake_batch.calls["CreateJob"] == 0


def test_a_missing_bucket_says_so(fake_batch, gcs_scratch, tmp_path: Path) -> None:
    section = gcp_section(fake_batch.endpoint, tmp_path, gcs_scratch="gs://no-such-bucket/x")
    with pytest.raises(UsageError, match="the bucket 'no-such-bucket' does not exist"):
        run_one(section)
    assert fake_batch.calls["CreateJob"] == 0


def test_a_bucket_these_credentials_cannot_read_says_so(
    fake_batch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redun.file.filesystem import get_filesystem

    with RefusingEndpoint(403, "caller does not have storage.buckets.get access") as refusing:
        apply_env(monkeypatch, gcs_env(refusing.url))
        get_filesystem(proto="gs").reset_client()
        try:
            with pytest.raises(UsageError) as caught:
                run_one(gcp_section(fake_batch.endpoint, tmp_path))
        finally:
            get_filesystem(proto="gs").reset_client()
    message = str(caught.value)
    assert "gcs_scratch = gs://redun-batch/scratch" in message and "access denied" in message
    assert "set gcs_scratch to a bucket these credentials can read and write" in message
    assert fake_batch.calls["CreateJob"] == 0


def test_no_credentials_says_how_to_provide_them(tmp_path: Path) -> None:
    # A process of its own: google-auth reads NO_GCE_CHECK when imported, and must never
    # probe a metadata server from here.
    section = gcp_section("", tmp_path)
    del section["endpoint"]
    ini = "[executors.gcp]\n" + "".join(f"{k} = {v}\n" for k, v in section.items())
    (tmp_path / ".redun").mkdir()
    (tmp_path / ".redun" / "redun.ini").write_text(ini)
    (tmp_path / "flow.py").write_text(
        "from redun import task\n\n@task(executor='gcp')\ndef one() -> int:\n    return 1\n"
    )
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "GCLOUD", "CLOUDSDK"))
    }
    env.update(
        NO_GCE_CHECK="true",
        CLOUDSDK_CONFIG=str(tmp_path / "no-gcloud"),
        HOME=str(tmp_path),
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("STORAGE_EMULATOR_HOST", None)
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
    assert "no Google Cloud credentials found; set GOOGLE_APPLICATION_CREDENTIALS" in done.stderr
    assert "Traceback" not in done.stderr  # one line that says what to do
