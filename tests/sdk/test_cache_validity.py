"""A cached call stands for its whole call tree: files anywhere below it must still hold."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from redun import File, Scheduler, task
from redun.backends import MemoryBackend, backend_from_config

redun_namespace = "test_cache_validity"

RAN: list[str] = []


@task
def words(data: File) -> int:
    RAN.append("words")
    return len(data.read().split())


@task
def by_name(path: str) -> int:
    RAN.append("by_name")
    # The File is made here, so only the call below records it as an argument.
    return words(File(path))


@task
def shallow_by_name(path: str) -> int:
    RAN.append("shallow")
    return words(File(path))


shallow_by_name = shallow_by_name.options(check_valid="shallow")


@pytest.fixture(params=["memory", "sqlite"])
def scheduler(request: pytest.FixtureRequest, tmp_path: Path) -> Scheduler:
    if request.param == "memory":
        return Scheduler(backend=MemoryBackend())
    backend = backend_from_config({"db_uri": f"sqlite:///{tmp_path}/redun.db"})
    return Scheduler(backend=backend)


def test_an_edited_file_below_a_cached_call_reruns_it(scheduler: Scheduler, tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("a b c d\n")
    RAN.clear()
    assert scheduler.run(by_name(str(data))) == 4
    assert scheduler.run(by_name(str(data))) == 4
    assert RAN == ["by_name", "words"]  # the second run was one cached call
    data.write_text("a b c d e f\n")
    os.utime(data, (1, 1))  # a different mtime, whatever the clock did
    RAN.clear()
    assert scheduler.run(by_name(str(data))) == 6
    assert RAN == ["by_name", "words"]


def test_shallow_checks_only_the_result(scheduler: Scheduler, tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("a b\n")
    assert scheduler.run(shallow_by_name(str(data))) == 2
    data.write_text("a b c\n")
    os.utime(data, (1, 1))
    RAN.clear()
    # check_valid="shallow": the cached result (an int) is still valid as recorded.
    assert scheduler.run(shallow_by_name(str(data))) == 2
    assert RAN == []
