"""The Spark executors' pure parts: settings, preflight checks, progress lines (no JVM)."""

from __future__ import annotations

import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from redun import Scheduler
from redun.config import Config
from redun.errors import UsageError
from redun.executors.spark.common import session_settings
from redun.spark import NoSparkSession, SparkSetupError, get_spark_session
from redun.spark.preflight import (
    master_endpoints,
    parse_java_version,
    require_java,
    require_master,
)
from redun.spark.progress import JobState, StageState, summarize
from redun.spark.session import QUIET_LOG4J, driver_java_options
from redun.spark.settings import SparkSettings, merge, parse_conf, settings_from_config

# -- settings --------------------------------------------------------------------------


def test_settings_from_a_section() -> None:
    settings = settings_from_config(
        "spark",
        {
            "type": "spark",
            "master": "spark://h1:7077,h2:7078",
            "partitions": "8",
            "python": "/opt/venv/bin/python",
            "conf": "spark.executor.memory=2g\n  spark.sql.shuffle.partitions = 16",
        },
    )
    assert settings.master == "spark://h1:7077,h2:7078"
    assert settings.partitions == 8
    assert settings.conf == (
        ("spark.executor.memory", "2g"),
        ("spark.sql.shuffle.partitions", "16"),
    )
    conf = settings.session_conf()
    assert conf["spark.pyspark.python"] == "/opt/venv/bin/python"
    assert "spark.driver.bindAddress" not in conf  # only local masters stay on loopback
    assert settings_from_config("s", {}).session_conf()["spark.driver.bindAddress"] == "127.0.0.1"


@pytest.mark.parametrize(
    "master", ["local", "local[2]", "local[*]", "local[4,2]", "yarn", "k8s://https://k:6443"]
)
def test_masters_spark_understands(master: str) -> None:
    assert settings_from_config("s", {"master": master}).master == master


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"master": "localhost:7077"}, r"master = 'localhost:7077' is not a Spark master URL"),
        ({"partitions": "0"}, r"partitions = '0' must be at least 1"),
        ({"partitions": "many"}, r"partitions = 'many' is not a whole number"),
        ({"conf": "spark.executor.memory"}, r"conf line 'spark.executor.memory' is not KEY=VALUE"),
        ({"conf": "memory=2g"}, r"conf key 'memory' is not a Spark setting"),
        ({"keep_warm": "perhaps"}, r"keep_warm = 'perhaps' is not true or false"),
        ({"masters": "local"}, r"unknown key\(s\) masters"),
    ],
)
def test_bad_settings_name_the_section_and_the_key(section: dict, message: str) -> None:
    with pytest.raises(UsageError, match=r"^\[executors\.s\]: " + message):
        settings_from_config("s", section)


def test_conf_as_a_dict() -> None:
    assert parse_conf({"spark.a": 1}, "x") == (("spark.a", "1"),)


def test_two_executors_share_one_session_and_must_agree() -> None:
    a = settings_from_config("a", {"master": "local[2]", "conf": "spark.x=1", "partitions": "3"})
    b = settings_from_config("b", {"master": "local[2]", "conf": "spark.y=2", "python": "/p"})
    both = merge(a, b)
    assert both.conf == (("spark.x", "1"), ("spark.y", "2"))
    assert both.python == "/p" and both.partitions == 3
    with pytest.raises(UsageError, match=r"name different masters .*share one SparkSession"):
        merge(a, settings_from_config("c", {"master": "local[3]"}))
    with pytest.raises(UsageError, match=r"set spark.x differently \('1', '9'\)"):
        merge(a, settings_from_config("c", {"master": "local[2]", "conf": "spark.x=9"}))


def test_a_scheduler_merges_every_spark_section() -> None:
    config = Config(
        {
            "executors.spark": {"type": "spark", "master": "local[2]", "conf": "spark.x=1"},
            "executors.sql": {"type": "spark_driver", "master": "local[2]", "conf": "spark.y=2"},
            "executors.default": {"type": "threads"},
        }
    )
    scheduler = Scheduler(config=config)
    own = settings_from_config("spark", dict(config["executors.spark"]))
    merged = session_settings(scheduler, "spark", own)
    assert merged.conf == (("spark.x", "1"), ("spark.y", "2"))
    assert (
        merged.fingerprint()
        == session_settings(
            scheduler, "sql", settings_from_config("sql", dict(config["executors.sql"]))
        ).fingerprint()
    )


