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


def test_client_loads_grpc_on_use() -> None:
    assert "grpc" in _loaded("from redun.client import Client")


def test_watching_objects_loads_no_cloud_sdk_until_it_polls() -> None:
    script = (
        "import sys, redund.objectwatch, redund.polling, redund.observer\n"
        "redund.objectwatch.StoreFetcher().close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'google')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
