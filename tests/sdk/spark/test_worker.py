"""The worker side without Spark: code packages as zips on sys.path, stale modules dropped."""

from __future__ import annotations

import importlib
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
