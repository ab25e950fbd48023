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


def _run(
    root: Path, env: dict[str, str], timeout: float, task_args: tuple[str, ...] = ("--n", "4")
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*redun_cli(), "run", "flow.py", "main", *task_args],
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


FAILING_FLOW = textwrap.dedent(
    """
    import os
    import time

    from redun import task
    from redun.spark import get_spark_session

    redun_namespace = "spark_cli_failing"


    # What Spark 4 logs when a job group is cancelled (seen on a failed run), for a group
    # of redun's and for one of someone else's, and a warning of the user's.
    WARNINGS = [
        ("org.apache.spark.scheduler.TaskSetManager", "Lost task 0.0 in stage 0.0 (TID 0) "
         "(localhost executor driver): TaskKilled (Stage cancelled: [SPARK_JOB_CANCELLED] Job 0 "
         "cancelled part of cancelled job group redun-1a2b3c4d-5e6f SQLSTATE: XXKDA)"),
        ("org.apache.spark.scheduler.DAGScheduler", "Failed to cancel job group "
         "redun-1a2b3c4d-5e6f. Cannot find active jobs for it."),
        ("org.apache.spark.scheduler.DAGScheduler", "Failed to cancel job group "
         "nightly-etl. Cannot find active jobs for it."),
        ("redun.check", "the user's own"),
    ]


    @task(executor="spark_driver")
    def warn() -> int:
        jvm = get_spark_session().sparkContext._jvm
        for logger, message in WARNINGS:
            jvm.org.apache.logging.log4j.LogManager.getLogger(logger).warn(message)
        return 0


    @task(executor="spark")
    def wait_or_fail(x: int, flag: str) -> int:
        if x:
            raise ValueError("boom")
        while not os.path.exists(flag):
            time.sleep(0.05)
        return x


    @task
    def fan(ready: int, flag: str) -> list:
        return [wait_or_fail(i, flag) for i in range(2)]


    @task
    def main() -> list:
        return fan(warn(), os.path.abspath("flag"))
    """
)


@pytest.mark.slow
def test_a_failed_run_cancels_its_spark_job_without_spark_s_warnings(
    tmp_path: Path, cli_env
) -> None:
    pytest.importorskip("pyspark")
    from redun.spark.preflight import find_java

    if find_java() is None:
        pytest.skip("no Java on this machine")
    sections = (
        "[executors.spark]\ntype = spark\nmaster = local[2]\npartitions = 2\n\n"
        "[executors.spark_driver]\ntype = spark_driver\nmaster = local[2]\n"
    )
    write_project(tmp_path, FAILING_FLOW, sections)
    cli_env.pop("PYSPARK_PYTHON", None)
    result = _run(tmp_path, cli_env, 600, task_args=())
    assert result.returncode != 0
    assert "ValueError: boom" in result.stderr, result.stderr[-3000:]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("[spark] ")]
    # The call still waiting was cancelled with the run. What Spark says when redun
    # cancels one of its job groups (the killed task; no active job left when the group
    # had just ended) is redun's own doing, not news for the user.
    assert not [line for line in warnings if "job group redun-" in line], warnings
    # Spark's other warnings still show, another group's cancellation included.
    assert any(line.endswith("WARN check: the user's own") for line in warnings), warnings
    assert any("Failed to cancel job group nightly-etl." in line for line in warnings), warnings