def test_an_unusable_section_fails_the_job_with_its_one_line_error() -> None:
    from redun import task

    @task(executor="badspark", name="test_settings_bad_spark")
    def nothing() -> int:
        return 1

    scheduler = Scheduler(
        config=Config({"executors.badspark": {"type": "spark", "master": "nowhere"}})
    )
    with pytest.raises(UsageError, match=r"\[executors\.badspark\]: master = 'nowhere'"):
        scheduler.run(nothing())


# -- preflight -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_292"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ("no version here", None),
    ],
)
def test_java_versions(text: str, major: int | None) -> None:
    assert parse_java_version(text) == major


def test_no_java_is_one_line_saying_what_to_install(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path)}
    with pytest.raises(SparkSetupError) as caught:
        require_java("4.0.0", "[executors.spark]", env)
    message = str(caught.value)
    assert "\n" not in message
    assert "needs Java 17 or later and there is no java on PATH" in message
    assert "default-jre-headless" in message
    with pytest.raises(SparkSetupError, match=r"JAVA_HOME='/nowhere' has no bin/java"):
        require_java("4.0.0", "[executors.spark]", {"JAVA_HOME": "/nowhere"})


def test_a_java_too_old_for_spark_4(tmp_path: Path) -> None:
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\necho 'java version \"1.8.0_292\"' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(SparkSetupError, match=r"is Java 8, but Spark 4.0.0 needs Java 17"):
        require_java("4.0.0", "[executors.spark]", {"JAVA_HOME": str(tmp_path)})
    assert require_java("3.5.1", "[executors.spark]", {"JAVA_HOME": str(tmp_path)}) == str(java)


def test_master_endpoints() -> None:
    assert master_endpoints("spark://a:7077,b") == [("a", 7077), ("b", 7077)]
    assert master_endpoints("k8s://https://k.example:6443") == [("k.example", 6443)]
    assert master_endpoints("k8s://k.example") == [("k.example", 443)]
    assert master_endpoints("local[2]") == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_master_is_one_line() -> None:
    port = _closed_port()
    settings = settings_from_config("spark", {"master": f"spark://127.0.0.1:{port}"})
    with pytest.raises(SparkSetupError) as caught:
        require_master(settings, "[executors.spark]")
    message = str(caught.value)
    assert message.startswith(
        f"[executors.spark]: cannot reach the Spark master spark://127.0.0.1:{port}"
    )
    assert "\n" not in message


def test_a_reachable_master_passes() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        require_master(settings_from_config("s", {"master": f"spark://127.0.0.1:{port}"}), "s")


def test_yarn_needs_hadoop_configuration() -> None:
    settings = settings_from_config("s", {"master": "yarn"})
    with pytest.raises(SparkSetupError, match="neither HADOOP_CONF_DIR nor YARN_CONF_DIR"):
        require_master(settings, "s", {})
    require_master(settings, "s", {"HADOOP_CONF_DIR": "/etc/hadoop"})


def test_no_pyspark_is_one_line_at_configuration_time(tmp_path: Path) -> None:
    # A fresh interpreter in which pyspark cannot be imported (as if not installed).
    code = (
        "import sys; sys.modules['pyspark'] = None\n"
        "from redun import Scheduler, task\n"
        "from redun.config import Config\n"
        "@task(executor='spark')\n"
        "def f(x): return x\n"
        "s = Scheduler(config=Config({'executors.spark': {'type': 'spark'}}))\n"
        "try:\n"
        "    s.run(f(1))\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith(
        "SparkSetupError [executors.spark] needs pyspark, which is not installed here: "
        "pip install 'redun[spark]'"
    )


