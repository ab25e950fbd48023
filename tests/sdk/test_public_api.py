"""The public surface: what `import redun` exports, and what it must not import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import redun
from redun import Scheduler, namespace, task
from redun.errors import UsageError
from redun.task import get_task_registry

EXPECTED = {
    "Dir",
    "File",
    "PartialTask",
    "Scheduler",
    "Task",
    "apply_tags",
    "catch",
    "cond",
    "get_context",
    "get_task_registry",
    "namespace",
    "run",
    "script",
    "task",
    "throw",
}


def _in_fresh_python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter (nothing of this test session imported)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_exported_members() -> None:
    assert EXPECTED <= set(redun.__all__)
    for name in redun.__all__:
        assert getattr(redun, name) is not None, name


def test_import_is_light() -> None:
    # How long the import takes is measured by bench/import_time.py, not asserted here.
    code = (
        "import sys; import redun; "
        "heavy = [m for m in ('sqlalchemy', 'grpc', 'textual', 'boto3', 'pyspark', "
        "'google.cloud', 'rich', 'redund', 'redun_tui', 'asyncio', 'alembic', "
        "'redun.scheduler', 'redun.backends') "
        "if m in sys.modules]; "
        "print(heavy)"
    )
    out = _in_fresh_python(code)
    assert out.stdout.split("\n")[0] == "[]", out.stderr


def test_names_and_submodules_load_on_first_use() -> None:
    # The scheduler loads when a name from it is asked for; a submodule not loaded yet
    # is an attribute all the same, as with redun, which imported them all.
    code = (
        "import sys, redun; "
        "assert redun.scheduler.Scheduler is redun.Scheduler; "
        "assert callable(redun.task) and callable(redun.namespace); "
        "assert redun.backends.__name__ == 'redun.backends'; "
        "from redun import *; "
        "assert Scheduler is redun.Scheduler and callable(cond); "
        "print('ok')"
    )
    out = _in_fresh_python(code)
    assert out.stdout.strip() == "ok", out.stderr
    with pytest.raises(AttributeError, match="has no attribute 'no_such_thing'"):
        redun.no_such_thing  # noqa: B018


def test_executor_classes_under_redun_s_names_load_no_cloud_sdk() -> None:
    # `from redun import AWSBatchExecutor` works as in redun; boto3 and the Google
    # client are imported only when such an executor starts.
    code = (
        "import sys; "
        "from redun import AWSBatchExecutor, DockerExecutor, GCPBatchExecutor, LocalExecutor; "
        "from redun.executors.base import Executor, get_executor_class; "
        "assert get_executor_class('aws_batch') is AWSBatchExecutor; "
        "assert get_executor_class('docker') is DockerExecutor; "
        "assert get_executor_class('gcp_batch') is GCPBatchExecutor; "
        "assert all(issubclass(c, Executor) for c in "
        "(AWSBatchExecutor, DockerExecutor, GCPBatchExecutor, LocalExecutor)); "
        "print([m for m in ('boto3', 'google.cloud.batch_v1') if m in sys.modules])"
    )
    out = _in_fresh_python(code)
    assert out.stdout.strip() == "[]", out.stderr


def test_namespace_function_and_module_variable() -> None:
    namespace("ns_test")
    try:

        @task
        def spaced() -> int:
            return 1

    finally:
        namespace()
    assert spaced.fullname == "ns_test.spaced"
    assert get_task_registry().get("ns_test.spaced") is spaced

    @task(name="renamed", namespace="other")
    def original() -> int:
        return 2

    assert original.fullname == "other.renamed"
    assert Scheduler().run(original()) == 2


def test_bad_task_options_are_refused() -> None:
    with pytest.raises(UsageError, match="check_valid"):

        @task(check_valid="sometimes")
        def bad() -> None:
            pass

    with pytest.raises(UsageError, match="config_args"):

        @task(config_args=["missing"])
        def bad2(x: int) -> None:
            pass


@pytest.mark.parametrize("nout", ["3", -1, 2.0])
def test_a_bad_nout_is_a_type_error_as_in_the_original(nout: object) -> None:
    with pytest.raises(TypeError, match="nout must be a non-negative int"):

        @task(nout=nout)
        def make_list() -> list[int]:
            return [1, 2, 3]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": "3"}, "retries must be a non-negative int, not '3'"),
        ({"retries": -1}, "retries must be a non-negative int"),
        ({"executor": 3}, "executor must be the name of an executor"),
        ({"limits": {"cpu": "x"}}, "limits must be a list of resource names or a dict"),
        ({"limits": "cpu"}, "limits must be a list of resource names or a dict"),
    ],
)
def test_a_bad_retries_executor_or_limits_is_refused_where_it_is_written(
    options: dict, message: str
) -> None:
    # Not later, in the middle of a run (retries is read only once a call fails).
    with pytest.raises(UsageError, match=message):

        @task(namespace="opts", **options)
        def bad() -> None:
            pass

    @task(namespace="opts")
    def good() -> None:
        pass

    with pytest.raises(UsageError, match=message):
        good.options(**options)
    assert (
        good.options(retries=2, executor="other", limits={"cpu": 1}).get_task_option("retries") == 2
    )


def test_config_args_do_not_count_in_the_cache_key() -> None:
    calls = []

    @task(namespace="api", config_args=["memory"])
    def heavy(x: int, memory: int = 1) -> int:
        calls.append(memory)
        return x

    from redun.backends import MemoryBackend

    scheduler = Scheduler(backend=MemoryBackend())
    scheduler.run(heavy(1, memory=4))
    scheduler.run(heavy(1, memory=8))
    assert calls == [4]


def test_hash_includes_changes_the_task_hash() -> None:
    def body(x: int) -> int:
        return x

    one = redun.Task(body, name="inc_a", hash_includes=["v1"])
    two = redun.Task(body, name="inc_a", hash_includes=["v2"])
    assert one.hash != two.hash


def test_redun_run_uses_the_config_dir(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)

    @task(namespace="api")
    def plus(x: int) -> int:
        return x + 100

    assert redun.run(plus(1), config_dir=str(tmp_path / "conf")) == 101
    assert (tmp_path / "conf" / "redun.db").exists()
