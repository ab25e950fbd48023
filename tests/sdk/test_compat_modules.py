"""Modules redun users import: executors by class, LocalExecutor, the pytest plugin,
scheduler_config helpers, federated tasks (refused clearly)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from redun import Scheduler, task
from redun.config import Config
from redun.errors import UsageError
from redun.executors.local import LocalExecutor

redun_namespace = "test_compat_modules"

EXECUTOR_MODULE = textwrap.dedent(
    """
    from redun.executors.local import LocalExecutor

    SEEN = []


    class CountingExecutor(LocalExecutor):
        def submit(self, job):
            SEEN.append((self.name, self.config.get("label"), job.task.name))
            super().submit(job)
    """
)


@pytest.fixture
def executor_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    (tmp_path / "my_executors.py").write_text(EXECUTOR_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    module = importlib.import_module("my_executors")
    yield module
    sys.modules.pop("my_executors", None)


@pytest.mark.parametrize("key", ["class", "type"])
def test_executor_class_named_in_config(executor_module: object, key: str) -> None:
    @task(executor="mine")
    def double(x: int) -> int:
        return 2 * x

    config = Config({"executors.mine": {key: "my_executors.CountingExecutor", "label": "lab"}})
    scheduler = Scheduler(config=config)
    assert scheduler.run(double(4)) == 8
    assert executor_module.SEEN == [("mine", "lab", "double")]  # type: ignore[attr-defined]
    assert isinstance(scheduler.executors["mine"], LocalExecutor)


def test_bad_executor_class_is_a_clear_error(executor_module: object) -> None:
    @task(executor="bad")
    def one() -> int:
        return 1

    for target, message in [
        ("my_executors.Nope", "not a subclass"),
        ("no_such_module.Executor", "cannot import 'no_such_module'"),
    ]:
        scheduler = Scheduler(config=Config({"executors.bad": {"class": target}}))
        with pytest.raises(UsageError, match=message):
            scheduler.run(one())


def test_local_executor_modes() -> None:
    @task
    def where() -> str:
        import threading

        return threading.current_thread().name

    default = Scheduler()
    assert default.run(where()).startswith("redun-default")
    assert isinstance(default.executors["default"], LocalExecutor)
    with pytest.raises(UsageError, match="mode must be"):
        LocalExecutor("x", config={"mode": "fiber"})
    assert LocalExecutor("x", config={"mode": "process"}).mode == "process"


@pytest.mark.parametrize("load", [[], ["-p", "redun.pytest"]], ids=["installed", "named"])
def test_pytest_plugin(tmp_path: Path, load: list[str]) -> None:
    (tmp_path / "flow.py").write_text(
        "from redun import task\n\n@task\ndef double(x: int) -> int:\n    return 2 * x\n"
    )
    (tmp_path / "test_flow.py").write_text(
        "from flow import double\n\n"
        "def test_double(scheduler):\n    assert scheduler.run(double(2)) == 4\n\n"
        "def test_fresh_cache(scheduler):\n    assert scheduler.jobs() == []\n"
    )
    # Installed with redun (a pytest11 entry point), as redun's own example expects:
    # plain `pytest test_flow.py`, no -p and no conftest; naming it as well still works.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *load, "test_flow.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_a_projects_own_scheduler_fixture_wins_over_the_plugin(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef scheduler():\n    return 'mine'\n"
    )
    (tmp_path / "test_own.py").write_text(
        "def test_own(scheduler):\n    assert scheduler == 'mine'\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_own.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_executor_class_with_a_type_label_in_redun_ini(tmp_path: Path) -> None:
    # redun's custom_executor_config example: `type` is a free label when `class` is set.
    (tmp_path / "my_executors.py").write_text(EXECUTOR_MODULE)
    (tmp_path / "flow.py").write_text(
        "from redun import task\n\n"
        "@task(executor='my_custom')\ndef process(data: str) -> str:\n"
        "    return f'processed: {data}'\n\n"
        "@task\ndef main(data: str = 'hello') -> str:\n    return process(data)\n"
    )
    (tmp_path / ".redun").mkdir()
    (tmp_path / ".redun" / "redun.ini").write_text(
        "[executors.my_custom]\ntype = my_local\nclass = my_executors.CountingExecutor\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "redun.cli.main", "run", "flow.py", "main"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "'processed: hello'"


def test_scheduler_config_helpers(tmp_path: Path) -> None:
    from redun.scheduler_config import get_abs_db_uri, postprocess_config

    assert get_abs_db_uri("sqlite:///redun.db", "/p/.redun") == "sqlite:////p/.redun/redun.db"
    assert get_abs_db_uri("sqlite:////abs/x.db", "/p") == "sqlite:////abs/x.db"
    assert get_abs_db_uri("postgresql://host/db", "/p") == "postgresql://host/db"
    config = postprocess_config(Config({"scheduler": {"context_file": "ctx.json"}}), str(tmp_path))
    assert config["backend"]["db_uri"] == f"sqlite:///{tmp_path}/redun.db"
    assert config["scheduler"]["context_file"] == str(tmp_path / "ctx.json")


def test_federated_tasks_are_refused_clearly() -> None:
    from redun.federated_tasks import FederatedTasksNotSupported, federated_task

    with pytest.raises(FederatedTasksNotSupported, match="not supported"):
        federated_task("entry", "point")


def test_compat_modules_import_nothing_heavy() -> None:
    code = (
        "import sys, redun, redun.tools, redun.utils, redun.handle, redun.scheduler_config, "
        "redun.federated_tasks, redun.file.http, redun.file.sharded, redun.executors.local, "
        "redun.cli.setup, redun.tags, redun.task_wrap, redun.scheduler.forks, "
        "redun.scheduler.subrun\n"
        "redun.Handle, redun.ShardedS3Dataset, redun.LocalExecutor, redun.wraps_task\n"
        "print([m for m in ('sqlalchemy', 'grpc', 'textual', 'boto3', 'pyspark', "
        "'google.cloud', 'jinja2', 'redund', 'redun_tui') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_redun_glue_outside_spark_says_so_as_redun_does() -> None:
    import redun.glue as glue
    from redun.executors.base import get_executor_class

    if "pyspark" in sys.modules:
        from pyspark.sql import SparkSession

        if SparkSession.getActiveSession() is not None:
            pytest.skip("a SparkSession of another test is active in this process")

    # Code written for redun catches ValueError around these.
    with pytest.raises(ValueError, match="spark_driver"):
        glue.get_spark_session()

    def plain(x: int) -> int:
        return x

    assert glue.udf(plain) is plain  # no session yet: the function itself
    with pytest.raises(ValueError, match="needs AWS Glue"):
        glue.get_glue_context()
    with pytest.raises(ValueError, match="does not name the dataset"):
        glue.sql_query(object(), "SELECT 1", dataset_alias="frame")
    with pytest.raises(UsageError, match="type = spark_driver"):
        get_executor_class("aws_glue")