def test_get_spark_session_outside_a_driver_task() -> None:
    with pytest.raises(NoSparkSession, match="inside a task run by a spark_driver executor"):
        get_spark_session()


def test_spark_imports_stay_lazy() -> None:
    code = (
        "import redun, redun.spark, redun.executors.spark, redun.spark.worker\n"
        "import sys; print(sorted(m for m in sys.modules if m.startswith(('pyspark', 'py4j'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# -- the driver's logging ---------------------------------------------------------------


def test_the_driver_logs_quietly_unless_log4j_is_configured(tmp_path: Path) -> None:
    quiet = f"-Dlog4j2.configurationFile=file:{QUIET_LOG4J}"
    assert Path(QUIET_LOG4J).is_file()  # shipped with the package
    empty = tmp_path / "conf"
    empty.mkdir()
    env = {"SPARK_CONF_DIR": str(empty)}
    assert driver_java_options({}, env) == quiet
    # The user's own options stay, ours added after them.
    assert driver_java_options({"spark.driver.extraJavaOptions": "-Xss4m"}, env) == (
        f"-Xss4m {quiet}"
    )
    # Their log4j configuration wins: in the options, or a log4j2 file in the conf dir.
    own = {"spark.driver.extraJavaOptions": "-Dlog4j2.configurationFile=file:/etc/mine.xml"}
    assert driver_java_options(own, env) is None
    (empty / "log4j2.properties").write_text("rootLogger.level = info\n")
    assert driver_java_options({}, env) is None
    # Driver options in spark-defaults.conf: options given as conf would replace them.
    defaults = tmp_path / "defaults"
    defaults.mkdir()
    (defaults / "spark-defaults.conf").write_text("spark.executor.memory 2g\n")
    assert driver_java_options({}, {"SPARK_CONF_DIR": str(defaults)}) == quiet
    (defaults / "spark-defaults.conf").write_text("spark.driver.extraJavaOptions -Xss4m\n")
    assert driver_java_options({}, {"SPARK_CONF_DIR": str(defaults)}) is None
    # Without SPARK_CONF_DIR, SPARK_HOME's conf directory is the one Spark reads.
    assert driver_java_options({}, {"SPARK_HOME": str(tmp_path)}) is None
    assert driver_java_options({}, {"SPARK_HOME": str(tmp_path / "nowhere")}) == quiet


# -- progress -----------------------------------------------------------------------------


def test_progress_of_a_group() -> None:
    stages = {
        3: StageState(3, "collect", 8, 2, 5, 0),
        4: StageState(4, "count", 4, 0, 0, 1),
    }
    waiting = summarize([JobState(7, "RUNNING", (9,))], {})
    # Submitted, no stage known yet: no task count to show (not "0/0 tasks done").
    assert not waiting.started and waiting.text == "Spark job 7: starting"
    one = summarize([JobState(7, "RUNNING", (3,))], stages)
    assert one.started and one.text == "Spark job 7: 5/8 tasks done, 2 running; stage 3 (collect)"
    both = summarize([JobState(7, "SUCCEEDED", (3,)), JobState(8, "RUNNING", (4,))], stages)
    assert both.text == "1/2 Spark jobs: 5/12 tasks done, 2 running, 1 failed; stage 3 (collect)"
    assert (both.tasks_done, both.tasks_total) == (5, 12)
    assert not summarize([], stages).text


def test_settings_fingerprint_ignores_per_executor_keys() -> None:
    a = SparkSettings(master="local[2]", partitions=2)
    b = SparkSettings(master="local[2]", partitions=9, progress_interval=5)
    assert a.fingerprint() == b.fingerprint()


def test_spark_paths() -> None:
    from redun import Dir, File
    from redun.spark import spark_path

    assert spark_path("s3://bucket/a/b.parquet") == "s3a://bucket/a/b.parquet"
    assert spark_path(Dir("s3://bucket/out")) == "s3a://bucket/out"
    assert spark_path(File("gs://bucket/x.csv")) == "gs://bucket/x.csv"
    assert spark_path("/data/x") == "/data/x"
