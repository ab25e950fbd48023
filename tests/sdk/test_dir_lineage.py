"""The files inside a Dir have lineage: the store records them as the Dir's subvalues.

A task that returns ``Dir("out")`` produced every file below ``out/``, and a task
given a Dir consumed them; ``redun log out/part-1.txt`` says so, as in redun.
Explanations compare a Dir argument file by file.
"""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

import pytest

from redun import Scheduler
from redun.backends.db import DbBackend
from redun.config import Config
from redun.file import Dir
from redun.file import dir as dir_module
from redun.lineage import lineage
from redun.workflow.loader import find_task, import_workflow

FLOW = textwrap.dedent(
    """
    import os
    from redun import Dir, File, task

    redun_namespace = "dir_lineage"


    @task(executor=os.environ.get("DIR_LINEAGE_EXECUTOR", "default"))
    def make(out: str, n: int) -> Dir:
        for i in range(n):
            File(f"{out}/part-{i}.txt").write(f"part {i}")
        return Dir(out)


    @task
    def total(parts: Dir) -> int:
        return sum(len(f.read()) for f in parts)


    @task
    def main(out: str, n: int) -> int:
        return total(make(out, n))
    """
)


def _run(tmp_path: Path, n: int = 3, executors: dict | None = None) -> str:
    flow = tmp_path / "dirflow.py"
    flow.write_text(FLOW)
    main = find_task(import_workflow(str(flow)), "main", str(flow))
    url = f"sqlite:///{tmp_path}/redun.db"
    scheduler = Scheduler(config=Config({"backend": {"db_uri": url}, **(executors or {})}))
    try:
        assert scheduler.run(main("out", n)) == sum(len(f"part {i}") for i in range(n))
    finally:
        scheduler.stop()
    return url


@pytest.mark.parametrize("executor", ["default", "processes"])
def test_a_file_in_a_returned_dir_was_produced_by_its_job(
    executor: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On processes the Dir is hashed in the worker and comes back without its
    # listing: the recorder lists it again and checks it against the hash.
    monkeypatch.setenv("DIR_LINEAGE_EXECUTOR", executor)
    url = _run(
        workdir, executors={"executors.processes": {"type": "processes", "max_workers": "1"}}
    )
    info = lineage(DbBackend(url), "out/part-1.txt")
    node = info.node
    assert node.value.file is not None and node.value.file.kind == "file"
    assert node.producer is not None and node.producer.task_name == "dir_lineage.make"
    assert [c.task_name for c in node.consumers] == ["dir_lineage.total"]
    # Each file is recorded in the state the directory's hash stands for.
    rows = sqlite3.connect(workdir / "redun.db").execute(
        "SELECT path, file_hash FROM redun_file WHERE kind = 'file'"
    )
    recorded = dict(rows)
    assert sorted(recorded) == ["out/part-0.txt", "out/part-1.txt", "out/part-2.txt"]
    assert recorded["out/part-2.txt"] == Dir("out").file("part-2.txt").hash


def test_a_dir_changed_since_its_hash_is_recorded_without_its_files(workdir: Path) -> None:
    (workdir / "d").mkdir()
    (workdir / "d" / "a.txt").write_text("a")
    returned = Dir("d")
    returned.hash  # noqa: B018 - taken now, as when a task returns it
    assert [f.path for f in returned.recorded_files() or []] == ["d/a.txt"]
    copy = Dir("d", returned.hash)  # as unpickled from another process
    (workdir / "d" / "b.txt").write_text("b")
    assert copy.recorded_files() is None  # its files are no longer those it records


def test_a_dir_past_the_limit_keeps_no_listing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dir_module, "MAX_RECORDED_FILES", 2)
    url = _run(workdir, n=3)
    with pytest.raises(Exception, match="no recorded file"):
        lineage(DbBackend(url), "out/part-1.txt")
    assert lineage(DbBackend(url), "out").node.producer.task_name == "dir_lineage.make"
    # Such a directory is not listed again each time its files are asked for.
    big = Dir("out")
    calls: list[str] = []
    walk = big.filesystem.walk_file_hashes
    monkeypatch.setattr(
        big.filesystem, "walk_file_hashes", lambda *a, **k: calls.append("walk") or walk(*a, **k)
    )
    big.hash  # noqa: B018
    assert big.recorded_files() is None and big.recorded_files() is None
    assert calls == ["walk"]


def test_a_content_hashed_dir_from_elsewhere_is_not_read_again(workdir: Path) -> None:
    (workdir / "d").mkdir()
    (workdir / "d" / "a.txt").write_text("a")
    hashed_elsewhere = Dir("d", content_hash=True).hash
    assert Dir("d", hashed_elsewhere, content_hash=True).recorded_files() is None
    # Hashed by metadata, it is listed again and checked against the hash.
    by_stat = Dir("d", content_hash=False).hash
    assert [f.path for f in Dir("d", by_stat, content_hash=False).recorded_files() or []] == [
        "d/a.txt"
    ]


def test_the_newest_version_of_an_input_file_is_shown_first(
    workdir: Path, cli_env: dict[str, str]
) -> None:
    import subprocess

    from tests.conftest import redun_cli

    (workdir / "flow.py").write_text(
        textwrap.dedent(
            """
            from redun import Dir, task

            redun_namespace = "dir_inputs"

            @task
            def total(d: Dir) -> int:
                return sum(len(f.read()) for f in d)
            """
        )
    )
    (workdir / "data").mkdir()
    for name, text in (("f1.txt", "one"), ("f2.txt", "two")):
        (workdir / "data" / name).write_text(text)

    def redun(*args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [*redun_cli(), *args], cwd=workdir, env=cli_env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        return proc

    redun("run", "--no-progress", "flow.py", "total", "--d", "data")
    (workdir / "data" / "f2.txt").write_text("two, longer")
    dry = redun("run", "--dryrun", "flow.py", "total", "--d", "data")
    assert "file data/f2.txt changed" in dry.stderr  # named inside the directory
    assert "data/f1.txt" not in dry.stderr
    redun("run", "--no-progress", "flow.py", "total", "--d", "data")
    log = redun("log", "data/f2.txt").stdout
    current = Dir("data").file("f2.txt").hash
    assert log.splitlines()[0].startswith(f"File data/f2.txt (hash {current[:8]}, 11 bytes")
    assert "1 other recorded version(s)" in log
    assert "dir_inputs.total (argument d)" in log


def test_the_type_registry_lists_subvalues_as_redun_does(workdir: Path) -> None:
    from redun import File
    from redun.value import get_type_registry

    (workdir / "d").mkdir()
    for name in ("a.txt", "b.txt"):
        (workdir / "d" / name).write_text(name)
    registry = get_type_registry()
    one, two = File("one"), File("two")
    assert set(registry.iter_subvalues([one, {"k": two, "n": 3}])) == {one, two}
    assert list(registry.iter_subvalues(7)) == []
    in_dir = {f.path: f.hash for f in registry.iter_subvalues(Dir("d"))}
    assert in_dir == {"d/a.txt": File("d/a.txt").hash, "d/b.txt": File("d/b.txt").hash}
    nested = list(registry.iter_subvalues({"out": Dir("d")}))
    assert [type(v).__name__ for v in nested].count("File") == 2 and Dir("d") in nested
