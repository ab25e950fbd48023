"""A mixed local + Spark workflow under the daemon, watched: slow (a real local-mode Spark).

Runs of a watch are fresh processes; their SparkSession lives in the daemon's
warm Spark host, so a save re-runs what changed on the session already
running, and stopping the daemon ends the host.
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from redun.client.convert import state_name
from tests.sdk.spark.conftest import ONE_WAITS

from .helpers import Daemon
from .watching import WatchEvents, replay_run, save

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

FLOW = (
    textwrap.dedent(
        """
    from redun import Dir, File, task
    from redun.spark import get_spark_session

    redun_namespace = "spark_watch"


    @task
    def read_words(data: File) -> list:
        return data.read().split()


    @task(executor="spark")
    def shout(word: str) -> str:
        print(f"shouting {word}")
        return word.upper()


    @task
    def shout_all(words: list) -> list:
        return [shout(word) for word in words]


    @task(executor="spark_driver")
    def histogram(data: File, out: str) -> Dir:
        spark = get_spark_session()
        words = spark.read.text(data.path).selectExpr("explode(split(value, ' ')) AS word")
        words.groupBy("word").count().coalesce(1).write.mode("overwrite").json(out)
        return Dir(out)


    @task
    def combine(loud: list, hist: Dir) -> str:
        return " ".join(loud) + f" ({len(list(hist))} files)"


    @task(executor="spark")
    def sleepy(x: int, flag: str, pids: str) -> int:
        import os
        import time

        with open(os.path.join(pids, str(os.getpid())), "w") as out:
            out.write(str(x))
        while not os.path.exists(flag):
            time.sleep(0.05)
        return x


    @task
    def sleepers(flag: str, pids: str) -> list:
        return [sleepy(i, flag, pids) for i in range(2)]


    @task
    def main(data: File = File("data.txt")) -> str:
        return combine(shout_all(read_words(data)), histogram(data, "out/hist"))
    """
    )
    + ONE_WAITS
)

CONFIG = textwrap.dedent(
    """
    [backend]
    db_uri = sqlite:///${config_dir}/redun.db

    [executors.spark]
    type = spark
    master = local[2]

    [executors.spark_driver]
    type = spark_driver
    master = local[2]
    conf = spark.sql.shuffle.partitions=2
    """
)


@pytest.fixture
def spark_daemon(tmp_path: Path) -> Iterator[Daemon]:
    pytest.importorskip("pyspark")
    from redun.spark.preflight import find_java

    if find_java() is None:
        pytest.skip("no Java on this machine: .ci/run installs default-jre-headless")
    (tmp_path / "flow.py").write_text(FLOW)
    (tmp_path / "data.txt").write_text("a b a\n")
    (tmp_path / ".redun").mkdir()
    (tmp_path / ".redun" / "redun.ini").write_text(CONFIG)
    daemon = Daemon(tmp_path)
    daemon.env["PYSPARK_PYTHON"] = sys.executable
    daemon.start()
    yield daemon
    daemon.stop()


def _host_pid(daemon: Daemon) -> int:
    from redun.spark.host import HostedDriver

    return HostedDriver(str(daemon.home / "spark"), 0).request("hello")["pid"]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _wait(condition, what: str, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_watched_mixed_workflow_reruns_on_the_warm_spark_session(spark_daemon) -> None:
    daemon = spark_daemon
    client = daemon.client()
    info = client.watch("flow.py", "main", working_dir=str(daemon.project))
    events = WatchEvents(daemon.client(), info.id)
    try:
        first = replay_run(client, info.last_execution_id)
        assert first.finished["status"] == "done", first.finished
        assert first.finished["result"].startswith("'A B A (")
        assert {"read_words", "shout", "histogram", "combine"} <= first.ran
        host = _host_pid(daemon)

        [shout_job] = [
            job for job in client.jobs(info.last_execution_id) if job.task == "spark_watch.shout"
        ][:1]
        text = "".join(line.text for line in client.logs(shout_job.id))
        assert "as one Spark job, job group redun-" in text and "Spark UI http://" in text
        assert "shouting" in text

        mark = events.mark()
        save(daemon.project / "data.txt", "a b a c\n")
        run = events.next_run(mark, timeout=300)
        assert run.finished["status"] == "done", run.finished
        assert run.finished["result"].startswith("'A B A C (")
        assert {"read_words", "histogram", "shout_all", "shout"} <= run.ran
        shouts = [job for job in client.jobs(run.execution_id) if job.task == "spark_watch.shout"]
        # a and b: cached call by call; only c ran on Spark
        assert sorted((job.args_summary, job.cached) for job in shouts) == [
            ("'a'", True),
            ("'b'", True),
            ("'c'", False),
        ]
        assert _host_pid(daemon) == host  # the same warm session served the re-run
        histogram = daemon.project / "out" / "hist"
        assert any(histogram.glob("part-*.json"))

        # Cancelling a run cancels its Spark job group in the host: the workers stop.
        pids = daemon.project / "pids"
        pids.mkdir()
        flag = daemon.project / "flag"
        submitted = daemon.redun(
            "submit", "flow.py", "sleepers", "--flag", str(flag), "--pids", str(pids)
        )
        assert submitted.returncode == 0, submitted.stderr
        _wait(lambda: len(list(pids.iterdir())) == 2, "both calls running on Spark")
        cancelled = daemon.redun("cancel", submitted.stdout.strip())
        assert cancelled.returncode == 0, cancelled.stderr
        workers = [int(path.name) for path in pids.iterdir()]
        _wait(lambda: all(_gone(pid) for pid in workers), "the Spark tasks to be killed")
        assert _host_pid(daemon) == host  # the session lives on for the next run

        # Through the host too, a partition's calls are done while the other one runs.
        later = daemon.project / "later"
        submitted = daemon.redun("submit", "flow.py", "one_waits", "--flag", str(later))
        assert submitted.returncode == 0, submitted.stderr
        execution = submitted.stdout.strip()

        def calls() -> list[tuple[str, str]]:
            found = client.jobs(execution, task="spark_watch.first_or_wait")
            return sorted((job.args_summary.split(",")[0], state_name(job.state)) for job in found)

        _wait(lambda: ("0", "done") in calls(), "the first partition's call to be done")
        assert not later.exists() and ("1", "done") not in calls(), calls()
        later.touch()
        _wait(lambda: calls() == [("0", "done"), ("1", "done")], "the other call")
    finally:
        events.close()
        client.unwatch(info.id)
        client.close()
    stopped = daemon.stop()
    assert stopped.returncode == 0, stopped.stderr
    deadline = time.monotonic() + 60
    while not _gone(host):
        assert time.monotonic() < deadline, "the Spark host outlived its daemon"
        time.sleep(0.1)
