"""Layering: the factory and runners never import grpc; `import redun` and redun.client stay light."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _loaded(code: str) -> list[str]:
    script = (
        f"{code}\nimport sys\n"
        "print(sorted(m for m in sys.modules if m == 'grpc' or m.startswith('grpc.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "code",
    [
        "import redun",
        "import redund.factory, redund.runner",
        "import redun.client, redun.client.paths, redun.client.errors",
        "import redun.cli.main; redun.cli.main.build_parser()",
        "import redund.__main__",
    ],
)
def test_no_grpc(code: str) -> None:
    assert _loaded(code) == []


def _loaded_prefix(code: str, prefix: str) -> list[str]:
    script = (
        f"{code}\nimport sys\n"
        f"print(sorted(m for m in sys.modules if m == {prefix!r} or m.startswith({prefix + '.'!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "code",
    [
        "import redund.factory, redund.runner",
        "import redund.__main__, redund.service, redund.runs, redund.server",
    ],
)
def test_daemon_does_not_import_the_command_line(code: str) -> None:
    """Workflow loading and argument parsing live in the SDK core (redun.workflow)."""
    assert _loaded_prefix(code, "redun.cli") == []


def test_client_loads_grpc_on_use() -> None:
    assert "grpc" in _loaded("from redun.client import Client")


def test_watching_objects_loads_no_cloud_sdk_until_it_polls() -> None:
    code = (
        "import redund.objectwatch, redund.polling, redund.observer\n"
        "redund.objectwatch.StoreFetcher().close()"
    )
    assert _modules(code, ("boto3", "botocore", "google")) == []


def _modules(code: str, prefixes: tuple[str, ...]) -> list[str]:
    script = (
        f"{code}\nimport sys\nprint(sorted(m for m in sys.modules if m.startswith({prefixes!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip().splitlines()[-1])


CLOUD_AND_HEAVY = ("boto3", "botocore", "google", "pyspark", "grpc", "textual", "sqlalchemy")


@pytest.mark.parametrize(
    "code",
    [
        "import redun.executors.remote",
        "import redun.executors.subproc, redun.executors.subproc.backend",
        "import redun.executors.docker, redun.executors.docker.backend",
        "import redun.executors.remote.entrypoint",
        "import redun.cli.main; redun.cli.main.main(['oneshot', '--help'])",
        "import redun.spark, redun.spark.session, redun.spark.host, redun.spark.worker",
        "import redun.executors.spark",
        "from redun.executors.base import get_executor_class; get_executor_class('spark_driver')",
    ],
)
def test_the_remote_layer_imports_no_cloud_sdk(code: str) -> None:
    guarded = f"try:\n    {code}\nexcept SystemExit:\n    pass"
    assert _modules(guarded, CLOUD_AND_HEAVY) == []


def test_the_scheduler_does_not_import_the_remote_layer() -> None:
    code = (
        "from redun import Scheduler, task\n"
        "@task\ndef one() -> int:\n    return 1\n"
        "assert Scheduler().run(one()) == 1"
    )
    assert _modules(code, ("redun.executors.remote", "redun.executors.subproc")) == []


def test_the_gcp_batch_executor_loads_google_cloud_only_when_it_starts() -> None:
    # Importing the executor and reading its configuration (as a scheduler does when a
    # task names it) loads neither google-cloud nor grpc: the client comes with start().
    code = (
        "from redun.executors import get_executor_class\n"
        "cls = get_executor_class('gcp_batch')\n"
        "cls('gcp', None, {'project': 'p', 'region': 'us-central1', 'image': 'i',\n"
        "                  'gcs_scratch': 'gs://b/s'})"
    )
    assert _modules(code, CLOUD_AND_HEAVY) == []


def test_the_aws_batch_executor_loads_boto3_only_when_it_starts() -> None:
    code = (
        "from redun.executors import get_executor_class\n"
        "cls = get_executor_class('aws_batch')\n"
        "cls('batch', None, {'queue': 'q', 'image': 'i', 's3_scratch': 's3://b/s'})"
    )
    assert _modules(code, CLOUD_AND_HEAVY) == []
