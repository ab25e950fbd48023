"""A real standalone Spark cluster (a Master and a Worker on loopback), driven by `redun run`.

Local mode runs the Python workers beside the driver; a standalone cluster
runs them under the Worker, in its own work directory, where the project is
not on the path. So this is where the user's code must arrive as the code
package: a helper package that lives only in the project directory is
imported by the `spark` tasks' calls and by a `spark_driver` task's closures.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import redun_cli
from tests.sdk.spark.conftest import write_project

pytestmark = pytest.mark.slow

FLOW = textwrap.dedent(
    """
    import os

    from redun import Dir, File, task
    from redun.spark import get_spark_session

    from helpers import square

    redun_namespace = "spark_standalone"


    @task(executor="spark")
    def score(i: int) -> list:
        return [square(i), os.getcwd()]


    @task(executor="spark_driver")
    def word_counts(text: File, out: str) -> Dir:
        spark = get_spark_session()
        words = spark.read.text(text.path).selectExpr("explode(split(value, ' ')) AS word")
        words.groupBy("word").count().write.mode("overwrite").json(out)
        squares = spark.sparkContext.parallelize(range(6), 2).map(square).collect()
        print("squares on the workers:", squares)
        return Dir(out)


    @task
    def main(n: int = 12) -> list:
        return [score(i) for i in range(n)]
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(log: Path, text: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.25)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    pytest.fail(f"the Spark {log.stem} did not log {text!r} in {timeout:.0f} s:\n{tail}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A Master and one Worker (2 cores) on loopback: (master URL, the Worker's work dir)."""
    pytest.importorskip("pyspark")
    import pyspark

    from redun.spark.preflight import find_java

    if find_java() is None:
        pytest.skip("no Java on this machine: .ci/run installs default-jre-headless")
    root = tmp_path_factory.mktemp("spark-cluster")
    spark_home = Path(pyspark.__file__).parent
    env = {**os.environ, "SPARK_HOME": str(spark_home), "SPARK_LOCAL_IP": "127.0.0.1"}
    env["SPARK_LOG_DIR"] = str(root)
    port = _free_port()
    master_url = f"spark://127.0.0.1:{port}"
    work_dir = root / "work"
    work_dir.mkdir()
    spark_class = str(spark_home / "bin" / "spark-class")
    commands = {
        "master": [
            spark_class,
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--webui-port",
            str(_free_port()),
        ],
        "worker": [
            spark_class,
            "org.apache.spark.deploy.worker.Worker",
            master_url,
            "--host",
            "127.0.0.1",
            "--cores",
            "2",
            "--memory",
            "1g",
            "--work-dir",
            str(work_dir),
            "--webui-port",
            str(_free_port()),
        ],
    }
    ready = {"master": "I have been elected leader", "worker": "Successfully registered"}
    processes: list[subprocess.Popen] = []
    try:
        for name, command in commands.items():
            log = root / f"{name}.log"
            with log.open("w") as out:
                process = subprocess.Popen(
                    command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            processes.append(process)
            _wait_for(log, ready[name], process, timeout=120)
        yield master_url, work_dir
    finally:
        for process in reversed(processes):
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _project(root: Path, master: str) -> None:
    write_project(
        root,
        FLOW,
        f"""
        [executors.spark]
        type = spark
        master = {master}
        partitions = 4
        python = {sys.executable}
        conf = spark.executor.memory=512m

        [executors.spark_driver]
        type = spark_driver
        master = {master}
        """,
    )
    (root / "helpers").mkdir()
    (root / "helpers" / "__init__.py").write_text("def square(x):\n    return x * x\n")
    (root / "words.txt").write_text("to be or not to be\n")


def _run(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [*redun_cli(), "run", "flow.py", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def _summary(result: subprocess.CompletedProcess) -> str:
    [line] = [line for line in result.stderr.splitlines() if line.startswith("[redun] ")]
    return line


def test_a_standalone_cluster_runs_the_projects_code_without_installing_it(
    cluster: tuple[str, Path], tmp_path: Path, cli_env: dict[str, str]
) -> None:
    master, work_dir = cluster
    project = tmp_path / "project"
    project.mkdir()
    _project(project, master)
    cli_env.pop("PYSPARK_PYTHON", None)  # `python =` in redun.ini says where the workers' is
    cli_env.pop("PYTHONPATH", None)  # nothing but the code package may bring `helpers`

    first = _run(project, cli_env, "main")
    results = ast.literal_eval(first.stdout)
    assert [square for square, _ in results] == [i * i for i in range(12)]
    # Every call ran under the Worker (its application directory), not in the project.
    for _, cwd in results:
        assert Path(cwd).is_relative_to(work_dir), cwd
    assert "done=13" in _summary(first)

    again = _run(project, cli_env, "main", "--n", "13")
    assert ast.literal_eval(again.stdout)[-1][0] == 144
    assert "cached=12" in _summary(again)  # only the new call went to Spark

    out = project / "counts"
    driver = _run(project, cli_env, "word_counts", "--text", "words.txt", "--out", str(out))
    assert "squares on the workers: [0, 1, 4, 9, 16, 25]" in driver.stdout + driver.stderr
    counts = {}
    for part in out.glob("part-*.json"):
        for line in part.read_text().splitlines():
            row = json.loads(line)
            counts[row["word"]] = row["count"]
    assert counts == {"to": 2, "be": 2, "or": 1, "not": 1}
    cached = _run(project, cli_env, "word_counts", "--text", "words.txt", "--out", str(out))
    assert "cached=1" in _summary(cached)
