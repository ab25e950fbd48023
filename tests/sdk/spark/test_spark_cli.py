"""`redun run` with Spark tasks: the session comes from redun.ini and ends with the run."""

from __future__ import annotations

import socket
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.conftest import redun_cli
from tests.sdk.spark.conftest import write_project

FLOW = textwrap.dedent(
    """
    from redun import task

    redun_namespace = "spark_cli"


    @task(executor="spark")
    def square(x: int) -> int:
        return x * x


    @task
    def main(n: int = 3) -> int:
        return sum_all([square(i) for i in range(n)])


    @task
    def sum_all(values: list) -> int:
        return sum(values)
    """
)


def _project(root: Path, master: str) -> None:
    write_project(root, FLOW, f"[executors.spark]\ntype = spark\nmaster = {master}\n")


def _run(root: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*redun_cli(), "run", "flow.py", "main", "--n", "4"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_an_unreachable_master_fails_the_run_in_one_line(tmp_path: Path, cli_env) -> None:
    pytest.importorskip("pyspark")
    from redun.spark.preflight import find_java

    if find_java() is None:
        pytest.skip("no Java here: the run would stop at that (tested on its own)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _project(tmp_path, f"spark://127.0.0.1:{port}")
    result = _run(tmp_path, cli_env, timeout=120)
    assert result.returncode != 0
    expected = f"[executors.spark]: cannot reach the Spark master spark://127.0.0.1:{port}"
    [line] = [line for line in result.stderr.splitlines() if expected in line]
    assert "check that it runs and that master = names it" in line


@pytest.mark.slow
def test_redun_run_starts_a_session_from_redun_ini_and_stops_it(tmp_path: Path, cli_env) -> None:
    pytest.importorskip("pyspark")
    from redun.spark.preflight import find_java

    if find_java() is None:
        pytest.skip("no Java on this machine")
    _project(tmp_path, "local[2]")
    cli_env.pop("PYSPARK_PYTHON", None)  # a local master's workers run redun's interpreter
    first = _run(tmp_path, cli_env, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.strip().splitlines()[-1] == "14"
    # Spark's start-up banner and routine warnings stay out of the run's output.
    assert "log4j profile" not in first.stderr and "NativeCodeLoader" not in first.stderr
    # The run ended: its session (and the JVM) went with it, so the process exited.
    again = _run(tmp_path, cli_env, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.strip().splitlines()[-1] == "14"
