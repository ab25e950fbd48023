"""One local-mode SparkSession (local[2]) for the whole test session, started on first use.

The executors find it running and use it as it is (they never stop a session
they did not start). Python workers run this interpreter (PYSPARK_PYTHON).
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Two calls of a batch, one per partition: the first returns at once, the second waits
# for ``flag`` (calls handed over while another partition still runs). Appended to the
# workflow files of the Spark tests (it needs ``task`` imported there).
ONE_WAITS = textwrap.dedent(
    """

    @task(executor="spark")
    def first_or_wait(x: int, flag: str) -> int:
        import os
        import time

        while x and not os.path.exists(flag):
            time.sleep(0.05)
        return x


    @task
    def one_waits(flag: str) -> list:
        return [first_or_wait(i, flag) for i in range(2)]
    """
)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark")
    from redun.spark.preflight import find_java

    if find_java() is None:
        pytest.skip("no Java on this machine: .ci/run installs default-jre-headless")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("redun-tests")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def write_project(root: Path, flow: str, sections: str) -> None:
    """A project for `redun run`: ``flow.py`` and ``.redun/redun.ini`` (a SQLite store
    in the project, then ``sections``)."""
    (root / "flow.py").write_text(flow)
    (root / ".redun").mkdir()
    ini = "[backend]\ndb_uri = sqlite:///${config_dir}/redun.db\n\n"
    (root / ".redun" / "redun.ini").write_text(ini + textwrap.dedent(sections))
