"""The worker side without Spark: code packages as zips on sys.path, stale modules dropped."""

from __future__ import annotations

import importlib
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from redun.executors.remote.package import as_zip, build_package
from redun.spark.worker import activate_package, zip_name


@pytest.fixture
def clean_path() -> Iterator[None]:
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def _package(tmp_path: Path, label: str, value: int) -> str:
    root = tmp_path / f"src-{label}"
    (root / "sub").mkdir(parents=True)
    (root / "spark_worker_mod.py").write_text(f"VALUE = {value}\n")
    (root / "sub" / "spark_worker_helper.py").write_text(f"HELP = {value * 10}\n")
    package = build_package(str(root))
    path = tmp_path / zip_name(package.digest)
    path.write_bytes(as_zip(package))
    return str(path)


def test_a_new_package_replaces_the_modules_of_the_old_one(tmp_path: Path, clean_path) -> None:
    first = _package(tmp_path, "a", 1)
    second = _package(tmp_path, "b", 2)
    assert first != second
    activate_package(first)
    assert importlib.import_module("spark_worker_mod").VALUE == 1
    sys.path.insert(0, first + "/sub")  # as ensure_module does for a task in sub/
    assert importlib.import_module("spark_worker_helper").HELP == 10
    unrelated = sys.modules["redun"]
    activate_package(second)
    assert sys.path[0] == second and first not in sys.path and first + "/sub" not in sys.path
    assert "spark_worker_mod" not in sys.modules and "spark_worker_helper" not in sys.modules
    assert importlib.import_module("spark_worker_mod").VALUE == 2
    assert sys.modules["redun"] is unrelated  # only the old package's modules go
    activate_package(second)  # again: nothing changes
    assert importlib.import_module("spark_worker_mod").VALUE == 2


WORKER_FLOW = """
from redun import task

redun_namespace = "spark_worker_calls"


@task
def double(x: int) -> int:
    return 2 * x


@task
def loud(x: int) -> int:
    print(f"loud {x}")
    return x


@task
def fails(x: int) -> int:
    raise KeyError(f"no {x}")
"""


def test_a_batch_runs_each_call_and_sends_back_little_for_a_quiet_one(
    tmp_path: Path, clean_path
) -> None:
    from redun.executors.remote.protocol import outcome_value, task_header
    from redun.spark.worker import run_calls

    root = tmp_path / "code"
    root.mkdir()
    (root / "spark_worker_calls.py").write_text(WORKER_FLOW)
    sys.path.insert(0, str(root))
    flow = importlib.import_module("spark_worker_calls")
    headers = [
        task_header(
            getattr(flow, name), module=flow.__name__, path="spark_worker_calls.py", token="t"
        )
        for name in ("double", "loud", "fails")
    ]

    def call(index: int, *args: object) -> tuple[int, str, bytes]:
        return (index, f"job{index}", pickle.dumps((args, {})))

    quiet, printed, failed, unreadable = list(
        run_calls(str(root), headers, [call(0, 21), call(1, 5), call(2, 7), (*call(0)[:2], b"?")])
    )
    assert type(quiet) is bytes and pickle.loads(quiet) == 42  # the value alone

    assert printed["ok"] and pickle.loads(printed["value"]) == 5
    assert printed["output"] == [("stdout", "loud 5\n")]
    assert printed["job_id"] == "job1" and printed["token"] == "t"

    ok, error = outcome_value(failed, "job job2")
    assert not ok and isinstance(error, KeyError) and error.args == ("no 7",)
    assert 'raise KeyError(f"no {x}")' in error.__redun_traceback__
    assert failed["job_id"] == "job2" and failed["ended"] >= failed["started"]

    ok, error = outcome_value(unreadable, "job job0")
    assert not ok and "cannot unpickle the arguments of job job0" in str(error)


def test_part_outcomes_collect_on_a_worker_and_reach_the_driver_s_callback() -> None:
    from redun.spark.worker import PartOutcomes

    arrived: list = []
    driver_side = PartOutcomes(arrived.append)
    # What the workers get is a copy without the driver's callback: it accumulates.
    worker_side = pickle.loads(pickle.dumps(driver_side))
    value = worker_side.zero([])
    value = worker_side.addInPlace(value, [("g", 0, [b"a", b"b"])])
    assert value == [("g", 0, [b"a", b"b"])] and arrived == []
    # The driver's copy hands each task's value on and keeps nothing.
    kept = driver_side.addInPlace([], value)
    assert kept == [] and arrived == [[("g", 0, [b"a", b"b"])]]
